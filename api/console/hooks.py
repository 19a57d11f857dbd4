"""The admins' webhooks page: subscribe (the secret shown once), test, remove."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api.console.web import SESSION_COOKIE, AdminPage, ConsoleRoute, Viewer, form_fields, page
from api.deps import RegistryDep
from registry import answers
from storage.session import Registry

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

HookId = Annotated[str, PathParam(max_length=40)]
_FORM = ("url", "events", "category", "tables")


def _patterns(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _page(
    request: Request, reg: Registry, viewer: Viewer, status: int = 200, **shown: Any
) -> Response:
    context = {"found": answers.hook_list(reg), "form": dict.fromkeys(_FORM, ""), **shown}
    return page(request, "hooks.html", context, viewer, status=status, reg=reg)


@router.get("/hooks")
def hooks_page(request: Request, reg: RegistryDep, viewer: AdminPage) -> Response:
    """Every subscription, and a form to add one."""
    return _page(request, reg, viewer)


@router.post("/hooks")
async def subscribe(request: Request, reg: RegistryDep, viewer: AdminPage) -> Response:
    """Subscribe a URL; the page shows its secret this once (never in a URL or a redirect)."""
    fields = await form_fields(request, request.cookies.get(SESSION_COOKIE))
    made = await run_in_threadpool(
        answers.new_hook,
        reg,
        fields.get("url", "").strip(),
        _patterns(fields.get("events", "")),
        fields.get("category", "").strip() or None,
        _patterns(fields.get("tables", "")),
        viewer.principal.name,
    )
    return await run_in_threadpool(_page, request, reg, viewer, 201, made=made)


@router.post("/hooks/{hook_id}/test")
async def test(request: Request, reg: RegistryDep, viewer: AdminPage, hook_id: HookId) -> Response:
    """Send a signed test message now; the page says what the receiver answered."""
    await form_fields(request, request.cookies.get(SESSION_COOKIE))
    tested = await run_in_threadpool(answers.hook_test, reg, hook_id)
    return await run_in_threadpool(_page, request, reg, viewer, tested=tested)


@router.post("/hooks/{hook_id}/remove")
async def remove(
    request: Request, reg: RegistryDep, viewer: AdminPage, hook_id: HookId
) -> Response:
    """Remove a subscription, then back to the list."""
    await form_fields(request, request.cookies.get(SESSION_COOKIE))
    await run_in_threadpool(answers.removed_hook, reg, hook_id, viewer.principal.name)
    return RedirectResponse("/hooks", status_code=303)
