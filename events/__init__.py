"""The append-only event log: envelopes, the DuckDB store, the hash chain.

This package knows nothing about what the events mean.
"""

from events.chain import GENESIS_HASH, Anchor, VerifyReport, verify_chain
from events.envelope import NewEvent, RecordedEvent
from events.errors import (
    ChainBrokenError,
    ConcurrentWriteError,
    EventStoreError,
    IdempotencyConflictError,
    VersionConflictError,
)
from events.store import (
    Connection,
    EventStore,
    LogHead,
    StreamTip,
    encode_payload,
    ensure_event_log,
    utc_now,
)
from events.upcasting import Upcasters

__all__ = [
    "GENESIS_HASH",
    "Anchor",
    "ChainBrokenError",
    "Connection",
    "ConcurrentWriteError",
    "EventStore",
    "EventStoreError",
    "IdempotencyConflictError",
    "LogHead",
    "NewEvent",
    "RecordedEvent",
    "StreamTip",
    "Upcasters",
    "VerifyReport",
    "VersionConflictError",
    "encode_payload",
    "ensure_event_log",
    "utc_now",
    "verify_chain",
]
