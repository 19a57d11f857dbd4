"""A registry bound to one DuckDB connection: its event store and its projector."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from events import (
    ConcurrentWriteError,
    Connection,
    EventStore,
    SharedHead,
    ensure_event_log,
    utc_now,
)
from events.store import Clock
from projections import Projector, build_upcasters, ensure_tables
from registry.cache import ReadCache
from registry.migration import adopt_legacy_tables, set_aside_legacy_tables
from registry.parse_cache import CREATE_PARSE_CACHE_SQL
from registry.replies import CREATE_REPLIES_SQL
from registry.signin import CREATE_SESSIONS_SQL
from registry.tokens import CREATE_TOKENS_SQL

_CATCH_UP_ATTEMPTS = 20
_DATABASE_SQL = "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
_INSTANCE_SQL = (
    "CREATE TABLE IF NOT EXISTS registry_instance (id VARCHAR);"
    " INSERT INTO registry_instance SELECT ? WHERE NOT EXISTS (SELECT 1 FROM registry_instance);"
)


_WRITERS: dict[tuple[object, ...], Writer] = {}
_WRITERS_GUARD = threading.Lock()


def is_postgres(conn: Connection) -> bool:
    """Whether a connection is PostgreSQL's (`events.postgres.PgConnection`), not DuckDB's."""
    return getattr(conn, "dialect", None) == "postgresql"


def writer_of(conn: Connection) -> Writer:
    """The one Writer of the database behind a connection (or cursor) in this process.

    A file is known by its path and inode (a file made anew at the same path is another
    database); an in-memory database by an id it keeps in itself; a PostgreSQL database by
    its server, name and schema.
    """
    if is_postgres(conn):
        [(where,)] = conn.execute(
            "SELECT coalesce(inet_server_addr()::text, 'socket') || ':'"
            " || current_setting('port') || '/' || current_database() || '/' || current_schema()"
        ).fetchall()
        with _WRITERS_GUARD:
            return _WRITERS.setdefault(("postgresql", str(where)), Writer())
    [(path,)] = conn.execute(_DATABASE_SQL).fetchall()
    if path:
        try:
            found = os.stat(path)
            key: tuple[object, ...] = ("file", os.path.realpath(path), found.st_dev, found.st_ino)
        except OSError:
            key = ("file", os.path.realpath(path))
    else:
        conn.execute(_INSTANCE_SQL, [str(uuid.uuid4())])
        [(instance,)] = conn.execute("SELECT id FROM registry_instance").fetchall()
        key = ("memory", instance)
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(key, Writer())


@dataclass
class Writer:
    """What every registry on one database in this process shares: the lock their writes queue
    on (appends to different streams then never race each other) and the committed head."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    head: SharedHead = field(default_factory=SharedHead)
    # The last verification's result in this process (chain and projections), for /healthz.
    last_verify: dict[str, Any] | None = None


@dataclass
class Registry:
    """The store and projector that every command and query of the registry works through."""

    store: EventStore
    projector: Projector
    # Writers of one database in this process queue on one lock instead of racing DuckDB's
    # optimistic conflicts and retrying (the file has one writer process anyway).
    writer: Writer = field(default_factory=lambda: Writer())
    # Answers of hot queries until the next commit: only a RegistryPool, whose registries are
    # the database's only writers, turns it on (see registry.cache).
    cache: ReadCache | None = None

    @property
    def conn(self) -> Connection:
        return self.store.conn

    @property
    def write_lock(self) -> threading.RLock:
        return self.writer.lock


def attach(conn: Connection, clock: Clock = utc_now, cache: ReadCache | None = None) -> Registry:
    """Make a connection's database ready (log, v4 tables, migration, catch-up) and wrap it."""
    writer = writer_of(conn)
    store = _store(conn, clock, cache, writer)
    with writer.lock:
        if is_postgres(conn):
            from events.postgres import ensure_pg_event_log
            from projections.postgres import ensure_pg_tables

            ensure_pg_event_log(conn)  # type: ignore[arg-type]
            legacy: list[Any] = []
            ensure_pg_tables(conn)  # type: ignore[arg-type]
        else:
            ensure_event_log(conn)
            legacy = set_aside_legacy_tables(conn)
            ensure_tables(conn)
        conn.execute(CREATE_PARSE_CACHE_SQL)
        conn.execute(CREATE_TOKENS_SQL)
        conn.execute(CREATE_SESSIONS_SQL)
        conn.execute(CREATE_REPLIES_SQL)
        registry = Registry(store, _projector(store), writer, cache)
        if legacy:
            adopt_legacy_tables(registry.store, registry.projector, legacy)
        _catch_up(registry)
    return registry


def _catch_up(registry: Registry) -> None:
    """Apply events the projection has not seen (written by a bare store, for example).

    Checkpoint and log are compared inside one transaction, so a writer committing meanwhile
    is never mistaken for a gap; if one does race us, the check is simply made again.
    """
    for _ in range(_CATCH_UP_ATTEMPTS):
        try:
            with registry.store.transaction():
                missed = registry.store.read(after=registry.projector.checkpoint())
                registry.projector.apply(missed)
            return
        except ConcurrentWriteError:
            continue
    raise ConcurrentWriteError("could not bring the projection up to date: too many writers")


def on_cursor(
    conn: Connection,
    writer: Writer | None = None,
    clock: Clock = utc_now,
    cache: ReadCache | None = None,
) -> Registry:
    """A registry on a cursor of a database that `attach` has already prepared (cheap)."""
    writer = writer or writer_of(conn)
    store = _store(conn, clock, cache, writer)
    return Registry(store, _projector(store), writer, cache)


