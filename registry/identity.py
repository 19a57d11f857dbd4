"""A metric's identity: the stream its events are kept in, which a rename keeps.

A metric's identity is the id it was first created under (its stream's id; adopted metrics
included). A rename gives it a new `category/name` and keeps its whole history; its old ids
keep resolving to it: reads answer with the new id, writes are refused naming it. Only
renamed metrics have rows in `metric_names` (projections.tables): for every other metric,
id and identity are one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.errors import ConflictError
from storage.session import Registry

_NAMED_SQL = "SELECT stream_id, current FROM metric_names WHERE name_id = ?"
_CURRENT_SQL = "SELECT name_id FROM metric_names WHERE stream_id = ? AND current"


@dataclass(frozen=True)
class Named:
    """What an id a caller gave names: the metric's identity and its id now."""

    asked: str
    identity: str  # the metric's stream
    metric_id: str  # its id now

    @property
    def renamed(self) -> bool:
        """The id asked for is an old id of a renamed metric."""
        return self.asked != self.metric_id


def resolve(reg: Registry, metric_id: str) -> Named:
    """The metric an id names now (one small query; two for an old id)."""
    found = reg.conn.execute(_NAMED_SQL, [metric_id]).fetchall()
    if not found:
        return Named(metric_id, metric_id, metric_id)
    identity, current = str(found[0][0]), bool(found[0][1])
    if current:
        return Named(metric_id, identity, metric_id)
    now = reg.conn.execute(_CURRENT_SQL, [identity]).fetchall()
    return Named(metric_id, identity, str(now[0][0]) if now else identity)


def for_write(reg: Registry, metric_id: str) -> Named:
    """The metric a write names; ConflictError naming the new id for an old one."""
    named = resolve(reg, metric_id)
    if named.renamed:
        raise ConflictError(
            f"metric {metric_id!r} was renamed to {named.metric_id!r}: write to"
            f" {named.metric_id!r} (its history went with it)"
        )
    return named


def identities(reg: Registry) -> dict[str, str]:
    """The identity of every renamed metric by each id it has had (others: their own id)."""
    rows = reg.conn.execute("SELECT name_id, stream_id FROM metric_names")
    return {str(name): str(stream) for name, stream in rows.fetchall()}


def streams_of(reg: Registry, metric_ids: list[str]) -> dict[str, str]:
    """Each metric id's stream (its identity): itself, unless the metric was renamed."""
    known = identities(reg)
    return {m: known.get(m, m) for m in metric_ids}


def ids_now(reg: Registry) -> dict[str, str]:
    """The id now of every renamed metric, by its identity."""
    rows = reg.conn.execute("SELECT stream_id, name_id FROM metric_names WHERE current")
    return {str(stream): str(name) for stream, name in rows.fetchall()}


def with_identities(reg: Registry, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Metric rows as exports carry them: a renamed metric's with its `identity` (every other
    metric's identity is its id), so that an import knows it under a new name."""
    known = identities(reg)
    return [
        {**r, "identity": known[r["id"]]} if known.get(r["id"], r["id"]) != r["id"] else r
        for r in rows
    ]


def current_id(reg: Registry, identity: str) -> str | None:
    """The id a metric with this identity has now; None if the registry holds no such
    metric (deleted ones included: they keep their identity)."""
    now = reg.conn.execute(_CURRENT_SQL, [identity]).fetchall()
    if now:
        return str(now[0][0])
    known = reg.store.stream_tip("metric", identity)
    return identity if known is not None else None
