"""Interchange: the registry exported as a zip (YAML or a dbt project), and (admin role)
uploads imported (YAML, a zip of YAML, or a dbt project)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api import schemas
from api.deps import (
    ERRORS,
    GOVERNED_WRITE,
    Admin,
    AsOf,
    AtPosition,
    BoundedJsonRoute,
    EffectiveTime,
    HeavyRead,
    IdempotencyKey,
    Reader,
    RegistryDep,
    ValidAt,
    tagged,
)
from registry import answers
from registry.interchange.imports import ImportOptions
from storage.session import RegistryPool

router = APIRouter(prefix="/api", tags=["interchange"], route_class=BoundedJsonRoute)
WEB_UPLOAD = "web_upload"


@router.get(
    "/export",
    responses={**ERRORS, 200: {"content": {"application/zip": {}}}},
    response_class=Response,
    summary="Export as a zip of YAML files",
)
def export(
    __: HeavyRead,
    reg: RegistryDep,
    _: Reader,
    as_of: AsOf = None,
    at_position: AtPosition = None,
    valid_at: ValidAt = None,
    format: Annotated[
        Literal["yaml", "dbt", "ossie"], Query(description="yaml, dbt or ossie")
    ] = "yaml",
) -> Response:
    """The registry (now, or as of a time or position) as `<category>/<name>.yml` files,
    zipped; with `format=dbt`, as a dbt project's Semantic Layer YAML (the registry's own
    fields kept under each metric's `config.meta.registry`); with `format=ossie`, as Apache
    Ossie documents, one per category (the registry's fields in custom extensions). With
    `valid_at`, the definitions in force at that business time."""
    return Response(
        answers.export_zip(reg, as_of, at_position, format, valid_at),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="metrics.zip"'},
    )


@router.post(
    "/admin/metrics/import",
    responses=GOVERNED_WRITE,
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
        str, Query(pattern=r"^[A-Za-z0-9_.\-]+\.(ya?ml|json)$", max_length=200)
    ] = "upload.yml",
    source: Annotated[str, Query(pattern=r"^(web_upload|yaml_import)$")] = WEB_UPLOAD,
    idempotency_key: IdempotencyKey = None,
    format: Annotated[
        Literal["yaml", "dbt", "ossie"], Query(description="yaml, dbt or ossie")
    ] = "yaml",
    strict: Annotated[bool, Query(description="Refuse if anything cannot be imported")] = False,
    effective_from: EffectiveTime = None,
) -> Any:
    """Reconcile with an uploaded YAML file (body: YAML) or folder (body: a zip of
    `<category>/<name>.yml`); writer `web_upload` (`yaml_import` for the CLI's file imports).
    With `format=dbt`, the body is a dbt project (a zip, or one YAML file or manifest) whose
    metrics are imported as writer `dbt_import`, labelled with the project's name; the report
    lists under `skipped` every metric that could not be expressed, and why. With
    `format=ossie`, the body is Apache Ossie documents (a zip, or one YAML or JSON file),
    imported as writer `ossie_import` with their column metadata in the same batch.
    Answers with the reconcile report."""
    data = await request.body()
    zipped = request.headers.get("content-type", "").startswith("application/zip")
    options = ImportOptions(
        actor=who.name,
        door="api",
        writer=source,
        label=source_ref,
        prune=prune,
        dry_run=dry_run,
        idempotency_key=idempotency_key,
        format=format,
        strict=strict,
        effective_from=effective_from,
    )
    pool: RegistryPool = request.app.state.registries

    def run() -> dict[str, Any]:
        with pool.lease() as reg:
            return answers.import_upload(reg, data, zipped, f"{category}/{filename}", options)

    report = await run_in_threadpool(run)
    return tagged(report) if report.get("proposal") else report
