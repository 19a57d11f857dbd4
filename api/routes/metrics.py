"""Metrics: list, one, search, history, versions, diff, validation and runs; and (admin role)
create, update, delete, roll back and restore."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from api import schemas
from api.deps import (
    ERRORS,
    GOVERNED_WRITE,
    Admin,
    After,
    AsOf,
    AtPosition,
    BoundedJsonRoute,
    Category,
    EffectiveFrom,
    FromTime,
    HeavyRead,
    IdempotencyKey,
    IfMatch,
    IndexRead,
    Name,
    OptionalWriteBody,
    Reader,
    Reason,
    RegistryDep,
    SettingsDep,
    ToTime,
    ValidAt,
    ValidFrom,
    ValidTo,
    WriteBody,
    moved,
    tagged,
    write_context,
)
from api.schemas import (
    MAX_VERSION,
    DeletedOut,
    ErrorOut,
    MetricList,
    MetricOut,
    RenameIn,
    RollbackIn,
    SearchList,
)
from registry import answers

router = APIRouter(prefix="/api", tags=["metrics"], route_class=BoundedJsonRoute)


PageSize = Annotated[int, Query(ge=1, le=1000, description="At most this many.")]


@router.get("/metrics", response_model=MetricList, responses=ERRORS, summary="List metrics")
def list_metrics(
    __: HeavyRead,
    reg: RegistryDep,
    _: Reader,
    category: Annotated[str | None, Query(max_length=100)] = None,
    as_of: AsOf = None,
    at_position: AtPosition = None,
    valid_at: ValidAt = None,
    after: After = None,
    limit: PageSize = 1000,
) -> dict[str, Any]:
    """Live metrics ordered by category and name; as of a time or log position if asked;
    with `valid_at`, the definitions in force at that business time (as known then).
    A page of at most `limit`: follow `next` (pass it as `after`) while it is not null."""
    return answers.metric_list(reg, category, as_of, at_position, after, limit, valid_at)


@router.get(
    "/metrics/search", response_model=SearchList, responses=ERRORS, summary="Search metrics"
)
def search(
    __: IndexRead,
    reg: RegistryDep,
    _: Reader,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Plain words.")],
    limit: Annotated[int, Query(ge=1, le=answers.MAX_SEARCH_LIMIT)] = 20,
) -> dict[str, Any]:
    """The metrics `q` most likely means, best first: words are matched in ids, names,
    display names, synonyms, descriptions, notes, tables and dimensions (any case, plurals,
    one typo), and each result says which words matched where."""
    return answers.metric_search(reg, q, limit)


@router.get(
    "/metrics/{category}/{name}", response_model=MetricOut, responses=ERRORS, summary="Get a metric"
)
async def get_metric(
    request: Request,
    reg: RegistryDep,
    _: Reader,
    category: Category,
    name: Name,
    as_of: AsOf = None,
    valid_at: ValidAt = None,
) -> Response:
    """The current definition of one metric, with its version (also as the ETag); with
    `as_of`, as it stood at that time; with `valid_at`, the definition in force at that
    business time (as known now, or at `as_of`), with the version that made it."""
    # The hottest route: a cached answer is served on the event loop, without the two
    # thread-pool hops a sync route costs; only a cache miss reads the database in a thread.
    # The answer is JSON-ready already: it is sent as it is, not validated again.
    metric_id = f"{category}/{name}"
    dated = as_of is not None or valid_at is not None
    found = None if dated else answers.cached_metric(reg, metric_id)
    if found is None:
        found = await run_in_threadpool(answers.metric, reg, metric_id, None, as_of, valid_at)
    if found.get("renamed_from"):  # an old id: the metric is at its new one
        redirect: Response = moved(request, found)
        return redirect
    return Response(
        orjson.dumps(found),
        media_type="application/json",
        headers={"ETag": answers.etag(found["version"])},
    )


@router.get("/metrics/{category}/{name}/history", responses=ERRORS, summary="History of a metric")
def history(
    request: Request, reg: RegistryDep, _: Reader, category: Category, name: Name
) -> dict[str, Any]:
    """Every version: who, when, why, which batch and which fields changed."""
    return moved(request, answers.metric_history(reg, f"{category}/{name}"))  # type: ignore[no-any-return]


@router.get(
    "/metrics/{category}/{name}/periods",
    responses=ERRORS,
    summary="A metric through a business-time range, piecewise",
)
def periods(
    request: Request,
    reg: RegistryDep,
    _: Reader,
    category: Category,
    name: Name,
    valid_from: ValidFrom,
    valid_to: ValidTo,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """Each definition in force between `valid_from` and `valid_to`, with the sub-range it
    covers (`definition` null where none was), as known now or at `as_of`."""
    answer = answers.metric_periods(reg, f"{category}/{name}", valid_from, valid_to, as_of)
    return moved(request, answer)  # type: ignore[no-any-return]


@router.get(
    "/metrics/{category}/{name}/timeline",
    responses=ERRORS,
    summary="A metric's versions on both time axes",
)
def timeline(
    request: Request, reg: RegistryDep, _: Reader, category: Category, name: Name
) -> dict[str, Any]:
    """Every version: when it was recorded, from when it is in force, the stretches of
    business time it governs as known now, and its status."""
    return moved(request, answers.metric_timeline(reg, f"{category}/{name}"))  # type: ignore[no-any-return]


@router.get(
    "/metrics/{category}/{name}/versions/{version}",
    responses=ERRORS,
    summary="A metric at one version",
)
def get_version(
    request: Request,
    reg: RegistryDep,
    _: Reader,
    category: Category,
    name: Name,
    version: Annotated[int, PathParam(ge=1, le=MAX_VERSION)],
) -> dict[str, Any]:
    """The definition the metric had at that version."""
    return moved(request, answers.metric(reg, f"{category}/{name}", version))  # type: ignore[no-any-return]


@router.get("/metrics/{category}/{name}/diff", responses=ERRORS, summary="Diff two versions")
def diff(
    request: Request,
    reg: RegistryDep,
    _: Reader,
    category: Category,
    name: Name,
    from_version: Annotated[int | None, Query(alias="from", ge=0, le=MAX_VERSION)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1, le=MAX_VERSION)] = None,
    from_time: FromTime = None,
    to_time: ToTime = None,
) -> dict[str, Any]:
    """Field-level changes between two versions (default: previous to current)."""
    answer = answers.metric_diff(
        reg, f"{category}/{name}", from_version, to_version, from_time, to_time
    )
    return moved(request, answer)  # type: ignore[no-any-return]


@router.get("/metrics/{category}/{name}/validate", responses=ERRORS, summary="Validate a metric")
def validate_metric(
    reg: RegistryDep, settings: SettingsDep, _: Reader, category: Category, name: Name
) -> dict[str, Any]:
    """Check one metric against the configured analytics database (plans only, no scan)."""
    return answers.validation(reg, settings.validation_db, f"{category}/{name}")


@router.get(
    "/metrics/{category}/{name}/run",
    responses={**ERRORS, 503: {"model": ErrorOut}},
    summary="Run a metric's canonical SQL",
)
def run_metric(
    request: Request,
    __: HeavyRead,
    reg: RegistryDep,
    settings: SettingsDep,
    _: Reader,
    category: Category,
    name: Name,
    variant: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z0-9_]*$", description="e.g. by_plan")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=answers.MAX_RUN_LIMIT)] = answers.RUN_LIMIT,
    valid_at: ValidAt = None,
) -> dict[str, Any]:
    """Run the metric's SQL (or a variant) exactly as stored, read-only and with no access to
    other files, on the server's analytics database: the SQL that ran, the metric's version
    and at most `limit` rows. A SQL that fails (or tries to write) is a 422."""
    answer = answers.run_metric(
        reg,
        settings.validation_db,
        f"{category}/{name}",
        variant,
        limit,
        settings.run_timeout,
        valid_at,
    )
    return moved(request, answer)  # type: ignore[no-any-return]


@router.get("/validate", responses=ERRORS, summary="Validate every metric")
def validate_all(
    __: HeavyRead,
    reg: RegistryDep,
    settings: SettingsDep,
    _: Reader,
    after: After = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Check live metrics against the configured analytics database, a page of `limit`
    metrics at a time: follow `next` (pass it as `after`) while it is not null."""
    return answers.validation(reg, settings.validation_db, None, after, limit)


