"""The only code that turns state into projection rows and rows into dicts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

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
    """A definition value as an engine takes it for a column of this kind (lists as lists,
    JSON as its text)."""
    if kind == "json":
        return (
            None
            if value is None
            else json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        )
    if kind == "list":
        return list(value or [])
    return value


@dataclass(frozen=True)
class _Layout:
    """A table's columns grouped by kind, worked out once: row conversions run per row."""

    names: tuple[str, ...]
    lists: tuple[int, ...]  # positions of list columns
    jsons: tuple[int, ...]  # positions of JSON columns
    plain: tuple[str, ...]  # columns copied from a definition as they are
    list_names: tuple[str, ...]
    stream_id: str | None
    created_at: str | None
    updated_at: str | None


_LAYOUTS: dict[str, _Layout] = {}


def _layout(table: ProjectionTable) -> _Layout:
    # Looked up by name: hashing the frozen table spec (24 nested columns) costs more per row
    # than the conversion itself.
    layout = _LAYOUTS.get(table.name)
    if layout is None:
        layout = _LAYOUTS[table.name] = _compute_layout(table)
    return layout


def _compute_layout(table: ProjectionTable) -> _Layout:
    def named(kind: str) -> str | None:
        return next((c.name for c in table.columns if c.kind == kind), None)

    return _Layout(
        names=table.column_names,
        lists=tuple(i for i, c in enumerate(table.columns) if c.kind == "list"),
        jsons=tuple(i for i, c in enumerate(table.columns) if c.kind == "json"),
        plain=tuple(c.name for c in table.columns if c.kind in ("scalar", "json")),
        list_names=tuple(c.name for c in table.columns if c.kind == "list"),
        stream_id=named("stream_id"),
        created_at=named("created_at"),
        updated_at=named("updated_at"),
    )


def row_to_dict(table: ProjectionTable, row: Sequence[Any]) -> dict[str, Any]:
    """A projection row as a dict keyed by column name; lists as lists, JSON parsed."""
    layout = _layout(table)
    result = dict(zip(layout.names, row, strict=True))
    names = layout.names
    for i in layout.lists:
        result[names[i]] = list(row[i]) if row[i] is not None else []
    for i in layout.jsons:
        if isinstance(row[i], str):
            result[names[i]] = orjson.loads(row[i])
    return result


def definition_to_dict(
    table: ProjectionTable,
    stream_id: str,
    definition: dict[str, Any],
    created_at: datetime,
    updated_at: datetime,
) -> dict[str, Any]:
    """The row a stream's state makes, as `row_to_dict` would read it back from the table."""
    layout = _layout(table)
    result = dict.fromkeys(layout.names)
    get = definition.get
    for name in layout.plain:
        result[name] = get(name)
    for name in layout.list_names:
        result[name] = list(get(name) or ())
    if layout.stream_id is not None:
        result[layout.stream_id] = stream_id
    if layout.created_at is not None:
        result[layout.created_at] = created_at
    if layout.updated_at is not None:
        result[layout.updated_at] = updated_at
    return result
