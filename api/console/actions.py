"""Signing in and out, and the admins' writes: roll back to a version, restore a deletion.

A write carries the version the page showed as its expected version, so a change made
meanwhile is refused (409) rather than overwritten; the registry asks for the reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api.console.web import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    AdminPage,
    ConsoleRoute,
    ReaderPage,
    Viewer,
    form_fields,
    page,
    set_cookie,
    signin_secret,
)
from api.deps import Category, ColumnName, Name, RegistryDep, SettingsDep, TableId
from api.schemas import MAX_VERSION
from registry import answers
from registry.access.signin import form_token, sign_in, sign_out
from registry.commands import WriteContext, write_request
from storage.session import Registry

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

SIGNIN_SECONDS = 3600


def _back(next_path: str) -> str:
    """Where to go after signing in: a path on this site only (never another host)."""
    if next_path.startswith("/") and not next_path.startswith(("//", "/\\")):
        return next_path
    return "/"


@router.get("/signin")
def signin_page(request: Request, next: Annotated[str, Query(max_length=2000)] = "/") -> Response:
    """The sign-in form: one field, the token."""
    secret, new = signin_secret(request)
    context = {"csrf": form_token(secret), "next": _back(next), "failed": False}
    response = page(request, "signin.html", context)
    if new:
        set_cookie(request, response, SIGNIN_COOKIE, secret, SIGNIN_SECONDS)
    return response


@router.post("/signin")
async def signin(request: Request, reg: RegistryDep, settings: SettingsDep) -> Response:
    """Exchange a token for a session cookie that expires; a wrong token is told so."""
    secret = request.cookies.get(SIGNIN_COOKIE)
    fields = await form_fields(request, secret)
    lifetime = timedelta(hours=settings.session_hours)
    opened = await run_in_threadpool(sign_in, reg, fields.get("token", "").strip(), lifetime)
    back = _back(fields.get("next", "/"))
    if opened is None:
        assert secret is not None  # noqa: S101 - form_fields refused a form without it
        context = {"csrf": form_token(secret), "next": back, "failed": True}
        return page(request, "signin.html", context, status=401)
    response = RedirectResponse(back, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, opened[0], int(lifetime.total_seconds()))
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    return response


@router.get("/signout")
def signout_page(request: Request) -> Response:
    """A button that signs out (a form, so that no link or image can sign anyone out)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return RedirectResponse("/signin", status_code=303)
    return page(request, "signout.html", {"csrf": form_token(session_id)})


@router.post("/signout")
async def signout(request: Request, reg: RegistryDep) -> Response:
    """End the session, here and on the server."""
    session_id = request.cookies.get(SESSION_COOKIE)
    await form_fields(request, session_id)
    assert session_id is not None  # noqa: S101 - form_fields refused a form without it
    await run_in_threadpool(sign_out, reg, session_id)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/metrics/{category}/{name}/rollback")
def rollback_page(
    request: Request,
    reg: RegistryDep,
    viewer: AdminPage,
    category: Category,
    name: Name,
    to: Annotated[int, Query(ge=1, le=MAX_VERSION)],
    expected: Annotated[int, Query(ge=1, le=MAX_VERSION)],
) -> Response:
    """Confirm a rollback: what it changes (the version shown, then `to`), and why."""
    metric_id = f"{category}/{name}"
    compared = answers.metric_diff(reg, metric_id, expected, to)
    context = {"id": metric_id, "to": to, "expected": expected, "diff": compared}
    return page(request, "rollback.html", context, viewer, reg=reg)


def _int_field(fields: dict[str, str], name: str) -> int:
    text = fields.get(name, "")
    if not text.isdigit() or len(text) > 9:
        raise HTTPException(status_code=422, detail=f"{name}: must be a version number")
    return int(text)


async def _write(request: Request, viewer: Viewer) -> tuple[WriteContext, dict[str, str]]:
    """An admin's form, checked, as the write's context: who, why (required) and the
    version the page showed."""
    fields = await form_fields(request, request.cookies.get(SESSION_COOKIE))
    _, ctx = write_request(
        viewer.principal.name,
        door="console",
        reason=fields.get("reason"),
        expected_version=_int_field(fields, "expected_version"),
        reason_required=True,
    )
    return ctx, fields


@router.post("/metrics/{category}/{name}/rollback")
async def rollback(
    request: Request, reg: RegistryDep, viewer: AdminPage, category: Category, name: Name
) -> Response:
    """Roll back to a version, as of the version the page showed (a proposal, when the
    policy requires approval: its page is shown next)."""
    ctx, fields = await _write(request, viewer)
    to = _int_field(fields, "to")
    done = await run_in_threadpool(answers.roll_back_metric, reg, f"{category}/{name}", to, ctx)
    return RedirectResponse(_written(category, name, done), status_code=303)


