"""The PostgreSQL engine (psycopg 3), for teams that run many API replicas on one database.

Everything that is PostgreSQL's own lives here: connecting (never showing a password), the
log's statements in PostgreSQL's dialect, the store's transaction hooks, the projector's
types (lists as TEXT[], JSON as JSONB) and fold, a bounded pool of connections for a
server, and LISTEN/NOTIFY to follow the other replicas' commits.

Appends are serialised across processes by a transaction-scoped advisory lock taken when a
write transaction begins, so positions stay gapless and a reader of the feed never sees
position N+1 committed before N.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors
from psycopg.types.string import TextLoader

from events.chain import hash_sql_expr, verify_chain_sql
from events.connection import Connection
from events.errors import (
    ConcurrentWriteError,
    DatabaseMissingError,
    DatabaseUnavailableError,
    StorageFailedError,
)
from events.reading import SUMMARY_COLUMNS
from events.schema import CREATE_EVENT_LOG_SQL, CREATE_STREAM_INDEX_SQL, INSERT_EVENT_SQL
from events.store import EventStore, LogHead, StoreSql
from projections.projector import Projector, dates_from_log_sql, ensure_tables
from projections.rows import encode_value
from projections.streams import StreamKind
from storage.engine import Engine, Leases, SoleWorker, WriterKey
from storage.migration import LegacyTable

# pg_advisory_xact_lock's key for the log's writers: "mreg" in ASCII.
WRITERS_LOCK = 0x6D726567
# The channel every commit that appended notifies (with its head position), so that every
# process keeping answers between commits (a server replica's read cache) can drop them.
LOG_CHANNEL = "da_log"


_BEGIN = {
    "": "BEGIN",
    "write": "BEGIN ISOLATION LEVEL READ COMMITTED",
    "read": "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
}
_LISTEN_SQL = "LISTEN " + LOG_CHANNEL


@functools.lru_cache(maxsize=512)
def _marks(sql: str) -> str:
    """DuckDB's `?` parameter marks as psycopg's `%s` (a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection (in autocommit mode: the stores begin and end transactions
    themselves) with the surface of `events.connection.Connection`: `execute(sql, params)`
    with `?` marks, returning a cursor; `begin`, `commit`, `rollback`, `cursor`, `close`."""

    def __init__(self, raw: psycopg.Connection[Any], url: str) -> None:
        self.raw = raw
        self.url = url

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        cursor.execute(_marks(sql), params)
        return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(_marks(sql), rows)

    def begin(self, mode: str = "") -> None:
        """BEGIN, for writing (`write`), for a read-only snapshot (`read`), or plain."""
        self.raw.execute(_BEGIN[mode])

    def commit(self) -> None:
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        self.raw.execute("ROLLBACK")

    def cursor(self) -> PgConnection:
        """Another connection to the same database, with transactions of its own (what a
        DuckDB cursor is to its connection)."""
        return connect_postgres(self.url)

    def close(self) -> None:
        self.raw.close()


def _configure(raw: psycopg.Connection[Any]) -> None:
    # JSON comes back as the text that was stored: the payload's hash is over that text.
    for json_type in ("json", "jsonb"):
        raw.adapters.register_loader(json_type, TextLoader)


def connect_postgres(url: str) -> PgConnection:
    """A connection to a PostgreSQL database (ConnectionError when it cannot be reached)."""
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        # psycopg's words, first line only; never the URL (it may hold a password)
        raise ConnectionError(str(exc).strip().splitlines()[0]) from exc
    _configure(raw)
    return PgConnection(raw, url)


class PgPool(Leases):
    """At most `size` connections to one database, lent and taken back (psycopg-pool; a
    connection returned broken or inside a transaction is replaced or rolled back)."""

    bounded = True

    def __init__(self, url: str, size: int) -> None:
        from psycopg_pool import ConnectionPool

        self.url = url
        self._closed = False
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True, "connect_timeout": 10},
            configure=_configure,
            # A connection the server dropped (it restarted) is replaced, not lent.
            check=ConnectionPool.check_connection,
            open=True,
        )

    def acquire(self, timeout: float = 30.0) -> Connection:
        """A connection of the pool (waiting while all are lent; TimeoutError after
        `timeout` seconds)."""
        from psycopg_pool import PoolTimeout

        try:
            return PgConnection(self._pool.getconn(timeout=timeout), self.url)
        except PoolTimeout as exc:
            raise TimeoutError(str(exc)) from exc

    def release(self, conn: Connection) -> None:
        assert isinstance(conn, PgConnection)  # noqa: S101 - only ours come back
        if self._closed:  # the pool was replaced meanwhile: this connection goes with it
            with contextlib.suppress(psycopg.Error):
                conn.close()
            return
        self._pool.putconn(conn.raw)

    def close(self) -> None:
        self._closed = True
        self._pool.close()


def ensure_pg_event_log(conn: PgConnection) -> None:
    """Create the event log if it is missing (one process at a time)."""
    conn.begin()
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", [WRITERS_LOCK])
        conn.execute(CREATE_EVENT_LOG_SQL)
        conn.execute(CREATE_STREAM_INDEX_SQL)
        conn.execute(PgStoreSql.create_tiles.format(blob=PgStoreSql.blob_type))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


class PgStoreSql(StoreSql):
    """PostgreSQL's texts of the statements that differ from DuckDB's."""

    blob_type = "BYTEA"

    summaries = (
        "SELECT "  # noqa: S608 - fixed column names
        + ", ".join(
            "ARRAY(SELECT (payload::jsonb -> k)::text FROM unnest(?::text[])"
            " WITH ORDINALITY AS picked(k, n) ORDER BY n)"
            if c == "payload"
            else c
            for c in SUMMARY_COLUMNS
        )
        + " FROM event_log WHERE stream_id = ? AND stream_type = ? AND version <= ?"
        " ORDER BY version"
    )

    @staticmethod
    def summary_paths(keys: Sequence[str]) -> list[Any]:
        return list(keys)

    last_events = (
        "SELECT DISTINCT ON (stream_id) "  # noqa: S608 - fixed column names
        + ", ".join("ARRAY[]::text[]" if c == "payload" else c for c in SUMMARY_COLUMNS)
        + " FROM event_log WHERE stream_type = ? AND stream_id = ANY(?::text[])"
        " AND position <= ? ORDER BY stream_id, position DESC"
    )
    stream_tip = (
        "WITH s AS (SELECT version, event_type, event_schema, payload, recorded_at"
        " FROM event_log WHERE stream_id = ? AND stream_type = ?)"
        " SELECT l.version, l.event_type, l.event_schema, l.payload, f.recorded_at, f.event_type"
        " FROM (SELECT * FROM s ORDER BY version DESC LIMIT 1) l,"
        " (SELECT * FROM s ORDER BY version LIMIT 1) f"
    )
    tips_of_id = (
        "SELECT DISTINCT ON (stream_type) stream_type, version, event_type, event_schema,"
        " payload, min(recorded_at) OVER s,"
        " first_value(event_type) OVER (PARTITION BY stream_type ORDER BY version)"
        " FROM event_log WHERE stream_id = ? AND stream_type IN ({types})"
        " WINDOW s AS (PARTITION BY stream_type) ORDER BY stream_type, version DESC"
    )
    verify_chain = verify_chain_sql(
        hash_sql_expr(
            sha256="encode(sha256(convert_to({}, 'UTF8')), 'hex')",
            epoch_us="(extract(epoch FROM recorded_at) * 1000000)::bigint",
            strlen="octet_length",
        )
    )


class PgEventStore(EventStore):
    """The event store on a PostgreSQL connection (`connect_postgres`)."""

    sql = PgStoreSql
    conn: PgConnection

    def _begin(self) -> None:
        # Every writer, in every process, takes turns: the head read after this is the
        # committed one, and commits happen in position order.
        self.conn.begin("write")
        self.conn.execute("SELECT pg_advisory_xact_lock(?)", [WRITERS_LOCK])

    def _begin_reading(self) -> None:
        self.conn.begin("read")

    def _commit(self) -> None:
        if self._tx is not None and self._tx.head is not None:  # it appended: say so
            self.conn.execute("SELECT pg_notify(?, ?)", [LOG_CHANNEL, str(self._tx.head.position)])
        self.conn.commit()

    def _rollback(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.conn.rollback()

    def _failure(self, exc: BaseException) -> Exception | None:
        if isinstance(exc, errors.UniqueViolation | errors.SerializationFailure):
            return ConcurrentWriteError(str(exc))
        if isinstance(exc, errors.DeadlockDetected):
            return ConcurrentWriteError(str(exc))
        if isinstance(exc, errors.DiskFull):
            return StorageFailedError(f"disk full: {exc}; nothing was written")
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            # The server went away (a restart, a lost connection): the database is away for
            # a moment, not failing to store; whatever was not committed was not written.
            reason = " ".join(str(exc).split()) or type(exc).__name__
            return DatabaseUnavailableError(f"the registry database is away ({reason})")
        return None

    keeps_tips = False  # other processes append too: a stream's tip is read every time

    def _append_head(self) -> LogHead:
        # Other processes append too: inside the writers' lock, read the committed head.
        if self._tx is not None and self._tx.head is not None:
            return self._tx.head
        return self.head()

    def _insert(self, rows: list[list[Any]]) -> None:
        try:
            self.conn.executemany(INSERT_EVENT_SQL, rows)
        except errors.UniqueViolation as exc:
            raise ConcurrentWriteError(str(exc)) from exc

    def alive(self) -> bool:
        try:
            self.conn.execute("SELECT 1").fetchall()
        except (psycopg.OperationalError, psycopg.InterfaceError):
            return False
        return True


# -- the projections -------------------------------------------------------------------------

# The SPEC's types as PostgreSQL spells them.
PG_TYPES = {"VARCHAR[]": "TEXT[]", "JSON": "JSONB"}

# Each live stream's last event up to a position, and its first event's time and the
# `created_at` that migration events carry (the rows `rows_at` builds).
# The winners' rows; a winner leaves a row unless it is a deletion, or a scheduled one
# (coming into force). Parameters: tombstone, scheduled, took.
_WINNERS_SQL = (
    " SELECT e.stream_id, e.event_type, e.event_schema, e.recorded_at, e.payload,"
    " f.recorded_at, f.payload::jsonb ->> 'created_at', e.version"
    " FROM winners w JOIN event_log e ON e.position = w.last"
    " JOIN event_log f ON f.position = w.first"
    " WHERE NOT (e.event_type = ? OR (e.event_type IN (?, ?)"
    " AND coalesce(e.payload::jsonb ->> 'deleted', '') = 'true'))"
)
# Parameters: scheduled, stream_type, position[, streams], then the winners'.
_AS_OF_SQL = (
    "WITH winners AS (SELECT max(position) FILTER (WHERE event_type <> ?) AS last,"  # noqa: S608 - fixed names
    " min(position) AS first FROM event_log"
    " WHERE stream_type = ? AND position <= ? {streams} GROUP BY stream_id)" + _WINNERS_SQL
)
_ALL_STREAMS = _AS_OF_SQL.format(streams="")
_SOME_STREAMS = _AS_OF_SQL.format(streams="AND stream_id = ANY(?::text[])")
# In business time (see projections.fold). Parameters: stream_type, position, took, valid,
# then the winners'.
_VALID_AT_SQL = (
    "WITH candidates AS (SELECT l.stream_id, l.position, l.event_type,"  # noqa: S608 - fixed names
    " coalesce(d.effective_from, l.recorded_at) AS effective"
    " FROM event_log l LEFT JOIN effective_dates d ON d.position = l.position"
    " WHERE l.stream_type = ? AND l.position <= ?),"
    " firsts AS (SELECT stream_id, min(position) AS first FROM candidates GROUP BY stream_id),"
    " lasts AS (SELECT DISTINCT ON (stream_id) stream_id, position AS last FROM candidates"
    " WHERE event_type <> ? AND effective <= ? ORDER BY stream_id, effective DESC, position DESC),"
    " winners AS (SELECT last, first FROM lasts JOIN firsts USING (stream_id))" + _WINNERS_SQL
)


_DATES_SQL = dates_from_log_sql(
    "coalesce((payload::jsonb ->> 'effective_from')::timestamp,"
    " (payload::jsonb ->> 'updated_at')::timestamp)"
)


def ensure_pg_tables(conn: Connection) -> None:
    """The v4 tables in PostgreSQL's types, the checkpoint, `schema_version` and the effective
    dates (filled from the log for a database from before them)."""
    ensure_tables(conn, _DATES_SQL, PG_TYPES)


class PgProjector(Projector):
    """Keeps the v4 tables in step on a PostgreSQL connection."""

    def _insert_fold(self, kind: StreamKind, position: int, streams: list[str] | None) -> None:
        """Insert the fold of some streams (None: all) up to `position` (the shared projector
        has deleted their rows first, or dropped the tables)."""
        table = kind.table
        rows = [
            [encode_value(c.kind, row[c.name]) for c in table.columns]
            for row in self._fold(kind, position, streams)
        ]
        if rows:
            self.conn.executemany(table.insert_sql, rows)

    dates_sql = _DATES_SQL

    def _ensure_tables(self) -> None:
        ensure_pg_tables(self.conn)

    def rows_at(
        self, kind: StreamKind, position: int, valid_at: datetime | None = None
    ) -> list[dict[str, Any]]:
        if valid_at is None:
            return self._fold(kind, position, None)
        winners = [kind.tombstone, kind.scheduled, kind.took_effect]
        found = self.conn.execute(
            _VALID_AT_SQL, [kind.stream_type, position, kind.took_effect, valid_at, *winners]
        ).fetchall()
        return self._winners_to_rows(kind, found)

    def _fold(
        self, kind: StreamKind, position: int, streams: list[str] | None
    ) -> list[dict[str, Any]]:
        params: list[Any] = [kind.scheduled, kind.stream_type, position]
        if streams is not None:
            params.append(streams)
        winners = [kind.tombstone, kind.scheduled, kind.took_effect]
        found = self.conn.execute(
            _ALL_STREAMS if streams is None else _SOME_STREAMS, [*params, *winners]
        ).fetchall()
        return self._winners_to_rows(kind, found)


def follow_commits(
    url: str,
    changed: Callable[[int | None], None],
    stop: threading.Event,
    listening: threading.Event | None = None,
) -> None:
    """Call `changed(head position)` after every commit that appends to the log, by any
    process, until `stop` is set (LISTEN on the log's channel). If the connection is lost,
    `changed(None)` is called and listening starts again, so nothing goes unseen.
    `listening` is set once the first LISTEN is in place."""
    while not stop.is_set():
        try:
            conn = connect_postgres(url)
        except ConnectionError:
            changed(None)
            stop.wait(1.0)
            continue
        try:
            conn.execute(_LISTEN_SQL)
            changed(None)  # whatever was committed before this LISTEN
            if listening is not None:
                listening.set()
            while not stop.is_set():
                for notice in conn.raw.notifies(timeout=0.5):
                    changed(int(notice.payload) if notice.payload.isdigit() else None)
        except psycopg.Error:
            changed(None)
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.close()


# -- the engine ------------------------------------------------------------------------------

_WHERE_SQL = (
    "SELECT coalesce(inet_server_addr()::text, 'socket') || ':'"
    " || current_setting('port') || '/' || current_database() || '/' || current_schema()"
)


def shown_url(url: str) -> str:
    """A database URL without its password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class PostgresEngine(Engine):
    """A registry in a PostgreSQL database (its schema from the URL's search path)."""

    name = "postgresql"
    store_class = PgEventStore
    projector_class = PgProjector
    shared = True

    def __init__(self, url: str, home: Path | None = None) -> None:
        self.url = url
        self.shown = shown_url(url)
        # Replicas sign with one key: copy the file to each, or point DA_TLOG_KEY at it.
        self.key_file = None if home is None else home / "state" / "tlog.key"

    @classmethod
    def handles(cls, url: str | None) -> bool:
        return url is not None and url.startswith(("postgresql://", "postgres://"))

    @classmethod
    def of_url(cls, url: str | None, path: Path, home: Path | None) -> PostgresEngine:
        assert url is not None  # noqa: S101 - `handles` said so
        return cls(url, home)

    @classmethod
    def owns(cls, conn: object) -> bool:
        return isinstance(conn, PgConnection)

    @classmethod
    def of_connection(cls, conn: Connection) -> PostgresEngine:
        assert isinstance(conn, PgConnection)  # noqa: S101 - `owns` said so
        return cls(conn.url)

    def connect(self, read_only: bool = False, must_exist: bool = False) -> Connection:
        try:
            conn = connect_postgres(self.url)
        except ConnectionError as exc:
            raise DatabaseUnavailableError(
                f"cannot reach the registry database {self.shown}: {exc}"
            ) from exc
        if must_exist or read_only:
            [(found,)] = conn.execute("SELECT to_regclass('event_log') IS NOT NULL").fetchall()
            if not found:
                conn.close()
                raise DatabaseMissingError(
                    f"no registry in {self.shown}: create one with `da demo` or"
                    " `da starter-pack load` (with the same --database-url)"
                )
        return conn

    def prepare(self, conn: Connection, set_up: list[str]) -> list[LegacyTable]:
        assert isinstance(conn, PgConnection)  # noqa: S101 - ours
        ensure_pg_event_log(conn)
        ensure_pg_tables(conn)
        for statement in set_up:
            conn.execute(statement)
        return []  # no registry on PostgreSQL predates the event log

    def writer_key(self, conn: Connection) -> WriterKey:
        """Its server, database and schema."""
        [(where,)] = conn.execute(_WHERE_SQL).fetchall()
        return ("postgresql", str(where))

    def leases(self, conn: Connection, size: int) -> Leases:
        # A bounded pool: every replica takes at most this many of the server's connections.
        return PgPool(self.url, size)

    def follow(
        self,
        changed: Callable[[int | None], None],
        stop: threading.Event,
        listening: threading.Event,
    ) -> None:
        follow_commits(self.url, changed, stop, listening)

    def sole_worker(self, name: str) -> SoleWorker:
        return AdvisoryLock(self.url, name)


class AdvisoryLock(SoleWorker):
    """A session-level advisory lock on a connection of its own: the replica that holds it
    does the job; if it dies, PostgreSQL ends its session and another replica takes it."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        # The lock's key: 64 bits of the job's name (the same in every replica).
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self.conn: Any = None  # kept while this replica holds the lock or waits for it
        self.holding = False

    def held(self) -> bool:
        try:
            if self.conn is None:
                self.conn = connect_postgres(self.url)
            if self.holding:
                self.conn.execute("SELECT 1").fetchall()  # still ours while the session lives
                return True
            row = self.conn.execute("SELECT pg_try_advisory_lock(?)", [self.key]).fetchone()
            self.holding = bool(row is not None and row[0])
        except (psycopg.Error, ConnectionError):
            self.release()
        return self.holding

    def release(self) -> None:
        conn, self.conn, self.holding = self.conn, None, False
        if conn is not None:
            with contextlib.suppress(psycopg.Error, ConnectionError):
                conn.close()
