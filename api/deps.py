"""Dependencies of the routes, as Annotated aliases: settings, the registry, the caller."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import ExitStack
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Body, Depends, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor

from api.schemas import MAX_POSITION, ErrorOut
from events import DatabaseUnavailableError
from registry import Registry, Settings
from registry.access.tokens import Authenticator, Principal
from registry.errors import (
    InvalidDefinitionError,
    Issue,
    RegistryError,
    StorageError,
    UnavailableError,
)
from registry.models import COLUMN_NAME_PATTERN, MAX_NAME_LENGTH, NAME_PATTERN, TABLE_ID_PATTERN
from registry.sight import sight_for
from registry.times import parse_time
from storage.session import RegistryPool

if TYPE_CHECKING:
    from registry.commands import WriteContext

READERS = frozenset({"admin", "auditor", "analyst"})
AUDITORS = frozenset({"admin", "auditor"})
ADMINS = frozenset({"admin"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


_LEASE_WAIT = 10.0  # seconds a request waits for a pooled connection before a 503


async def get_registry(request: Request) -> AsyncIterator[Registry]:
    """A registry (on its own connection or cursor) lent to this request until it is answered.

    Async, like the other dependencies here: none of them blocks for long (a token's first
    lookup), and each sync dependency would cost a hop through the thread pool.
    """
    pool: RegistryPool = request.app.state.registries
    with ExitStack() as lent:
        try:
            try:
                registry = lent.enter_context(pool.lease(timeout=0.001))
            except TimeoutError:
                # Every pooled connection is lent: wait for one in a worker, not on the loop.
                registry = await run_in_threadpool(lent.enter_context, pool.lease(_LEASE_WAIT))
        except TimeoutError as exc:  # none came free, or none can be made: the database is away
            raise UnavailableError(
                f"no connection to the registry database came free within {_LEASE_WAIT:g} s: retry"
            ) from exc
        except DatabaseUnavailableError as exc:
            recovered = await run_in_threadpool(pool.recover)
            raise UnavailableError(
                "the registry database is not answering"
                + (" and was opened again: retry" if recovered else "; retry later")
            ) from exc
        try:
            yield registry
        except (StorageError, UnavailableError):
            # The database may have been invalidated under this request (a full disk), or be
            # away (a restart): open it again now if it does not answer, so that the next
            # request works once the cause is gone.
            await run_in_threadpool(pool.recover)
            raise
        except (RegistryError, HTTPException, RequestValidationError):
            raise  # an answer about the request, not a sign of a failing database
        except Exception as exc:
            if await run_in_threadpool(pool.healthy):
                raise  # a bug, not the database: it keeps its 500 and its traceback
            recovered = await run_in_threadpool(pool.recover)
            raise UnavailableError(
                "the registry database stopped answering"
                + (" and was opened again: retry" if recovered else "; it could not be reopened")
            ) from exc


async def get_principal(
    request: Request,
    registry: Annotated[Registry, Depends(get_registry)],
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    """The owner of the bearer token; 401 without a valid one."""
    scheme, _, token = (authorization or "").partition(" ")
    authenticate: Authenticator = request.app.state.authenticator
    principal = authenticate(registry.conn, token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="a valid token is required: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    registry.sight = sight_for(principal.role, principal.tables)  # what this caller may see
    return principal


class _BoundedJsonRequest(Request):
    """A request whose JSON body is read by the registry's one bounded loader."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            from registry.interchange.loading import DocumentError, load_json

            body = await self.body()
            try:
                self._json = load_json(body, limit=len(body))  # the body limit is BodyLimit's
            except DocumentError as exc:  # FastAPI answers 422 "malformed JSON: ..." with it
                raise json.JSONDecodeError(
                    str(exc), body.decode("utf-8", "replace"), exc.position
                ) from exc
        return self._json


class BoundedJsonRoute(APIRoute):
    """Every route's JSON body through the bounded loader: no NaN, Infinity, 1e400, integers
    past 64 bits or keys given twice reach a handler (they would be stored as null, or last
    one wins)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            return await handler(_BoundedJsonRequest(request.scope, request.receive))

        return bounded


async def known_query_only(request: Request) -> None:
    """Refuse query parameters the route does not take, as unknown body fields are refused
    (a misspelt `as_of` must not silently answer with the current state)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    unknown = sorted(set(request.query_params) - _query_names(route.dependant))
    if unknown:
        raise InvalidDefinitionError([Issue(name, "unknown query parameter") for name in unknown])


def _query_names(root: Dependant) -> set[str]:
    """The query parameters a route takes: its own and those of its dependencies (a walk
    over a handful of objects, cheaper than keeping it)."""
    names: set[str] = set()
    pending = [root]
    while pending:  # the route's own parameters and those of its dependencies
        dependant = pending.pop()
        names |= {param.alias for param in dependant.query_params}
        pending += dependant.dependencies
    return names