@router.post("/metrics/{category}/{name}/restore")
async def restore(
    request: Request, reg: RegistryDep, viewer: AdminPage, category: Category, name: Name
) -> Response:
    """Restore a deleted metric, as of the version the page showed (or propose it)."""
    ctx, _ = await _write(request, viewer)
    done = await run_in_threadpool(answers.restore_metric, reg, f"{category}/{name}", ctx)
    return RedirectResponse(_written(category, name, done), status_code=303)


@router.post("/metrics/{category}/{name}/rename")
async def rename(
    request: Request, reg: RegistryDep, viewer: AdminPage, category: Category, name: Name
) -> Response:
    """Give the metric a new id (as of the version the page showed); its page follows."""
    ctx, fields = await _write(request, viewer)
    new_id = fields.get("to", "").strip()
    done = await run_in_threadpool(answers.rename_metric, reg, f"{category}/{name}", new_id, ctx)
    moved_to, _, moved_name = str(done["id"]).partition("/")
    return RedirectResponse(_written(moved_to, moved_name, done), status_code=303)


@router.post("/metrics/{category}/{name}/certify")
async def certify(
    request: Request, reg: RegistryDep, viewer: AdminPage, category: Category, name: Name
) -> Response:
    """Certify the metric at the version the page showed (refused if it moved on)."""
    from urllib.parse import quote

    ctx, _ = await _write(request, viewer)
    given = await run_in_threadpool(answers.certified_metric, reg, f"{category}/{name}", ctx)
    back = f"/metrics/{quote(category)}/{quote(name)}?certified={given['version']}"
    return RedirectResponse(back, status_code=303)


async def _decide(
    request: Request, reg: Registry, viewer: Viewer, number: int, what: str
) -> Response:
    fields = await form_fields(request, request.cookies.get(SESSION_COOKIE))
    _, ctx = write_request(
        viewer.principal.name, door="console", reason=fields.get("reason"), reason_required=True
    )
    await run_in_threadpool(answers.decided_proposal, reg, number, what, ctx)
    return RedirectResponse(f"/proposals/{number}?decided=true", status_code=303)


Number = Annotated[int, Path(ge=1, le=MAX_VERSION)]


@router.post("/proposals/{number}/approve")
async def approve(
    request: Request, reg: RegistryDep, viewer: AdminPage, number: Number
) -> Response:
    """Approve a proposal: the registry refuses the proposer's own, and a stale one."""
    return await _decide(request, reg, viewer, number, "approve")


@router.post("/proposals/{number}/reject")
async def reject(request: Request, reg: RegistryDep, viewer: AdminPage, number: Number) -> Response:
    """Reject a proposal (never one's own)."""
    return await _decide(request, reg, viewer, number, "reject")


@router.post("/proposals/{number}/withdraw")
async def withdraw(
    request: Request, reg: RegistryDep, viewer: ReaderPage, number: Number
) -> Response:
    """Withdraw one's own proposal."""
    return await _decide(request, reg, viewer, number, "withdraw")


@router.post("/columns/{table}/{column:column}/rollback")
async def column_rollback(
    request: Request, reg: RegistryDep, viewer: AdminPage, table: TableId, column: ColumnName
) -> Response:
    """Roll a column's metadata back to a version, as of the version the page showed."""
    ctx, fields = await _write(request, viewer)
    to = _int_field(fields, "to")
    await run_in_threadpool(answers.roll_back_column, reg, table, column, to, ctx)
    return RedirectResponse(_table_page(table), status_code=303)


@router.post("/columns/{table}/{column:column}/restore")
async def column_restore(
    request: Request, reg: RegistryDep, viewer: AdminPage, table: TableId, column: ColumnName
) -> Response:
    """Restore a column's deleted metadata, as of the version the page showed."""
    ctx, _ = await _write(request, viewer)
    await run_in_threadpool(answers.restore_column, reg, table, column, ctx)
    return RedirectResponse(_table_page(table), status_code=303)


def _table_page(table: str) -> str:
    from urllib.parse import quote

    return f"/columns/{quote(table, safe='')}"


def _written(category: str, name: str, done: dict[str, Any]) -> str:
    """Where a write goes next: the metric at its new version, or the proposal it became."""
    from urllib.parse import quote

    if done.get("status") == "proposed":
        return f"/proposals/{done['proposal']['number']}"
    return f"/metrics/{quote(category)}/{quote(name)}?written={done['version']}"
