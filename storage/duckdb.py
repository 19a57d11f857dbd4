"""The DuckDB engine: a registry in one DuckDB file (the default), or in memory.

Everything that is DuckDB's own lives here: connecting (a file readable by its owner only,
and what a lock held by another process looks like), the log's statements in DuckDB's
dialect, the store's transaction hooks and its columnar (Arrow) insert, the projector's
set-based fold (json_transform), and how a server leases cursors of its one connection.
DuckDB lets one process write a file, so nothing is followed from other processes.
"""

from __future__ import annotations

import binascii
import contextlib
import glob
import hashlib
import json
import os
import queue
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from events.chain import (
    BAD_HASH,
    BROKEN_LINK,
    GENESIS_HASH,
    MISSING,
    PAYLOAD_PROBLEM,
    Problem,
    canonical_sql,
    hash_sql_expr,
    verify_chain_sql,
)
from events.connection import Connection
from events.errors import (
    ConcurrentWriteError,
    DatabaseLockedError,
    DatabaseMissingError,
    DatabaseUnavailableError,
    StorageFailedError,
)
from events.reading import STREAM_FILTER, SUMMARY_COLUMNS
from events.schema import EVENT_COLUMNS, INSERT_EVENT_SQL
from events.store import EventStore, StoreSql, ensure_event_log
from projections.fold import apply_event
from projections.projector import Projector, dates_from_log_sql, ensure_tables
from projections.rows import state_to_row
from projections.streams import KINDS, StreamKind
from projections.tables import Column, ProjectionTable
from storage.engine import Engine, Leases, WriterKey
from storage.migration import LegacyTable, set_aside_legacy_tables

MEMORY = ":memory:"
_OWNER_ONLY = 0o077  # umask while the registry creates its files: readable by the owner only
# Above this many events an append goes through one columnar (Arrow) insert.
_BULK_THRESHOLD = 16
_ROW_MARKS = "(" + ", ".join("?" for _ in EVENT_COLUMNS) + ")"
_DATABASE_SQL = "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
_INSTANCE_SQL = (
    "CREATE TABLE IF NOT EXISTS registry_instance (id VARCHAR);"
    " INSERT INTO registry_instance SELECT ? WHERE NOT EXISTS (SELECT 1 FROM registry_instance);"
)


# -- the log ---------------------------------------------------------------------------------

# The chain hash in DuckDB's functions (tests/events checks it agrees with Python's).
HASH_SQL_EXPR = hash_sql_expr(
    sha256="sha256({})", epoch_us="epoch_us(recorded_at)", strlen="strlen"
)


class DuckDBStoreSql(StoreSql):
    """The log's statements in DuckDB's dialect."""

    summaries = (
        "SELECT "  # noqa: S608 - fixed column names
        + ", ".join("json_extract(payload, ?)" if c == "payload" else c for c in SUMMARY_COLUMNS)
        + " FROM event_log"
        + STREAM_FILTER
    )

    @staticmethod
    def summary_paths(keys: Any) -> list[Any]:
        return [f'$."{key}"' for key in keys]

    # The columns of each stream's row with the highest position, in one pass.
    last_events = (
        "SELECT "  # noqa: S608 - fixed column names
        + ", ".join(
            "[]::VARCHAR[]" if c == "payload" else f"arg_max({c}, position)"
            for c in SUMMARY_COLUMNS
        )
        + " FROM event_log WHERE stream_type = ? AND stream_id IN (SELECT unnest(?::VARCHAR[]))"
        " AND position <= ? GROUP BY stream_id"
    )
    # arg_max over the stream index: ~3x cheaper in DuckDB than ORDER BY version DESC LIMIT 1.
    stream_tip = (
        "SELECT max(version), arg_max(event_type, version), arg_max(event_schema, version),"
        " arg_max(payload, version), min(recorded_at), arg_min(event_type, version)"
        " FROM event_log WHERE stream_id = ? AND stream_type = ?"
    )
    # A literal IN list: DuckDB probes the stream index once (an unnest() list costs more).
    tips_of_id = (
        "SELECT stream_type, max(version), arg_max(event_type, version),"
        " arg_max(event_schema, version), arg_max(payload, version), min(recorded_at),"
        " arg_min(event_type, version)"
        " FROM event_log WHERE stream_id = ? AND stream_type IN ({types}) GROUP BY stream_type"
    )
    verify_chain = verify_chain_sql(HASH_SQL_EXPR)


