"""Webhooks (admin role): subscribe (the secret shown once), list, remove, test, attempts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ERRORS, WRITE_ERRORS, Admin, BoundedJsonRoute, RegistryDep
from api.schemas import HookIn
from registry import answers

router = APIRouter(prefix="/api/admin", tags=["webhooks"], route_class=BoundedJsonRoute)


@router.post("/hooks", status_code=201, responses=WRITE_ERRORS, summary="Subscribe a webhook")
def subscribe(reg: RegistryDep, who: Admin, body: HookIn) -> dict[str, Any]:
    """Subscribe a URL to events; its signing secret is in this answer only."""
    return answers.new_hook(reg, body.url, body.events, body.category, body.tables, who.name)


@router.get("/hooks", responses=ERRORS, summary="List webhooks")
def hooks(reg: RegistryDep, _: Admin) -> dict[str, Any]:
    """Every subscription, ended ones too; never a secret."""
    return answers.hook_list(reg)


@router.delete("/hooks/{hook_id}", responses=WRITE_ERRORS, summary="Remove a webhook")
def remove(reg: RegistryDep, who: Admin, hook_id: str) -> dict[str, Any]:
    """Remove a subscription: nothing more is sent to it."""
    return answers.removed_hook(reg, hook_id, who.name)


@router.post("/hooks/{hook_id}/test", responses=WRITE_ERRORS, summary="Test a webhook")
def test(reg: RegistryDep, _: Admin, hook_id: str) -> dict[str, Any]:
    """Send a signed `webhook.test` message now and tell what the receiver answered."""
    return answers.hook_test(reg, hook_id)


@router.get("/hooks/{hook_id}/deliveries", responses=ERRORS, summary="A webhook's deliveries")
def deliveries(
    reg: RegistryDep,
    _: Admin,
    hook_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Its latest delivery attempts, newest first."""
    return answers.hook_deliveries(reg, hook_id, limit)
