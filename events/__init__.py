"""The append-only event log: envelopes, the store's contract, the hash chain.

This package knows nothing about what the events mean, nor which engine stores them: the
engines' stores live in `storage/` and subclass `EventStore`. It imports nothing of this
project's; everything else may import it.
"""

from typing import TYPE_CHECKING, Any

from events.chain import GENESIS_HASH, Anchor, VerifyReport, verify_chain
from events.connection import Connection
from events.errors import (
    ChainBrokenError,
    ConcurrentWriteError,
    DatabaseLockedError,
    DatabaseMissingError,
    DatabaseUnavailableError,
    EventStoreError,
    IdempotencyConflictError,
    StorageFailedError,
    VersionConflictError,
)
from events.reading import decode_payload
from events.recorded import EventSummary, RecordedEvent
from events.store import (
    EventStore,
    LogHead,
    SharedHead,
    StreamTip,
    encode_payload,
    ensure_event_log,
    utc_now,
)
from events.upcasting import Upcasters

if TYPE_CHECKING:
    from events.envelope import NewEvent


def __getattr__(name: str) -> Any:
    # NewEvent needs pydantic (~150 ms to import); only writers pay for it, on first use.
    if name == "NewEvent":
        from events.envelope import NewEvent

        return NewEvent
    raise AttributeError(f"module 'events' has no attribute {name!r}")


__all__ = [
    "GENESIS_HASH",
    "Anchor",
    "ChainBrokenError",
    "Connection",
    "ConcurrentWriteError",
    "DatabaseLockedError",
    "DatabaseMissingError",
    "DatabaseUnavailableError",
    "EventStore",
    "EventStoreError",
    "EventSummary",
    "IdempotencyConflictError",
    "StorageFailedError",
    "LogHead",
    "SharedHead",
    "NewEvent",
    "RecordedEvent",
    "StreamTip",
    "Upcasters",
    "VerifyReport",
    "VersionConflictError",
    "decode_payload",
    "encode_payload",
    "ensure_event_log",
    "utc_now",
    "verify_chain",
]