class DuckDBEventStore(EventStore):
    """The event store on a DuckDB connection (or cursor)."""

    sql = DuckDBStoreSql

    def alive(self) -> bool:
        # DuckDB invalidates a database after a fatal error (a full disk, say).
        try:
            self.conn.execute("SELECT 1").fetchall()
        except (duckdb.FatalException, duckdb.ConnectionException, duckdb.IOException):
            return False
        return True

    def _begin(self) -> None:
        self.conn.begin()

    def _begin_reading(self) -> None:
        self.conn.begin()

    def _commit(self) -> None:
        self.conn.commit()

    def _rollback(self) -> None:
        # DuckDB has already rolled back a failed commit; then there is nothing left to undo.
        with contextlib.suppress(duckdb.TransactionException):
            self.conn.rollback()

    def _failure(self, exc: BaseException) -> Exception | None:
        if isinstance(exc, duckdb.IOException | duckdb.FatalException):
            return StorageFailedError(_storage_words(exc))
        if isinstance(exc, duckdb.TransactionException):
            # A commit that could not write its log (a full disk) fails as a transaction
            # error too; only a real write-write conflict is a race worth retrying.
            if any(sign in str(exc) for sign in _STORAGE_SIGNS):
                return StorageFailedError(_storage_words(exc))
            return ConcurrentWriteError(str(exc))
        return None

    # -- verification, read column by column (Arrow) and hashed without a Python object per row

    def _problem(self, last: int) -> Problem | None:
        """Every check in one ordered pass over the small columns (positions, links, chain
        hashes, leaves) while another thread hashes the payloads; then the tree's tiles.
        Python's hashlib (SHA-NI) hashes several times faster than DuckDB's sha256()."""
        payload: list[Problem | None] = []

        def hash_payloads() -> None:
            cursor = self.conn.cursor()  # a connection of its own, for the other thread
            try:
                payload.append(_payload_problem(cursor, last))
            finally:
                cursor.close()

        reader = threading.Thread(target=hash_payloads)
        reader.start()
        try:
            chain, leaves = _chain_problem(self.conn, last)
            tree = None if chain else self.tree_problem(last, leaves)
        finally:
            reader.join()
        found = [p for p in (chain, tree, *payload) if p is not None]
        return min(found) if found else None

    def _insert(self, rows: list[list[Any]]) -> None:
        try:
            if len(rows) == 1:
                self.conn.execute(INSERT_EVENT_SQL, rows[0])
            elif len(rows) <= _BULK_THRESHOLD:  # one statement: each costs about 0.3 ms
                marks = ", ".join(_ROW_MARKS for _ in rows)  # a count of marks, never a name
                self.conn.execute(
                    f"INSERT INTO event_log VALUES {marks}",  # noqa: S608 - marks only
                    [v for row in rows for v in row],
                )
            else:
                self._insert_columnar(rows)
        except duckdb.ConstraintException as exc:
            # Another writer took this position or stream version first.
            raise ConcurrentWriteError(str(exc)) from exc

    def _insert_columnar(self, rows: list[list[Any]]) -> None:
        import pyarrow as pa  # imported here: only bulk appends pay for it

        types = _arrow_types()
        columns = zip(EVENT_COLUMNS, zip(*rows, strict=True), strict=True)
        table = pa.Table.from_arrays(
            [pa.array(values, type=types[name]) for name, values in columns],
            names=list(EVENT_COLUMNS),
        )
        conn: Any = self.conn
        # DuckDB refuses to register a table while an earlier result (a head or tip read in
        # this transaction) is unfinished; run any such result to its end first.
        conn.complete()
        conn.register("_new_events", table)
        try:
            conn.execute("INSERT INTO event_log SELECT * FROM _new_events")
        finally:
            conn.unregister("_new_events")


