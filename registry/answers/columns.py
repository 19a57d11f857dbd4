"""Answers about column metadata and the tables it describes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from projections import column_stream_id
from registry import queries, sight
from registry.answers.metrics import metrics_reading, table_map, written
from registry.errors import NotFoundError
from registry.shape import json_object, jsonable
from registry.subjects import COLUMN
from storage.session import Registry

if TYPE_CHECKING:  # commands load pydantic: writes import them when called
    from registry.commands import WriteContext

# -- columns ------------------------------------------------------------------------------------


def column(reg: Registry, table_id: str, column_name: str) -> dict[str, Any]:
    """A column's current metadata and version; NotFoundError if it has none."""
    stream_id = column_stream_id(table_id, column_name)
    missing = f"column {table_id}.{column_name} has no metadata"
    if not sight.sees_table(reg, table_id):
        raise NotFoundError(missing)
    with reg.store.snapshot():
        row = queries.get_column(reg, table_id, column_name)
        if row is None:
            raise queries.not_live(reg, COLUMN, stream_id, missing)
        version = reg.store.stream_version(COLUMN.kind.stream_type, stream_id)
    return json_object({**row, "version": version})


def column_list(
    reg: Registry,
    table_id: str,
    as_of: datetime | None = None,
    at_position: int | None = None,
) -> dict[str, Any]:
    """Every described column of a table with its version (now, or as of a time/position);
    none for a table the caller may not see."""
    if not sight.sees_table(reg, table_id):
        return {"table_id": table_id, "columns": [], "count": 0}
    with reg.store.snapshot():
        if as_of is None and at_position is None:
            position = None
            rows = queries.list_columns(reg, table_id)
        else:
            position = queries.resolve_position(reg, as_of, at_position)
            rows = [
                r
                for r in queries.columns_as_of(reg, at_position=position)
                if r["table_id"] == table_id
            ]
        versions = reg.store.versions_at(COLUMN.kind.stream_type, position)
    columns = [
        {**r, "version": versions.get(column_stream_id(table_id, r["column_name"]), 0)}
        for r in rows
    ]
    return {"table_id": table_id, "columns": jsonable(columns), "count": len(columns)}


def describe_table(reg: Registry, table_id: str) -> dict[str, Any]:
    """What the registry knows of a table: its described columns and the metrics that read
    it (as `table_name` or in `tables`)."""
    columns = column_list(reg, table_id)
    metrics = metrics_reading(reg, table_id)
    return {"table_id": table_id, "columns": columns["columns"], "metrics": metrics["metrics"]}


def table_index(reg: Registry) -> dict[str, Any]:
    """Every table the registry knows, by name: a metric reads it or a column of it is
    described; with how many metrics read it and how many of its columns are described."""
    with reg.store.snapshot():
        readers = table_map(reg)
        described: dict[str, int] = {}
        for row in queries.list_columns(reg):
            described[row["table_id"]] = described.get(row["table_id"], 0) + 1
    tables = sorted(set(readers) | set(described))
    return {
        "tables": [
            {"table": t, "metrics": len(readers.get(t, [])), "columns": described.get(t, 0)}
            for t in tables
        ]
    }


def table_record(reg: Registry, table_id: str) -> dict[str, Any]:
    """A table as a reader studies it: each described column with its metadata, version and
    every version of its history (newest first), and the metrics that read the table."""
    with reg.store.snapshot():
        described = describe_table(reg, table_id)
        for shown in described["columns"]:
            entries = queries.history(reg, COLUMN, column_stream_id(table_id, shown["column_name"]))
            shown["versions"] = jsonable([e.as_dict() for e in reversed(entries)])
        described["deleted"] = jsonable(_deleted_columns(reg, table_id))
    return described


def _deleted_columns(reg: Registry, table_id: str) -> list[dict[str, Any]]:
    """The columns of a table whose metadata is deleted now: name, version, who, when."""
    if not sight.sees_table(reg, table_id):
        return []
    kind = COLUMN.kind
    head = reg.store.head().position
    tombstones = reg.store.read(
        0, head, None, stream_type=kind.stream_type, event_type=kind.tombstone
    )
    mine = {e.stream_id: e for e in tombstones if kind.split(e.stream_id)[0] == table_id}
    tips = reg.store.stream_tips(kind.stream_type, list(mine))
    return [
        {
            "column_name": kind.split(stream_id)[1],
            "version": event.version,
            "deleted_by": event.actor,
            "deleted_at": event.recorded_at,
        }
        for stream_id, event in sorted(mine.items())
        if (tip := tips.get(stream_id)) is not None and tip.version == event.version
    ]


