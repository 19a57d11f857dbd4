"""The event envelope: what every event carries, whatever its meaning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NewEvent(BaseModel):
    """An event about to be appended; the store assigns position, version, time and hashes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stream_type: str = Field(min_length=1)
    stream_id: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    event_schema: int = Field(default=1, ge=1)
    payload: dict[str, Any]
    actor: str = Field(min_length=1)
    reason: str | None = None
    batch_id: str | None = None
    source: str | None = None
    source_ref: str | None = None


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
