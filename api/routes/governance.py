"""Governed changes: proposals (anyone who may read proposes; admins approve or reject, never
their own), the approval policy, and certifications."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    ERRORS,
    GOVERNED_WRITE,
    WRITE_ERRORS,
    Admin,
    BoundedJsonRoute,
    Category,
    IdempotencyKey,
    Name,
    Reader,
    RegistryDep,
    tagged,
    write_context,
)
from api.schemas import MAX_VERSION, CertificationOut
from registry import answers
from registry.models import NAME_PATTERN

router = APIRouter(prefix="/api", tags=["governance"], route_class=BoundedJsonRoute)

Number = Annotated[int, PathParam(ge=1, le=MAX_VERSION, description="The proposal's number.")]
# Blank is no reason. Documented, not enforced here: the registry refuses a blank one in its
# own words, the same at every door.
_SAYS_SOMETHING: dict[str, Any] = {"minLength": 1, "pattern": r"\S"}
_REASON = Field(
    max_length=2000, json_schema_extra=_SAYS_SOMETHING, description="Why: kept in the log."
)


class ProposeIn(BaseModel):
    """A change to propose: which, to which metric, and why."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["create", "update", "delete", "rollback", "restore"]
    metric: str | None = Field(default=None, max_length=300, description="category/name")
    fields: dict[str, Any] = Field(
        default_factory=dict, description="create: the definition; update: the fields to set"
    )
    to_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    reason: str = Field(
        max_length=2000,
        json_schema_extra=_SAYS_SOMETHING,
        description="Why: the approver reads it.",
    )
    expected_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = _REASON


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approval: Literal["required", "optional"]
    category: str | None = Field(
        default=None,
        max_length=100,
        json_schema_extra={"pattern": NAME_PATTERN},  # refused by the registry, in its words
        description="default: all",
    )
    reason: str | None = Field(default=None, max_length=2000)


class CertifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(
        max_length=2000, json_schema_extra=_SAYS_SOMETHING, description="What was checked."
    )


@router.get("/proposals", responses=ERRORS, summary="List proposals")
def proposals(
    reg: RegistryDep,
    _: Reader,
    state: Annotated[
        Literal["open", "stale", "approved", "rejected", "withdrawn"] | None, Query()
    ] = None,
) -> dict[str, Any]:
    """Every proposal, newest first, or those in one state."""
    return answers.proposal_list(reg, state)


@router.get("/proposals/{number}", responses=ERRORS, summary="One proposal")
def proposal(reg: RegistryDep, _: Reader, number: Number) -> dict[str, Any]:
    """A proposal with each change's field-level diff against the current version."""
    return answers.proposal(reg, number)


@router.post(
    "/proposals",
    status_code=201,
    responses={**WRITE_ERRORS, 200: {"description": "It would change nothing: the metric."}},
    summary="Propose a change",
)
def propose(
    reg: RegistryDep, who: Reader, body: ProposeIn, idempotency_key: IdempotencyKey = None
) -> Any:
    """Propose a change to a metric (any role): it is applied only when another person, an
    admin, approves it. A change that would change nothing is answered with the metric (200)."""
    meta = {"reason": body.reason, "expected_version": body.expected_version}
    _, ctx = write_context(who, meta, None, idempotency_key)
    answer = answers.propose(reg, body.action, body.metric, body.fields, body.to_version, ctx)
    return answer if answer.get("status") == "proposed" else JSONResponse(answer, 200)


@router.post("/proposals/{number}/approve", responses=WRITE_ERRORS, summary="Approve")
def approve(reg: RegistryDep, who: Admin, number: Number, body: DecisionIn) -> dict[str, Any]:
    """Apply the proposal exactly (admins only, never the proposer; refused when stale)."""
    _, ctx = write_context(who, {"reason": body.reason})
    return answers.decided_proposal(reg, number, "approve", ctx)


@router.post("/proposals/{number}/reject", responses=WRITE_ERRORS, summary="Reject")
def reject(reg: RegistryDep, who: Admin, number: Number, body: DecisionIn) -> dict[str, Any]:
    """Turn the proposal down (admins only, never the proposer); nothing is applied."""
    _, ctx = write_context(who, {"reason": body.reason})
    return answers.decided_proposal(reg, number, "reject", ctx)


@router.post("/proposals/{number}/withdraw", responses=WRITE_ERRORS, summary="Withdraw")
def withdraw(reg: RegistryDep, who: Reader, number: Number, body: DecisionIn) -> dict[str, Any]:
    """Take one's own proposal back; nothing is applied."""
    _, ctx = write_context(who, {"reason": body.reason})
    return answers.decided_proposal(reg, number, "withdraw", ctx)


@router.get("/policy", responses=ERRORS, summary="The approval policy")
def policy(reg: RegistryDep, _: Reader) -> dict[str, Any]:
    """Whether changes need approval: for the whole registry and per category."""
    return answers.approval_policy(reg)


@router.put("/admin/policy", responses=GOVERNED_WRITE, summary="Set the approval policy")
def set_policy(reg: RegistryDep, who: Admin, body: PolicyIn) -> Any:
    """`required` turns every direct write (imports included) into a proposal. Loosening a
    rule that requires approval is itself a proposal (202): another admin approves it."""
    _, ctx = write_context(who, {"reason": body.reason})
    return tagged(answers.set_approval_policy(reg, body.approval, body.category, ctx))


@router.post(
    "/admin/metrics/{category}/{name}/certification",
    response_model=CertificationOut,
    responses=WRITE_ERRORS,
    summary="Certify a metric",
)
def certify(
    reg: RegistryDep, who: Admin, category: Category, name: Name, body: CertifyIn
) -> dict[str, Any]:
    """Certify the metric at its current version; the next change makes it lapse."""
    _, ctx = write_context(who, {"reason": body.note})
    return answers.certified_metric(reg, f"{category}/{name}", ctx)