def role_check(allowed: frozenset[str], what: str, who: Any = get_principal):  # type: ignore[no-untyped-def]  # a dependency factory
    """A dependency giving `who`'s answer (the caller: anything with a `role`), or 403 when
    that role is not allowed to do `what`. The API and the console check roles with it."""

    async def check(caller: Any) -> Any:
        if caller.role not in allowed:
            raise HTTPException(status_code=403, detail=f"role {caller.role!r} may not {what}")
        return caller

    # Set as objects: this module's annotations are postponed, and `who` lives in this closure.
    check.__annotations__ = {"caller": Annotated[Any, Depends(who)], "return": Any}
    return check


def _slot(pool: str) -> Callable[[Request], AsyncIterator[None]]:
    """A dependency that waits (on the event loop, holding no worker thread and no database
    connection) for one of the app's `pool` slots, kept for the whole request."""

    async def slot(request: Request) -> AsyncIterator[None]:
        async with getattr(request.app.state, pool):
            yield

    return slot


# The few slots of heavy reads: exports, whole-registry lists, validation and runs. However
# many of those arrive, the other workers and connections stay free, so a write is never
# queued behind them. A route names its slot before its registry, so the slot is taken
# before a connection is leased.
heavy_read_slot = _slot("heavy_reads")
# Questions answered from a whole-registry index (search, the table map) have slots of
# their own: they do not queue behind exports, and after a commit empties the cache the
# index is rebuilt by one caller at a time.
index_read_slot = _slot("index_reads")

SettingsDep = Annotated[Settings, Depends(get_settings)]

HeavyRead = Annotated[None, Depends(heavy_read_slot)]
IndexRead = Annotated[None, Depends(index_read_slot)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
Reader = Annotated[Principal, Depends(role_check(READERS, "read"))]
Auditor = Annotated[Principal, Depends(role_check(AUDITORS, "read the audit log"))]
Admin = Annotated[Principal, Depends(role_check(ADMINS, "write"))]


# -- parameters and error declarations shared by the routers (routers never import each other)

Category = Annotated[str, PathParam(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)]
Name = Annotated[str, PathParam(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)]
TableId = Annotated[str, PathParam(pattern=TABLE_ID_PATTERN, max_length=255)]


class ColumnConvertor(Convertor[str]):
    """A column name in a URL: any text (a '/' reaches the registry, which refuses it in its
    own words) that does not end in one of the column's own sub-paths, so that a PUT on
    `.../rollback` is a 405 for that path rather than a column named `x/rollback`."""

    regex = r"(?:(?!/(?:history|diff|rollback|restore)$).)+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("column", ColumnConvertor())

# Documented, not enforced here: a name the pattern refuses reaches the registry, which
# refuses it (with the same pattern) in the same words as from the CLI.
ColumnName = Annotated[
    str,
    PathParam(min_length=1, max_length=255, json_schema_extra={"pattern": COLUMN_NAME_PATTERN}),
]


def _time(name: str, description: str, required: bool = False) -> Any:
    """A query parameter holding a time, read by the registry's one parser (UTC out)."""

    def parse(value: str | None = None) -> datetime | None:
        return None if value is None else parse_time(value, name)

    if required:

        def parse(value: str) -> datetime | None:  # type: ignore[misc]
            return parse_time(value, name)

    # Set as objects, not strings: this module's annotations are postponed, and the query's
    # name and description live in this closure.
    query = Query(
        alias=name,
        max_length=64,
        description=description,
        json_schema_extra={"format": "date-time"},
    )
    # `str` with a None default (not `str | None`): the documented schema is then a plain
    # date-time string.
    parse.__annotations__ = {"value": Annotated[str, query], "return": datetime | None}
    return Depends(parse)


_ISO = " ISO 8601, e.g. 2026-01-31T12:00:00Z (no zone: UTC)."
AsOf = Annotated[datetime | None, _time("as_of", "Read the registry as it was then." + _ISO)]
ValidAt = Annotated[
    datetime | None, _time("valid_at", "The definitions in force at this business time." + _ISO)
]
EffectiveTime = Annotated[
    datetime | None,
    _time("effective_from", "Every change in force from then (a file may say)." + _ISO),
]
ValidFrom = Annotated[datetime, _time("valid_from", "Business time from." + _ISO, True)]
ValidTo = Annotated[datetime, _time("valid_to", "Business time until (not included)." + _ISO, True)]
FromTime = Annotated[datetime | None, _time("from_time", "... or the version then." + _ISO)]
ToTime = Annotated[datetime | None, _time("to_time", "... or the version then." + _ISO)]
Since = Annotated[datetime | None, _time("since", "Events recorded at or after." + _ISO)]
Until = Annotated[datetime | None, _time("until", "Events recorded at or before." + _ISO)]
AtPosition = Annotated[
    int | None, Query(ge=0, le=MAX_POSITION, description="... or after this log position.")
]
After = Annotated[
    str | None,
    Query(max_length=300, description="The `next` cursor of the previous page."),
]
Reason = Annotated[str | None, Query(max_length=2000, description="Why: kept in the history.")]
EffectiveFrom = Annotated[
    str | None,
    Query(
        max_length=40,
        description="In force from this business date or UTC time (default: when recorded).",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="A retried request with this key gets the first answer."),
]


def _if_match(value: str | None = None) -> str | None:
    return value


# Declared as a plain string (not `str | None`), so the documented header is one string
# matching the pattern rather than "a string or null".
_if_match.__annotations__["value"] = Annotated[
    str,
    Header(
        alias="if-match",
        description='The version the write is based on, e.g. "v3"; `*`: any existing one.',
        pattern=r'^(\*|(W/)?"?v?[0-9]{1,9}"?)$',
    ),
]
IfMatch = Annotated[str | None, Depends(_if_match)]
# A JSON object body that the registry validates (and words the problems of) itself.
WriteBody = Annotated[dict[str, Any], Body()]
OptionalWriteBody = Annotated[dict[str, Any] | None, Body()]

# Every route may answer these: a refused token or role, a missing thing, bad input, a body
# over the limit (checked before any route), and a database that is away for a moment.
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    413: {"model": ErrorOut},
    422: {"model": ErrorOut},
    503: {"model": ErrorOut},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"model": ErrorOut},
    409: {"model": ErrorOut},
    413: {"model": ErrorOut},
    507: {"model": ErrorOut},
}
# A write the approval policy turns into a proposal answers 202 with it (`tagged`).
GOVERNED_WRITE: dict[int | str, dict[str, Any]] = {
    **WRITE_ERRORS,
    202: {
        "description": "Approval is required: the write became a proposal (`proposal` in the"
        " body) and nothing is changed until another admin approves it."
    },
}


