"""Governed changes: deciding proposals (four eyes), setting the approval policy, certifying.

The events and their reading live in `registry.proposals`. Roles are the doors' to check
(only admins reach these, except a withdrawal); what no role can change is checked here, at
every door alike: no one decides their own proposal, only its proposer withdraws it, a stale
proposal cannot be approved, and a decided one cannot be decided again.
"""

from __future__ import annotations

from typing import Any

from registry import identity, proposals, queries
from registry.commands import MANUAL, WriteContext, apply_plans, run_atomically
from registry.errors import (
    ConflictError,
    InvalidDefinitionError,
    Issue,
    NotAllowedError,
    NotFoundError,
)
from registry.models import NAME_PATTERN
from registry.plans import Plan
from registry.proposals import PROPOSAL, SUBJECTS
from registry.reasons import reason_issue
from registry.subjects import METRIC
from storage.session import Registry


def _needs_reason(ctx: WriteContext, what: str) -> None:
    """A decision's or a certification's reason: required, and Unicode text of a bounded
    length like every write's (`registry.commands`)."""
    if not (ctx.reason or "").strip():
        raise InvalidDefinitionError([Issue("reason", f"is required: say why you {what}")])
    if (issue := reason_issue(ctx.reason)) is not None:
        raise InvalidDefinitionError([issue])


def decide(reg: Registry, number: int, decision: str, ctx: WriteContext) -> dict[str, Any]:
    """Approve, reject or withdraw a proposal (each an event with its reason).

    Approving appends exactly the proposed events, one atomic batch naming the proposal, its
    proposer and its approver, then `ProposalApproved`, in one transaction. NotAllowedError
    for one's own proposal (approve, reject) or someone else's (withdraw); ConflictError for
    a decided or stale one (naming both versions); NotFoundError for no such proposal."""
    event_type = proposals.DECISIONS[decision]
    _needs_reason(ctx, f"{decision} it")

    def work() -> dict[str, Any]:
        events = proposals.proposal_events(reg, number)
        opened = events[0]
        tips = proposals.versions_now(reg, opened)
        found = proposals.fold(events, tips)
        if found["state"] not in ("open", "stale"):
            raise ConflictError(
                f"proposal {number} is already {found['state']} (by {found['decided_by']})"
            )
        proposer = opened.actor
        if decision == "withdraw" and ctx.actor != proposer:
            raise NotAllowedError(
                f"only its proposer, {proposer!r}, may withdraw proposal {number}; reject it"
            )
        if decision != "withdraw" and ctx.actor == proposer:
            raise NotAllowedError(
                f"{ctx.actor!r} proposed {number}: another admin must {decision} it (four eyes)"
            )
        applied: list[dict[str, Any]] = []
        if decision == "approve":
            if found["stale"]:
                moved = "; ".join(
                    f"{s['subject']} {s['id']!r} was at version {s['base']} when proposed"
                    f" and is now at version {s['current']}"
                    for s in found["stale"]
                )
                raise ConflictError(
                    f"proposal {number} is stale: {moved}; propose it again from the current"
                    " version"
                )
            applied = _apply(reg, number, opened, ctx)
        from events import NewEvent

        recorded = reg.store.append(
            [
                NewEvent(
                    stream_type=PROPOSAL,
                    stream_id=str(number),
                    event_type=event_type,
                    payload={"applied": applied, "door": ctx.door},
                    actor=ctx.actor,
                    reason=ctx.reason,
                )
            ],
            expected_versions={(PROPOSAL, str(number)): len(events)},
        )
        proposals.carry(reg, recorded)
        reg.projector.apply(recorded)
        return proposals.fold([*events, *recorded], proposals.versions_now(reg, opened))

    return run_atomically(reg, work, f"proposal {number}")


def _apply(reg: Registry, number: int, opened: Any, ctx: WriteContext) -> list[dict[str, Any]]:
    """Append the proposal's events as they were proposed: its proposer is their actor, its
    reason their reason, its writer their writer; they name the proposal and the approver."""
    payload = opened.payload
    writer = payload.get("writer")
    applying = WriteContext(
        actor=opened.actor,
        door=ctx.door,
        reason=opened.reason,
        batch_id=payload.get("batch_id") or f"proposal-{number}",
        source=None if writer in (None, MANUAL) else writer,
        source_ref=payload.get("source_ref"),
    )
    names = {"proposal": number, "proposed_by": opened.actor, "approved_by": ctx.actor}
    applied = []
    for c in payload["changes"]:
        if c["subject"] == proposals.POLICY_SUBJECT:
            event = _append_policy(reg, c["definition"], applying, c["base_version"], names)
            applied.append(
                {
                    "subject": c["subject"],
                    "id": c["id"],
                    "version": event.version,
                    "position": event.position,
                }
            )
    for label, subject in SUBJECTS.items():
        mine = [c for c in payload["changes"] if c["subject"] == label]
        plans = [
            (
                c["id"],
                Plan(c["fact"], c["definition"], tuple(c["changed"]), {**c["extra"], **names}),
            )
            for c in mine
        ]
        versions = {c["id"]: c["base_version"] for c in mine}
        for result in apply_plans(reg, subject, plans, versions, applying):
            applied.append(
                {
                    "subject": label,
                    "id": result.id,
                    "version": result.version,
                    "position": result.position,
                }
            )
    return applied


# -- the policy ---------------------------------------------------------------------------------


