"""Column metadata: list, get, put, patch, delete, history, diff, rollback, restore, and
as-of reads.

A column name is matched by `{column:column}` (api.deps.ColumnConvertor): any text, so a name
with a `/` (which the registry refuses) reaches the registry and gets its answer, as it does
from the embedded CLI; but never one ending in a sub-path (`/history`, `/diff`, `/rollback`,
`/restore`), which belongs to the routes declared before the plain one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api import schemas
from api.deps import (
    ERRORS,
    GOVERNED_WRITE,
    Admin,
    AsOf,
    AtPosition,
    BoundedJsonRoute,
    ColumnName,
    EffectiveFrom,
    IdempotencyKey,
    IfMatch,
    OptionalWriteBody,
    Reader,
    Reason,
    RegistryDep,
    TableId,
    WriteBody,
    tagged,
    write_context,
)
from api.schemas import MAX_VERSION, ColumnOut, DeletedOut, RollbackIn
from registry import answers

router = APIRouter(prefix="/api", tags=["columns"], route_class=BoundedJsonRoute)


@router.get("/columns/{table_id}", responses=ERRORS, summary="Columns of a table")
def list_columns(
    reg: RegistryDep,
    _: Reader,
    table_id: TableId,
    as_of: AsOf = None,
    at_position: AtPosition = None,
) -> dict[str, Any]:
    """Every described column of a table, ordered by name; as of a time or position if asked."""
    return answers.column_list(reg, table_id, as_of, at_position)


@router.get(
    "/columns/{table_id}/{column:column}/history", responses=ERRORS, summary="History of a column"
)
def history(reg: RegistryDep, _: Reader, table_id: TableId, column: ColumnName) -> dict[str, Any]:
    """Every version of a column's metadata."""
    return answers.column_history(reg, table_id, column)


@router.get(
    "/columns/{table_id}/{column:column}/diff",
    responses=ERRORS,
    summary="Diff two versions of a column",
)
def diff(
    reg: RegistryDep,
    _: Reader,
    table_id: TableId,
    column: ColumnName,
    from_version: Annotated[int | None, Query(alias="from", ge=0, le=MAX_VERSION)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1, le=MAX_VERSION)] = None,
) -> dict[str, Any]:
    """Field-level changes of a column's metadata between two versions (default: previous to
    current)."""
    return answers.column_diff(reg, table_id, column, from_version, to_version)


@router.post(
    "/admin/columns/{table_id}/{column:column}/rollback",
    response_model=ColumnOut,
    responses=GOVERNED_WRITE,
    summary="Roll a column's metadata back",
    tags=["admin"],
)
def roll_back(
    reg: RegistryDep,
    who: Admin,
    table_id: TableId,
    column: ColumnName,
    body: RollbackIn,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Make an earlier version current again, as a new event (restores deleted metadata too)."""
    meta = body.model_dump(exclude={"to_version"}, exclude_none=True)
    _, ctx = write_context(who, meta, if_match, idempotency_key)
    answer = answers.roll_back_column(reg, table_id, column, body.to_version, ctx)
    return tagged(answer, response)


@router.post(
    "/admin/columns/{table_id}/{column:column}/restore",
    response_model=ColumnOut,
    responses=GOVERNED_WRITE,
    summary="Restore a column's deleted metadata",
    tags=["admin"],
    openapi_extra=schemas.request_meta_body(),
)
def restore(
    reg: RegistryDep,
    who: Admin,
    table_id: TableId,
    column: ColumnName,
    response: Response,
    body: OptionalWriteBody = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Bring back a column's deleted metadata as it was (body: optional `reason`,
    `expected_version`)."""
    _, ctx = write_context(who, body, if_match, idempotency_key, definition=False)
    return tagged(answers.restore_column(reg, table_id, column, ctx), response)


@router.get(
    "/columns/{table_id}/{column:column}",
    response_model=ColumnOut,
    responses=ERRORS,
    summary="One column",
)
def get_column(
    reg: RegistryDep, _: Reader, table_id: TableId, column: ColumnName, response: Response
) -> Any:
    """A column's current metadata and version."""
    return tagged(answers.column(reg, table_id, column), response)


@router.put(
    "/admin/columns/{table_id}/{column:column}",
    response_model=ColumnOut,
    responses=GOVERNED_WRITE,
    summary="Describe a column",
    tags=["admin"],
    openapi_extra=schemas.column_body(),
)
def put_column(
    reg: RegistryDep,
    who: Admin,
    table_id: TableId,
    column: ColumnName,
    body: WriteBody,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Create or replace a column's metadata (basetype, description, confidence, source)."""
    fields, ctx = write_context(who, body, if_match, idempotency_key)
    return tagged(answers.put_column(reg, table_id, column, fields, ctx), response)


@router.patch(
    "/admin/columns/{table_id}/{column:column}",
    response_model=ColumnOut,
    responses=GOVERNED_WRITE,
    summary="Set some fields of a column",
    tags=["admin"],
    openapi_extra=schemas.column_body(),
)
def patch_column(
    reg: RegistryDep,
    who: Admin,
    table_id: TableId,
    column: ColumnName,
    body: WriteBody,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Change only the fields given (describing the column first if it is new)."""
    fields, ctx = write_context(who, body, if_match, idempotency_key)
    return tagged(answers.set_column(reg, table_id, column, fields, ctx), response)


@router.delete(
    "/admin/columns/{table_id}/{column:column}",
    response_model=DeletedOut,
    responses=GOVERNED_WRITE,
    summary="Delete a column's metadata",
    tags=["admin"],
)
def delete_column(
    reg: RegistryDep,
    who: Admin,
    table_id: TableId,
    column: ColumnName,
    reason: Reason = None,
    effective_from: EffectiveFrom = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Delete a column's metadata (a tombstone event)."""
    _, ctx = write_context(
        who, None, if_match, idempotency_key, reason, effective_from=effective_from
    )
    return tagged(answers.delete_column(reg, table_id, column, ctx))
