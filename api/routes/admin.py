"""Writing metrics (admin role): create, update, delete, roll back, restore, import; tokens."""

from __future__ import annotations

import tempfile
import zipfile
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import Admin, RegistryDep
from api.routes.metrics import ERRORS, Category, Name, metric_response
from api.schemas import DeletedOut, MetricIn, MetricOut, MetricPatch, RestoreIn, RollbackIn, TokenIn
from registry import commands, queries
from registry.commands import WriteContext, WriteResult
from registry.imports import ImportOptions, reconcile
from registry.session import RegistryPool
from registry.subjects import METRIC
from registry.tokens import create_token as make_token
from registry.tokens import list_tokens, revoke_token

router = APIRouter(prefix="/api/admin", tags=["admin"])
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 409: ERRORS[404], 413: ERRORS[404]}
IdempotencyKey = Annotated[str | None, Header(max_length=200)]
IfMatch = Annotated[str | None, Header()]
WEB_UPLOAD = "web_upload"
_MAX_UNZIPPED = 64 * 1024 * 1024


def expected_version(if_match: str | None, in_body: int | None) -> int | None:
    """The version a write is based on: `If-Match: "v3"` (or W/"v3", or 3), else the body's."""
    if if_match is None:
        return in_body
    text = if_match.strip().removeprefix("W/").strip('"').removeprefix("v")
    if not text.isdigit():
        raise HTTPException(
            status_code=400, detail=f'If-Match {if_match!r} is not a version such as "v3"'
        )
    return int(text)


def context(
    who: Admin, reason: str | None, expected: int | None = None, key: str | None = None
) -> WriteContext:
    return WriteContext(
        actor=who.name, reason=reason, expected_version=expected, idempotency_key=key
    )


def answer(reg: RegistryDep, result: WriteResult, response: Response) -> dict[str, Any]:
    """The metric after a write; a replayed request gets the state its first answer had."""
    if not result.replayed:
        return metric_response(reg, result.id, response)
    snapshot = queries.get_version(reg, METRIC, result.id, result.version)
    response.headers["ETag"] = f'"v{result.version}"'
    return {**snapshot, "created_at": None, "updated_at": snapshot["recorded_at"]}


