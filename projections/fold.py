"""Pure functions from events to state, on two time axes.

Recording time (T) is when the registry learned of a change: its log position. Business
time (V) is from when the change is in force: its `effective_from`, which defaults to when it
was recorded. The definition in force at V, as known at T, is the change recorded up to T with
the latest effective time not after V (the later recorded if two share it); a deletion there
means none. `valid_winner` computes exactly this, and is the reference for the SQL.

The v4 tables hold the state in force now as known now. Every payload holds the complete
definition, and a change not in force when recorded is a `Scheduled` event, brought in later
by a `TookEffect` event: so the tables' state at any point is the last event up to that point
that is not `Scheduled` (`fold`, the reference the set-based SQL in the projector is checked
against).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events import RecordedEvent
from projections.streams import StreamKind, row_id


@dataclass(frozen=True)
class StreamState:
    """One stream's state after some of its events."""

    stream_id: str
    version: int
    definition: dict[str, Any]
    deleted: bool
    created_at: datetime
    updated_at: datetime
    last_event_type: str


def carried_time(value: Any, default: datetime) -> datetime:
    """A time an event's payload carries as text (migration events keep the original ones),
    else `default`."""
    return datetime.fromisoformat(value) if isinstance(value, str) else default


def effective_time(payload: dict[str, Any], recorded_at: datetime) -> datetime:
    """From when an event's change is in force: its `effective_from`, else the `updated_at`
    a migration carried (the adopted version was in force since), else when it was recorded."""
    given = payload.get("effective_from")
    if isinstance(given, str):
        return datetime.fromisoformat(given)
    return carried_time(payload.get("updated_at"), recorded_at)


def effective_text(moment: datetime) -> str:
    """A business time as payloads and answers carry it (ISO 8601, UTC, no offset)."""
    return moment.isoformat()


def projects(kind: StreamKind, event: RecordedEvent) -> bool:
    """Whether an event moves the v4 tables (a scheduled change waits for its TookEffect)."""
    return event.event_type != kind.scheduled


def apply_event(kind: StreamKind, state: StreamState | None, event: RecordedEvent) -> StreamState:
    """The state after one more event of the same stream."""
    created_at = (
        carried_time(event.payload.get("created_at"), event.recorded_at)
        if state is None
        else state.created_at
    )
    return StreamState(
        stream_id=row_id(event.stream_id, event.payload),  # a renamed metric's id now
        version=event.version,
        definition=dict(event.payload.get("definition") or {}),
        deleted=kind.removes(event.event_type, event.payload),
        created_at=created_at,
        updated_at=carried_time(event.payload.get("updated_at"), event.recorded_at),
        last_event_type=event.event_type,
    )


def fold(kind: StreamKind, events: Iterable[RecordedEvent]) -> StreamState | None:
    """Fold one stream's events (in version order) into its state; None if there are none."""
    state: StreamState | None = None
    first: RecordedEvent | None = None
    for event in events:
        first = first or event
        if projects(kind, event):
            state = apply_event(kind, state or apply_event(kind, None, first), event)
    return state


def fold_all(kind: StreamKind, events: Iterable[RecordedEvent]) -> dict[str, StreamState]:
    """Fold a log (in position order) into the live state of every stream of one kind."""
    states: dict[str, StreamState] = {}
    firsts: dict[str, RecordedEvent] = {}
    for event in events:
        if event.stream_type == kind.stream_type:
            first = firsts.setdefault(event.stream_id, event)
            if projects(kind, event):
                state = states.get(event.stream_id) or apply_event(kind, None, first)
                states[event.stream_id] = apply_event(kind, state, event)
    return {sid: s for sid, s in states.items() if not s.deleted}


def in_force(kind: StreamKind, events: Sequence[RecordedEvent]) -> RecordedEvent | None:
    """The change a stream's v4 row shows after these events (its version's events, in
    order): the last that is not scheduled, or the scheduled change a `TookEffect` names."""
    for event in reversed(events):
        if event.event_type == kind.took_effect:
            named = int(event.payload["of_version"])
            return next((e for e in events if e.version == named), event)
        if projects(kind, event):
            return event
    return None


def valid_winner(
    kind: StreamKind, events: Sequence[RecordedEvent], valid_at: datetime
) -> RecordedEvent | None:
    """The change in force at business time `valid_at` among these events (one stream's, as
    known when the last was recorded), deletions included; None if none was yet."""
    best: RecordedEvent | None = None
    best_key: tuple[datetime, int] | None = None
    for event in events:
        if event.event_type == kind.took_effect:
            continue  # it repeats a scheduled change, already counted at its own time
        key = (effective_time(event.payload, event.recorded_at), event.position)
        if key[0] <= valid_at and (best_key is None or key > best_key):
            best, best_key = event, key
    return best