# The canonical encoding of each event as the chain hashes it (no hash taken), and its leaf's
# input (0x00 and events.merkle.entry), in position order.
_CHAIN_PASS_SQL = (
    "SELECT position, hash, prev_hash,"  # noqa: S608 - built from the fixed field tuple
    f" {canonical_sql('epoch_us(recorded_at)', 'strlen')},"
    " chr(0) || '{\"hash\":\"' || hash || '\",\"position\":' || position || '}'"
    " FROM event_log WHERE position <= ? ORDER BY position"
)


def _chain_problem(conn: Connection, last: int) -> tuple[Problem | None, bytes]:
    """The first position that is missing, whose link or whose hash is wrong (in that order
    at one position, as the SQL walk says it), and the leaf hashes of the log."""
    leaves: list[bytes] = []
    expected_position, previous = 1, GENESIS_HASH.encode()
    for batch in _batches(conn, _CHAIN_PASS_SQL, last):
        positions, hashes, links, canonical, entries = batch.columns
        count = len(batch)
        stored = _values(hashes)
        linked = previous + stored[:-64]
        recomputed = binascii.hexlify(_digests(canonical))
        in_order = _ints(positions) == list(range(expected_position, expected_position + count))
        if not (in_order and _values(links) == linked and recomputed == stored):
            return _first_broken(batch, expected_position, previous.decode()), b""
        leaves.append(_digests(entries))
        expected_position += count
        previous = hashes[count - 1].as_py().encode()
    return None, b"".join(leaves)


def _first_broken(batch: Any, expected_position: int, previous: str) -> Problem:
    """Where a batch that failed the bulk comparisons breaks, row by row."""
    positions, hashes, links, canonical, _ = (c.to_pylist() for c in batch.columns)
    for i, position in enumerate(positions):
        if position != expected_position + i:
            return position, MISSING.format(expected_position + i)
        if links[i] != (hashes[i - 1] if i else previous):
            return position, BROKEN_LINK
        if hashlib.sha256(canonical[i].encode()).hexdigest() != hashes[i]:
            return position, BAD_HASH
    raise AssertionError("a batch that failed its checks has no broken row")


def _payload_problem(conn: Connection, upto: int) -> Problem | None:
    """The first event whose payload does not hash to its recorded payload hash."""
    sql = "SELECT position, payload::VARCHAR, payload_hash FROM event_log WHERE position <= ?"
    for batch in _batches(conn, sql, upto):
        positions, payloads, hashes = batch.columns
        digests = _digests(payloads)
        if binascii.hexlify(digests) != _values(hashes):
            for i, text in enumerate(hashes.to_pylist()):
                if digests[i * 32 : i * 32 + 32].hex() != text:
                    return int(positions[i].as_py()), PAYLOAD_PROBLEM
    return None


def _ints(column: Any) -> list[int]:
    """An int64 column's values."""
    _, data = column.buffers()
    return memoryview(data).cast("q")[column.offset : column.offset + len(column)].tolist()


def _batches(conn: Connection, sql: str, upto: int) -> Iterator[Any]:
    """An Arrow record batch at a time of a query with one parameter."""
    raw: Any = conn
    raw.complete()  # an earlier result on this connection must be finished first
    yield from raw.sql(sql, params=[upto]).to_arrow_reader(_VERIFY_BATCH)


def _offsets(column: Any) -> tuple[list[int], memoryview]:
    """A string column's value offsets and its data, without a Python string per value."""
    import pyarrow as pa

    _, offsets, data = column.buffers()
    wide = pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type)
    cut = memoryview(offsets).cast("q" if wide else "i")
    return cut[column.offset : column.offset + len(column) + 1].tolist(), memoryview(data)


def _digests(column: Any) -> bytes:
    """The SHA-256 of each value of a string column, concatenated."""
    sha = hashlib.sha256
    bounds, data = _offsets(column)
    return b"".join([sha(data[a:b]).digest() for a, b in zip(bounds, bounds[1:], strict=False)])


