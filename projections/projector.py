"""The projector: keeps the v4 tables in step with the event log, whatever the engine.

`apply` runs inside the caller's transaction, right after the append, and moves the read
position (`projection_checkpoint`) in the same transaction. A few events are applied with one
narrow statement each (an update touches only the changed columns: `ON CONFLICT` and wide
updates of list columns are slow); a large batch deletes the touched rows and inserts their
new state, folded the engine's fastest way (`_insert_fold`). `rebuild` drops the tables and
refills them from the log; `check` compares them with a fresh fold and lists every difference.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from events import Connection, EventStore, RecordedEvent, StreamTip, decode_payload
from projections.fold import apply_event, carried_time
from projections.rows import definition_to_dict, encode_value, row_to_dict, state_to_row
from projections.streams import KINDS, StreamKind
from projections.tables import (
    CREATE_CHECKPOINT_SQL,
    CREATE_SCHEMA_VERSION_SQL,
    SCHEMA_VERSION,
    ProjectionTable,
)

CHECKPOINT = "registry"
_SET_BASED_THRESHOLD = 32
ALL_POSITIONS = 2**62
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


def ensure_tables(conn: Connection, types: dict[str, str] | None = None) -> None:
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


class Projector(ABC):
    """Applies events to the v4 tables on the store's connection; each engine subclasses it
    with its way of folding many streams at once (`_insert_fold`, `rows_at`) and its column
    types (`_ensure_tables`)."""

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
            self._apply_few(projected)
        self.conn.execute(UPDATE_CHECKPOINT_SQL, [events[-1].position, CHECKPOINT])

    def _apply_few(self, events: Sequence[RecordedEvent]) -> None:
        """One statement per event, except that updates of one stream in a row become one
        (each payload holds the whole definition: the last one's values, every changed
        column; a group commit's batch often updates one metric several times)."""
        updates: dict[str, list[RecordedEvent]] = {}
        for event in events:
            if event.event_type == self._kinds[event.stream_type].event("Updated"):
                updates.setdefault(event.stream_id, []).append(event)
                continue
            if (run := updates.pop(event.stream_id, None)) is not None:
                self._update(run)
            self._apply_one(event)
        for run in updates.values():
            self._update(run)

    def _update(self, run: Sequence[RecordedEvent]) -> None:
        """Updates of one stream, in order: only the changed columns, to the last values (a
        wide UPDATE of list columns costs several ms)."""
        last = run[-1]
        kind = self._kinds[last.stream_type]
        table = kind.table
        definition = last.payload.get("definition") or {}
        changed = {name for event in run for name in event.payload.get("changed") or ()}
        columns = tuple(c for c in table.definition_columns if c.name in changed)
        values = [encode_value(c.kind, definition.get(c.name)) for c in columns]
        key = list(kind.key_of(last.stream_id, definition))
        self.conn.execute(table.update_sql(columns), [*values, last.recorded_at, *key])

    def _apply_one(self, event: RecordedEvent) -> None:
        kind = self._kinds[event.stream_type]
        table = kind.table
        definition = event.payload.get("definition") or {}
        key = list(kind.key_of(event.stream_id, definition))
        if event.event_type == kind.tombstone:
            self.conn.execute(table.delete_by_key_sql, key)
            return
        if event.event_type == kind.event("Updated"):
            self._update([event])
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
            self._insert_fold(kind, ALL_POSITIONS, sorted(streams))

    # -- folding from the log -----------------------------------------------------------------

    @abstractmethod
    def _insert_fold(self, kind: StreamKind, position: int, streams: list[str] | None) -> None:
        """Insert the fold of some streams (None: all) up to `position`; their rows were
        deleted first, or the tables dropped."""

    @abstractmethod
    def rows_at(self, kind: StreamKind, position: int) -> list[dict[str, Any]]:
        """Every live row of one kind as it stood after `position` (what a reader saw then)."""

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

    @abstractmethod
    def _ensure_tables(self) -> None:
        """Create the tables (after `rebuild` dropped them) in the engine's types."""

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
