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
from datetime import datetime
from typing import Any

from events import Connection, EventStore, RecordedEvent, StreamTip, decode_payload
from projections.fold import apply_event, carried_time, effective_time, projects
from projections.rows import definition_to_dict, encode_value, row_to_dict, state_to_row
from projections.streams import KINDS, StreamKind, row_id
from projections.tables import (
    CREATE_CHECKPOINT_SQL,
    CREATE_DATES_SQL,
    CREATE_NAMES_SQL,
    CREATE_SCHEMA_VERSION_SQL,
    DATES_TABLE,
    INSERT_DATE_SQL,
    NAMES_TABLE,
    SCHEMA_VERSION,
    SELECT_DATES_SQL,
    SELECT_NAMES_SQL,
    ProjectionTable,
)

CHECKPOINT = "registry"
_SET_BASED_THRESHOLD = 32
ALL_POSITIONS = 2**62
UPDATE_CHECKPOINT_SQL = "UPDATE projection_checkpoint SET position = ? WHERE name = ?"
SETTLE_DUE_SQL = (
    "UPDATE effective_dates SET pending = false"
    " WHERE stream_type = ? AND stream_id = ? AND pending AND effective_from <= ?"
)


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


def _sql_names(names: Any) -> str:
    """Fixed names (from projections.streams) as an SQL list of strings."""
    return "(" + ", ".join(f"'{n}'" for n in names) + ")"


@dataclass(frozen=True)
class DatesSql:
    """An engine's SQL for the `effective_dates` rows the log makes: the rows (`select`), and
    the statement that fills the table with them (`fill`)."""

    select: str

    @property
    def fill(self) -> str:
        return "INSERT INTO effective_dates " + self.select


def dates_from_log_sql(effective: str) -> DatesSql:
    """The `effective_dates` rows the log makes, given the engine's SQL for an event's own
    effective time (from its payload; NULL if it carries none)."""
    scheduled = _sql_names(k.scheduled for k in KINDS)
    took = _sql_names(k.took_effect for k in KINDS)
    types = _sql_names(k.stream_type for k in KINDS)
    return DatesSql(
        "SELECT position, stream_type, stream_id, effective,"  # noqa: S608 - fixed names
        f" event_type IN {scheduled} AND effective > recorded_at"
        " AND NOT EXISTS (SELECT 1 FROM event_log t"
        " WHERE t.stream_type = x.stream_type AND t.stream_id = x.stream_id"
        f" AND t.event_type IN {took} AND t.position > x.position"
        " AND t.recorded_at >= x.effective)"
        " FROM (SELECT position, stream_type, stream_id, event_type, recorded_at,"
        f" {effective} AS effective FROM event_log WHERE stream_type IN {types}) x"
        " WHERE effective IS NOT NULL"
    )


