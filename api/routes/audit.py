"""The raw event log and its verification (auditor and admin roles)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ERRORS, Auditor, RegistryDep, Since, Until
from api.schemas import MAX_POSITION
from registry import answers

router = APIRouter(prefix="/api", tags=["audit"])


@router.get("/events", responses=ERRORS, summary="The event log, page by page")
def events(
    reg: RegistryDep,
    _: Auditor,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Return events after this position.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    stream: Annotated[str | None, Query(max_length=600)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[str | None, Query(max_length=100)] = None,
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    """Events in log order after a position. Follow `next_after` to read on without gaps."""
    filters = {
        "stream_id": stream,
        "actor": actor,
        "event_type": type,
        "since": since,
        "until": until,
    }
    return answers.event_page(reg, after, limit, **filters)


@router.get("/audit/log", responses=ERRORS, summary="The newest events first")
def recent(
    reg: RegistryDep,
    _: Auditor,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="Events before this position.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    stream: Annotated[str | None, Query(max_length=600)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[str | None, Query(max_length=100)] = None,  # the wire name
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    """The newest events first, for people reading the log; `next_before` pages back."""
    filters = {
        "stream_id": stream,
        "actor": actor,
        "event_type": type,
        "since": since,
        "until": until,
    }
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
