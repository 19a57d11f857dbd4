"""The only code that turns state into projection rows and rows into dicts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from projections.fold import StreamState
from projections.tables import ProjectionTable


def state_to_row(table: ProjectionTable, state: StreamState) -> list[Any]:
    """The values of one projection row, in the table's column order."""
    row: list[Any] = []
    for column in table.columns:
        if column.kind == "stream_id":
            row.append(state.stream_id)
        elif column.kind == "created_at":
            row.append(state.created_at)
        elif column.kind == "updated_at":
            row.append(state.updated_at)
        else:
            row.append(encode_value(column.kind, state.definition.get(column.name)))
    return row


def encode_value(kind: str, value: Any) -> Any:
    """A definition value as DuckDB takes it for a column of this kind."""
    if kind == "json":
        return (
            None
            if value is None
            else json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        )
    if kind == "list":
        return list(value or [])
    return value


def row_to_dict(table: ProjectionTable, row: Sequence[Any]) -> dict[str, Any]:
    """A projection row as a dict keyed by column name; lists as lists, JSON parsed."""
    result: dict[str, Any] = {}
    for column, value in zip(table.columns, row, strict=True):
        if column.kind == "list":
            value = list(value) if value is not None else []
        elif column.kind == "json" and isinstance(value, str):
            value = json.loads(value)
        result[column.name] = value
    return result