def ensure_tables(conn: Connection, dates: DatesSql, types: dict[str, str] | None = None) -> None:
    """Create the v4 tables, the checkpoint, `schema_version`, the effective dates and the
    metric names if they do not exist (with some SQL types renamed for another engine); the
    effective dates of a database from before them are filled from the log."""
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [DATES_TABLE]
    ).fetchone()
    conn.execute(CREATE_DATES_SQL)
    conn.execute(CREATE_NAMES_SQL)
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
    if not (found and found[0]):
        conn.execute(dates.fill)


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
        self._index(projected)
        if len(projected) > _SET_BASED_THRESHOLD:
            self._apply_set_based(projected)
        else:
            self._apply_few(projected)
        self.conn.execute(UPDATE_CHECKPOINT_SQL, [events[-1].position, CHECKPOINT])

    def _index(self, events: Sequence[RecordedEvent]) -> None:
        """Keep the tables beside the log in step: the effective dates events carry (a
        change coming into force settles the scheduled ones of its stream that were due by
        then), and the names of a renamed metric."""
        for event in events:
            payload = event.payload
            kind = self._kinds[event.stream_type]
            if event.event_type == kind.event("Renamed"):
                self._name(event.stream_id, payload)
            if event.event_type == kind.took_effect:
                self.conn.execute(
                    SETTLE_DUE_SQL, [event.stream_type, event.stream_id, event.recorded_at]
                )
            if "effective_from" not in payload and "updated_at" not in payload:
                continue
            effective = effective_time(payload, event.recorded_at)
            pending = event.event_type == kind.scheduled and effective > event.recorded_at
            self.conn.execute(
                INSERT_DATE_SQL,
                [event.position, event.stream_type, event.stream_id, effective, pending],
            )

    def _name(self, stream_id: str, payload: dict[str, Any]) -> None:
        """Keep `metric_names` in step with a rename: the old id stays an alias of the
        stream, the new one is its current id."""
        old, new = payload["renamed_from"], payload["renamed_to"]
        self.conn.execute(
            "UPDATE metric_names SET current = false WHERE stream_id = ?", [stream_id]
        )
        for name_id, current in ((old, False), (new, True)):
            self.conn.execute("DELETE FROM metric_names WHERE name_id = ?", [name_id])
            self.conn.execute(
                "INSERT INTO metric_names VALUES (?, ?, ?)", [name_id, stream_id, current]
            )

    def _apply_few(self, events: Sequence[RecordedEvent]) -> None:
        """One statement per event, except that updates of one stream in a row become one
        (each payload holds the whole definition: the last one's values, every changed
        column; a group commit's batch often updates one metric several times)."""
        updates: dict[str, list[RecordedEvent]] = {}
        for event in events:
            if not projects(self._kinds[event.stream_type], event):
                continue
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
        key = list(kind.key_of(row_id(last.stream_id, last.payload), definition))
        self.conn.execute(table.update_sql(columns), [*values, last.recorded_at, *key])

    def _apply_one(self, event: RecordedEvent) -> None:
        kind = self._kinds[event.stream_type]
        table = kind.table
        definition = event.payload.get("definition") or {}
        key = list(kind.key_of(row_id(event.stream_id, event.payload), definition))
        if kind.removes(event.event_type, event.payload):
            self.conn.execute(table.delete_by_key_sql, key)
            return
        if event.event_type == kind.event("Updated"):
            self._update([event])
            return
        first = event
        if event.version > 1:  # re-created, restored or rolled back: the row may exist
            first = self.store.read_event(kind.stream_type, event.stream_id, 1) or event
            self.conn.execute(table.delete_by_key_sql, key)
        if "renamed_from" in event.payload:  # the row moves to its new id
            self.conn.execute(table.delete_by_key_sql, [event.payload["renamed_from"]])
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
        if kind.removes(event.event_type, event.payload):
            return None
        if not projects(kind, event):  # scheduled: the row stays as it was
            return self.current_row(kind, event.stream_id)
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
            key = list(kind.key_of(row_id(event.stream_id, event.payload), definition))
            [(created,)] = self.conn.execute(kind.table.created_at_by_key_sql, key).fetchall()
        return self._row(kind, event, definition, created)

    def row_from_log(self, event: RecordedEvent) -> dict[str, Any] | None:
        """The row an event left, rebuilt from the log alone (the answer a replay repeats)."""
        kind = self._kinds[event.stream_type]
        if kind.removes(event.event_type, event.payload):
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
        shown = row_id(event.stream_id, event.payload)
        return definition_to_dict(kind.table, shown, definition, created, updated)

    def current_row(self, kind: StreamKind, stream_id: str) -> dict[str, Any] | None:
        """A stream's row as the table holds it now (in the caller's transaction), or None."""
        rows = self.conn.execute(kind.table.select_by_key_sql, list(kind.split(stream_id)))
        found = rows.fetchall()
        return row_to_dict(kind.table, found[0]) if found else None

    def _apply_set_based(self, events: Sequence[RecordedEvent]) -> None:
        touched: dict[str, set[str]] = {}
        rows: dict[str, set[str]] = {}  # the row keys (as stream ids) they may have had
        for event in events:
            touched.setdefault(event.stream_type, set()).add(event.stream_id)
            kind = self._kinds[event.stream_type]
            keys = rows.setdefault(event.stream_type, set())
            definition = event.payload.get("definition") or {}
            keys.add(":".join(kind.key_of(row_id(event.stream_id, event.payload), definition)))
            if "renamed_from" in event.payload:
                keys.add(event.payload["renamed_from"])
        for stream_type, streams in touched.items():
            kind = self._kinds[stream_type]
            gone = sorted(streams | rows[stream_type])
            self.conn.execute(kind.table.delete_streams_sql, [gone])
            self._insert_fold(kind, ALL_POSITIONS, sorted(streams))

    # -- folding from the log -----------------------------------------------------------------

    @abstractmethod
    def _insert_fold(self, kind: StreamKind, position: int, streams: list[str] | None) -> None:
        """Insert the fold of some streams (None: all) up to `position`; their rows were
        deleted first, or the tables dropped."""

    @abstractmethod
    def rows_at(
        self, kind: StreamKind, position: int, valid_at: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Every live row of one kind as it stood after `position` (what a reader saw then);
        with `valid_at`, the definitions in force at that business time as known then."""

    def _winners_to_rows(self, kind: StreamKind, found: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows from each stream's winning event (`stream_id, event_type, schema,
        recorded_at, payload text, first event's time, carried created_at, version`), each
        with the `version` of the event that made it."""
        upcast = self.store.upcasters.upcast
        rows = []
        for stream_id, event_type, schema, recorded_at, text, first_at, created, version in found:
            _, payload = upcast(event_type, schema, decode_payload(text))
            row = definition_to_dict(
                kind.table,
                row_id(stream_id, payload),
                payload.get("definition") or {},
                carried_time(created, first_at),
                carried_time(payload.get("updated_at"), recorded_at),
            )
            row["version"] = version
            rows.append(row)
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
            self.fill_dates()
            self.fill_names()
            return sum(self._count(kind.table) for kind in KINDS)

    # The effective dates the log's payloads carry, as `effective_dates` rows (engine SQL:
    # position, stream_type, stream_id, effective_from, pending).
    dates_sql: DatesSql

    def fill_dates(self) -> None:
        """Refill `effective_dates` from the log (a scheduled change counts as settled once a
        later TookEffect of its stream was recorded at or after its date)."""
        self.conn.execute("DELETE FROM effective_dates")
        self.conn.execute(self.dates_sql.fill)

    @abstractmethod
    def _ensure_tables(self) -> None:
        """Create the tables (after `rebuild` dropped them) in the engine's types."""

    def _count(self, table: ProjectionTable) -> int:
        row = self.conn.execute(table.count_sql).fetchone()
        return int(row[0]) if row else 0

    def due(self, now: datetime) -> list[tuple[str, str]]:
        """The streams with a scheduled change whose date has come by `now`, not yet settled."""
        rows = self.conn.execute(
            "SELECT DISTINCT stream_type, stream_id FROM effective_dates"
            " WHERE pending AND effective_from <= ? ORDER BY 1, 2",
            [now],
        ).fetchall()
        return [(str(t), str(i)) for t, i in rows]

    def settle_due(self, stream_type: str, stream_id: str, now: datetime) -> None:
        """Mark a stream's scheduled changes due by `now` as brought in (or superseded)."""
        self.conn.execute(SETTLE_DUE_SQL, [stream_type, stream_id, now])

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
        differences.extend(self._compare_dates())
        differences.extend(self._compare_names())
        return differences

    def _renames(self) -> list[RecordedEvent]:
        kind = self._kinds["metric"]
        return self.store.read(stream_type=kind.stream_type, event_type=kind.event("Renamed"))

    def _names_from_log(self) -> dict[str, tuple[str, bool]]:
        """`metric_names` as the log's renames make it: each id, its stream, and whether it
        is the stream's id now."""
        names: dict[str, tuple[str, bool]] = {}
        for event in self._renames():
            for name_id, (stream_id, _) in list(names.items()):
                if stream_id == event.stream_id:
                    names[name_id] = (stream_id, False)
            names[event.payload["renamed_from"]] = (event.stream_id, False)
            names[event.payload["renamed_to"]] = (event.stream_id, True)
        return names

    def fill_names(self) -> None:
        """Refill `metric_names` from the log's renames."""
        self.conn.execute("DELETE FROM metric_names")
        for name_id, (stream_id, current) in self._names_from_log().items():
            self.conn.execute(
                "INSERT INTO metric_names VALUES (?, ?, ?)", [name_id, stream_id, current]
            )

    def _compare_names(self) -> list[Difference]:
        expected = self._names_from_log()
        rows = self.conn.execute(SELECT_NAMES_SQL).fetchall()
        have = {str(n): (str(s), bool(c)) for n, s, c in rows}
        return [
            Difference(NAMES_TABLE, (name,), "stream_id", expected.get(name), have.get(name))
            for name in sorted(expected.keys() | have.keys())
            if expected.get(name) != have.get(name)
        ]

    def _compare_dates(self) -> list[Difference]:
        expected = {
            r[0]: tuple(r[1:4]) for r in self.conn.execute(self.dates_sql.select).fetchall()
        }
        actual = {r[0]: tuple(r[1:4]) for r in self.conn.execute(SELECT_DATES_SQL).fetchall()}
        return [
            Difference(
                DATES_TABLE,
                (position,),
                None if want is None or have is None else "effective_from",
                want,
                have,
            )
            for position in sorted(expected.keys() | actual.keys())
            if (want := expected.get(position)) != (have := actual.get(position))
        ]

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
