"""Governed changes as the log holds them: proposals, the approval policy, certifications.

Each is its own kind of stream in the one hash-chained log, beside metrics and columns:

- A proposal (stream type `proposal`, ids "1", "2", ...). `ProposalOpened` holds every event
  the proposal would append (a metric's or a column's: its fact, definition and changed
  fields) with the version each stream was at when proposed; then at most one of
  `ProposalApproved`, `ProposalRejected` or `ProposalWithdrawn`, each with its reason.
  Stale is not an event: an open proposal is stale while any of its streams has moved past
  the version it was based on.
- The approval policy (stream `policy/approval`): `ApprovalPolicySet` holds every rule after
  the change (`*` for the whole registry, else a category; the most specific rule wins).
- A metric's certification (stream `certification/<metric id>`): `MetricCertified` at the
  metric's version then; it lapses by itself once the metric's version moves on.

This module reads and opens; `registry.governance` decides (approve, reject, withdraw, set
the policy, certify). Nothing here imports the commands, which open proposals through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from events import RecordedEvent, StreamTip
from registry.errors import InvalidDefinitionError, Issue, NotFoundError
from registry.plans import Plan, changed_fields
from registry.reasons import reason_issue
from registry.subjects import COLUMN, METRIC, Subject

if TYPE_CHECKING:
    from registry.commands import WriteContext
    from storage.session import Registry

PROPOSAL = "proposal"  # stream types
POLICY = "policy"
CERTIFICATION = "certification"
POLICY_ID = "approval"  # the policy's one stream

OPENED, APPROVED, REJECTED, WITHDRAWN = (
    "ProposalOpened",
    "ProposalApproved",
    "ProposalRejected",
    "ProposalWithdrawn",
)
DECISIONS = {"approve": APPROVED, "reject": REJECTED, "withdraw": WITHDRAWN}
_STATE_OF = {APPROVED: "approved", REJECTED: "rejected", WITHDRAWN: "withdrawn"}
STATES = ("open", "stale", "approved", "rejected", "withdrawn")
POLICY_SET = "ApprovalPolicySet"
CERTIFIED = "MetricCertified"

REQUIRED, OPTIONAL = "required", "optional"
WHOLE_REGISTRY = "*"
SUBJECTS = {METRIC.label: METRIC, COLUMN.label: COLUMN}
POLICY_SUBJECT = "policy"  # a proposal may also loosen the approval policy itself
STREAM_TYPES = {
    METRIC.label: METRIC.kind.stream_type,
    COLUMN.label: COLUMN.kind.stream_type,
    POLICY_SUBJECT: POLICY,
}
ACTIONS = {
    POLICY_SET: "loosen",
    "Created": "create",
    "Updated": "update",
    "Deleted": "delete",
    "RolledBack": "rollback",
    "Restored": "restore",
}


# -- the policy ---------------------------------------------------------------------------------


def policy_event(reg: Registry) -> StreamTip | None:
    return reg.store.stream_tip(POLICY, POLICY_ID)


def rules(reg: Registry) -> dict[str, str]:
    """The approval rules in force: `{"*": "required", "finance": "optional", ...}`.

    Every direct write asks, so the answer is kept for the log's head it was read at (in
    the database's Writer, shared by its registries in this process) and carried past this
    process's own appends that set no policy (`carry`). Where another process wrote, the
    head moved: read again. An append after a head that was stale collides and is retried,
    and its retry reads the head, and then the rules, again."""
    known = reg.store.known_head()
    head = (known.position, known.hash)  # the hash too: an append rolled back leaves none
    kept = reg.writer.memo.get(POLICY)
    if kept is not None and kept[0] == head:
        return dict(kept[1])
    tip = policy_event(reg)
    found = dict(tip.payload.get("rules") or {}) if tip is not None else {}
    reg.writer.memo[POLICY] = (head, found)
    return dict(found)


def carry(reg: Registry, recorded: Sequence[RecordedEvent]) -> None:
    """Keep the rules known past an append of this process that sets none (inside its
    transaction: should it roll back, no head will carry the hashes of its events)."""
    kept = reg.writer.memo.get(POLICY)
    if not recorded or kept is None or kept[0] != (recorded[0].position - 1, recorded[0].prev_hash):
        return
    if all(e.stream_type != POLICY for e in recorded):
        reg.writer.memo[POLICY] = ((recorded[-1].position, recorded[-1].hash), kept[1])


def approval_for(found: dict[str, str], subject: Subject, stream_id: str) -> str:
    """`required` or `optional` for one stream: its category's rule, else the registry's.
    Column metadata has no category: the registry's rule governs it."""
    if subject is METRIC:
        category = stream_id.partition("/")[0]
        if category in found:
            return found[category]
    return found.get(WHOLE_REGISTRY, OPTIONAL)


