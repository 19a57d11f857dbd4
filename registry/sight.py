"""What a caller may see: the tables its token is limited to (issue 24).

A token may be granted some tables (glob patterns); admins and tokens without grants see
everything. A metric is visible only when every table it reads (`table_name` and `tables`)
is granted, a column's metadata only when its table is. What is not visible does not exist
for that caller: the registry answers as it would for an id it never held (a 404 at the
API, never a 403, which would confirm it exists), and lists, pages and counts are made
after the filter. Whether a metric is visible is decided by its definition now (its last
one, if deleted), for every version and event of it.

The doors set `Registry.sight` from the caller's token once per request; the answers ask
this module.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry.errors import NotFoundError

if TYPE_CHECKING:
    from events import RecordedEvent
    from storage.session import Registry


@dataclass(frozen=True)
class Sight:
    """The tables a caller may see (glob patterns)."""

    tables: tuple[str, ...]

    def sees_table(self, table: object) -> bool:
        return isinstance(table, str) and any(fnmatch.fnmatchcase(table, p) for p in self.tables)

    def sees_definition(self, definition: Mapping[str, Any]) -> bool:
        """Whether a metric's definition reads only granted tables."""
        return all(self.sees_table(t) for t in metric_tables(definition))


def sight_for(role: str, tables: Sequence[str] | None) -> Sight | None:
    """A caller's sight from its token (None: it sees everything)."""
    if role == "admin" or tables is None:
        return None
    return Sight(tuple(tables))


def metric_tables(definition: Mapping[str, Any]) -> list[str]:
    """The tables a metric reads: `table_name` and `tables`."""
    named = [definition.get("table_name"), *(definition.get("tables") or [])]
    return [t for t in named if isinstance(t, str) and t]


def hidden_metrics(reg: Registry, metric_ids: Iterable[str]) -> set[str]:
    """The metrics among these that the caller may not see (none, without a sight)."""
    sight: Sight | None = reg.sight
    ids = list(dict.fromkeys(metric_ids))
    if sight is None or not ids:
        return set()
    from projections.streams import METRICS

    # Every id's definition now: its last event's (a deletion keeps the definition it had).
    last = reg.store.stream_tips(METRICS.stream_type, ids)
    hidden = set()
    for metric_id in ids:
        tip = last.get(metric_id)
        definition = (tip.payload.get("definition") or {}) if tip is not None else {}
        if tip is not None and not sight.sees_definition(definition):
            hidden.add(metric_id)
    return hidden


def sees_metric(reg: Registry, metric_id: str) -> bool:
    return metric_id not in hidden_metrics(reg, [metric_id])


def require_metric(reg: Registry, metric_id: str, missing: str | None = None) -> None:
    """NotFoundError, worded as for a metric that never was, if the caller may not see it."""
    if not sees_metric(reg, metric_id):
        raise NotFoundError(missing or f"metric {metric_id!r} does not exist")


def sees_table(reg: Registry, table: str) -> bool:
    sight: Sight | None = reg.sight
    return sight is None or sight.sees_table(table)


def visible_rows(reg: Registry, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The metric rows (each with `id`, `table_name`, `tables`) the caller may see."""
    sight: Sight | None = reg.sight
    if sight is None:
        return list(rows)
    return [r for r in rows if sight.sees_definition(r)]


def visible_events(reg: Registry, events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
    """The events the caller may see: a metric's (and its certification's) when it may see
    the metric, a column's when it may see its table, a proposal's when it may see every
    change in it; the registry's own (tokens, policy, webhooks) to anyone who reads the log."""
    sight: Sight | None = reg.sight
    if sight is None:
        return list(events)
    metric_ids = {e.stream_id for e in events if e.stream_type in ("metric", "certification")}
    changes = _proposed_changes(reg, events)
    for found in changes.values():
        metric_ids |= {str(c.get("id")) for c in found if _is_metric(c)}
    hidden = hidden_metrics(reg, metric_ids)
    return [e for e in events if _event_seen(sight, e, hidden, changes)]


def _proposed_changes(
    reg: Registry, events: Sequence[RecordedEvent]
) -> dict[str, list[Mapping[str, Any]]]:
    """The changes each proposal among these events makes (from its opening event)."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    for e in events:
        if e.stream_type != "proposal" or e.stream_id in found:
            continue
        opened = e if e.version == 1 else reg.store.read_event("proposal", e.stream_id, 1)
        found[e.stream_id] = list((opened.payload if opened else {}).get("changes") or ())
    return found


def _is_metric(change: Mapping[str, Any]) -> bool:
    return change.get("subject") == "metric"


def _event_seen(
    sight: Sight,
    event: RecordedEvent,
    hidden: set[str],
    changes: Mapping[str, Sequence[Mapping[str, Any]]],
) -> bool:
    if event.stream_type in ("metric", "certification"):
        return event.stream_id not in hidden
    if event.stream_type == "column":
        return sight.sees_table(event.stream_id.partition(":")[0])
    if event.stream_type == "proposal":
        return sees_changes(sight, changes.get(event.stream_id, ()), hidden)
    return True


def sees_changes(sight: Sight, changes: Iterable[Mapping[str, Any]], hidden: set[str]) -> bool:
    """Whether a caller may see every change of a proposal (`hidden`: metrics it may not;
    a change's proposed definition must read only tables it may see, too)."""
    return all(_sees_change(sight, c, hidden) for c in changes)


def _sees_change(sight: Sight, change: Mapping[str, Any], hidden: set[str]) -> bool:
    if not _is_metric(change):
        return sight.sees_table(str(change.get("id", "")).partition(":")[0])
    proposed = change.get("definition")
    if isinstance(proposed, Mapping) and not sight.sees_definition(proposed):
        return False
    return str(change.get("id")) not in hidden


def limited(reg: Registry) -> bool:
    """Whether the caller may see only some tables."""
    return reg.sight is not None


def keep_visible(reg: Registry, rows: Sequence[Any], key: str = "id") -> list[Any]:
    """The rows (metrics, by `key`) the caller may see, in their order."""
    if reg.sight is None:
        return list(rows)
    hidden = hidden_metrics(reg, [r[key] for r in rows])
    return [r for r in rows if r[key] not in hidden]
