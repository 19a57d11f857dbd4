"""Writing metrics (admin role): create, update, delete, roll back, restore, import; tokens."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api import schemas
from api.deps import (
    ERRORS,
    WRITE_ERRORS,
    Admin,
    Category,
    IdempotencyKey,
    IfMatch,
    Name,
    OptionalWriteBody,
    Reason,
    RegistryDep,
    WriteBody,
    write_context,
)
from api.schemas import DeletedOut, MetricOut, RollbackIn, TokenIn
from registry import answers
from registry.interchange.imports import ImportOptions
from storage.session import RegistryPool

router = APIRouter(prefix="/api/admin", tags=["admin"])
WEB_UPLOAD = "web_upload"


def _tagged(answer: dict[str, Any], response: Response) -> dict[str, Any]:
    response.headers["ETag"] = answers.etag(answer["version"])
    return answer


@router.post(
    "/metrics",
    status_code=201,
    response_model=MetricOut,
    responses=WRITE_ERRORS,
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
) -> dict[str, Any]:
    """Create a metric, or replace the definition of an existing id (an upsert). The body is
    the definition (`category` and `name`, or the earlier API's `id`), plus optional `reason`
    and `expected_version`."""
    fields, ctx = write_context(who, body, if_match, idempotency_key)
    return _tagged(answers.create_metric(reg, fields, ctx), response)


@router.patch(
    "/metrics/{category}/{name}",
    response_model=MetricOut,
    responses=WRITE_ERRORS,
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
) -> dict[str, Any]:
    """Change only the fields given (plus optional `reason` and `expected_version`)."""
    fields, ctx = write_context(who, body, if_match, idempotency_key)
    return _tagged(answers.update_metric(reg, f"{category}/{name}", fields, ctx), response)


@router.delete(
    "/metrics/{category}/{name}",
    response_model=DeletedOut,
    responses=WRITE_ERRORS,
    summary="Delete a metric",
)
def delete_metric(
    reg: RegistryDep,
    who: Admin,
    category: Category,
    name: Name,
    reason: Reason = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Delete a metric (a tombstone event: its history stays readable)."""
    _, ctx = write_context(who, None, if_match, idempotency_key, reason)
    return answers.delete_metric(reg, f"{category}/{name}", ctx)


@router.post(
    "/metrics/{category}/{name}/rollback",
    response_model=MetricOut,
    responses=WRITE_ERRORS,
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
) -> dict[str, Any]:
    """Make an earlier version current again, as a new event (restores a deleted metric too)."""
    meta = body.model_dump(exclude={"to_version"}, exclude_none=True)
    _, ctx = write_context(who, meta, if_match, idempotency_key)
    answer = answers.roll_back_metric(reg, f"{category}/{name}", body.to_version, ctx)
    return _tagged(answer, response)


@router.post(
    "/metrics/{category}/{name}/restore",
    response_model=MetricOut,
    responses=WRITE_ERRORS,
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
) -> dict[str, Any]:
    """Bring back a deleted metric as it was when deleted (body: optional `reason`,
    `expected_version`)."""
    fields, ctx = write_context(who, body, if_match, idempotency_key)
    if fields:
        from registry.errors import UnknownFieldError

        raise UnknownFieldError(sorted(fields), ["reason", "expected_version"])
    return _tagged(answers.restore_metric(reg, f"{category}/{name}", ctx), response)


@router.post(
    "/metrics/import",
    responses=WRITE_ERRORS,
    summary="Import uploaded YAML",
    openapi_extra=schemas.upload_body(),
)
async def import_metrics(
    request: Request,
    who: Admin,
    dry_run: bool = False,
    prune: bool = False,
    source_ref: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str, Query(pattern=r"^[a-z0-9_]+$")] = "uploads",
    filename: Annotated[
        str, Query(pattern=r"^[A-Za-z0-9_.\-]+\.ya?ml$", max_length=200)
    ] = "upload.yml",
    source: Annotated[str, Query(pattern=r"^(web_upload|yaml_import)$")] = WEB_UPLOAD,
    idempotency_key: IdempotencyKey = None,
    format: Annotated[Literal["yaml", "dbt"], Query(description="yaml or dbt")] = "yaml",
    strict: Annotated[bool, Query(description="Refuse if anything cannot be imported")] = False,
) -> dict[str, Any]:
    """Reconcile with an uploaded YAML file (body: YAML) or folder (body: a zip of
    `<category>/<name>.yml`); writer `web_upload` (`yaml_import` for the CLI's file imports).
    With `format=dbt`, the body is a dbt project (a zip, or one YAML file or manifest) whose
    metrics are imported as writer `dbt_import`, labelled with the project's name; the report
    lists under `skipped` every metric that could not be expressed, and why.
    Answers with the reconcile report."""
    data = await request.body()
    zipped = request.headers.get("content-type", "").startswith("application/zip")
    options = ImportOptions(
        actor=who.name,
        writer=source,
        label=source_ref,
        prune=prune,
        dry_run=dry_run,
        idempotency_key=idempotency_key,
        format=format,
        strict=strict,
    )
    pool: RegistryPool = request.app.state.registries

    def run() -> dict[str, Any]:
        with pool.lease() as reg:
            return answers.import_upload(reg, data, zipped, f"{category}/{filename}", options)

    return await run_in_threadpool(run)


@router.post(
    "/tokens", status_code=201, responses=WRITE_ERRORS, summary="Create a token", tags=["tokens"]
)
def create_token(reg: RegistryDep, who: Admin, body: TokenIn) -> dict[str, str]:
    """Create a token; it is shown in this answer only (the registry keeps only its hash)."""
    return answers.new_token(reg, body.name, body.role, who.name)


@router.get("/tokens", responses=ERRORS, summary="List tokens", tags=["tokens"])
def tokens(reg: RegistryDep, _: Admin) -> dict[str, Any]:
    """Every token's name, role and dates; never the tokens themselves."""
    return answers.token_list(reg)


@router.delete("/tokens/{name}", responses=WRITE_ERRORS, summary="Revoke a token", tags=["tokens"])
def revoke(request: Request, reg: RegistryDep, who: Admin, name: str) -> dict[str, str]:
    """Revoke a token by name; it stops working at once."""
    answer = answers.revoked_token(reg, name, who.name)
    request.app.state.authenticator.forget()
    return answer