def approval_required(reg: Registry, subject: Subject, stream_ids: Iterable[str]) -> bool:
    """Whether a direct write of these streams must become a proposal (read it inside the
    write's transaction, so that a policy set meanwhile is not missed)."""
    found = rules(reg)
    return bool(found) and any(approval_for(found, subject, s) == REQUIRED for s in stream_ids)


# -- opening a proposal ---------------------------------------------------------------------


def change(subject: Subject, stream_id: str, plan: Plan, base_version: int) -> dict[str, Any]:
    """One event a proposal would append, and the version its stream was at."""
    return {
        "subject": subject.label,
        "id": stream_id,
        "fact": plan.fact,
        "definition": plan.definition,
        "changed": list(plan.changed),
        "extra": dict(plan.extra),
        "base_version": base_version,
    }


def open_proposal(
    reg: Registry, changes: list[dict[str, Any]], ctx: WriteContext, required: bool
) -> dict[str, Any]:
    """Append `ProposalOpened` (inside the caller's transaction) and answer the proposal.

    A proposal must say why: InvalidDefinitionError names a missing reason. `required` says
    whether the policy made this write a proposal (else it was asked for)."""
    from events import NewEvent

    if not (ctx.reason or "").strip():
        issue = Issue("reason", "is required: a proposal says why, for whoever approves it")
        raise InvalidDefinitionError([issue])
    if (bad := reason_issue(ctx.reason)) is not None:  # an import's, say
        raise InvalidDefinitionError([bad])
    number = _next_number(reg)
    recorded = reg.store.append(
        [
            NewEvent(
                stream_type=PROPOSAL,
                stream_id=str(number),
                event_type=OPENED,
                payload={
                    "changes": changes,
                    "writer": ctx.writer,
                    "source_ref": ctx.source_ref if ctx.source else None,
                    "batch_id": ctx.batch_id,
                    "required": required,
                    "door": ctx.door,
                },
                actor=ctx.actor,
                reason=ctx.reason,
                source=ctx.writer,
            )
        ],
        expected_versions={(PROPOSAL, str(number)): 0},
        idempotency_key=ctx.idempotency_key,
    )
    carry(reg, recorded)
    reg.projector.apply(recorded)  # moves the checkpoint; proposals have no v4 table
    return fold(recorded, {})  # just opened: every stream is at its base version


def _next_number(reg: Registry) -> int:
    """The next proposal's number: one more than the highest (their streams' ids, read
    without their payloads; two proposals opened at once collide on it and one retries)."""
    return max((int(n) for n in reg.store.versions_at(PROPOSAL)), default=0) + 1


# -- reading proposals ---------------------------------------------------------------------


def proposal_events(reg: Registry, number: int) -> list[RecordedEvent]:
    """A proposal's events, oldest first; NotFoundError if there is no such proposal."""
    events = reg.store.read(stream_type=PROPOSAL, stream_id=str(number))
    if not events:
        raise NotFoundError(f"there is no proposal {number}")
    return events


def versions_now(reg: Registry, *opened: RecordedEvent) -> dict[tuple[str, str], int]:
    """The current version of every stream some proposals change (one query per kind)."""
    wanted: dict[str, set[str]] = {}
    for event in opened:
        for c in event.payload["changes"]:
            wanted.setdefault(c["subject"], set()).add(c["id"])
    tips = {}
    for label, ids in wanted.items():
        found = reg.store.stream_tips(STREAM_TYPES[label], sorted(ids))
        tips.update({(label, sid): (found[sid].version if sid in found else 0) for sid in ids})
    return tips