def _values(column: Any) -> bytes:
    """A string column's values, concatenated."""
    bounds, data = _offsets(column)
    return bytes(data[bounds[0] : bounds[-1]])


_VERIFY_BATCH = 65_536

_STORAGE_SIGNS = ("No space left on device", "Could not write file", "Disk quota exceeded")


def _storage_words(exc: BaseException) -> str:
    """What the user reads when the storage failed: a full disk said plainly."""
    text = str(exc).strip()
    full = "No space left on device" in text or "Disk quota exceeded" in text
    return f"{'disk full: ' if full else ''}{text}; nothing was written"


def _owner_only(path: Path) -> None:
    """The database's folder and files readable by their owner only, even where the folder
    already existed with looser modes: DuckDB creates its write-ahead log with the process's
    umask whenever it next writes, and only the folder's mode keeps that file private."""
    for place in (path.parent, *path.parent.glob(glob.escape(path.name) + "*")):
        mode = place.stat().st_mode & 0o777
        if mode & _OWNER_ONLY and place.stat().st_uid == os.getuid():
            place.chmod(mode & ~_OWNER_ONLY)


def _arrow_types() -> dict[str, Any]:
    import pyarrow as pa

    ints = {"position": pa.int64(), "version": pa.int32(), "event_schema": pa.int32()}
    return {
        c: ints.get(c, pa.timestamp("us") if c == "recorded_at" else pa.string())
        for c in EVENT_COLUMNS
    }


# -- the projections -------------------------------------------------------------------------


def _event_names(kind: StreamKind) -> dict[str, str]:
    return {"tombstone": kind.tombstone, "scheduled": kind.scheduled, "took": kind.took_effect}


# SQL below is assembled only from the fixed table specs in projections/tables.py.

_TRANSFORM_TYPES = {"scalar": "VARCHAR", "list": ["VARCHAR"], "json": "JSON"}


def _payload_shape(table: ProjectionTable) -> str:
    """The json_transform() shape of a payload: parsed once into a STRUCT, not once a field."""
    definition = {c.name: _TRANSFORM_TYPES[c.kind] for c in table.definition_columns}
    return json.dumps({"definition": definition, "updated_at": "VARCHAR", "id": "VARCHAR"})


def _column_sql(column: Column) -> str:
    if column.kind == "stream_id":  # a renamed metric's events carry its id (`row_id`)
        return "coalesce(p.id, stream_id)"
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
        "WITH winners AS (SELECT max(position) FILTER (WHERE event_type <> $scheduled) AS last,"  # noqa: S608 - fixed names  # noqa: S608 - fixed spec
        " min(position) AS first"
        f" FROM event_log WHERE stream_type = $stream_type AND position <= $position{stream_filter}"
        " GROUP BY stream_id),"
        " picked AS (SELECT e.stream_id, e.recorded_at, e.event_schema AS _schema,"
        " e.position AS _position,"
        f" json_transform(e.payload, '{_payload_shape(table)}') AS p,"
        " coalesce(TRY_CAST(f.payload->>'$.created_at' AS TIMESTAMP), f.recorded_at) AS _created_at"
        " FROM winners w JOIN event_log e ON e.position = w.last"
        " JOIN event_log f ON f.position = w.first"
        f" WHERE {_LIVE_WINNER})"
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


