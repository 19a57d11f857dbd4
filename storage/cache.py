"""Answers of hot queries, kept until the next committed write.

A server answers the same lookup (one metric's canonical definition) far more often than the
registry changes. Its registries share one ReadCache; every commit through their event stores
moves the cache to a new generation, and an answer is served only in the generation it was
read in. Where the server is the database's only writing process, no write can come from
elsewhere unseen; where other processes write too (`Engine.shared`), the pool follows their
commits and empties the cache on each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_MAX_ENTRIES = 4096


class ReadCache:
    """A generation-checked memo of query answers (treat answers as read-only)."""

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        self.generation = 0
        self._max = max_entries
        self._entries: dict[Hashable, tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """A write committed: nothing read before it may be served again."""
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def peek(self, key: Hashable) -> Any | None:
        """The answer read in this generation, or None."""
        hit = self._entries.get(key)
        return hit[1] if hit is not None and hit[0] == self.generation else None

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached answer, or `compute()`'s (kept if no write committed meanwhile)."""
        generation = self.generation
        hit = self._entries.get(key)
        if hit is not None and hit[0] == generation:
            value: T = hit[1]
            return value
        value = compute()
        with self._lock:
            if generation == self.generation:  # read entirely before any newer commit
                if len(self._entries) >= self._max:
                    self._entries.clear()
                self._entries[key] = (generation, value)
        return value