# -- writes (admin role) ---------------------------------------------------------------


@router.post(
    "/admin/metrics",
    status_code=201,
    response_model=MetricOut,
    responses=GOVERNED_WRITE,
    summary="Create or replace a metric",
    openapi_extra=schemas.metric_create_body(),
)
def create_metric(
    reg: RegistryDep,
    who: Admin,
    body: WriteBody,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Create a metric, or replace the definition of an existing id (an upsert). The body is
    the definition (`category` and `name`, or the earlier API's `id`), plus optional `reason`
    and `expected_version`."""
    fields, ctx = write_context(who, body, if_match, idempotency_key)
    return tagged(answers.create_metric(reg, fields, ctx), response)


@router.patch(
    "/admin/metrics/{category}/{name}",
    response_model=MetricOut,
    responses=GOVERNED_WRITE,
    summary="Update fields of a metric",
    openapi_extra=schemas.metric_patch_body(),
)
def update_metric(
    reg: RegistryDep,
    who: Admin,
    category: Category,
    name: Name,
    body: WriteBody,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Change only the fields given (plus optional `reason` and `expected_version`)."""
    fields, ctx = write_context(who, body, if_match, idempotency_key)
    return tagged(answers.update_metric(reg, f"{category}/{name}", fields, ctx), response)


@router.delete(
    "/admin/metrics/{category}/{name}",
    response_model=DeletedOut,
    responses=GOVERNED_WRITE,
    summary="Delete a metric",
)
def delete_metric(
    reg: RegistryDep,
    who: Admin,
    category: Category,
    name: Name,
    reason: Reason = None,
    effective_from: EffectiveFrom = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Delete a metric (a tombstone event: its history stays readable)."""
    _, ctx = write_context(
        who, None, if_match, idempotency_key, reason, effective_from=effective_from
    )
    return tagged(answers.delete_metric(reg, f"{category}/{name}", ctx))


@router.post(
    "/admin/metrics/{category}/{name}/rollback",
    response_model=MetricOut,
    responses=GOVERNED_WRITE,
    summary="Roll a metric back",
)
def roll_back(
    reg: RegistryDep,
    who: Admin,
    category: Category,
    name: Name,
    body: RollbackIn,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Make an earlier version current again, as a new event (restores a deleted metric too)."""
    meta = body.model_dump(exclude={"to_version"}, exclude_none=True)
    _, ctx = write_context(who, meta, if_match, idempotency_key)
    answer = answers.roll_back_metric(reg, f"{category}/{name}", body.to_version, ctx)
    return tagged(answer, response)


@router.post(
    "/admin/metrics/{category}/{name}/rename",
    response_model=MetricOut,
    responses=GOVERNED_WRITE,
    summary="Rename a metric",
)
def rename(
    reg: RegistryDep,
    who: Admin,
    category: Category,
    name: Name,
    body: RenameIn,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Give a metric a new id (`to`, with a `reason`): its whole history goes with it, and
    its old id keeps resolving (reads redirect with 308; writes are refused naming the new
    id). Refused (409) when the new id is, or was, another metric's."""
    meta = body.model_dump(exclude={"to"}, exclude_none=True)
    _, ctx = write_context(who, meta, if_match, idempotency_key)
    answer = answers.rename_metric(reg, f"{category}/{name}", body.to, ctx)
    return tagged(answer, response)


@router.post(
    "/admin/metrics/{category}/{name}/restore",
    response_model=MetricOut,
    responses=GOVERNED_WRITE,
    summary="Restore a deleted metric",
    openapi_extra=schemas.request_meta_body(),
)
def restore(
    reg: RegistryDep,
    who: Admin,
    category: Category,
    name: Name,
    response: Response,
    body: OptionalWriteBody = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Bring back a deleted metric as it was when deleted (body: optional `reason`,
    `expected_version`)."""
    _, ctx = write_context(who, body, if_match, idempotency_key, definition=False)
    return tagged(answers.restore_metric(reg, f"{category}/{name}", ctx), response)