def fold(events: Sequence[RecordedEvent], tips: dict[tuple[str, str], int]) -> dict[str, Any]:
    """A proposal as every door shows it, from its events and its streams' versions now."""
    opened = events[0]
    decision = events[-1] if len(events) > 1 else None
    changes = []
    stale = []
    for c in opened.payload["changes"]:
        now = tips.get((c["subject"], c["id"]), c["base_version"])
        changes.append(
            {
                "subject": c["subject"],
                "id": c["id"],
                "action": ACTIONS.get(c["fact"], c["fact"]),
                "base_version": c["base_version"],
                "current_version": now,
                "changed": c["changed"],
                "to_version": c["extra"].get("to_version"),
            }
        )
        if now != c["base_version"]:
            moved = {"subject": c["subject"], "id": c["id"], "base": c["base_version"]}
            stale.append({**moved, "current": now})
    state = _STATE_OF[decision.event_type] if decision else ("stale" if stale else "open")
    return {
        "number": int(opened.stream_id),
        "state": state,
        "proposed_by": opened.actor,
        "proposed_at": opened.recorded_at,
        "reason": opened.reason,
        "door": opened.payload.get("door"),
        "writer": opened.payload.get("writer"),
        "source_ref": opened.payload.get("source_ref"),
        "required": bool(opened.payload.get("required")),
        "changes": changes,
        "stale": stale if decision is None else [],
        "decided_by": decision.actor if decision else None,
        "decided_at": decision.recorded_at if decision else None,
        "decision_reason": decision.reason if decision else None,
        "applied": decision.payload.get("applied", []) if decision else [],
        "position": events[-1].position,
    }


def read_proposal(reg: Registry, number: int) -> dict[str, Any]:
    """One proposal, with each change's field-level diff against its stream's current state."""
    with reg.store.snapshot():
        events = proposal_events(reg, number)
        found = fold(events, versions_now(reg, events[0]))
        currents = _current_definitions(reg, events[0].payload["changes"])
    for shown, proposed in zip(found["changes"], events[0].payload["changes"], strict=True):
        current = currents.get((proposed["subject"], proposed["id"]), {})
        new = {} if proposed["fact"] == "Deleted" else proposed["definition"]
        if proposed["subject"] == POLICY_SUBJECT:  # the rules before and after
            new = {"rules": new["rules"]}
        fields = changed_fields(current, new) + tuple(k for k in current if k not in new)
        shown["diff"] = [
            {"field": f, "current": current.get(f), "proposed": new.get(f)} for f in fields
        ]
    return found


def _current_definitions(
    reg: Registry, changes: list[dict[str, Any]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The current definition of every live stream some changes touch (one query per kind)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    wanted: dict[str, list[str]] = {}
    for c in changes:
        if c["subject"] == POLICY_SUBJECT:
            out[(c["subject"], c["id"])] = {"rules": rules(reg)}
        else:
            wanted.setdefault(c["subject"], []).append(c["id"])
    for label, ids in wanted.items():
        kind = SUBJECTS[label].kind
        for sid, tip in reg.store.stream_tips(kind.stream_type, ids).items():
            if tip.event_type != kind.tombstone:
                out[(label, sid)] = dict(tip.payload.get("definition") or {})
    return out


def list_proposals(reg: Registry, state: str | None = None) -> list[dict[str, Any]]:
    """Every proposal, newest first (only those in one state, if given)."""
    if state is not None and state not in STATES:
        raise InvalidDefinitionError(
            [Issue("state", f"{state!r} is not one of {', '.join(STATES)}")]
        )
    with reg.store.snapshot():
        streams: dict[str, list[RecordedEvent]] = {}
        for event in reg.store.read(stream_type=PROPOSAL):
            streams.setdefault(event.stream_id, []).append(event)
        tips = versions_now(reg, *(events[0] for events in streams.values()))
        found = [fold(events, tips) for events in streams.values()]
    found.sort(key=lambda p: -p["number"])
    return [p for p in found if state is None or p["state"] == state]
