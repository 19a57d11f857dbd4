"""The raw event log and its verification (auditor and admin roles)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ERRORS, Auditor, BoundedJsonRoute, EventFilters, RegistryDep
from api.schemas import MAX_POSITION
from registry import answers

router = APIRouter(prefix="/api", tags=["audit"], route_class=BoundedJsonRoute)


@router.get("/events", responses=ERRORS, summary="The event log, page by page")
def events(
    reg: RegistryDep,
    _: Auditor,
    filters: EventFilters,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Return events after this position.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Events in log order after a position. Follow `next_after` to read on without gaps."""
    return answers.event_page(reg, after, limit, **filters)


@router.get("/audit/log", responses=ERRORS, summary="The newest events first")
def recent(
    reg: RegistryDep,
    _: Auditor,
    filters: EventFilters,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="Events before this position.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The newest events first, for people reading the log; `next_before` pages back."""
    return answers.recent_events(reg, before, limit, **filters)


@router.get("/audit/verify", responses=ERRORS, summary="Verify the hash chain")
def verify(
    reg: RegistryDep,
    _: Auditor,
    anchor: Annotated[
        str | None,
        Query(description="POSITION:HASH printed earlier", pattern=r"^[0-9]{1,18}:[0-9a-f]{64}$"),
    ] = None,
) -> dict[str, Any]:
    """Recompute the whole chain; with an anchor, prove the log up to it is unchanged."""
    return answers.verify(reg, anchor)


class VerifyIn(BaseModel):
    """What a caller kept earlier, to check today's log against."""

    model_config = ConfigDict(extra="forbid")

    anchor: str | None = Field(
        None, description="POSITION:HASH printed earlier", pattern=r"^[0-9]{1,18}:[0-9a-f]{64}$"
    )
    checkpoint: str | None = Field(
        None,
        max_length=65_536,
        description="A signed checkpoint kept earlier (`GET /tlog/checkpoint`)",
    )


@router.post("/audit/verify", responses=ERRORS, summary="Verify against a kept checkpoint")
def verify_kept(reg: RegistryDep, _: Auditor, kept: VerifyIn) -> dict[str, Any]:
    """The same verification; with a checkpoint, also whether today's log extends it (its
    signature checked, then a consistency proof), under `checkpoint`."""
    return answers.verify(reg, kept.anchor, kept.checkpoint)


@router.get("/audit/key", responses=ERRORS, summary="The log's verifier key")
def key(reg: RegistryDep, _: Auditor) -> dict[str, Any]:
    """The verifier key of the checkpoints' signatures (signed-note vkey text)."""
    return answers.tlog_key(reg)


@router.get("/audit/proof", responses=ERRORS, summary="An event's inclusion proof")
def proof(
    reg: RegistryDep,
    _: Auditor,
    position: Annotated[int, Query(ge=1, le=MAX_POSITION, description="The event's position.")],
    size: Annotated[
        int | None,
        Query(ge=0, le=MAX_POSITION, description="In the tree of this many events (default all)."),
    ] = None,
) -> dict[str, Any]:
    """The inclusion proof in the c2sp.org/tlog-proof@v1 text (its extra line is the entry),
    followed by the checkpoint of the tree it is in."""
    return answers.inclusion_proof(reg, position, size)