def moved(request: Request, answer: dict[str, Any]) -> Any:
    """A read's answer; or, asked by a renamed metric's old id (the answer's
    `renamed_from`), a 308 to the same route under its id now (the query kept)."""
    old_id = answer.get("renamed_from") if isinstance(answer, dict) else None
    if not old_id:
        return answer
    return renamed_redirect(
        request, "/api/metrics/", old_id, answer.get("renamed_to") or answer["id"]
    )


def renamed_redirect(request: Request, base: str, old_id: str, new_id: str) -> Response:
    """A 308 from a route under a renamed metric's old id (`base` + id) to the same route
    under its new one, the query kept (the API's reads and the console's pages)."""
    from urllib.parse import quote

    from fastapi.responses import RedirectResponse

    old, new = (base + "/".join(quote(p, safe="") for p in m.split("/")) for m in (old_id, new_id))
    target = new + request.url.path.removeprefix(old)
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(target, status_code=308)


def tagged(answer: dict[str, Any], response: Response | None = None) -> Any:
    """A metric's or column's answer with its version as the ETag; a write that became a
    proposal (the approval policy) is a 202 with the proposal: nothing is changed yet."""
    from fastapi.responses import JSONResponse

    if answer.get("status") == "proposed" or "proposal" in answer:
        return JSONResponse(answer, status_code=202)
    if response is not None:
        response.headers["ETag"] = f'"v{answer["version"]}"'
    return answer


def write_context(
    who: Principal,
    body: dict[str, Any] | None = None,
    if_match: str | None = None,
    idempotency_key: str | None = None,
    reason: str | None = None,
    definition: bool = True,
    effective_from: str | None = None,
) -> tuple[dict[str, Any], WriteContext]:
    """A write's fields and its context: who, why, the expected version and the key (the
    registry's `write_request`, which checks them in its own words; `definition=False` for
    a request that takes no definition fields)."""
    from registry.commands import write_request

    return write_request(
        who.name,
        body,
        door="api",
        reason=reason,
        if_match=if_match,
        idempotency_key=idempotency_key,
        definition=definition,
        effective_from=effective_from,
    )


def event_filters(
    since: Since = None,
    until: Until = None,
    stream: Annotated[str | None, Query(max_length=600, description="A metric id.")] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[str | None, Query(max_length=100, description="e.g. MetricRolledBack")] = None,
    batch: Annotated[str | None, Query(max_length=100, description="An import's batch id.")] = None,
) -> dict[str, Any]:
    """The filters of the event log's pages, as the registry names them."""
    return {
        "stream_id": stream,
        "actor": actor,
        "event_type": type,
        "batch_id": batch,
        "since": since,
        "until": until,
    }


EventFilters = Annotated[dict[str, Any], Depends(event_filters)]
