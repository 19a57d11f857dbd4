"""The event store on PostgreSQL (psycopg 3): the DuckDB store's contract, for teams that run
many API replicas on one database.

Only the statements and hooks that differ are here; everything else is the same code.
Appends are serialised across processes by a transaction-scoped advisory lock taken when a
write transaction begins, so positions stay gapless and a reader of the feed never sees
position N+1 committed before N.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import errors
from psycopg.types.string import TextLoader

from events.chain import hash_sql_expr, verify_chain_sql
from events.errors import ConcurrentWriteError, StorageFailedError
from events.reading import SUMMARY_COLUMNS
from events.schema import CREATE_EVENT_LOG_SQL, CREATE_STREAM_INDEX_SQL, INSERT_EVENT_SQL
from events.store import EventStore, LogHead, StoreSql

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
    themselves) with the small surface the stores use: `execute(sql, params)` with `?`
    marks, returning a cursor; `begin`, `commit`, `rollback`, `cursor`, `close`."""

    dialect = "postgresql"

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


class PgPool:
    """At most `size` connections to one database, lent and taken back (psycopg-pool; a
    connection returned broken or inside a transaction is replaced or rolled back)."""

    def __init__(self, url: str, size: int) -> None:
        from psycopg_pool import ConnectionPool

        self.url = url
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True, "connect_timeout": 10},
            configure=_configure,
            open=True,
        )

    def acquire(self, timeout: float = 30.0) -> PgConnection:
        """A connection of the pool (waiting while all are lent; TimeoutError after
        `timeout` seconds)."""
        from psycopg_pool import PoolTimeout

        try:
            return PgConnection(self._pool.getconn(timeout=timeout), self.url)
        except PoolTimeout as exc:
            raise TimeoutError(str(exc)) from exc

    def release(self, conn: PgConnection) -> None:
        self._pool.putconn(conn.raw)

    def close(self) -> None:
        self._pool.close()


def ensure_pg_event_log(conn: PgConnection) -> None:
    """Create the event log if it is missing (one process at a time)."""
    conn.begin()
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", [WRITERS_LOCK])
        conn.execute(CREATE_EVENT_LOG_SQL)
        conn.execute(CREATE_STREAM_INDEX_SQL)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


class PgStoreSql(StoreSql):
    """PostgreSQL's texts of the statements that differ from DuckDB's."""

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
    conn: PgConnection  # type: ignore[assignment]

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
        if isinstance(exc, errors.DiskFull | psycopg.OperationalError):
            return StorageFailedError(f"{exc}; nothing was written")
        return None

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