# A winning event that leaves a row: not a deletion, nor a scheduled one coming into force.
_LIVE_WINNER = (
    "NOT (e.event_type = $tombstone OR (e.event_type IN ($scheduled, $took)"
    " AND coalesce(e.payload->>'$.deleted', '') = 'true'))"
)
_FOLDS = {
    (k.stream_type, only): FoldQueries.of(k.table, only) for k in KINDS for only in (False, True)
}
# Each live stream's last event up to a position (its payload as text) and its first event's
# time and `created_at` (which migration events carry).
_WINNERS_SQL = (
    " SELECT e.stream_id, e.event_type, e.event_schema, e.recorded_at, e.payload,"  # noqa: S608 - fixed names
    " f.recorded_at, f.payload->>'$.created_at', e.version"
    " FROM winners w JOIN event_log e ON e.position = w.last"
    " JOIN event_log f ON f.position = w.first"
    f" WHERE {_LIVE_WINNER}"
)
_AS_OF_SQL = (
    "WITH winners AS (SELECT max(position) FILTER (WHERE event_type <> $scheduled) AS last,"
    " min(position) AS first FROM event_log"
    " WHERE stream_type = $stream_type AND position <= $position GROUP BY stream_id)"
)
_AS_OF_SQL += _WINNERS_SQL
# In business time: each stream's change with the latest effective time not after $valid
# (the later recorded on a tie) among those recorded up to the position. Only the few events
# with a date of their own are looked up in `effective_dates`; the rest take effect when
# recorded. A TookEffect repeats a scheduled change, so it does not count here.
_VALID_AT_SQL = (
    "WITH dated AS (SELECT position, effective_from FROM effective_dates"  # noqa: S608 - fixed names
    " WHERE stream_type = $stream_type),"
    " candidates AS (SELECT l.stream_id, l.position, l.event_type,"
    " coalesce(d.effective_from, l.recorded_at) AS effective"
    " FROM event_log l LEFT JOIN dated d ON d.position = l.position"
    " WHERE l.stream_type = $stream_type AND l.position <= $position),"
    " winners AS (SELECT arg_max(position, (effective, position))"
    " FILTER (WHERE event_type <> $took AND effective <= $valid) AS last,"
    " min(position) AS first FROM candidates GROUP BY stream_id)" + _WINNERS_SQL
)
_DATES_SQL = dates_from_log_sql(
    "coalesce(TRY_CAST(payload->>'$.effective_from' AS TIMESTAMP),"
    " TRY_CAST(payload->>'$.updated_at' AS TIMESTAMP))"
)


