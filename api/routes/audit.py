"""The raw event log and its verification (auditor and admin roles)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

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