def _store(conn: Connection, clock: Clock, cache: ReadCache | None, writer: Writer) -> EventStore:
    on_commit = None if cache is None else cache.invalidate
    kind = EventStore
    if is_postgres(conn):
        from events.postgres import PgEventStore

        kind = PgEventStore
    return kind(conn, build_upcasters(), clock, on_commit=on_commit, shared_head=writer.head)


def _projector(store: EventStore) -> Projector:
    if is_postgres(store.conn):
        from projections.postgres import PgProjector

        return PgProjector(store)
    return Projector(store)


class RegistryPool:
    """Registries on their own cursors of one database, lent to one request at a time.

    DuckDB connections must not be used by two threads at once, and a web framework may run
    one request's parts on different worker threads: so a registry is leased for the whole
    request, not tied to a thread. Leased registries share the database's Writer.

    When the database fails underneath (DuckDB invalidates a database after a fatal I/O error
    such as a full disk), `recover` opens it again through `reconnect`, so the server works
    again once the cause is gone, without a restart.
    """

    def __init__(
        self,
        conn: Connection,
        reconnect: Callable[[], Connection] | None = None,
        connections: int = 20,
    ) -> None:
        self._reconnect = reconnect
        self._connections = connections
        self._pg: Any = None  # events.postgres.PgPool on a PostgreSQL database
        self._guard = threading.Lock()
        self.generation = 0
        # One read cache for all: every write goes through one of these registries, so each
        # commit reaches the cache. (Nothing else may write to the database meanwhile.)
        self.cache = ReadCache()
        # Called when another process commits to a shared (PostgreSQL) database, after the
        # cache is emptied: a server forgets the token owners it remembered, for one.
        self.on_foreign_commit: list[Callable[[], None]] = []
        self._following: threading.Event | None = None
        self._open(conn)

    def _open(self, conn: Connection) -> None:
        self.conn = conn
        self.main = attach(conn, cache=self.cache)
        self.writer = writer_of(conn)
        self._idle: queue.LifoQueue[tuple[int, Registry]] = queue.LifoQueue()
        if is_postgres(conn):
            from events.postgres import PgPool

            # A bounded pool: every replica takes at most this many of the server's
            # connections, whatever the load.
            self._pg = PgPool(conn.url, self._connections)  # type: ignore[attr-defined]
            if self._following is None:
                self._follow(conn.url)  # type: ignore[attr-defined]

    @property
    def bounded(self) -> bool:
        """Whether a lease may wait for a connection (then lease off the event loop)."""
        return self._pg is not None

    def _follow(self, url: str) -> None:
        """Other replicas write to a PostgreSQL database too: drop what this process keeps
        between commits whenever any of them commits (LISTEN/NOTIFY)."""
        from events.postgres import follow_commits

        def changed(position: int | None) -> None:
            known = self.writer.head.value
            if position is not None and known is not None and position <= known.position:
                # This process committed at or after that position: its own commit emptied
                # the cache then, after the one notified (commits come in position order).
                return
            self.cache.invalidate()
            for listener in self.on_foreign_commit:
                listener()

        self._following = threading.Event()
        listening = threading.Event()
        threading.Thread(
            target=follow_commits, args=(url, changed, self._following, listening), daemon=True
        ).start()
        listening.wait(timeout=10)  # from here on, no commit goes unnoticed

    def close(self) -> None:
        """Stop following other processes' commits and close the connection."""
        if self._following is not None:
            self._following.set()
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.close()
        with contextlib.suppress(Exception):
            self.conn.close()

    @contextmanager
    def lease(self, timeout: float = 30.0) -> Iterator[Registry]:
        """A registry for one request, returned when the block ends. On PostgreSQL it runs
        on a pooled connection, and waits up to `timeout` seconds while every connection is
        lent (`bounded`; TimeoutError then)."""
        if self._pg is not None:
            pooled = self._pg.acquire(timeout)
            try:
                yield on_cursor(pooled, self.writer, cache=self.cache)
            finally:
                self._pg.release(pooled)
            return
        generation = self.generation
        try:
            generation, registry = self._idle.get_nowait()
        except queue.Empty:
            registry = on_cursor(self.conn.cursor(), self.writer, cache=self.cache)
        try:
            yield registry
        finally:
            if generation == self.generation:  # registries of a failed connection are dropped
                self._idle.put((generation, registry))

    def healthy(self) -> bool:
        """Whether the database answers at all."""
        return self.main.store.alive()

    def recover(self) -> bool:
        """Open the database again if it stopped answering; whether it answers now."""
        with self._guard:
            if self.healthy():
                return True
            if self._reconnect is None:
                return False
            self.generation += 1
            self.cache.invalidate()
            self._close_all()
            if self._pg is not None:
                with contextlib.suppress(Exception):
                    self._pg.close()
                self._pg = None
            try:
                self._open(self._reconnect())
            except Exception:  # still failing, whatever the cause: the caller answers 503
                return False
            return self.healthy()

    def _close_all(self) -> None:
        """Close the failed connection and every idle cursor on it, so that opening the file
        again starts a new database instance rather than the invalidated one."""
        while True:
            try:
                _, registry = self._idle.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(Exception):  # a failed cursor may fail to close too
                registry.conn.close()
        with contextlib.suppress(Exception):
            self.conn.close()
