"""The envelope of an event about to be appended: what every event carries, whatever its meaning.

Its pydantic model is imported only by writers; readers use `events.recorded`.
"""

from __future__ import annotations

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
