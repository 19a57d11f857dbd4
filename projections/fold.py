"""Pure functions from events to state.

Every payload holds the complete definition after its event, so a stream's state at any
point is its last event up to that point; `fold` still walks every event so that it can
serve as the reference the set-based SQL in the projector is checked against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events import RecordedEvent
from projections.streams import StreamKind


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


def apply_event(kind: StreamKind, state: StreamState | None, event: RecordedEvent) -> StreamState:
    """The state after one more event of the same stream."""
    created_at = (
        carried_time(event.payload.get("created_at"), event.recorded_at)
        if state is None
        else state.created_at
    )
    return StreamState(
        stream_id=event.stream_id,
        version=event.version,
        definition=dict(event.payload.get("definition") or {}),
        deleted=event.event_type == kind.tombstone,
        created_at=created_at,
        updated_at=carried_time(event.payload.get("updated_at"), event.recorded_at),
        last_event_type=event.event_type,
    )


def fold(kind: StreamKind, events: Iterable[RecordedEvent]) -> StreamState | None:
    """Fold one stream's events (in version order) into its state; None if there are none."""
    state: StreamState | None = None
    for event in events:
        state = apply_event(kind, state, event)
    return state


def fold_all(kind: StreamKind, events: Iterable[RecordedEvent]) -> dict[str, StreamState]:
    """Fold a log (in position order) into the live state of every stream of one kind."""
    states: dict[str, StreamState] = {}
    for event in events:
        if event.stream_type == kind.stream_type:
            states[event.stream_id] = apply_event(kind, states.get(event.stream_id), event)
    return {sid: s for sid, s in states.items() if not s.deleted}