class DuckDBProjector(Projector):
    """Keeps the v4 tables in step on DuckDB: a big batch is folded in one statement."""

    dates_sql = _DATES_SQL

    def _insert_fold(self, kind: StreamKind, position: int, streams: list[str] | None) -> None:
        queries = _FOLDS[(kind.stream_type, streams is not None)]
        self.conn.execute(queries.insert_current, self._params(kind, position, streams))
        for row in self._old_schema_rows(kind, position, streams):
            self.conn.execute(kind.table.insert_sql, row)

    @staticmethod
    def _params(kind: StreamKind, position: int, streams: list[str] | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            **_event_names(kind),
            "stream_type": kind.stream_type,
            "position": position,
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

    def rows_at(
        self, kind: StreamKind, position: int, valid_at: datetime | None = None
    ) -> list[dict[str, Any]]:
        """DuckDB picks each stream's winning and first event up to the position; Python
        decodes the winners' payloads. (Casting 20-odd typed columns into Python objects costs
        more than parsing the JSON text, and old payload schemas are upcast on the way.)"""
        params: dict[str, Any] = {
            **_event_names(kind),
            "stream_type": kind.stream_type,
            "position": position,
        }
        if valid_at is None:
            found = self.conn.execute(_AS_OF_SQL, params).fetchall()
        else:
            found = self.conn.execute(_VALID_AT_SQL, {**params, "valid": valid_at}).fetchall()
        return self._winners_to_rows(kind, found)

    def _ensure_tables(self) -> None:
        ensure_tables(self.conn, _DATES_SQL)


# -- the engine ------------------------------------------------------------------------------


class _Cursors(Leases):
    """Cursors of one connection, lent to one request at a time and kept for the next.

    DuckDB connections must not be used by two threads at once, and a web framework may run
    one request's parts on different worker threads: so a cursor is leased for the whole
    request, not tied to a thread. A lease never waits.
    """

    bounded = False

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue()
        self._closed = False

    def acquire(self, timeout: float) -> Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            cursor: Connection = self._conn.cursor()
            return cursor

    def release(self, conn: Connection) -> None:
        if self._closed:  # the database was opened again meanwhile: drop the old cursor
            with contextlib.suppress(Exception):
                conn.close()
            return
        self._idle.put(conn)

    def close(self) -> None:
        """Close every idle cursor, so that opening the file again starts a new database
        instance rather than the invalidated one."""
        self._closed = True
        while True:
            try:
                cursor = self._idle.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(Exception):  # a failed cursor may fail to close too
                cursor.close()


class DuckDBEngine(Engine):
    """A registry in a DuckDB file (created readable by its owner only), or in memory."""

    name = "duckdb"
    store_class = DuckDBEventStore
    projector_class = DuckDBProjector

    def __init__(self, path: Path | None, home: Path | None = None) -> None:
        self.path = path  # None: in memory
        self.home = home or (path.parent if path is not None else None)  # the data folder
        self.shown = MEMORY if path is None else str(path)
        self.key_file = None if path is None else path.parent / "tlog.key"

    @classmethod
    def handles(cls, url: str | None) -> bool:
        return url is None or url == MEMORY

    @classmethod
    def of_url(cls, url: str | None, path: Path, home: Path | None) -> DuckDBEngine:
        return cls(None if url == MEMORY else path, home)

    @classmethod
    def owns(cls, conn: object) -> bool:
        return isinstance(conn, duckdb.DuckDBPyConnection)

    @classmethod
    def of_connection(cls, conn: Connection) -> DuckDBEngine:
        [(path,)] = conn.execute(_DATABASE_SQL).fetchall()
        return cls(Path(path) if path else None)

    def connect(self, read_only: bool = False, must_exist: bool = False) -> Connection:
        if self.path is None:
            if read_only:
                raise DatabaseUnavailableError("an in-memory registry has nothing to read yet")
            return duckdb.connect(MEMORY)
        path = self.path
        if (must_exist or read_only) and not path.is_file():
            raise DatabaseMissingError(
                f"no registry at {self.home} (there is no {path}): create one with `da demo`"
                " or `da starter-pack load`, or point --data-dir at an existing one"
            )
        old_mask = os.umask(_OWNER_ONLY)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not read_only:
                _owner_only(path)
            conn = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DatabaseLockedError(
                    f"the registry database {path} is in use by another process "
                    "(is `da serve` running?)"
                ) from exc
            raise self._broken(exc) from exc
        except duckdb.Error as exc:
            raise self._broken(exc) from exc
        finally:
            os.umask(old_mask)
        if read_only:
            try:
                conn.execute("SELECT count(*) FROM metric_definitions, column_metadata").fetchall()
            except duckdb.Error as exc:
                conn.close()
                raise DatabaseUnavailableError(
                    f"the registry database {path} cannot be read: {exc}"
                ) from exc
        return conn

    def _broken(self, exc: Exception) -> DatabaseUnavailableError:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return DatabaseUnavailableError(
            f"the registry database {self.path} cannot be opened ({reason}); move it aside and"
            " restore a backup, or point --data-dir (DATA_DIR) at another registry"
        )

    def prepare(self, conn: Connection, set_up: list[str]) -> list[LegacyTable]:
        old_mask = os.umask(_OWNER_ONLY)  # the write-ahead log is created on the first write
        try:
            ensure_event_log(conn, DuckDBStoreSql)
            legacy = set_aside_legacy_tables(conn)
            ensure_tables(conn, _DATES_SQL)
            for statement in set_up:
                conn.execute(statement)
            return legacy
        except duckdb.Error as exc:
            raise self._broken(exc) from exc
        finally:
            os.umask(old_mask)

    def writer_key(self, conn: Connection) -> WriterKey:
        """A file is known by its path and inode (a file made anew at the same path is another
        database); an in-memory database by an id it keeps in itself."""
        [(path,)] = conn.execute(_DATABASE_SQL).fetchall()
        if path:
            try:
                found = os.stat(path)
                return ("file", os.path.realpath(path), found.st_dev, found.st_ino)
            except OSError:
                return ("file", os.path.realpath(path))
        conn.execute(_INSTANCE_SQL, [str(uuid.uuid4())])
        [(instance,)] = conn.execute("SELECT id FROM registry_instance").fetchall()
        return ("memory", instance)

    def leases(self, conn: Connection, size: int) -> Leases:
        return _Cursors(conn)
