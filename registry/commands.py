"""Commands: validate everything, then append the event and project it in one transaction.

The decisions themselves are pure functions in `registry.plans`.

Each command reads the stream's last event, plans at most one new event from it (a pure
decision), and appends it with the version it read as the expected version. A write that
changes nothing appends nothing and says so (`WriteResult.changed` is False). Another writer
racing in between makes the store raise ConcurrentWriteError; the command then starts over
from a fresh read, so decisions are never taken on stale state.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, TypeVar

from events import (
    ConcurrentWriteError,
    DatabaseUnavailableError,
    IdempotencyConflictError,
    NewEvent,
    RecordedEvent,
    StorageFailedError,
    StreamTip,
    VersionConflictError,
    utc_now,
)
from projections import StreamKind, column_stream_id
from projections.streams import row_id
from registry import identity, proposals, queries
from registry.errors import (
    ConflictError,
    InvalidDefinitionError,
    Issue,
    NotFoundError,
    RefusedError,
    RegistryError,
    StorageError,
    UnavailableError,
    UnknownFieldError,
)
from registry.models import (
    ColumnMetadata,
    MetricDefinition,
    build,
    build_issues,
    metric_input,
)
from registry.plans import (
    Current,
    Plan,
    Planner,
    current_at,
    keeping_id,
    plan_dated,
    plan_delete,
    plan_rename,
    plan_restore,
    plan_rollback,
    plan_update,
    plan_upsert,
    took_effect,
)
from registry.reasons import reason_issue
from registry.subjects import COLUMN, METRIC, Subject
from registry.times import parse_time
from storage.session import Registry

_ATTEMPTS = 50

# The doors a write can come through; every event records its door (payload key `door`).
DOORS = ("cli", "api", "console", "mcp", "python", "migration")
MANUAL = "manual"  # the writer of a hand edit, through any door (SPEC section 1)


@dataclass(frozen=True)
class WriteContext:
    """Who writes, why, and under which batch, writer, label and concurrency guards."""

    actor: str
    door: str = "python"  # one of DOORS: which door the write came through
    reason: str | None = None
    batch_id: str | None = None
    source: str | None = None  # the writer when an importer writes; None: a hand edit
    source_ref: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None
    # The door asks for a reason (the console's rollback and restore): refused without one.
    reason_required: bool = False
    # Ask for a proposal instead of writing (the policy may require one anyway).
    propose: bool = False
    # From when the change is in force (UTC); None: from when it is recorded.
    effective_from: datetime | None = None

    @property
    def writer(self) -> str:
        """The writer as SPEC section 1 names it: the importer, or `manual` for a hand edit."""
        return self.source or MANUAL


@dataclass(frozen=True)
class WriteResult:
    """What a command did: the stream, its version afterwards, and whether it changed."""

    id: str
    version: int
    changed: bool
    event_type: str | None = None
    changed_fields: tuple[str, ...] = ()
    position: int | None = None
    replayed: bool = False  # the answer to an earlier request with the same idempotency key
    # The projection row after the write, built in its transaction (None after a deletion).
    row: dict[str, Any] | None = None
    # The proposal the write became instead (asked for, or required by the policy).
    proposal: dict[str, Any] | None = None


# -- running a plan ---------------------------------------------------------------------------


def _current(subject: Subject, tip: StreamTip | RecordedEvent | None) -> Current | None:
    """What a write is based on, from the stream's tip (not a scheduled change: see
    `current_states`)."""
    if tip is None:
        return None
    definition = dict(tip.payload.get("definition") or {})
    return Current(tip.version, definition, subject.kind.removes(tip.event_type, tip.payload))


def _event(
    subject: Subject, stream_id: str, plan: Plan, ctx: WriteContext, shown: str | None = None
) -> NewEvent:
    """The event of a plan; `shown`: the row id of a renamed metric's stream (`row_id`),
    carried by each of its events."""
    named = {"id": shown} if shown is not None and shown != stream_id else {}
    return NewEvent(
        stream_type=subject.kind.stream_type,
        stream_id=stream_id,
        event_type=subject.kind.event(plan.fact),
        event_schema=subject.kind.payload_schema,
        payload={
            "definition": plan.definition,
            "changed": list(plan.changed),
            **named,
            **plan.extra,
            "door": ctx.door,
        },
        actor=ctx.actor,
        reason=ctx.reason,
        batch_id=ctx.batch_id,
        source=ctx.writer,
        source_ref=ctx.source_ref if ctx.source else None,
    )


def _result(event: RecordedEvent, row: dict[str, Any] | None = None) -> WriteResult:
    return WriteResult(
        id=row_id(event.stream_id, event.payload),
        version=event.version,
        changed=True,
        event_type=event.event_type,
        changed_fields=tuple(event.payload.get("changed") or ()),
        position=event.position,
        row=row,
    )


def _replayed(
    reg: Registry, subject: Subject, stream_id: str, planner: Planner, key: str
) -> WriteResult | None:
    """The first answer to a retried request with this idempotency key, if there was one."""
    earlier = reg.store.events_for_key(key)
    if not earlier:
        return None
    first = earlier[0]
    if first.stream_type == proposals.PROPOSAL:
        change = first.payload["changes"][0]
        if change["id"] != stream_id:
            raise ConflictError(f"idempotency key {key!r} was already used for a different change")
        opened = proposals.fold([first], {})
        return WriteResult(stream_id, change["base_version"], False, proposal=opened, replayed=True)
    before = None
    if first.version > 1:
        before = _current(
            subject, reg.store.read_event(first.stream_type, first.stream_id, first.version - 1)
        )
    try:
        plan = planner(before) if first.stream_id == stream_id else None
    except (NotFoundError, ConflictError, InvalidDefinitionError):
        plan = None
    same = plan is not None and (
        subject.kind.event(plan.fact) == first.event_type
        and plan.definition == first.payload.get("definition")
    )
    if not same:
        raise ConflictError(f"idempotency key {key!r} was already used for a different change")
    row = reg.projector.row_from_log(first)
    if subject is METRIC and row is not None:  # only a metric's row reads its certification
        given_at = _tips(reg, subject, stream_id)[1]
        row = _shown(reg, subject, first.version, row, given_at, stream_id)
    return replace(_result(first, row), replayed=True)


T = TypeVar("T")
ANY_VERSION = -1  # an expected version meaning "any existing version" (HTTP If-Match: *)


def _check_expected(subject: Subject, stream_id: str, version: int, expected: int | None) -> None:
    """ConflictError unless the stream is at the version the writer based its change on."""
    if expected is None or expected == version or (expected == ANY_VERSION and version > 0):
        return
    wanted = "any existing version" if expected == ANY_VERSION else f"version {expected}"
    raise ConflictError(
        f"{subject.label} {stream_id!r} is at version {version}, not {wanted};"
        " read it again and retry",
        current_version=version,
    )


def run_atomically(reg: Registry, work: Callable[[], T], what: str) -> T:
    """Run `work` in one transaction, from the start again if another writer won a race.

    Store errors become registry errors; `what` names the subject in the final give-up error.
    """
    for attempt in range(_ATTEMPTS):
        try:
            with reg.write_lock, reg.store.transaction():
                return work()
        except ConcurrentWriteError:
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311 - jitter, not security
        except StorageFailedError as exc:
            raise StorageError(f"{what}: the database could not store it: {exc}") from exc
        except DatabaseUnavailableError as exc:
            raise UnavailableError(f"{what}: {exc}; nothing was written, retry") from exc
        except VersionConflictError as exc:
            raise ConflictError(str(exc), current_version=exc.actual) from exc
        except IdempotencyConflictError as exc:
            raise ConflictError(str(exc)) from exc
    raise ConflictError(f"{what}: too many concurrent writers; try again")


def execute(
    reg: Registry,
    subject: Subject,
    stream_id: str,
    planner: Planner,
    ctx: WriteContext,
    shown: str | None = None,
    guard: Callable[[Registry], None] | None = None,
    named: bool = False,
) -> WriteResult:
    """Read the stream, plan, append and project in one transaction; retry on a race.

    `named`: `stream_id` is the metric id a caller gave, which names its stream unless the
    metric was renamed (`registry.identity`): told by the tip read anyway, so only a new id
    or a renamed metric costs a lookup.

    Through a server (`reg.group`), writes that arrive together share one transaction
    (`_write_batch`); each keeps its own checks and answer."""
    bad_reason = reason_issue(ctx.reason, ctx.reason_required)
    if bad_reason is not None:
        raise InvalidDefinitionError([bad_reason])
    write = _Write(subject, stream_id, planner, ctx, shown, guard, named)
    if reg.group is not None and not reg.store.in_transaction():
        answer: WriteResult = reg.group.submit(write, lambda batch: _write_batch(reg, batch))
        return answer
    return write.alone(reg)


@dataclass(frozen=True)
class _Write:
    """One write of one stream: what to plan, and who asks."""

    subject: Subject
    stream_id: str
    planner: Planner
    ctx: WriteContext
    shown: str | None = None  # a renamed metric's id now (its events carry it)
    # A check that reads other streams, run in the write's own transaction (a rename's "is
    # the new id free?"): such a write never shares a batch.
    guard: Callable[[Registry], None] | None = None
    named: bool = False  # stream_id is a metric id to resolve (see `execute`)

    def plainly_named(self, head: StreamTip | None) -> bool:
        """The id names its own stream: the tip is there and carries no other row id."""
        return not self.named or (
            head is not None and row_id(self.stream_id, head.payload) == self.stream_id
        )

    def resolved(self, reg: Registry) -> _Write:
        """The write on the stream its metric id names now; ConflictError for an old id."""
        found = identity.for_write(reg, self.stream_id)
        return replace(self, stream_id=found.identity, shown=found.metric_id, named=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.subject.kind.stream_type, self.stream_id)

    def alone(self, reg: Registry) -> WriteResult:
        """In a transaction of its own (retried on a race)."""
        return run_atomically(
            reg, lambda: self.run(reg), f"{self.subject.label} {self.stream_id!r}"
        )

    def run(self, reg: Registry) -> WriteResult:
        """Read the stream, plan, append and project (inside the caller's transaction)."""
        subject, stream_id, ctx = self.subject, self.stream_id, self.ctx
        if ctx.idempotency_key is not None:
            replayed = _replayed(reg, subject, stream_id, self.planner, ctx.idempotency_key)
            if replayed is not None:
                return replayed
        if self.guard is not None:
            self.guard(reg)
        head, given_at = _tips(reg, subject, stream_id)
        if not self.plainly_named(head):
            found = self.resolved(reg)
            if found.stream_id != stream_id:
                return found.run(reg)
        events = None
        if self.dated(head):  # a scheduled change due by now comes in first
            events = bring_in(reg, subject.kind, stream_id, ctx.door)
            if events and events[-1].version != (0 if head is None else head.version):
                head, given_at = _tips(reg, subject, stream_id)
        decided = self.decide(reg, head, given_at, events)
        if isinstance(decided, WriteResult):
            return decided
        recorded = reg.store.append(
            [decided],
            expected_versions={self.key: 0 if head is None else head.version},
            idempotency_key=ctx.idempotency_key,
        )
        reg.projector.apply(recorded)
        proposals.carry(reg, recorded)
        row = reg.projector.row_after(recorded[0], head)
        shown = _shown(reg, subject, recorded[0].version, row, given_at, stream_id)
        return _result(recorded[0], shown)

    def plan(
        self, head: StreamTip | None, events: Sequence[RecordedEvent] | None = None
    ) -> Plan | None:
        """The write's plan after the stream's tip (pure); raises its refusal. With the
        stream's events, dated: based on the state in force at its date (`registry.validity`)."""
        version = 0 if head is None else head.version
        _check_expected(self.subject, self.stream_id, version, self.ctx.expected_version)
        if events is None:
            return self.planner(_current(self.subject, head))
        return plan_dated(
            self.subject.kind, events, self.planner, self.ctx.effective_from, utc_now()
        )

    def dated(self, head: StreamTip | None) -> bool:
        """Whether the write must read its stream's events: it has a date of its own, or the
        tip is a scheduled change (so the row in force is an earlier event)."""
        scheduled = head is not None and head.event_type == self.subject.kind.scheduled
        return self.ctx.effective_from is not None or scheduled

    def decide(
        self,
        reg: Registry,
        head: StreamTip | None,
        given_at: int,
        events: Sequence[RecordedEvent] | None = None,
    ) -> WriteResult | NewEvent:
        """The event to append after the stream's tip, or the answer when there is none
        to append (nothing changes, or a proposal was opened); raises the write's refusal."""
        subject, stream_id, ctx = self.subject, self.stream_id, self.ctx
        version = 0 if head is None else head.version
        if events is None and self.dated(head):
            events = reg.store.read_stream(subject.kind.stream_type, stream_id)
        try:
            plan = self.plan(head, events)
        except NotFoundError:
            if head is not None and head.event_type == subject.kind.tombstone:
                raise queries.not_live(reg, subject, stream_id) from None
            raise
        if plan is None:
            key = stream_id if head is None else row_id(stream_id, head.payload)
            row = reg.projector.current_row(subject.kind, key)
            shown = _shown(reg, subject, version, row, given_at, stream_id)
            return WriteResult(key, version, changed=False, row=shown)
        required = proposals.approval_required(reg, subject, [stream_id])
        if ctx.propose or required:
            if ctx.effective_from is not None:
                raise RefusedError(
                    "effective_from: a change that goes through a proposal cannot carry a date"
                    " yet; propose it undated, or write it where no approval is required"
                )
            change = proposals.change(subject, stream_id, plan, version)
            opened = proposals.open_proposal(reg, [change], ctx, required)
            return WriteResult(stream_id, version, changed=False, proposal=opened)
        return _event(subject, stream_id, plan, ctx, self.shown)


Outcome = WriteResult | BaseException


def _write_batch(reg: Registry, writes: Sequence[_Write]) -> list[Outcome]:
    """Writes that arrived together, in one transaction and one commit, in their order.

    Each is decided against the tips as the writes before it leave them, with its own
    checks (expected version, plan, policy, reason) and its own answer; a refused write
    appends nothing and refuses only itself. Should anything else fail (the commit, a
    race with another process, an error after something was appended), nothing of the
    batch is kept and each write runs again alone, so that each gets its true answer.
    """
    if len(writes) > 1:
        try:
            with reg.write_lock, reg.store.transaction():
                batch = _Batch(reg)
                for write in writes:
                    batch.add(write)
                batch.flush()
            return batch.outcomes
        except Exception as exc:  # each write runs again alone, and meets its own error
            if reg.group is not None:
                reg.group.failed(exc)
    return [_alone(reg, write) for write in writes]


def _alone(reg: Registry, write: _Write) -> Outcome:
    try:
        return write.alone(reg)
    except Exception as exc:  # the write's own error, raised in its own thread
        return exc


class _BatchBrokenError(Exception):
    """A write of a batch was refused after something of the batch was appended."""


class _Batch:
    """The writes of one batch: events decided but not yet appended (`pending`), and the
    tips they will leave, so that a later write of the same stream is decided after them.

    A write decided on such a tip needs nothing but its plan; one that needs to read what
    the pending events change (nothing to change, a deleted stream, a proposal, a replay
    of an idempotency key) has the pending events appended first.
    """

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.outcomes: list[Outcome] = []
        self.pending: list[tuple[int, _Write, NewEvent, StreamTip | None, int]] = []
        self.tips: dict[tuple[str, str], StreamTip] = {}
        self.based_on: dict[tuple[str, str], int] = {}

    def add(self, write: _Write) -> None:
        at = len(self.outcomes)
        self.outcomes.append(RuntimeError("the batch ended before this write was decided"))
        alone = write.guard is not None or write.dated(None)
        if write.ctx.idempotency_key is not None or write.ctx.propose or alone:
            self.flush()
            self._settle(at, write.run)
            return
        staged = self.tips.get(write.key)
        if staged is not None:
            _, given_at = _tips(self.reg, write.subject, write.stream_id)
            try:
                plan = write.plan(staged)
            except NotFoundError:
                plan = None
            except RegistryError as exc:  # refused on its own terms: nothing to read
                self.outcomes[at] = exc
                return
            if plan is not None and not proposals.approval_required(
                self.reg, write.subject, [write.stream_id]
            ):
                self._stage(
                    at,
                    write,
                    _event(write.subject, write.stream_id, plan, write.ctx, write.shown),
                    staged,
                    given_at,
                )
                return
            self.flush()
        head, given_at = _tips(self.reg, write.subject, write.stream_id)
        # One that reads its stream (a date, a scheduled change due) or looks up its metric's
        # identity (a new id, a renamed metric) runs on its own after the pending ones.
        if write.dated(head) or not write.plainly_named(head):
            self.flush()
            self._settle(at, write.run)
            return
        decided = self._settle(at, lambda reg: write.decide(reg, head, given_at))
        if isinstance(decided, NewEvent):
            self._stage(at, write, decided, head, given_at)

    def _stage(
        self, at: int, write: _Write, event: NewEvent, head: StreamTip | None, given_at: int
    ) -> None:
        self.pending.append((at, write, event, head, given_at))
        self.based_on.setdefault(write.key, 0 if head is None else head.version)
        self.tips[write.key] = _staged_tip(head, event)

    def _settle(self, at: int, step: Callable[[Registry], Any]) -> Any:
        """Run one write's step; its refusal is its outcome, unless it appended first."""
        before = self.reg.store.appended()
        try:
            found = step(self.reg)
        except RegistryError as exc:
            if self.reg.store.appended() != before:
                raise _BatchBrokenError from exc
            self.outcomes[at] = exc
            return None
        if isinstance(found, WriteResult):
            self.outcomes[at] = found
        return found

    def flush(self) -> None:
        """Append and project the pending events (one append), and answer their writes."""
        if not self.pending:
            return
        reg = self.reg
        pending, self.pending = self.pending, []
        expected, self.based_on = self.based_on, {}
        self.tips = {}
        recorded = reg.store.append([p[2] for p in pending], expected_versions=expected)
        reg.projector.apply(recorded)
        proposals.carry(reg, recorded)
        for (at, write, _, head, given_at), event in zip(pending, recorded, strict=True):
            row = reg.projector.row_after(event, head)
            self.outcomes[at] = _result(
                event, _shown(reg, write.subject, event.version, row, given_at, write.stream_id)
            )


def _staged_tip(head: StreamTip | None, event: NewEvent) -> StreamTip:
    """The tip a stream will have once a pending event is appended after `head`."""
    first_at = None if head is None else head.first_recorded_at
    first_type = event.event_type if head is None else head.first_event_type
    return StreamTip(
        event.stream_type,
        event.stream_id,
        (0 if head is None else head.version) + 1,
        event.event_type,
        event.event_schema,
        dict(event.payload),
        first_at,
        first_type,
    )


def _tips(reg: Registry, subject: Subject, stream_id: str) -> tuple[StreamTip | None, int]:
    """A stream's tip and, for a metric, the version of its certification's stream (0: none),
    read in one query."""
    if subject is not METRIC:
        return reg.store.stream_tip(subject.kind.stream_type, stream_id), 0
    kinds = [METRIC.kind.stream_type, queries.CERTIFICATION]
    tips = reg.store.tips_of_id(stream_id, kinds)
    given = tips.get(kinds[1])
    return tips.get(kinds[0]), 0 if given is None else given.version


def _shown(
    reg: Registry,
    subject: Subject,
    version: int,
    row: dict[str, Any] | None,
    given_at: int,
    stream_id: str,
) -> dict[str, Any] | None:
    """A metric's row as every read shows it: with its certification at this version (a
    change makes it lapse; certifications are kept by the metric's identity, its stream)."""
    if row is None or subject is not METRIC:
        return row
    given = queries.certification_of(reg, stream_id, version, given_at)
    return {**row, "certification": given}


def current_states(reg: Registry, subject: Subject, stream_ids: list[str]) -> dict[str, Current]:
    """The current state of many streams at once (streams with no events are left out).

    Call inside a transaction: the versions read here guard the append that follows.
    """
    tips = reg.store.stream_tips(subject.kind.stream_type, stream_ids)
    found = {sid: current for sid, tip in tips.items() if (current := _current(subject, tip))}
    kind, now = subject.kind, utc_now()
    for sid, tip in tips.items():
        if tip.event_type == kind.scheduled:  # the state in force is an earlier event's
            events = reg.store.read_stream(kind.stream_type, sid)
            if (current := current_at(kind, events, now)) is not None:
                found[sid] = current
    return found


def apply_plans(
    reg: Registry,
    subject: Subject,
    plans: list[tuple[str, Plan]],
    versions: dict[str, int],
    ctx: WriteContext,
) -> list[WriteResult]:
    """Append one event per plan as one atomic batch and project it (inside a transaction)."""
    if not plans:
        return []
    stream_type = subject.kind.stream_type
    recorded = reg.store.append(
        [_event(subject, sid, plan, ctx) for sid, plan in plans],
        expected_versions={(stream_type, sid): versions.get(sid, 0) for sid, _ in plans},
    )
    proposals.carry(reg, recorded)
    reg.projector.apply(recorded)
    return [_result(event) for event in recorded]


# -- the commands -----------------------------------------------------------------------------


_OWNER_FIELDS = ("source", "source_ref")


def _written_by(fields: dict[str, Any], ctx: WriteContext, metric_id: str | None) -> dict[str, Any]:
    """A metric's fields with its writer: a hand edit makes it `manual` with no label (it
    leaves an import's prune scope); a hand edit that names another writer is refused."""
    if ctx.source is not None:
        return fields
    issues = []
    if fields.get("source") not in (None, MANUAL):
        issues.append(
            Issue("source", f"is the writer, {MANUAL!r} for a hand edit; importers set their own")
        )
    if fields.get("source_ref") is not None:
        issues.append(Issue("source_ref", "labels an import; a hand edit has none"))
    if issues:
        raise InvalidDefinitionError(issues, metric_id)
    return {**fields, "source": MANUAL, "source_ref": None}


def create_metric(reg: Registry, fields: dict[str, Any], ctx: WriteContext) -> WriteResult:
    """Create a metric, or update it if its id exists (an upsert)."""
    model = build(MetricDefinition, metric_input(fields), fields.get("id"))
    definition = _written_by(model.to_definition(), ctx, model.id)
    planner = plan_upsert(definition)
    if "source" not in fields:
        planner = _not_only_owner(planner)
    return execute(reg, METRIC, model.id, planner, ctx, model.id, named=True)


def update_metric(
    reg: Registry, metric_id: str, fields: dict[str, Any], ctx: WriteContext
) -> WriteResult:
    """Change named fields of a live metric; unknown field names are rejected by name.

    A hand edit makes the metric's writer `manual` (SPEC section 1); an update that would
    change nothing else appends nothing, unless it names the writer itself."""
    planner = plan_update(METRIC, metric_id, _written_by(fields, ctx, metric_id))
    if "source" not in fields:
        planner = _not_only_owner(planner)
    return execute(reg, METRIC, metric_id, planner, ctx, metric_id, named=True)


def _not_only_owner(planner: Planner) -> Planner:
    """A planner that appends nothing when only the writer would change."""

    def plan(state: Current | None) -> Plan | None:
        found = planner(state)
        if found is None or found.fact != "Updated":
            return found
        return found if set(found.changed) - set(_OWNER_FIELDS) else None

    return plan


def delete_metric(reg: Registry, metric_id: str, ctx: WriteContext) -> WriteResult:
    """Delete a live metric (a tombstone event); NotFoundError if missing or deleted."""
    planner = plan_delete(METRIC, metric_id)
    return execute(reg, METRIC, metric_id, planner, ctx, metric_id, named=True)


def restore_metric(reg: Registry, metric_id: str, ctx: WriteContext) -> WriteResult:
    """Restore a deleted metric as it was; ConflictError if it is not deleted."""
    planner = plan_restore(METRIC, metric_id)
    return execute(reg, METRIC, metric_id, planner, ctx, metric_id, named=True)


def roll_back_metric(
    reg: Registry, metric_id: str, to_version: int, ctx: WriteContext
) -> WriteResult:
    """Append a new event whose definition is version `to_version`'s (under the metric's id
    now, should that version be from before a rename)."""
    stream_id = identity.for_write(reg, metric_id).identity
    target = reg.store.read_event(METRIC.kind.stream_type, stream_id, to_version)
    planner = keeping_id(plan_rollback(METRIC, metric_id, target, to_version), metric_id)
    return execute(reg, METRIC, stream_id, planner, ctx, metric_id)


def rename_metric(reg: Registry, metric_id: str, new_id: str, ctx: WriteContext) -> WriteResult:
    """Give a live metric a new id, keeping its whole history under it: its old id keeps
    resolving (reads answer with the new one; writes are refused naming it). Refused when
    the new id is, or was, another metric's, and for a dated or proposed change."""
    category, slash, name = new_id.partition("/")
    issues = build_issues(MetricDefinition, {"category": category, "name": name, "sql": "SELECT 1"})
    if not slash or not isinstance(issues, MetricDefinition):
        shown = issues if isinstance(issues, list) and slash else []
        raise InvalidDefinitionError(
            [Issue("to", f"{new_id!r} is not a metric id such as revenue/mrr_v2"), *shown]
        )
    if ctx.reason is None or not ctx.reason.strip():
        raise InvalidDefinitionError([Issue("reason", "a rename needs a reason")])
    if ctx.effective_from is not None:
        raise RefusedError("effective_from: a rename takes effect when it is recorded")
    named = identity.for_write(reg, metric_id)
    if new_id == named.metric_id:
        raise ConflictError(f"metric {metric_id!r} is already named so")

    def free(reg: Registry) -> None:  # in the rename's transaction: no race takes the id
        taken = identity.resolve(reg, new_id)
        held = reg.store.stream_tip(METRIC.kind.stream_type, taken.identity)
        if taken.identity != named.identity and (held is not None or taken.renamed):
            was = "was another metric's id" if taken.renamed else "exists"
            raise ConflictError(f"metric {new_id!r} {was}: choose another id")

    free(reg)  # said before anything else is checked
    if proposals.approval_required(reg, METRIC, [named.identity]) or ctx.propose:
        raise RefusedError(
            "a rename cannot go through a proposal yet: it needs no approval only where the"
            " policy asks for none"
        )
    planner = plan_rename(METRIC, named.metric_id, new_id)
    return execute(reg, METRIC, named.identity, planner, ctx, new_id, free)


def roll_back(
    reg: Registry, subject: Subject, stream_id: str, to_version: int, ctx: WriteContext
) -> WriteResult:
    """Roll any stream back to one of its versions (a new event, never a rewrite)."""
    target = reg.store.read_event(subject.kind.stream_type, stream_id, to_version)
    return execute(
        reg, subject, stream_id, plan_rollback(subject, stream_id, target, to_version), ctx
    )


def save_column(reg: Registry, fields: dict[str, Any], ctx: WriteContext) -> WriteResult:
    """Create or replace a column's metadata (an upsert)."""
    model = build(ColumnMetadata, fields)
    return execute(reg, COLUMN, COLUMN.stream_id(model), plan_upsert(model.to_definition()), ctx)


def delete_column(reg: Registry, table_id: str, column_name: str, ctx: WriteContext) -> WriteResult:
    """Delete a column's metadata (a tombstone event)."""
    stream_id = column_stream_id(table_id, column_name)
    return execute(reg, COLUMN, stream_id, plan_delete(COLUMN, stream_id), ctx)


def restore_column(
    reg: Registry, table_id: str, column_name: str, ctx: WriteContext
) -> WriteResult:
    """Restore a column's deleted metadata."""
    stream_id = column_stream_id(table_id, column_name)
    return execute(reg, COLUMN, stream_id, plan_restore(COLUMN, stream_id), ctx)


def roll_back_column(
    reg: Registry, table_id: str, column_name: str, to_version: int, ctx: WriteContext
) -> WriteResult:
    """Roll a column's metadata back to one of its versions."""
    return roll_back(reg, COLUMN, column_stream_id(table_id, column_name), to_version, ctx)


def set_column(
    reg: Registry, table_id: str, column_name: str, fields: dict[str, Any], ctx: WriteContext
) -> WriteResult:
    """Set some fields of a column's metadata, describing the column first if it is new."""
    stream_id = column_stream_id(table_id, column_name)
    base = {"table_id": table_id, "column_name": column_name}
    unknown = sorted(set(fields) - set(COLUMN.fields) - set(base))
    if unknown:
        raise UnknownFieldError(unknown, list(COLUMN.fields))

    def plan(state: Current | None) -> Plan | None:
        current = {} if state is None or state.deleted else state.definition
        merged = build(ColumnMetadata, {**current, **fields, **base}, stream_id).to_definition()
        return plan_upsert(merged)(state)

    return execute(reg, COLUMN, stream_id, plan, ctx)


def import_columns(
    reg: Registry, entries: list[dict[str, Any]], ctx: WriteContext
) -> list[WriteResult]:
    """Describe many columns in one atomic batch; every invalid entry is reported, none written.

    Raises InvalidDefinitionError (locations `entry N: field`) before writing anything.
    """
    issues: list[Issue] = []
    wanted: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(entries):
        found = build_issues(ColumnMetadata, entry if isinstance(entry, dict) else {})
        if isinstance(found, list):
            issues += [Issue(f"entry {index + 1}: {i.location}", i.message) for i in found]
        else:
            wanted[COLUMN.stream_id(found)] = found.to_definition()
    if issues:
        raise InvalidDefinitionError(issues)

    def work() -> list[WriteResult]:
        currents = current_states(reg, COLUMN, list(wanted))
        plans = [(sid, p) for sid, d in wanted.items() if (p := plan_upsert(d)(currents.get(sid)))]
        versions = {sid: c.version for sid, c in currents.items()}
        required = proposals.approval_required(reg, COLUMN, wanted)
        if plans and (ctx.propose or required):
            changes = [proposals.change(COLUMN, s, p, versions.get(s, 0)) for s, p in plans]
            opened = proposals.open_proposal(reg, changes, ctx, required)
            return [WriteResult(s, versions.get(s, 0), False, proposal=opened) for s, _ in plans]
        return apply_plans(reg, COLUMN, plans, versions, ctx)

    return run_atomically(reg, work, "column import")


@dataclass(frozen=True)
class RequestMeta:
    """What a write request says about itself rather than about the definition."""

    reason: str | None = None
    expected_version: int | None = None
    effective_from: datetime | None = None


def write_request(
    actor: str,
    body: Mapping[str, Any] | None = None,
    *,
    door: str,
    reason: str | None = None,
    expected_version: int | None = None,
    if_match: str | None = None,
    idempotency_key: str | None = None,
    reason_required: bool = False,
    definition: bool = True,
    effective_from: str | datetime | None = None,
) -> tuple[dict[str, Any], WriteContext]:
    """The one way every door turns a write request into the definition's fields and the
    write's context: who, why, the version it is based on (the body's `expected_version`,
    an HTTP `If-Match`, or the door's own), the idempotency key, and from when the change
    is in force (the body's `effective_from`, or the door's own: a date or UTC time).

    Raises InvalidDefinitionError naming a bad reason or version, UnknownFieldError for
    definition fields in a request that takes none (`definition=False`: a restore), and
    RefusedError for an If-Match that is not a version.
    """
    fields, meta = request_meta(dict(body or {}))
    if door not in DOORS:
        raise ValueError(f"unknown door {door!r}")  # a programming error, not a user's
    if fields and not definition:
        raise UnknownFieldError(sorted(fields), ["reason", "expected_version", "effective_from"])
    if isinstance(effective_from, str):
        effective_from = parse_time(effective_from, "effective_from")
    based_on = meta.expected_version if meta.expected_version is not None else expected_version
    return fields, WriteContext(
        actor=actor,
        door=door,
        reason=meta.reason if meta.reason is not None else reason,
        expected_version=based_on if if_match is None else _if_match_version(if_match),
        idempotency_key=idempotency_key,
        reason_required=reason_required,
        effective_from=meta.effective_from or effective_from,
    )


def _if_match_version(if_match: str) -> int:
    """The version an `If-Match: "v3"` (or W/"v3", or 3; `*` for any existing version) names."""
    if if_match.strip() == "*":
        return ANY_VERSION
    text = if_match.strip().removeprefix("W/").strip('"').removeprefix("v")
    if not text.isdigit():
        raise RefusedError(f'If-Match {if_match!r} is not a version such as "v3"')
    return int(text)


def request_meta(body: dict[str, Any]) -> tuple[dict[str, Any], RequestMeta]:
    """Split a write request's body into the definition's fields and the request's own
    `reason`, `expected_version` and `effective_from`; InvalidDefinitionError names a bad
    one."""
    fields = dict(body)
    reason = fields.pop("reason", None)
    expected = fields.pop("expected_version", None)
    dated = fields.pop("effective_from", None)
    if isinstance(expected, float) and expected.is_integer():
        expected = int(expected)  # JSON has one number type: 3.0 is the integer 3
    issues = [issue] if (issue := reason_issue(reason)) else []
    if expected is not None and (
        isinstance(expected, bool) or not isinstance(expected, int) or not 0 <= expected < 2**31
    ):
        issues.append(Issue("expected_version", f"{expected!r} is not a version (0, 1, 2, ...)"))
    effective = None
    if isinstance(dated, datetime | date):
        dated = dated.isoformat()  # YAML reads an unquoted date as a date
    if dated is not None and not isinstance(dated, str):
        issues.append(Issue("effective_from", f"{dated!r} is not a date such as 2026-01-31"))
    elif dated is not None:
        try:
            effective = parse_time(dated, "effective_from")
        except InvalidDefinitionError as exc:
            issues += exc.issues
    if issues:
        raise InvalidDefinitionError(issues)
    return fields, RequestMeta(reason, expected, effective)


# -- scheduled changes coming into force ------------------------------------------------------


def bring_in(
    reg: Registry,
    kind: StreamKind,
    stream_id: str,
    door: str,
    events: Sequence[RecordedEvent] | None = None,
    now: datetime | None = None,
) -> list[RecordedEvent]:
    """Inside the caller's transaction: append the stream's TookEffect if one is due, and
    settle its due dates. Returns the stream's events afterwards."""
    moment = now or utc_now()
    found = list(
        events if events is not None else reg.store.read_stream(kind.stream_type, stream_id)
    )
    event = took_effect(kind, found, moment, door)
    if event is not None:
        version = found[-1].version
        recorded = reg.store.append(
            [event], expected_versions={(kind.stream_type, stream_id): version}
        )
        reg.projector.apply(recorded)
        found += recorded
    reg.projector.settle_due(kind.stream_type, stream_id, moment)
    return found
