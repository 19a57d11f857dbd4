"""Answers about governed changes: proposals, the approval policy, certifications."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from registry import sight
from registry.answers.metrics import written
from registry.errors import InvalidDefinitionError, Issue, NotFoundError
from registry.shape import json_object, jsonable
from storage.session import Registry

if TYPE_CHECKING:  # commands load pydantic: writes import them when called
    from registry.commands import WriteContext

ACTIONS = ("create", "update", "delete", "rollback", "restore")


def propose(
    reg: Registry,
    action: str,
    metric_id: str | None,
    fields: dict[str, Any],
    to_version: int | None,
    ctx: WriteContext,
) -> dict[str, Any]:
    """Propose a change to a metric instead of making it (anyone who may read it may):
    `{"status": "proposed", "proposal": ...}`, or the metric unchanged when the change would
    change nothing. The change is planned as the write itself would be, so it is refused
    for the same reasons, named the same way."""
    from registry import commands

    ctx = replace(ctx, propose=True)
    issues = []
    if action not in ACTIONS:
        issues.append(Issue("action", f"{action!r} is not one of {', '.join(ACTIONS)}"))
    elif action != "create" and not metric_id:
        issues.append(Issue("metric", f"names the metric to {action}"))
    elif action == "rollback" and to_version is None:
        issues.append(Issue("to_version", "names the version to roll back to"))
    elif action not in ("create", "update") and fields:
        issues.append(Issue(sorted(fields)[0], f"a {action} takes no definition fields"))
    if issues:
        raise InvalidDefinitionError(issues)
    # A caller who may see only some tables proposes changes to what it sees, only.
    if metric_id and action != "create":
        sight.require_metric(reg, str(metric_id))
    hidden = [t for t in sight.metric_tables(fields) if not sight.sees_table(reg, t)]
    if hidden:
        raise InvalidDefinitionError(
            [Issue("tables", f"{hidden[0]!r} is a table this token may not see")]
        )
    if action == "create":
        found = commands.create_metric(reg, fields, ctx)
    elif action == "update":
        found = commands.update_metric(reg, str(metric_id), fields, ctx)
    elif action == "delete":
        found = commands.delete_metric(reg, str(metric_id), ctx)
    elif action == "restore":
        found = commands.restore_metric(reg, str(metric_id), ctx)
    else:
        found = commands.roll_back_metric(reg, str(metric_id), int(to_version or 0), ctx)
    return written(found)


def proposal_list(reg: Registry, state: str | None = None) -> dict[str, Any]:
    """Every proposal, newest first (or those in one state): open, stale, approved, rejected,
    withdrawn."""
    from registry.proposals import list_proposals

    found = _visible(reg, list_proposals(reg, state))
    return {"proposals": jsonable(found), "count": len(found)}


def _visible(reg: Registry, proposals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The proposals whose every change the caller may see."""
    seen: sight.Sight | None = reg.sight
    if seen is None:
        return proposals
    # Each proposal's changes as opened: with the definitions they propose.
    opened = {p["number"]: reg.store.read_event("proposal", str(p["number"]), 1) for p in proposals}
    changes = {n: list(e.payload.get("changes") or ()) if e else [] for n, e in opened.items()}
    ids = [c["id"] for found in changes.values() for c in found if c.get("subject") == "metric"]
    hidden = sight.hidden_metrics(reg, ids)
    return [p for p in proposals if sight.sees_changes(seen, changes[p["number"]], hidden)]


def proposal(reg: Registry, number: int) -> dict[str, Any]:
    """One proposal with each change's field-level diff against the current version."""
    from registry.proposals import read_proposal

    found = read_proposal(reg, number)
    if not _visible(reg, [found]):
        raise NotFoundError(f"there is no proposal {number}")
    return json_object(found)


def decided_proposal(
    reg: Registry, number: int, decision: str, ctx: WriteContext
) -> dict[str, Any]:
    """Approve, reject or withdraw a proposal (`decision`); the proposal afterwards."""
    from registry import governance

    return json_object(governance.decide(reg, number, decision, ctx))


def approval_policy(reg: Registry) -> dict[str, Any]:
    """The approval policy in force: the registry's rule, each category's, its last change."""
    from registry import governance

    return json_object(governance.policy(reg))


def set_approval_policy(
    reg: Registry, approval: str, category: str | None, ctx: WriteContext
) -> dict[str, Any]:
    """Set the approval rule of the registry or one category; the policy afterwards."""
    from registry import governance

    return json_object(governance.set_policy(reg, approval, category, ctx))


def certified_metric(reg: Registry, metric_id: str, ctx: WriteContext) -> dict[str, Any]:
    """Certify a metric at its current version (`ctx.reason` is the note); its certification."""
    from registry import governance

    return json_object(governance.certify(reg, metric_id, ctx))
