"""Liveness, for load balancers and `da`: no token needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import BoundedJsonRoute
from api.schemas import ErrorOut
from registry import answers
from storage.session import RegistryPool

router = APIRouter(tags=["health"], route_class=BoundedJsonRoute)


@router.get(
    "/healthz",
    summary="Is the registry up and in step?",
    responses={503: {"model": ErrorOut, "description": "The database does not answer."}},
)
async def healthz(request: Request, response: Response) -> dict[str, Any]:
    """The log's head (position and hash), whether the projections have caught up with it,
    and what the last verification found. 503 when the database does not answer and could
    not be opened again (a supervisor should then restart the server)."""
    pool: RegistryPool = request.app.state.registries
    if not await run_in_threadpool(pool.recover):
        response.status_code = 503
        return {"detail": "the registry database does not answer and could not be reopened"}

    def read() -> dict[str, Any]:
        with pool.lease() as reg:
            return answers.health(reg)

    return await run_in_threadpool(read)
