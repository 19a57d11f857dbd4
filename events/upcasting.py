"""Upcasters: convert an old payload schema to the current one when it is read.

Old events are never rewritten. Whoever owns an event type registers, for each schema version
it has outgrown, a function from that payload to the next schema's payload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
UpcastFn = Callable[[Payload], Payload]


class Upcasters:
    """A table of (event type, schema) -> function to the next schema."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], UpcastFn] = {}
        self._current: dict[str, int] = {}

    def register(self, event_type: str, from_schema: int, step: UpcastFn) -> None:
        """Register the step from `from_schema` to `from_schema + 1` of one event type."""
        self._steps[(event_type, from_schema)] = step
        self._current[event_type] = max(self._current.get(event_type, 1), from_schema + 1)

    def current_schema(self, event_type: str) -> int:
        """The newest payload schema known for an event type (1 if it never changed)."""
        return self._current.get(event_type, 1)

    def upcast(self, event_type: str, schema: int, payload: Payload) -> tuple[int, Payload]:
        """Bring a payload to the newest schema; returns (schema, payload)."""
        while (step := self._steps.get((event_type, schema))) is not None:
            payload = step(payload)
            schema += 1
        return schema, payload
