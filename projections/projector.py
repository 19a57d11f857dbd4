"""The projector: keeps the v4 tables in step with the event log.

`apply` runs inside the caller's transaction, right after the append, and moves the read
position (`projection_checkpoint`) in the same transaction. A few events are applied with one
narrow statement each (DuckDB's `ON CONFLICT` path is slow, so an update touches only the
changed columns); a large batch deletes the touched rows and inserts their new state in one
set-based statement. `rebuild` drops the tables and refills them from the log; `check`
compares them with a fresh fold and lists every difference.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from events import EventStore, RecordedEvent, StreamTip, decode_payload
from projections.fold import apply_event, carried_time
from projections.rows import definition_to_dict, encode_value, row_to_dict, state_to_row
from projections.streams import KINDS, StreamKind
from projections.tables import (
    CREATE_CHECKPOINT_SQL,
    CREATE_SCHEMA_VERSION_SQL,
    SCHEMA_VERSION,
    Column,
    ProjectionTable,
)

CHECKPOINT = "registry"
_SET_BASED_THRESHOLD = 32
_ALL_POSITIONS = 2**62

# SQL below is assembled only from the fixed table specs in tables.py, never from input.


_TRANSFORM_TYPES = {"scalar": "VARCHAR", "list": ["VARCHAR"], "json": "JSON"}


def _payload_shape(table: ProjectionTable) -> str:
    """The json_transform() shape of a payload: parsed once into a STRUCT, not once a field."""
    definition = {c.name: _TRANSFORM_TYPES[c.kind] for c in table.definition_columns}
    return json.dumps({"definition": definition, "updated_at": "VARCHAR"})


def _column_sql(column: Column) -> str:
    if column.kind == "stream_id":
        return "stream_id"
    if column.kind == "created_at":
        return "_created_at"
    if column.kind == "updated_at":
        return "coalesce(TRY_CAST(p.updated_at AS TIMESTAMP), recorded_at)"
    value = f"p.definition.{column.name}"
    if column.kind == "list":
        return f"coalesce({value}, []::VARCHAR[])"
    if column.kind == "json":
        return f"CASE WHEN json_type({value}) = 'NULL' THEN NULL ELSE {value} END"
    return value


def _fold_sql(table: ProjectionTable, only_streams: bool) -> str:
    """Each stream's last event up to a position (unless a tombstone), as projection rows.

    Versions grow with positions inside a stream, so a stream's last event up to a point is its
    max(position) and its first its min(position); joining back on the primary key fetches
    only the winners' payloads, and json_transform parses each payload once.
    """
    stream_filter = " AND stream_id IN (SELECT unnest($streams))" if only_streams else ""
    columns = ", ".join(f"{_column_sql(c)} AS {c.name}" for c in table.columns)
    return (
        "WITH winners AS (SELECT max(position) AS last, min(position) AS first"  # noqa: S608 - fixed spec
        f" FROM event_log WHERE stream_type = $stream_type AND position <= $position{stream_filter}"
        " GROUP BY stream_id),"
        " picked AS (SELECT e.stream_id, e.recorded_at, e.event_schema AS _schema,"
        " e.position AS _position,"
        f" json_transform(e.payload, '{_payload_shape(table)}') AS p,"
        " coalesce(TRY_CAST(f.payload->>'$.created_at' AS TIMESTAMP), f.recorded_at) AS _created_at"
        " FROM winners w JOIN event_log e ON e.position = w.last"
        " JOIN event_log f ON f.position = w.first"
        " WHERE e.event_type <> $tombstone)"
        f" SELECT {columns}, _schema, _position, _created_at FROM picked"
    )


@dataclass(frozen=True)
class FoldQueries:
    """The set-based folds of one table, over the whole log or a list of streams."""

    select_current: str
    select_old_schema: str
    insert_current: str

    @classmethod
    def of(cls, table: ProjectionTable, only_streams: bool) -> FoldQueries:
        fold = _fold_sql(table, only_streams)
        names = ", ".join(table.column_names)
        select = f"SELECT {names} FROM ({fold}) WHERE _schema = $schema"  # noqa: S608 - fixed spec
        return cls(
            select_current=select,
            select_old_schema=(
                f"SELECT _position, _created_at FROM ({fold}) WHERE _schema <> $schema"  # noqa: S608 - fixed spec
            ),
            insert_current=f"INSERT INTO {table.name} {select}",
        )


_FOLDS = {
    (k.stream_type, only): FoldQueries.of(k.table, only) for k in KINDS for only in (False, True)
}
# Each live stream's last event up to a position (its payload as text) and its first event's
# time and `created_at` (which migration events carry).
_AS_OF_SQL = (
    "WITH winners AS (SELECT max(position) AS last, min(position) AS first FROM event_log"
    " WHERE stream_type = $stream_type AND position <= $position GROUP BY stream_id)"
    " SELECT e.stream_id, e.event_type, e.event_schema, e.recorded_at, e.payload,"
    " f.recorded_at, f.payload->>'$.created_at'"
    " FROM winners w JOIN event_log e ON e.position = w.last"
    " JOIN event_log f ON f.position = w.first"
    " WHERE e.event_type <> $tombstone"
)
UPDATE_CHECKPOINT_SQL = "UPDATE projection_checkpoint SET position = ? WHERE name = ?"


@dataclass(frozen=True)
class Difference:
    """One way the projection differs from a fresh fold of the log."""

    table: str
    key: tuple[Any, ...]
    column: str | None
    expected: Any
    actual: Any

    def __str__(self) -> str:
        where = "/".join(str(k) for k in self.key)
        if self.column is None:
            state = "missing from the table" if self.actual is None else "not in the log"
            return f"{self.table} {where}: row {state}"
        return (
            f"{self.table} {where}: {self.column} is {self.actual!r}, "
            f"the log says {self.expected!r}"
        )


def ensure_tables(conn: duckdb.DuckDBPyConnection, types: dict[str, str] | None = None) -> None:
    """Create the v4 tables, the checkpoint and `schema_version` if they do not exist (with
    some SQL types renamed for another engine)."""
    for kind in KINDS:
        conn.execute(kind.table.ddl(types))
    conn.execute(CREATE_CHECKPOINT_SQL)
    conn.execute(CREATE_SCHEMA_VERSION_SQL)
    conn.execute(
        "INSERT INTO projection_checkpoint SELECT ?, 0"
        " WHERE NOT EXISTS (SELECT 1 FROM projection_checkpoint WHERE name = ?)",
        [CHECKPOINT, CHECKPOINT],
    )
    conn.execute(
        "INSERT INTO schema_version SELECT ?, now()"
        " WHERE NOT EXISTS (SELECT 1 FROM schema_version WHERE version = ?)",
        [SCHEMA_VERSION, SCHEMA_VERSION],
    )


class Projector:
    """Applies events to the v4 tables on the store's connection."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.conn = store.conn
        self._kinds = {k.stream_type: k for k in KINDS}

    # -- keeping in step ----------------------------------------------------------------------

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        """Apply freshly appended events; call inside the append's transaction."""
        if not events:
            return
        projected = [e for e in events if e.stream_type in self._kinds]  # tokens are not
        if len(projected) > _SET_BASED_THRESHOLD:
            self._apply_set_based(projected)
        else:
            for event in projected:
                self._apply_one(event)
        self.conn.execute(UPDATE_CHECKPOINT_SQL, [events[-1].position, CHECKPOINT])

    def _apply_one(self, event: RecordedEvent) -> None:
        kind = self._kinds[event.stream_type]
        table = kind.table
        definition = event.payload.get("definition") or {}
        key = list(kind.key_of(event.stream_id, definition))
        if event.event_type == kind.tombstone:
            self.conn.execute(table.delete_by_key_sql, key)
            return
        if event.event_type == kind.event("Updated"):
            # Only the changed columns: a wide UPDATE of list columns costs several ms.
            changed = set(event.payload.get("changed") or ())
            columns = tuple(c for c in table.definition_columns if c.name in changed)
            values = [encode_value(c.kind, definition.get(c.name)) for c in columns]
            self.conn.execute(table.update_sql(columns), [*values, event.recorded_at, *key])
            return
        first = event
        if event.version > 1:  # re-created, restored or rolled back: the row may exist
            first = self.store.read_event(kind.stream_type, event.stream_id, 1) or event
            self.conn.execute(table.delete_by_key_sql, key)
        state = apply_event(kind, apply_event(kind, None, first), event)
        self.conn.execute(table.insert_sql, state_to_row(table, state))

    def row_after(
        self, event: RecordedEvent, tip: StreamTip | None = None
    ) -> dict[str, Any] | None:
        """The row an event just applied left in its table (None for a tombstone).

        Built from the event and the stream's tip read before it (its first event's time);
        only an adopted stream's `created_at` (which its first payload carries) is read from
        the table, in the append's own transaction. Equal to what a reader sees once committed.
        """
        kind = self._kinds[event.stream_type]
        if event.event_type == kind.tombstone:
            return None
        definition = event.payload.get("definition") or {}
        if event.version == 1 or "created_at" not in kind.table.column_names:
            created = carried_time(event.payload.get("created_at"), event.recorded_at)
        elif (
            tip is not None
            and tip.first_recorded_at is not None
            and (tip.first_event_type != kind.event("Adopted"))
        ):
            created = tip.first_recorded_at
        else:
            key = list(kind.key_of(event.stream_id, definition))
            [(created,)] = self.conn.execute(kind.table.created_at_by_key_sql, key).fetchall()
        return self._row(kind, event, definition, created)

    def row_from_log(self, event: RecordedEvent) -> dict[str, Any] | None:
        """The row an event left, rebuilt from the log alone (the answer a replay repeats)."""
        kind = self._kinds[event.stream_type]
        if event.event_type == kind.tombstone:
            return None
        first = event
        if event.version > 1:
            first = self.store.read_event(kind.stream_type, event.stream_id, 1) or event
        created = carried_time(first.payload.get("created_at"), first.recorded_at)
        return self._row(kind, event, event.payload.get("definition") or {}, created)

    @staticmethod
    def _row(
        kind: StreamKind, event: RecordedEvent, definition: dict[str, Any], created: Any
    ) -> dict[str, Any]:
        updated = carried_time(event.payload.get("updated_at"), event.recorded_at)
        return definition_to_dict(kind.table, event.stream_id, definition, created, updated)

    def current_row(self, kind: StreamKind, stream_id: str) -> dict[str, Any] | None:
        """A stream's row as the table holds it now (in the caller's transaction), or None."""
        rows = self.conn.execute(kind.table.select_by_key_sql, list(kind.split(stream_id)))
        found = rows.fetchall()
        return row_to_dict(kind.table, found[0]) if found else None

    def _apply_set_based(self, events: Sequence[RecordedEvent]) -> None:
        touched: dict[str, set[str]] = {}
        for event in events:
            touched.setdefault(event.stream_type, set()).add(event.stream_id)
        for stream_type, streams in touched.items():
            kind = self._kinds[stream_type]
            self.conn.execute(kind.table.delete_streams_sql, [sorted(streams)])
            self._insert_fold(kind, _ALL_POSITIONS, sorted(streams))

    # -- folding from the log -----------------------------------------------------------------

    def _insert_fold(self, kind: StreamKind, position: int, streams: list[str] | None) -> None:
        queries = _FOLDS[(kind.stream_type, streams is not None)]
        self.conn.execute(queries.insert_current, self._params(kind, position, streams))
        for row in self._old_schema_rows(kind, position, streams):
            self.conn.execute(kind.table.insert_sql, row)

    def _params(self, kind: StreamKind, position: int, streams: list[str] | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "stream_type": kind.stream_type,
            "position": position,
            "tombstone": kind.tombstone,
            "schema": kind.payload_schema,
        }
        if streams is not None:
            params["streams"] = streams
        return params

    def _old_schema_rows(
        self, kind: StreamKind, position: int, streams: list[str] | None
    ) -> list[list[Any]]:
        """Rows whose winning event has an older payload schema, upcast on the way."""
        queries = _FOLDS[(kind.stream_type, streams is not None)]
        found = self.conn.execute(
            queries.select_old_schema, self._params(kind, position, streams)
        ).fetchall()
        rows = []
        for event_position, created_at in found:
            event = self.store.read(after=event_position - 1, until_position=event_position)[0]
            state = replace(apply_event(kind, None, event), created_at=created_at)
            rows.append(state_to_row(kind.table, state))
        return rows

    def rows_at(self, kind: StreamKind, position: int) -> list[dict[str, Any]]:
        """Every live row of one kind as it stood after `position` (what a reader saw then).

        DuckDB picks each stream's last and first event up to the position; Python decodes
        the winners' payloads. (Casting 20-odd typed columns into Python objects costs more
        than parsing the JSON text, and old payload schemas are upcast on the way.)
        """
        found = self.conn.execute(
            _AS_OF_SQL,
            {"stream_type": kind.stream_type, "position": position, "tombstone": kind.tombstone},
        ).fetchall()
        return self._winners_to_rows(kind, found)

    def _winners_to_rows(self, kind: StreamKind, found: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows from each stream's winning event (`stream_id, event_type, schema,
        recorded_at, payload text, first event's time, carried created_at`)."""
        upcast = self.store.upcasters.upcast
        rows = []
        for stream_id, event_type, schema, recorded_at, text, first_at, created in found:
            _, payload = upcast(event_type, schema, decode_payload(text))
            rows.append(
                definition_to_dict(
                    kind.table,
                    stream_id,
                    payload.get("definition") or {},
                    carried_time(created, first_at),
                    carried_time(payload.get("updated_at"), recorded_at),
                )
            )
        return rows

    # -- rebuild and check --------------------------------------------------------------------

    def rebuild(self) -> int:
        """Drop the projection tables and refill them from the whole log; returns rows written."""
        with self.store.transaction():
            for kind in KINDS:
                self.conn.execute(kind.table.drop_sql)
            self._ensure_tables()
            head = self.store.head().position
            for kind in KINDS:
                self._insert_fold(kind, head, None)
            self.conn.execute(UPDATE_CHECKPOINT_SQL, [head, CHECKPOINT])
            return sum(self._count(kind.table) for kind in KINDS)

    def _ensure_tables(self) -> None:
        ensure_tables(self.conn)

    def _count(self, table: ProjectionTable) -> int:
        row = self.conn.execute(table.count_sql).fetchone()
        return int(row[0]) if row else 0

    def checkpoint(self) -> int:
        """The last log position the projection tables reflect."""
        row = self.conn.execute(
            "SELECT position FROM projection_checkpoint WHERE name = ?", [CHECKPOINT]
        ).fetchone()
        return int(row[0]) if row else 0

    def check(self) -> list[Difference]:
        """Every difference between the tables and a fresh fold of the log (empty if in step)."""
        head = self.store.head().position
        differences: list[Difference] = []
        if self.checkpoint() != head:
            differences.append(
                Difference(
                    "projection_checkpoint", (CHECKPOINT,), "position", head, self.checkpoint()
                )
            )
        for kind in KINDS:
            differences.extend(self._compare(kind, head))
        return differences

    def _compare(self, kind: StreamKind, head: int) -> list[Difference]:
        table = kind.table
        expected = {_key(table, r): r for r in self.rows_at(kind, head)}
        actual = {
            _key(table, r): r
            for r in (row_to_dict(table, t) for t in self.conn.execute(table.select_sql).fetchall())
        }
        found: list[Difference] = []
        for key in sorted(expected.keys() | actual.keys(), key=str):
            want, have = expected.get(key), actual.get(key)
            if want is None or have is None:
                found.append(Difference(table.name, key, None, want, have))
                continue
            found.extend(
                Difference(table.name, key, name, want[name], have[name])
                for name in table.column_names
                if want[name] != have[name]
            )
        return found


def _key(table: ProjectionTable, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in table.key)
