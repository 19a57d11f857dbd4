"""The FastAPI application factory and its one table of error handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api import console
from api.deps import known_query_only
from api.errors import status_of
from api.routes import (
    audit,
    columns,
    governance,
    health,
    hooks,
    interchange,
    metrics,
    tables,
    tlog,
    tokens,
)
from registry import ConflictError, InvalidDefinitionError, RegistryError, Settings
from registry.access.tokens import Authenticator
from registry.hooks import Deliverer
from registry.schedule import EffectTimer
from storage.session import RegistryPool

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _error(
    status: int, detail: str, errors: list[dict[str, str]] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors or [], **extra}, status_code=status)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "")


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    errors = []
    for e in exc.errors():
        message = "unknown field" if e["type"] == "extra_forbidden" else str(e["msg"])
        if e["type"] == "json_invalid":
            message = f"malformed JSON: {e.get('ctx', {}).get('error', e['msg'])}"
        errors.append({"loc": _location(tuple(e["loc"])), "msg": message})
    summary = "; ".join(f"{x['loc']}: {x['msg']}" if x["loc"] else x["msg"] for x in errors)
    return _error(422, summary or "invalid request", errors)


async def _registry_error(_: Request, exc: Exception) -> JSONResponse:
    """A registry error as its status and the registry's own words (and located issues)."""
    assert isinstance(exc, RegistryError)  # noqa: S101 - registered for this type
    status = status_of(exc)
    issues = exc.issues if isinstance(exc, InvalidDefinitionError) else []
    errors = [{"loc": i.location, "msg": i.message} for i in issues]
    extra = {"current_version": exc.current_version} if isinstance(exc, ConflictError) else {}
    response = _error(status, str(exc), errors, **extra)
    if status == 503:  # away for a moment: say when to ask again
        response.headers["Retry-After"] = "1"
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type
    if exc.status_code == 404 and console.is_page_request(request):
        return await console.failure_page(request, 404, f"there is no page at {request.url.path}")
    response: Response = _error(exc.status_code, str(exc.detail))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


class BodyLimit:
    """Refuse request bodies over the configured size with 413, before any handler runs."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(413, f"request body larger than {self.limit} bytes")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def _offline_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) with its script and style served by the app itself, from the
    fastapi-offline package: the docs work on a machine with no internet. (ReDoc is left
    out: its bundle still fetches from its own CDN.)"""
    from importlib.resources import files

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    assets = "/docs-assets"
    folder = str(files("fastapi_offline") / "static")
    app.mount(assets, StaticFiles(directory=folder), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
        )


def create_app(settings: Settings) -> FastAPI:
    """The API on the registry database named by `settings` (opened when the app starts)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = RegistryPool(engine=settings.engine(), connections=settings.database_connections)
        # A token revoked through another replica must stop working here too.
        pool.on_foreign_commit.append(app.state.authenticator.forget)
        app.state.registries = pool
        app.state.heavy_reads = asyncio.Semaphore(settings.heavy_reads)
        app.state.index_reads = asyncio.Semaphore(1)
        deliverer = Deliverer(pool)
        deliverer.start()
        timer = EffectTimer(pool, settings.effect_interval)
        timer.start()
        try:
            yield
        finally:
            timer.stop()
            deliverer.stop()
            pool.close()

    app = FastAPI(
        dependencies=[Depends(known_query_only)],
        title="Metrics registry",
        description="The canonical definition of every business metric, with an audited history.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below from this machine, not from a CDN
        redoc_url=None,
    )
    _offline_docs(app)
    app.state.settings = settings
    app.state.authenticator = Authenticator()
    routers = (metrics, tables, interchange, tokens, hooks, columns, audit, governance, tlog)
    for router in (health.router, *(r.router for r in routers)):
        app.include_router(router)
    console.install(app)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app
