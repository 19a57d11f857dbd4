"""Scheduled changes come into force on time: on opening the registry, and on the server's
clock (see `registry.validity` for what a scheduled change is)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from events import utc_now
from projections import KINDS, StreamKind
from registry.commands import bring_in, run_atomically
from storage.session import Registry, RegistryPool

_log = logging.getLogger(__name__)


def bring_in_due(reg: Registry, door: str, now: datetime | None = None) -> int:
    """Bring in every scheduled change whose date has come (each stream in a transaction of
    its own); returns how many TookEffect events were recorded."""
    moment = now or utc_now()
    kinds = {k.stream_type: k for k in KINDS}
    brought = 0
    for stream_type, stream_id in reg.projector.due(moment):
        kind = kinds[stream_type]

        def one(kind: StreamKind = kind, stream_id: str = stream_id) -> int:
            before = reg.store.stream_tip(kind.stream_type, stream_id)
            after = bring_in(reg, kind, stream_id, door, now=moment)
            return int(before is not None and after[-1].version != before.version)

        brought += run_atomically(reg, one, f"{kind.stream_type} {stream_id!r}")
    return brought


class EffectTimer:
    """The server's clock for scheduled changes: every `interval` seconds, brings in those
    whose date has come (one replica at a time on PostgreSQL)."""

    def __init__(self, pool: RegistryPool, interval: float = 1.0) -> None:
        self.pool = pool
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="effective-dates", daemon=True)
        self._said: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.pool.lease() as reg:
                    bring_in_due(reg, "api")
                self._said = None
            except Exception as exc:  # the database may be away: the next round tries again
                if str(exc) != self._said:
                    _log.warning("bringing in scheduled changes failed", exc_info=exc)
                self._said = str(exc)