@router.post(
    "/metrics",
    status_code=201,
    response_model=MetricOut,
    responses=WRITE_ERRORS,
    summary="Create or replace a metric",
)
def create_metric(
    reg: RegistryDep,
    who: Admin,
    body: MetricIn,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Create a metric, or replace the definition of an existing id (an upsert)."""
    fields = body.model_dump(exclude={"reason", "expected_version"})
    ctx = context(
        who, body.reason, expected_version(if_match, body.expected_version), idempotency_key
    )
    return answer(reg, commands.create_metric(reg, fields, ctx), response)


@router.patch(
    "/metrics/{category}/{name}",
    response_model=MetricOut,
    responses=WRITE_ERRORS,
    summary="Update fields of a metric",
)
def update_metric(
    reg: RegistryDep,
    who: Admin,
    category: Category,
    name: Name,
    body: MetricPatch,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Change only the fields given."""
    data = body.model_dump(exclude_unset=True)
    reason, base = data.pop("reason", None), data.pop("expected_version", None)
    ctx = context(who, reason, expected_version(if_match, base), idempotency_key)
    return answer(reg, commands.update_metric(reg, f"{category}/{name}", data, ctx), response)


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
    reason: str | None = None,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Delete a metric (a tombstone event: its history stays readable)."""
    ctx = context(who, reason, expected_version(if_match, None))
    result = commands.delete_metric(reg, f"{category}/{name}", ctx)
    return {"status": "deleted", "id": result.id, "version": result.version}


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
) -> dict[str, Any]:
    """Make an earlier version current again, as a new event (restores a deleted metric too)."""
    ctx = context(who, body.reason, expected_version(if_match, None))
    result = commands.roll_back_metric(reg, f"{category}/{name}", body.to_version, ctx)
    return answer(reg, result, response)


@router.post(
    "/metrics/{category}/{name}/restore",
    response_model=MetricOut,
    responses=WRITE_ERRORS,
    summary="Restore a deleted metric",
)
def restore(
    reg: RegistryDep,
    who: Admin,
    category: Category,
    name: Name,
    response: Response,
    body: RestoreIn | None = None,
) -> dict[str, Any]:
    """Bring back a deleted metric as it was when deleted."""
    ctx = context(who, body.reason if body else None)
    return answer(reg, commands.restore_metric(reg, f"{category}/{name}", ctx), response)


def _unpack(data: bytes, root: Path) -> None:
    """Extract the YAML files of an uploaded zip below `root`, refusing anything unsafe."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise HTTPException(
            status_code=400, detail="the upload is not a valid zip archive"
        ) from exc
    members = [m for m in archive.infolist() if not m.is_dir()]
    if sum(m.file_size for m in members) > _MAX_UNZIPPED:
        raise HTTPException(status_code=413, detail="the archive unpacks to more than 64 MiB")
    for member in members:
        name = PurePosixPath(member.filename)
        if name.is_absolute() or ".." in name.parts or "\\" in member.filename:
            raise HTTPException(
                status_code=400, detail=f"unsafe path in archive: {member.filename}"
            )
        if name.suffix not in (".yml", ".yaml"):
            continue
        target = root.joinpath(*name.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(archive.read(member))


def _import(
    pool: RegistryPool, data: bytes, zipped: bool, category: str, options: ImportOptions
) -> dict[str, Any]:
    with pool.lease() as reg, tempfile.TemporaryDirectory(prefix="da-upload-") as folder:
        root = Path(folder) / "upload"
        if zipped:
            _unpack(data, root)
            path = root
        else:
            path = root / category / "upload.yml"
            path.parent.mkdir(parents=True)
            path.write_bytes(data)
        report = reconcile(reg, path, options).as_dict()
    prefix = str(root) + "/"
    report["unreadable"] = [p.removeprefix(prefix) for p in report["unreadable"]]
    report["problems"] = {
        k.removeprefix(prefix): [m.replace(prefix, "") for m in v]
        for k, v in report["problems"].items()
    }
    return report


@router.post("/metrics/import", responses=WRITE_ERRORS, summary="Import uploaded YAML")
async def import_metrics(
    request: Request,
    who: Admin,
    dry_run: bool = False,
    prune: bool = False,
    source_ref: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str, Query(pattern=r"^[a-z0-9_]+$")] = "uploads",
    source: Annotated[str, Query(pattern=r"^(web_upload|yaml_import)$")] = WEB_UPLOAD,
) -> dict[str, Any]:
    """Reconcile with an uploaded YAML file (body: YAML) or folder (body: a zip of
    `<category>/<name>.yml`); writer `web_upload` (`yaml_import` for the CLI's file imports).
    Answers with the reconcile report."""
    data = await request.body()
    zipped = request.headers.get("content-type", "").startswith("application/zip")
    options = ImportOptions(
        actor=who.name, writer=source, label=source_ref, prune=prune, dry_run=dry_run
    )
    pool = request.app.state.registries
    return await run_in_threadpool(_import, pool, data, zipped, category, options)


@router.post(
    "/tokens", status_code=201, responses=WRITE_ERRORS, summary="Create a token", tags=["tokens"]
)
def create_token(reg: RegistryDep, _: Admin, body: TokenIn) -> dict[str, str]:
    """Create a token; it is shown in this answer only (the registry keeps only its hash)."""
    return {
        "name": body.name,
        "role": body.role,
        "token": make_token(reg.conn, body.name, body.role),
    }


@router.get("/tokens", responses=ERRORS, summary="List tokens", tags=["tokens"])
def tokens(reg: RegistryDep, _: Admin) -> dict[str, Any]:
    """Every token's name, role and dates; never the tokens themselves."""
    return {"tokens": [t.__dict__ for t in list_tokens(reg.conn)]}


@router.delete("/tokens/{name}", responses=WRITE_ERRORS, summary="Revoke a token", tags=["tokens"])
def revoke(request: Request, reg: RegistryDep, _: Admin, name: str) -> dict[str, str]:
    """Revoke a token by name; it stops working at once."""
    revoke_token(reg.conn, name)
    request.app.state.authenticator.forget()
    return {"status": "revoked", "name": name}
