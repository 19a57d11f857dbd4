"""Time on two axes: changes in force from a business date, as the registry learned them.

A write may carry `effective_from`. Recorded now, it is either in force now (its date is not
later than now, nor earlier than the date of the version in force) and moves the v4 tables at
once, or it is a `Scheduled` event: a change from a future date, or a correction of a past
period that a later-dated version supersedes. When a scheduled change's date comes, a
`TookEffect` event brings it into the v4 tables: the server does it on time
(`registry.schedule.EffectTimer`), an embedded door when it opens the registry
(`registry.schedule.bring_in_due`). A dated write is decided in `registry.plans`
(`plan_dated`), a change brought in by `registry.commands.bring_in`.

Every answer in business time ("in force at V, as known at T") is the fold in
`projections.fold`: `valid_winner` and `in_force`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events import RecordedEvent, utc_now
from projections import StreamKind, effective_text, effective_time, valid_winner
from registry.errors import NotFoundError
from registry.queries import provenance
from registry.subjects import METRIC, Subject
from storage.session import Registry

# -- reading in business time -----------------------------------------------------------------


def _stream(
    reg: Registry, subject: Subject, stream_id: str, position: int | None
) -> list[RecordedEvent]:
    events = reg.store.read_stream(subject.kind.stream_type, stream_id)
    return [e for e in events if position is None or e.position <= position]


def metric_valid_at(
    reg: Registry, metric_id: str, valid_at: datetime, position: int | None = None
) -> dict[str, Any] | None:
    """A metric's definition in force at `valid_at`, as known after `position` (now if
    None), with the version that made it; None if none was in force then."""
    events = _stream(reg, METRIC, metric_id, position)
    winner = valid_winner(METRIC.kind, events, valid_at)
    if winner is None:
        return None
    row = reg.projector.row_from_log(winner)  # None for a deletion
    if row is None:
        return None
    return {**row, "version": winner.version, "effective_from": _effective(winner)}


def _effective(event: RecordedEvent) -> str:
    return effective_text(effective_time(event.payload, event.recorded_at))


@dataclass(frozen=True)
class Period:
    """A stretch of business time and the version in force through it (None: none was)."""

    valid_from: datetime | None  # None: since always
    valid_to: datetime | None  # None: until further notice
    winner: RecordedEvent | None


def periods(
    kind: StreamKind,
    events: Sequence[RecordedEvent],
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> list[Period]:
    """The stretches of [valid_from, valid_to) each in force under one version (a deletion
    or nothing yet gives a stretch with no definition), in order."""
    starts = sorted(
        {
            effective_time(e.payload, e.recorded_at)
            for e in events
            if e.event_type != kind.took_effect
        }
    )
    inside = [
        t
        for t in starts
        if (valid_from is None or t > valid_from) and (valid_to is None or t < valid_to)
    ]
    bounds: list[datetime | None] = [valid_from, *inside]
    found: list[Period] = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else valid_to
        at = start if start is not None else (starts[0] if starts else datetime.min)
        winner = valid_winner(kind, events, at) if start is not None else None
        if winner is not None and kind.removes(winner.event_type, winner.payload):
            winner = None
        if found and _same(found[-1].winner, winner):
            found[-1] = Period(found[-1].valid_from, end, winner)
        else:
            found.append(Period(start, end, winner))
    return found


def _same(a: RecordedEvent | None, b: RecordedEvent | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and a.position == b.position
    )


def metric_periods(
    reg: Registry,
    metric_id: str,
    valid_from: datetime,
    valid_to: datetime,
    position: int | None = None,
) -> list[dict[str, Any]]:
    """A metric through a business-time range, piecewise: each definition with the
    sub-range it covers (`definition` None where none was in force), as known after
    `position` (now if None)."""
    if valid_to <= valid_from:
        from registry.errors import InvalidDefinitionError, Issue

        raise InvalidDefinitionError([Issue("valid_to", "must be later than valid_from")])
    events = _stream(reg, METRIC, metric_id, position)
    if not events:
        raise NotFoundError(f"metric {metric_id!r} does not exist")
    return [
        {
            "valid_from": effective_text(p.valid_from) if p.valid_from else None,
            "valid_to": effective_text(p.valid_to) if p.valid_to else None,
            "version": None if p.winner is None else p.winner.version,
            "effective_from": None if p.winner is None else _effective(p.winner),
            "definition": None if p.winner is None else reg.projector.row_from_log(p.winner),
        }
        for p in periods(METRIC.kind, events, valid_from, valid_to)
    ]


def timeline(reg: Registry, subject: Subject, stream_id: str) -> list[dict[str, Any]]:
    """Every change of a stream on both axes: when it was recorded, from when it is in force
    (its date), the stretches of business time it governs as known now, and its status:
    `in force`, `scheduled` (from a date to come), `past` (in force before a later version)
    or `superseded` (never in force: a later-dated version covers its whole period)."""
    kind = subject.kind
    events = reg.store.read_stream(kind.stream_type, stream_id)
    if not events:
        raise NotFoundError(f"{subject.label} {stream_id!r} has no history")
    now = utc_now()
    stretches = periods(kind, events)
    now_winner = valid_winner(kind, events, now)
    rows = []
    for event in events:
        if event.event_type == kind.took_effect:
            continue
        mine = [
            p for p in stretches if p.winner is not None and p.winner.position == event.position
        ]
        effective = effective_time(event.payload, event.recorded_at)
        if now_winner is not None and now_winner.position == event.position:
            status = "in force"
        elif effective > now:
            status = "scheduled"
        elif mine:
            status = "past"
        else:
            status = "superseded" if not kind.removes(event.event_type, event.payload) else "past"
        told = provenance(event.event_type, event.payload, event.source)
        rows.append(
            {
                "version": event.version,
                "what": told["what"],
                "actor": event.actor,
                "recorded_at": event.recorded_at,
                "effective_from": effective,
                "in_force": [{"from": p.valid_from, "to": p.valid_to} for p in mine],
                "status": status,
                "took_effect": next(
                    (
                        e.recorded_at
                        for e in events
                        if e.event_type == kind.took_effect
                        and e.payload.get("of_version") == event.version
                    ),
                    None,
                ),
            }
        )
    return rows
