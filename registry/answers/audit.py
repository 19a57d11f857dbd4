"""Answers for auditors and operators: the event log, verification, tokens, health."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from events import utc_now
from events.merkle import TileSource
from projections import METRIC_TABLE
from projections.projector import Difference
from registry import queries, sight, transparency, verdicts
from registry.shape import json_object, utc_text
from storage.session import Registry, on_cursor

# -- audit --------------------------------------------------------------------------------------


def event_page(reg: Registry, after: int, limit: int, **filters: Any) -> dict[str, Any]:
    """Events after a position in log order; follow `next_after` to read on without gaps."""
    return json_object(queries.event_page(reg, after, limit, **filters))


def recent_events(
    reg: Registry, before: int | None, limit: int | None, **filters: Any
) -> dict[str, Any]:
    """The newest events first (for people reading the audit log); page back with
    `next_before` (None: nothing older). `limit` None gives every event."""
    return json_object(queries.recent_events(reg, before, limit, **filters))


_SHOWN_DIFFERENCES = 50


def verify(
    reg: Registry,
    anchor: str | None = None,
    checkpoint: str | None = None,
    kept_folder: Path | None = None,
) -> dict[str, Any]:
    """The hash chain's and the Merkle tree's verification (against a `POSITION:HASH` anchor
    or a signed checkpoint someone kept, if given), and the projections' and the API tokens'
    against the log: `ok` only when all hold. `kept_folder`: where the checkpoint was
    published with its tiles, to name the first position that differs from them.

    `chain_ok`, `projections.in_step` and `tokens.in_step` tell which failed; the first
    differences are listed (an edited `metric_definitions` row is served to readers, and an
    `api_tokens` row raised to admin would let its holder write: neither may pass unseen).
    """
    from registry.access.tokens import token_differences

    kept = None
    if checkpoint is not None:
        kept = transparency.consistency(reg, checkpoint, kept_folder)
    # The projections are checked on a cursor of their own while the log is verified: both
    # spend most of their time in the engine or in hashing, which run side by side.
    with ThreadPoolExecutor(max_workers=1) as beside:
        projections = beside.submit(_projection_differences, reg)
        report = json_object(queries.verify_log(reg, anchor))
        differences = projections.result()
    log_ok = report.pop("log_ok")  # the log on its own, whatever anchor the caller brought
    tokens = token_differences(reg)
    report["chain_ok"] = report["ok"]
    report["projections"] = _shown(differences, _seen(reg, differences))
    report["tokens"] = _shown(tokens)
    report["ok"] = report["chain_ok"] and not differences and not tokens
    if kept is not None:
        report["checkpoint"] = kept
        report["ok"] = report["ok"] and kept["consistent"]
    report["verified_at"] = utc_text(utc_now())
    # /healthz tells anyone what the last verify found: only what no caller can steer (the
    # log and the projections), never the outcome of an anchor a caller brought.
    verdict = {
        "ok": log_ok and not differences and not tokens,
        "chain_ok": log_ok,
        "verified_at": report["verified_at"],
        "head": report["head"],
        "broken_at": None if log_ok else report["broken_at"],
        "projections_in_step": not differences,
        "tokens_in_step": not tokens,
    }
    reg.writer.last_verify = verdict
    verdicts.keep(reg.conn, json_object(verdict), utc_now())  # it outlives a restart
    return report


def _projection_differences(reg: Registry) -> list[Difference]:
    """Every difference between the projections and the log, read on a cursor of its own
    (all of them, whatever the caller may see: the verdict is the registry's)."""
    cursor = reg.conn.cursor()
    try:
        checker = on_cursor(cursor, reg.writer, engine=reg.engine)
        return checker.projector.check()
    finally:
        cursor.close()


def _seen(reg: Registry, differences: list[Difference]) -> list[str]:
    """The differences the caller may see (a metric's, a column's table's) as text."""
    if not sight.limited(reg):
        return [str(d) for d in differences]
    metrics = [str(d.key[0]) for d in differences if d.table == METRIC_TABLE.name]
    hidden = sight.hidden_metrics(reg, metrics)
    return [
        str(d)
        for d in differences
        if (
            str(d.key[0]) not in hidden
            if d.table == METRIC_TABLE.name
            else sight.sees_table(reg, d.key[0])
        )
    ]


def _shown(differences: list[Any], seen: list[str] | None = None) -> dict[str, Any]:
    """A check's differences (only those the caller may see listed and counted; `hidden`
    says how many more there are)."""
    listed = [str(d) for d in differences] if seen is None else seen
    return {
        "in_step": not differences,
        "count": len(listed),
        "hidden": len(differences) - len(listed),
        "differences": listed[:_SHOWN_DIFFERENCES],
    }


def last_verification(reg: Registry) -> dict[str, Any] | None:
    """What the last verification of this database found (kept in the database, so a
    restarted server still knows), or None."""
    if not reg.writer.last_verify_read:
        if reg.writer.last_verify is None:
            reg.writer.last_verify = verdicts.last(reg.conn)
        reg.writer.last_verify_read = True
    return reg.writer.last_verify


def health(reg: Registry) -> dict[str, Any]:
    """The log's head (position and hash) and whether the projections have caught up with it."""
    with reg.store.snapshot():
        head = reg.store.head()
        checkpoint = reg.projector.checkpoint()
    last = last_verification(reg)
    return {
        "status": "ok" if last is None or last["ok"] else "degraded",
        "head": {"position": head.position, "hash": head.hash},
        "projections_in_step": checkpoint == head.position,
        "last_verify": last,
    }


# -- the transparency log (registry.transparency) ----------------------------------------------


def tlog_key(reg: Registry) -> dict[str, Any]:
    """The log's origin and its verifier key (signed-note vkey text)."""
    return transparency.verifier_key(reg)


def tlog_checkpoint(reg: Registry, size: int | None = None) -> str:
    """The signed checkpoint of the whole log (or of its first `size` events)."""
    return transparency.checkpoint(reg, size)


def tlog_tile(reg: Registry, level: str, rest: str) -> bytes:
    """A tile or entry bundle at its tlog-tiles path."""
    return transparency.tile(reg, level, rest)


def inclusion_proof(reg: Registry, position: int, size: int | None = None) -> dict[str, Any]:
    """An event's inclusion proof (c2sp.org/tlog-proof@v1 text) with its checkpoint."""
    return transparency.prove(reg, position, size)


def published_tlog(reg: Registry, folder: Path) -> dict[str, Any]:
    """The checkpoint, tiles, entry bundles and key written under a folder."""
    return transparency.publish(reg, folder)


def kept_divergence(folder: Path, checkpoint: str, current: TileSource) -> dict[str, Any]:
    """Where a log (its tiles from `current`) first differs from a checkpoint's tree kept
    with its tiles in a folder, the checkpoint's signature already checked."""
    return transparency.kept_divergence(folder, checkpoint, current)


def mirrored_tlog(
    folder: Path, checkpoint: str, key: str, fetch: Callable[[str], bytes | None]
) -> dict[str, Any]:
    """Another registry's published tree (checkpoint, key, and its files by path) written
    under a folder as `published_tlog` writes one, once all of it checks."""
    return transparency.mirror(folder, checkpoint, key, fetch)
