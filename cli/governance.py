"""`da proposals ...` and `da policy ...`: governed changes, each one call to the backend."""

from typing import Annotated, Any

import typer

from cli.backend import backend_for
from cli.output import emit, emit_json, table

proposals_app = typer.Typer(
    help="Changes waiting for a second person: list, show, approve, reject, withdraw.",
    no_args_is_help=True,
)
policy_app = typer.Typer(
    help="Whether changes need another admin's approval.", no_args_is_help=True
)

Json = Annotated[bool, typer.Option("--json", help="Stable JSON for scripts and AI agents.")]
Number = Annotated[int, typer.Argument(min=1, help="The proposal's number.")]
Why = Annotated[str, typer.Option("--reason", help="Why: recorded with the decision.")]
STATES = ("open", "stale", "approved", "rejected", "withdrawn")


def _what(proposal: dict[str, Any]) -> str:
    """A proposal's changes in a few words: `update revenue/mrr`, or `20 changes`."""
    changes = proposal["changes"]
    if len(changes) == 1:
        change = changes[0]
        to = f" to v{change['to_version']}" if change.get("to_version") else ""
        return f"{change['action']}{to} {change['subject']} {change['id']}"
    return f"{len(changes)} changes"


def show_proposal(proposal: dict[str, Any]) -> None:
    """A proposal as text: its state, who proposed it and why, each change and its diff."""
    emit(f"proposal {proposal['number']}: {proposal['state']}")
    required = " (approval is required)" if proposal["required"] else ""
    emit(
        f"  proposed by {proposal['proposed_by']} at {proposal['proposed_at']}"
        f" through {proposal['door']}{required}: {proposal['reason']}"
    )
    if proposal["decided_by"]:
        emit(
            f"  {proposal['state']} by {proposal['decided_by']} at {proposal['decided_at']}:"
            f" {proposal['decision_reason']}"
        )
    for stale in proposal["stale"]:
        emit(
            f"  stale: {stale['subject']} {stale['id']} was at version {stale['base']}"
            f" when proposed, is now at version {stale['current']}"
        )
    for change in proposal["changes"]:
        emit(
            f"  {change['action']} {change['subject']} {change['id']}"
            f" (based on v{change['base_version']}, now v{change['current_version']})"
        )
        for line in change.get("diff", []):
            emit(f"    {line['field']}: {line['current']!r} -> {line['proposed']!r}")
    for applied in proposal["applied"]:
        emit(f"  applied {applied['subject']} {applied['id']} as version {applied['version']}")


def opened(answer: dict[str, Any]) -> None:
    """What a write that became a proposal says."""
    proposal = answer["proposal"]
    why = "approval is required" if proposal["required"] else "for another admin's approval"
    emit(f"proposed, not applied ({why}): proposal {proposal['number']}, {_what(proposal)}")
    emit(f"  see it with: da proposals show {proposal['number']}")


@proposals_app.command("list")
def list_proposals(
    ctx: typer.Context,
    state: Annotated[
        str | None, typer.Option(help=f"Only those in this state: {', '.join(STATES)}.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Every proposal, newest first."""
    found = backend_for(ctx.obj).proposal_list(state)["proposals"]
    if as_json:
        emit_json(found)
        return
    rows = [{**p, "change": _what(p)} for p in found]
    table(rows, ["number", "state", "change", "proposed_by", "proposed_at", "reason"])


@proposals_app.command("show")
def show(ctx: typer.Context, number: Number, as_json: Json = False) -> None:
    """One proposal, with each change's differences from the current version."""
    found = backend_for(ctx.obj).proposal(number)
    emit_json(found) if as_json else show_proposal(found)


def _decide(ctx: typer.Context, number: int, decision: str, reason: str, as_json: bool) -> None:
    found = backend_for(ctx.obj).decide(number, decision, reason)
    emit_json(found) if as_json else show_proposal(found)


@proposals_app.command("approve")
def approve(ctx: typer.Context, number: Number, reason: Why, as_json: Json = False) -> None:
    """Apply a proposal exactly as proposed (an admin who did not propose it)."""
    _decide(ctx, number, "approve", reason, as_json)


@proposals_app.command("reject")
def reject(ctx: typer.Context, number: Number, reason: Why, as_json: Json = False) -> None:
    """Turn a proposal down (an admin who did not propose it); nothing is applied."""
    _decide(ctx, number, "reject", reason, as_json)


@proposals_app.command("withdraw")
def withdraw(ctx: typer.Context, number: Number, reason: Why, as_json: Json = False) -> None:
    """Take back your own proposal; nothing is applied."""
    _decide(ctx, number, "withdraw", reason, as_json)


def _show_policy(policy: dict[str, Any]) -> None:
    if policy.get("proposal"):
        opened(policy)
        emit("the policy in force until it is approved:")
    emit(f"approval: {policy['approval']} (the whole registry)")
    for category, rule in policy["categories"].items():
        emit(f"  {category}: {rule}")
    if policy["set_by"]:
        emit(f"set by {policy['set_by']} at {policy['set_at']} (version {policy['version']})")


@policy_app.command("show")
def show_policy(ctx: typer.Context, as_json: Json = False) -> None:
    """Whether changes need another admin's approval: for all, and per category."""
    found = backend_for(ctx.obj).policy()
    emit_json(found) if as_json else _show_policy(found)


@policy_app.command("set")
def set_policy(
    ctx: typer.Context,
    setting: Annotated[str, typer.Argument(help="approval=required or approval=optional")],
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why: recorded.")] = None,
    as_json: Json = False,
) -> None:
    """Require (or stop requiring) approval of every change, imports included."""
    name, sep, value = setting.partition("=")
    if name != "approval" or not sep:
        raise typer.BadParameter(
            f"{setting!r} is not approval=required or approval=optional", param_hint="SETTING"
        )
    found = backend_for(ctx.obj).set_policy(value, category, reason)
    emit_json(found) if as_json else _show_policy(found)
