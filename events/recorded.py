"""An event as the log holds it, once appended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as it stands in the log.

    A plain slotted dataclass rather than a pydantic model: the store builds it from values it
    has just validated or read back, and bulk appends and log reads make millions of them.
    """

    position: int
    stream_type: str
    stream_id: str
    version: int
    event_type: str
    event_schema: int
    payload: dict[str, Any]
    payload_hash: str
    actor: str
    reason: str | None
    batch_id: str | None
    source: str | None
    source_ref: str | None
    idempotency_key: str | None
    recorded_at: datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class EventSummary:
    """An event's envelope without its hashes, and only some keys of its payload.

    What a history or an audit listing shows: reading it skips the 64-character hashes and
    the full payload, about half the cost of reading whole events.
    """

    position: int
    stream_type: str
    stream_id: str
    version: int
    event_type: str
    event_schema: int
    payload: dict[str, Any]  # only the keys asked for, as the newest schema names them
    actor: str
    reason: str | None
    batch_id: str | None
    source: str | None
    source_ref: str | None
    idempotency_key: str | None
    recorded_at: datetime