def set_policy(
    reg: Registry, approval: str, category: str | None, ctx: WriteContext
) -> dict[str, Any]:
    """Set the approval rule of the whole registry or of one category (an event, appended only
    when the rule changes); the policy after it."""
    import re

    issues = []
    if approval not in (proposals.REQUIRED, proposals.OPTIONAL):
        issues.append(Issue("approval", f"{approval!r} is not 'required' or 'optional'"))
    if category is not None and not re.fullmatch(NAME_PATTERN, category):
        issues.append(Issue("category", f"{category!r} is not a category name"))
    if (issue := reason_issue(ctx.reason)) is not None:
        issues.append(issue)
    if issues:
        raise InvalidDefinitionError(issues)
    scope = category or proposals.WHOLE_REGISTRY

    def work() -> dict[str, Any]:
        tip = proposals.policy_event(reg)
        rules = dict(tip.payload.get("rules") or {}) if tip is not None else {}
        before = rules.get(scope) or rules.get(proposals.WHOLE_REGISTRY, proposals.OPTIONAL)
        if rules.get(scope, proposals.OPTIONAL if scope == "*" else None) == approval:
            return policy(reg)
        rules[scope] = approval
        base = 0 if tip is None else tip.version
        if approval == proposals.OPTIONAL and before == proposals.REQUIRED:
            # Loosening what requires approval needs approval too, or one admin could
            # switch it off, write alone, and switch it on again.
            change = {
                "subject": proposals.POLICY_SUBJECT,
                "id": proposals.POLICY_ID,
                "fact": proposals.POLICY_SET,
                "definition": {"rules": rules, "scope": scope, "approval": approval},
                "changed": ["rules"],
                "extra": {},
                "base_version": base,
            }
            opened = proposals.open_proposal(reg, [change], ctx, required=True)
            return {**policy(reg), "proposal": opened}
        _append_policy(reg, {"scope": scope, "approval": approval, "rules": rules}, ctx, base)
        return policy(reg)

    return run_atomically(reg, work, "the approval policy")


def _append_policy(
    reg: Registry, rules: dict[str, Any], ctx: WriteContext, base: int, names: Any = None
) -> Any:
    """Append `ApprovalPolicySet` (the scope, the rule, every rule after it)."""
    from events import NewEvent

    recorded = reg.store.append(
        [
            NewEvent(
                stream_type=proposals.POLICY,
                stream_id=proposals.POLICY_ID,
                event_type=proposals.POLICY_SET,
                payload={**rules, **(names or {}), "door": ctx.door},
                actor=ctx.actor,
                reason=ctx.reason,
            )
        ],
        expected_versions={(proposals.POLICY, proposals.POLICY_ID): base},
    )
    reg.projector.apply(recorded)
    return recorded[0]


def policy(reg: Registry) -> dict[str, Any]:
    """The approval policy: the registry's rule, each category's, and its last change."""
    rules = proposals.rules(reg)
    last = reg.store.last_events(proposals.POLICY, [proposals.POLICY_ID]).get(proposals.POLICY_ID)
    return {
        "approval": rules.get(proposals.WHOLE_REGISTRY, proposals.OPTIONAL),
        "categories": {k: v for k, v in sorted(rules.items()) if k != proposals.WHOLE_REGISTRY},
        "set_by": last.actor if last else None,
        "set_at": last.recorded_at if last else None,
        "version": last.version if last else 0,
    }


# -- certification ---------------------------------------------------------------------------


def certify(reg: Registry, metric_id: str, ctx: WriteContext) -> dict[str, Any]:
    """Certify a live metric at its current version (`ctx.reason` is the note; refused when
    the metric is not at `ctx.expected_version`, if given); appends nothing when it is
    certified at that version already. Its certification after."""
    _needs_reason(ctx, "certify it (the note)")
    # Kept by the metric's identity (its stream): a rename keeps its certification.
    stream = identity.for_write(reg, metric_id).identity

    def work() -> dict[str, Any]:
        from events import NewEvent

        tip = reg.store.stream_tip(METRIC.kind.stream_type, stream)
        if tip is None or tip.event_type == METRIC.kind.tombstone:
            raise NotFoundError(f"metric {metric_id!r} does not exist")
        if ctx.expected_version not in (None, tip.version):  # the version the certifier saw
            raise ConflictError(
                f"metric {metric_id!r} is at version {tip.version}, not the version"
                f" {ctx.expected_version} you saw; read it again before certifying it",
                current_version=tip.version,
            )
        had = reg.store.stream_tip(queries.CERTIFICATION, stream)
        given_at = None if had is None else had.version
        if had is None or int(had.payload["version"]) != tip.version:
            recorded = reg.store.append(
                [
                    NewEvent(
                        stream_type=queries.CERTIFICATION,
                        stream_id=stream,
                        event_type="MetricCertified",
                        payload={"version": tip.version, "door": ctx.door},
                        actor=ctx.actor,
                        reason=ctx.reason,
                    )
                ],
                expected_versions={
                    (queries.CERTIFICATION, stream): 0 if had is None else had.version
                },
            )
            reg.projector.apply(recorded)
            given_at = recorded[0].version
        # read in this transaction (a server's read cache holds only what was committed)
        found = queries.certification_of(reg, stream, tip.version, given_at)
        assert found is not None  # noqa: S101 - certified above, or already
        return found

    return run_atomically(reg, work, f"certification of {metric_id!r}")
