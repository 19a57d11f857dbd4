"""The auditors' pages: the event feed, one import's events, and the log's integrity."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from api.console.web import SESSION_COOKIE, AuditorPage, ConsoleRoute, form_fields, page
from api.deps import RegistryDep
from api.schemas import MAX_POSITION
from registry import answers
from registry.times import parse_time

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

FEED_SIZE = 50
BATCH_SIZE = 200
Text = Annotated[str, Query(max_length=200)]
Before = Annotated[int | None, Query(ge=1, le=MAX_POSITION)]


@router.get("/audit")
def audit_page(
    request: Request,
    reg: RegistryDep,
    viewer: AuditorPage,
    actor: Text = "",
    metric: Text = "",
    type: Text = "",
    since: Annotated[str, Query(max_length=64)] = "",
    until: Annotated[str, Query(max_length=64)] = "",
    before: Before = None,
) -> Response:
    """Events newest first, filtered, a page at a time (`before` pages back)."""
    filters = {
        "actor": actor.strip() or None,
        "stream_id": metric.strip() or None,
        "event_type": type.strip() or None,
        "since": parse_time(since, "since") if since.strip() else None,
        "until": parse_time(until, "until") if until.strip() else None,
    }
    feed = answers.recent_events(reg, before, FEED_SIZE, **filters)
    form = {"actor": actor, "metric": metric, "type": type, "since": since, "until": until}
    return page(request, "audit.html", {"feed": feed, "form": form}, viewer, reg=reg)


@router.get("/audit/batches/{batch_id}")
def batch_page(
    request: Request,
    reg: RegistryDep,
    viewer: AuditorPage,
    batch_id: Annotated[str, PathParam(max_length=100)],
    before: Before = None,
) -> Response:
    """Every event of one import (batch), newest first."""
    feed = answers.recent_events(reg, before, BATCH_SIZE, batch_id=batch_id)
    return page(request, "batch.html", {"feed": feed, "batch_id": batch_id}, viewer, reg=reg)


def _integrity(reg: RegistryDep, report: dict[str, Any] | None, kept: dict[str, str]) -> Any:
    """The page's facts: the head, the signed checkpoint and key to keep, the last report."""
    tlog = {"checkpoint": answers.tlog_checkpoint(reg), **answers.tlog_key(reg)}
    return {"health": answers.health(reg), "tlog": tlog, "report": report, **kept}


@router.get("/integrity")
def integrity_page(request: Request, reg: RegistryDep, viewer: AuditorPage) -> Response:
    """The log's head and signed checkpoint to keep, and what the last verification found."""
    context = _integrity(reg, None, {"anchor": "", "checkpoint": ""})
    return page(request, "integrity.html", context, viewer, reg=reg)


@router.post("/integrity")
async def verify(request: Request, reg: RegistryDep, viewer: AuditorPage) -> Response:
    """Verify the chain and the tree (against an anchor or a kept checkpoint, if given), the
    projections and the tokens."""
    fields = await form_fields(request, request.cookies.get(SESSION_COOKIE))
    kept = {"anchor": fields.get("anchor", "").strip(), "checkpoint": fields.get("checkpoint", "")}
    checkpoint = kept["checkpoint"].replace("\r\n", "\n").strip()
    report = await run_in_threadpool(
        answers.verify, reg, kept["anchor"] or None, checkpoint + "\n" if checkpoint else None
    )
    context = await run_in_threadpool(_integrity, reg, report, kept)
    return page(request, "integrity.html", context, viewer, reg=reg)