def column_history(reg: Registry, table_id: str, column_name: str) -> dict[str, Any]:
    """Every version of a column's metadata."""
    stream_id = column_stream_id(table_id, column_name)
    if not sight.sees_table(reg, table_id):
        raise NotFoundError(f"column {stream_id!r} has no history")
    entries = queries.history(reg, COLUMN, stream_id)
    return {
        "table_id": table_id,
        "column_name": column_name,
        "versions": jsonable([e.as_dict() for e in entries]),
    }


def put_column(
    reg: Registry, table_id: str, column_name: str, fields: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """Create or replace a column's metadata; its answer."""
    from registry import commands

    whole = {**fields, "table_id": table_id, "column_name": column_name}
    return written(commands.save_column(reg, whole, ctx))


def set_column(
    reg: Registry, table_id: str, column_name: str, fields: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """Set some fields of a column's metadata (describing it first if new); its answer."""
    from registry import commands

    return written(commands.set_column(reg, table_id, column_name, fields, ctx))


def column_diff(
    reg: Registry,
    table_id: str,
    column_name: str,
    from_version: int | None = None,
    to_version: int | None = None,
) -> dict[str, Any]:
    """Field-level changes of a column's metadata between two versions (default: the
    previous one and the current one)."""
    stream_id = column_stream_id(table_id, column_name)
    if not sight.sees_table(reg, table_id):
        raise NotFoundError(f"column {stream_id!r} has no history")
    return json_object(queries.diff(reg, COLUMN, stream_id, from_version, to_version).as_dict())


def restore_column(
    reg: Registry, table_id: str, column_name: str, ctx: WriteContext
) -> dict[str, Any]:
    """Bring back a column's deleted metadata as it was; its answer."""
    from registry import commands

    return written(commands.restore_column(reg, table_id, column_name, ctx))


def roll_back_column(
    reg: Registry, table_id: str, column_name: str, to_version: int, ctx: WriteContext
) -> dict[str, Any]:
    """Make an earlier version of a column's metadata current again (a new event)."""
    from registry import commands

    return written(commands.roll_back_column(reg, table_id, column_name, to_version, ctx))


def delete_column(
    reg: Registry, table_id: str, column_name: str, ctx: WriteContext
) -> dict[str, Any]:
    """Delete a column's metadata: `{"status": "deleted", "id", "version"}`."""
    from registry import commands

    return written(commands.delete_column(reg, table_id, column_name, ctx))


# The fields `da columns import` reads, in the order an export writes them.
COLUMN_FILE_FIELDS = ("table_id", "column_name", "basetype", "description", "confidence", "source")


def imported_columns(reg: Registry, path: Path, ctx: WriteContext) -> dict[str, Any]:
    """Describe many columns from a YAML file, as one atomic batch: how many were written
    and how many were already as described. With an idempotency key, a retry gets the first
    answer (and writes nothing); the key used for other entries is refused."""
    from dataclasses import replace

    from registry import commands, replies
    from registry.interchange.yaml_io import read_column_entries

    entries = read_column_entries(path)
    key = ctx.idempotency_key
    digest = replies.request_digest({"columns": entries, "actor": ctx.actor}) if key else ""

    def work() -> dict[str, Any]:
        if key is not None and (first := replies.recall(reg.conn, key, digest)) is not None:
            return dict(first)
        why = ctx.reason or f"column import of {path.name}"
        written = commands.import_columns(
            reg, entries, replace(ctx, idempotency_key=None, reason=why)
        )
        proposal = written[0].proposal if written else None
        answer: dict[str, Any] = {
            "written": 0 if proposal else len(written),
            "unchanged": len(entries) - len(written),
        }
        if proposal is not None:
            answer["proposal"] = jsonable(proposal)
        if key is not None:
            replies.remember(reg.conn, key, digest, answer)
        return answer

    return commands.run_atomically(reg, work, "column import")


def column_file(reg: Registry, table_id: str | None = None) -> dict[str, Any]:
    """Column metadata of one table (or all) with the fields `imported_columns` reads."""
    rows = queries.list_columns(reg, table_id)
    return {"columns": [{k: jsonable(r[k]) for k in COLUMN_FILE_FIELDS} for r in rows]}
