"""The console's plumbing: templates, the signed-in person, forms and their CSRF check,
security headers, and every failure as an HTML page (never JSON, never a traceback).

Pages call one registry answer each and render it; nothing here decides what is true.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

import jinja2
from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from api.deps import ADMINS, AUDITORS, READERS, RegistryDep, role_check
from api.errors import status_of
from registry import RegistryError, answers
from registry.access.signin import form_token, same_form_token, session_owner
from registry.access.tokens import Principal
from registry.errors import InvalidDefinitionError
from registry.sight import sight_for
from registry.times import parse_time
from storage.session import Registry

SESSION_COOKIE = "da_session"
SIGNIN_COOKIE = "da_signin"  # the sign-in page's own secret, for its form's CSRF token
MAX_FORM_BYTES = 16_384

# No inline script or style, nothing from another host, no framing, forms post here only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

TITLES = {
    400: "That request cannot be answered",
    403: "Not allowed",
    404: "Not found",
    409: "This changed since you loaded it",
    413: "Too large",
    422: "Please check what you entered",
    503: "The registry is unavailable",
    507: "Nothing was written",
}


def _when(text: str | None) -> str:
    """A UTC time from an answer (`...Z`) as people read it, the zone shown."""
    if not text:
        return ""
    return text.replace("T", " ").removesuffix("Z").split(".")[0] + " UTC"


def _url(path: str, **params: Any) -> str:
    """A path with the non-empty query parameters given."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters["when"] = _when
TEMPLATES.filters["segment"] = lambda value: quote(str(value), safe="")
TEMPLATES.globals["url"] = _url


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, and the token their page's forms carry."""

    principal: Principal
    form_token: str

    @property
    def role(self) -> str:
        return self.principal.role

    def may(self, what: str) -> bool:
        """Whether the role may `audit` or `admin` (what the server checks, for the menus)."""
        return self.role in {"audit": AUDITORS, "admin": ADMINS, "read": READERS}[what]


class SignInRequired(Exception):
    """No live session: the person is sent to the sign-in page, then back here."""


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    viewer: Viewer | None = None,
    status: int = 200,
    reg: Registry | None = None,
) -> HTMLResponse:
    """A rendered page, with the integrity badge of the last verification when signed in."""
    badge = answers.last_verification(reg) if reg is not None and viewer else None
    html = TEMPLATES.get_template(template).render(
        request_path=request.url.path, viewer=viewer, badge=badge, **context
    )
    return HTMLResponse(html, status_code=status)


def error_page(
    request: Request,
    status: int,
    message: str,
    viewer: Viewer | None = None,
    badge: dict[str, Any] | None = None,
) -> Response:
    """A failure as a page people read (the registry's words, under a plain title), with the
    signed-in header when the person is known."""
    html = TEMPLATES.get_template("error.html").render(
        request_path=request.url.path,
        viewer=viewer,
        badge=badge,
        status=status,
        title=TITLES.get(status, "Something went wrong"),
        message=message,
    )
    return secured(HTMLResponse(html, status_code=status))


def is_page_request(request: Request) -> bool:
    """A browser asking for a page (not the API, not a client asking for JSON)."""
    path = request.url.path
    wants_html = "text/html" in request.headers.get("accept", "")
    return wants_html and not path.startswith(("/api/", "/healthz", "/docs", "/openapi"))


def _signin_redirect(request: Request) -> Response:
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(_url("/signin", next=back), status_code=303)


class ConsoleRoute(APIRoute):
    """A console route: failures become HTML pages, and every answer carries the headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await handle(request)
            except SignInRequired:
                response = _signin_redirect(request)
            except RegistryError as exc:
                response = await failure_page(request, status_of(exc), str(exc))
            except RequestValidationError as exc:
                shown = [f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()]
                response = await failure_page(request, 422, "; ".join(shown))
            except HTTPException as exc:
                response = await failure_page(request, exc.status_code, str(exc.detail))
            return secured(response)

        return handler


async def failure_page(request: Request, status: int, message: str) -> Response:
    """The error page, with the header of the person signed in (if the registry can say who:
    a page about a failure never fails for want of it)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return error_page(request, status, message)
    pool = request.app.state.registries

    def known() -> tuple[Any, dict[str, Any] | None]:
        with pool.lease() as reg:
            return session_owner(reg, session_id), answers.last_verification(reg)

    try:
        owner, badge = await run_in_threadpool(known)
    except RegistryError:  # the database is what failed: the page goes without the header
        return error_page(request, status, message)
    if owner is None:
        return error_page(request, status, message)
    return error_page(request, status, message, Viewer(owner, form_token(session_id)), badge)


def secured(response: Response) -> Response:
    """A page's answer with the console's security headers."""
    response.headers.update(SECURITY_HEADERS)
    return response


# -- who is signed in -----------------------------------------------------------------------------


async def _viewer(request: Request, reg: RegistryDep) -> Viewer:
    session_id = request.cookies.get(SESSION_COOKIE)
    owner = await run_in_threadpool(session_owner, reg, session_id) if session_id else None
    if owner is None or session_id is None:
        raise SignInRequired
    reg.sight = sight_for(owner.role, owner.tables)  # what this person may see
    return Viewer(owner, form_token(session_id))


ReaderPage = Annotated[Viewer, Depends(role_check(READERS, "read", _viewer))]
AuditorPage = Annotated[Viewer, Depends(role_check(AUDITORS, "read the audit log", _viewer))]
AdminPage = Annotated[Viewer, Depends(role_check(ADMINS, "roll back or restore", _viewer))]


# -- forms ----------------------------------------------------------------------------------------


async def form_fields(request: Request, secret: str | None) -> dict[str, str]:
    """A posted form's fields, once its CSRF token proves it came from one of our pages
    (and, when the browser says so, from this origin); 403 otherwise."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(status_code=403, detail=f"a form from {origin} is not accepted")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(status_code=413, detail=f"a form larger than {MAX_FORM_BYTES} bytes")
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(status_code=400, detail=f"the form could not be read: {exc}") from exc
    fields = {k: v[-1] for k, v in parsed.items()}
    if secret is None or not same_form_token(secret, fields.get("csrf", "")):
        raise HTTPException(
            status_code=403,
            detail="this form's security token is missing or stale: reload the page and try again",
        )
    return fields


def signin_secret(request: Request) -> tuple[str, bool]:
    """The sign-in page's secret from its cookie, or a new one (True: set the cookie)."""
    kept = request.cookies.get(SIGNIN_COOKIE)
    return (kept, False) if kept else (secrets.token_urlsafe(32), True)


def set_cookie(request: Request, response: Response, name: str, value: str, seconds: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


# -- the "as of" of a page ---------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """A page's "as of": the text entered (kept in the form) and what it means."""

    as_of_text: str
    position_text: str
    as_of: datetime | None
    at_position: int | None


def _moment(
    as_of: Annotated[str, Query(max_length=64)] = "",
    at_position: Annotated[str, Query(max_length=20)] = "",
) -> Moment:
    position = None
    if at_position.strip():
        if not at_position.strip().isdigit():
            from registry.errors import Issue

            raise InvalidDefinitionError(
                [Issue("at_position", "must be a log position: 0, 1, 2, ...")]
            )
        position = int(at_position)
    time = parse_time(as_of, "as_of") if as_of.strip() else None
    return Moment(as_of, at_position, time, position)


AsOfForm = Annotated[Moment, Depends(_moment)]
