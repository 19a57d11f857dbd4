"""Adopting a database written by the earlier, non-event-sourced code.

Such a database has `metric_definitions` / `column_metadata` rows (schema v3, or v4 filled by
direct SQL) and no events. On open, each old table is renamed to `legacy_<table>_v<N>` and kept
as it was; every one of its rows becomes a first event (`...Adopted`, actor `migration`, its
original `source` and timestamps kept), and the v4 tables are projected from those events.
Nothing in the old tables is lost, and each row's history starts there.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from events import Connection, EventStore
from projections import COLUMNS, KINDS, METRICS, Projector, StreamKind, column_stream_id
from projections.tables import quote_identifier

if TYPE_CHECKING:
    from events.envelope import NewEvent

MIGRATION_ACTOR = "migration"
MIGRATION = "migration"  # the door and the writer of an adoption

LegacyTable = tuple[StreamKind, str]

_COLUMNS_SQL = (
    "SELECT column_name FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"
)
_TABLE_EXISTS_SQL = (
    "SELECT count(*) FROM information_schema.tables"
    " WHERE table_schema = current_schema() AND table_name = ?"
)


def set_aside_legacy_tables(conn: Connection) -> list[LegacyTable]:
    """Rename old projection tables of a database with no events; returns what was renamed."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM event_log)").fetchone()
    if row and row[0]:
        return []
    found: list[LegacyTable] = []
    for kind in KINDS:
        table = kind.table
        columns = [r[0] for r in conn.execute(_COLUMNS_SQL, [table.name]).fetchall()]
        if not columns:
            continue
        counted = conn.execute(table.count_sql).fetchone()
        if (counted and counted[0] == 0) and columns == list(table.column_names):
            continue  # an empty v4 table: nothing to adopt
        version = 4 if set(table.column_names) <= set(columns) else 3
        backup = _free_name(conn, f"legacy_{table.name}_v{version}")
        rename_sql = f"ALTER TABLE {table.name} RENAME TO {quote_identifier(backup)}"
        conn.execute(rename_sql)
        found.append((kind, backup))
    return found


def _free_name(conn: Connection, wanted: str) -> str:
    name, n = wanted, 1
    while (row := conn.execute(_TABLE_EXISTS_SQL, [name]).fetchone()) and row[0]:
        n += 1
        name = f"{wanted}_{n}"
    return name


def adopt_legacy_tables(store: EventStore, projector: Projector, legacy: list[LegacyTable]) -> int:
    """Append one adoption event per old row and project them; returns how many were adopted."""
    batch_id = f"migration-{uuid.uuid4()}"
    events: list[NewEvent] = []
    for kind, backup in legacy:
        read_sql = f"SELECT * FROM {quote_identifier(backup)}"  # noqa: S608 - a name chosen here
        cursor: Any = store.conn.execute(read_sql)  # a DB-API cursor: it has a description
        names = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            events.append(_adoption_event(kind, row, batch_id))
    with store.transaction():
        recorded = store.append(events)
        projector.apply(recorded)
    return len(recorded)


def _adoption_event(kind: StreamKind, row: dict[str, Any], batch_id: str) -> NewEvent:
    definition = _legacy_definition(kind, row)
    if kind is METRICS:
        stream_id = str(row.get("id") or f"{definition['category']}/{definition['name']}")
    else:
        stream_id = column_stream_id(definition["table_id"], definition["column_name"])
    payload: dict[str, Any] = {
        "definition": definition,
        "changed": sorted(k for k, v in definition.items() if v not in (None, [], {})),
        "door": MIGRATION,
    }
    for stamp in ("created_at", "updated_at"):
        if isinstance(row.get(stamp), datetime):
            payload[stamp] = row[stamp].isoformat()
    from events.envelope import NewEvent  # pydantic: only when there is something to adopt

    return NewEvent(
        stream_type=kind.stream_type,
        stream_id=stream_id,
        event_type=kind.event("Adopted"),
        event_schema=kind.payload_schema,
        payload=payload,
        actor=MIGRATION_ACTOR,
        reason="adopted from a database written before the event log",
        batch_id=batch_id,
        source=MIGRATION,  # the writer of the adoption; the definition keeps its own source
    )


def _legacy_definition(kind: StreamKind, row: dict[str, Any]) -> dict[str, Any]:
    """An old row as a definition, leniently: nothing is dropped for being malformed."""
    definition: dict[str, Any] = {}
    for column in kind.table.definition_columns:
        value = row.get(column.name)
        if column.kind == "list":
            definition[column.name] = _as_list(value)
        elif column.kind == "json":
            definition[column.name] = _as_json(value)
        else:
            definition[column.name] = None if value is None else str(value)
    if kind is METRICS:
        category, _, name = str(row.get("id") or "").partition("/")
        definition["category"] = definition["category"] or category
        definition["name"] = definition["name"] or name
        definition["display_name"] = definition["display_name"] or definition["name"]
        definition["sql"] = definition["sql"] or ""
        definition["type"] = definition["type"] or "sum"
        definition["grain"] = definition["grain"] or "monthly"
    if kind is COLUMNS:
        definition["confidence"] = definition["confidence"] or "manual"
    definition["source"] = definition["source"] or "manual"
    return definition


def _as_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # kept as the text it was rather than dropped


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [part.strip() for part in value.split(",") if part.strip()]
        return [str(v) for v in parsed] if isinstance(parsed, list) else [value]
    return [str(v) for v in value]
