"""Errors raised by the event store. One root: EventStoreError."""

from __future__ import annotations


class EventStoreError(Exception):
    """Root of every error the event store raises."""


class VersionConflictError(EventStoreError):
    """A stream was not at the version the caller expected; nothing was written."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, expected version {expected}"
        )


class IdempotencyConflictError(EventStoreError):
    """An idempotency key was reused for a different change; nothing was written."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different change")


class ConcurrentWriteError(EventStoreError):
    """Another writer appended at the same time; the whole transaction was rolled back.

    Safe to retry from the start (re-reading state), which the registry does.
    """


class StorageFailedError(EventStoreError):
    """The storage under the log failed (disk full, I/O error); the transaction was rolled
    back and nothing of it was written. Not a race: retrying at once does not help."""


class DatabaseUnavailableError(EventStoreError):
    """The database cannot be opened or read: broken, unreachable, or not a registry."""


class DatabaseMissingError(DatabaseUnavailableError):
    """There is no registry where one must already exist (reading never creates one)."""


class DatabaseLockedError(DatabaseUnavailableError):
    """Another process holds the database open for writing."""


class ChainBrokenError(EventStoreError):
    """The hash chain does not verify."""

    def __init__(self, position: int, problem: str) -> None:
        self.position = position
        self.problem = problem
        super().__init__(f"event log broken at position {position}: {problem}")
