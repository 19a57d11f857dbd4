"""Group commit: writes that arrive together share one transaction (and one durable commit).

A writer hands its write to `GroupCommit.submit`. If no batch is being written, it leads: it
takes every write waiting, runs them as one batch, hands each its own outcome, and passes the
lead to the first write that arrived meanwhile. Otherwise it waits for its outcome. So a
batch is what arrived while the previous one was being committed: nothing waits on a timer,
and a lone writer commits at once. What a batch means (one transaction, each write's own
checks and answer) is the caller's `run_batch`; this module only gathers and hands back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

# A batch's writes and their outcomes, in the order they arrived (an exception: that write's
# refusal or failure, raised in its own thread).
RunBatch = Callable[[Sequence[Item]], Sequence[Outcome | BaseException]]


class _Ticket(Generic[Item, Outcome]):
    __slots__ = ("item", "outcome", "wake", "lead")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.outcome: Outcome | BaseException | None = None
        self.wake = threading.Event()
        self.lead = False  # woken to lead the next batch, not with an outcome

    def result(self) -> Outcome:
        outcome = self.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[return-value]  # set before `wake`


class GroupCommit(Generic[Item, Outcome]):
    """Gathers concurrent writes into batches; one batch is written at a time."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiting: list[_Ticket[Item, Outcome]] = []
        self._leading = False
        self.batches = 0  # batches written, and writes in them (for tests and benchmarks)
        self.writes = 0
        self.failures = 0  # batches that could not be written together (see `failed`)
        self.last_failure: str | None = None

    def failed(self, exc: BaseException) -> None:
        """Note that a batch could not be written together (its writes then run alone)."""
        with self._guard:
            self.failures += 1
            self.last_failure = f"{type(exc).__name__}: {exc}"

    @property
    def waiting(self) -> int:
        """Writes waiting for a batch (not counting one being written)."""
        with self._guard:
            return len(self._waiting)

    def submit(self, item: Item, run_batch: RunBatch[Item, Outcome]) -> Outcome:
        """Write `item` in a batch (perhaps with others') and return its outcome, or raise
        its error. Returns only once the batch it was in is over (committed, or refused)."""
        ticket: _Ticket[Item, Outcome] = _Ticket(item)
        with self._guard:
            self._waiting.append(ticket)
            leads = not self._leading
            self._leading = True
        if not leads:
            ticket.wake.wait()
            if not ticket.lead:
                return ticket.result()
        self._lead(run_batch)
        return ticket.result()

    def _lead(self, run_batch: RunBatch[Item, Outcome]) -> None:
        with self._guard:
            batch, self._waiting = self._waiting, []
            self.batches += 1
            self.writes += len(batch)
        try:
            outcomes: Sequence[Outcome | BaseException] = run_batch([t.item for t in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
        except BaseException as exc:  # run_batch answers each write; should it fail, all fail
            outcomes = [exc] * len(batch)
        for ticket, outcome in zip(batch, outcomes, strict=True):
            ticket.outcome = outcome
        with self._guard:
            if self._waiting:
                following = self._waiting[0]
                following.lead = True
                following.wake.set()
            else:
                self._leading = False
        for ticket in batch:
            ticket.wake.set()
