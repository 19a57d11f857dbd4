"""Column metadata: list, get, put, delete, history, and as-of reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam

from api.deps import Admin, Reader, RegistryDep
from api.routes.admin import WRITE_ERRORS, IfMatch, context, expected_version
from api.routes.metrics import ERRORS, AsOf, AtPosition
from api.schemas import ColumnIn, ColumnOut, ColumnPatch
from projections import column_stream_id
from registry import commands, queries
from registry.errors import NotFoundError
from registry.subjects import COLUMN

router = APIRouter(prefix="/api", tags=["columns"])
TableId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$", max_length=255)]
ColumnName = Annotated[str, PathParam(min_length=1, max_length=255)]


def column_response(
    reg: RegistryDep, table_id: str, column: str, response: Response
) -> dict[str, Any]:
    row = queries.get_column(reg, table_id, column)
    if row is None:
        raise NotFoundError(f"column {table_id}.{column} has no metadata")
    version = reg.store.stream_version(COLUMN.kind.stream_type, column_stream_id(table_id, column))
    response.headers["ETag"] = f'"v{version}"'
    return {**row, "version": version}


@router.get("/columns/{table_id}", responses=ERRORS, summary="Columns of a table")
def list_columns(
    reg: RegistryDep,
    _: Reader,
    table_id: TableId,
    as_of: AsOf = None,
    at_position: AtPosition = None,
) -> dict[str, Any]:
    """Every described column of a table, ordered by name; as of a time or position if asked."""
    if as_of is None and at_position is None:
        rows = queries.list_columns(reg, table_id)
        position = None
    else:
        rows = [
            r for r in queries.columns_as_of(reg, as_of, at_position) if r["table_id"] == table_id
        ]
        position = queries.resolve_position(reg, as_of, at_position)
    versions = reg.store.versions_at(COLUMN.kind.stream_type, position)
    columns = [
        {**r, "version": versions.get(column_stream_id(table_id, r["column_name"]), 0)}
        for r in rows
    ]
    return {"table_id": table_id, "columns": columns, "count": len(columns)}


@router.get(
    "/columns/{table_id}/{column}", response_model=ColumnOut, responses=ERRORS, summary="One column"
)
def get_column(
    reg: RegistryDep, _: Reader, table_id: TableId, column: ColumnName, response: Response
) -> dict[str, Any]:
    """A column's current metadata and version."""
    return column_response(reg, table_id, column, response)


@router.get("/columns/{table_id}/{column}/history", responses=ERRORS, summary="History of a column")
def history(reg: RegistryDep, _: Reader, table_id: TableId, column: ColumnName) -> dict[str, Any]:
    """Every version of a column's metadata."""
    entries = queries.history(reg, COLUMN, column_stream_id(table_id, column))
    return {"table_id": table_id, "column_name": column, "versions": [e.as_dict() for e in entries]}


@router.put(
    "/admin/columns/{table_id}/{column}",
    response_model=ColumnOut,
    responses=WRITE_ERRORS,
    summary="Describe a column",
    tags=["admin"],
)
def put_column(
    reg: RegistryDep,
    who: Admin,
    table_id: TableId,
    column: ColumnName,
    body: ColumnIn,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Create or replace a column's metadata."""
    fields = {
        "table_id": table_id,
        "column_name": column,
        **body.model_dump(exclude={"reason", "expected_version"}),
    }
    ctx = context(who, body.reason, expected_version(if_match, body.expected_version))
    commands.save_column(reg, fields, ctx)
    return column_response(reg, table_id, column, response)


@router.patch(
    "/admin/columns/{table_id}/{column}",
    response_model=ColumnOut,
    responses=WRITE_ERRORS,
    summary="Set some fields of a column",
    tags=["admin"],
)
def patch_column(
    reg: RegistryDep,
    who: Admin,
    table_id: TableId,
    column: ColumnName,
    body: ColumnPatch,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Change only the fields given (describing the column first if it is new)."""
    fields = body.model_dump(exclude_unset=True, exclude={"reason", "expected_version"})
    ctx = context(who, body.reason, expected_version(if_match, body.expected_version))
    commands.set_column(reg, table_id, column, fields, ctx)
    return column_response(reg, table_id, column, response)


@router.delete(
    "/admin/columns/{table_id}/{column}",
    responses=WRITE_ERRORS,
    summary="Delete a column's metadata",
    tags=["admin"],
)
def delete_column(
    reg: RegistryDep,
    who: Admin,
    table_id: TableId,
    column: ColumnName,
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> dict[str, Any]:
    """Delete a column's metadata (a tombstone event)."""
    result = commands.delete_column(reg, table_id, column, context(who, reason))
    return {"status": "deleted", "id": result.id, "version": result.version}
