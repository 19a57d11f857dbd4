"""A registry bound to one connection: its engine, event store and projector; and a pool of
them for a server's requests.

Engine-neutral: every engine decision is the `Engine`'s (storage/engine.py).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from events import (
    ConcurrentWriteError,
    Connection,
    DatabaseUnavailableError,
    EventStore,
    SharedHead,
    utc_now,
)
from events.store import Clock
from projections import Projector, build_upcasters
from storage.cache import ReadCache
from storage.engine import Engine, Leases, engine_of
from storage.group import GroupCommit
from storage.migration import adopt_legacy_tables
from storage.tables import REGISTRY_TABLES_SQL

_CATCH_UP_ATTEMPTS = 20

_WRITERS: dict[tuple[object, ...], Writer] = {}
_WRITERS_GUARD = threading.Lock()


def writer_of(conn: Connection, engine: Engine | None = None) -> Writer:
    """The one Writer of the database behind a connection (or cursor) in this process."""
    key = (engine or engine_of(conn)).writer_key(conn)
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(key, Writer())


@dataclass
class Writer:
    """What every registry on one database in this process shares: the lock their writes queue
    on (appends to different streams then never race each other) and the committed head."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    head: SharedHead = field(default_factory=SharedHead)
    # The last verification's result (chain and projections), for /healthz and the console;
    # read once from the database (registry.verdicts), then kept up to date here.
    last_verify: dict[str, Any] | None = None
    last_verify_read: bool = False
    # What the registry read of the log, kept with the head position it was read at (the
    # approval policy: `registry.proposals.rules`).
    memo: dict[str, Any] = field(default_factory=dict)


@dataclass
class Registry:
    """The store and projector that every command and query of the registry works through."""

    store: EventStore
    projector: Projector
    engine: Engine
    # Writers of one database in this process queue on one lock instead of racing the
    # engine's optimistic conflicts and retrying.
    writer: Writer = field(default_factory=lambda: Writer())
    # Answers of hot queries until the next commit: only a RegistryPool, whose registries are
    # the database's only writers, turns it on (see storage.cache).
    cache: ReadCache | None = None
    # Where concurrent writes share transactions (a server's pool; see storage.group).
    group: GroupCommit[Any, Any] | None = None
    # What the caller of this request may see (a `registry.sight.Sight`; None: everything),
    # set by the door from the caller's token.
    sight: Any = None

    @property
    def conn(self) -> Connection:
        return self.store.conn

    @property
    def write_lock(self) -> threading.RLock:
        return self.writer.lock


def attach(
    conn: Connection,
    clock: Clock = utc_now,
    cache: ReadCache | None = None,
    engine: Engine | None = None,
) -> Registry:
    """Make a connection's database ready (log, v4 tables, migration, catch-up) and wrap it."""
    engine = engine or engine_of(conn)
    writer = writer_of(conn, engine)
    with writer.lock:
        legacy = engine.prepare(conn, REGISTRY_TABLES_SQL)
        registry = on_cursor(conn, writer, clock, cache, engine)
        if legacy:
            adopt_legacy_tables(registry.store, registry.projector, legacy)
        _catch_up(registry)
        _tree_in_step(registry)
    return registry


def _tree_in_step(registry: Registry) -> None:
    """Build the log's Merkle tree where it is missing (a database from before it); another
    process building it at the same moment wins, and its tree is the same."""
    for _ in range(_CATCH_UP_ATTEMPTS):
        if registry.store.tree_in_step():
            return
        try:
            registry.store.rebuild_tree()
        except ConcurrentWriteError:
            continue


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
    engine: Engine | None = None,
) -> Registry:
    """A registry on a cursor of a database that `attach` has already prepared (cheap)."""
    engine = engine or engine_of(conn)
    writer = writer or writer_of(conn, engine)
    on_commit = None if cache is None else cache.invalidate
    store = engine.store_class(
        conn, _UPCASTERS, clock, on_commit=on_commit, shared_head=writer.head
    )
    return Registry(store, engine.projector_class(store), engine, writer, cache)


_UPCASTERS = build_upcasters()


class RegistryPool:
    """Registries on connections of one database, lent to one request at a time.

    A registry is leased for the whole request (a web framework may run one request's parts
    on different worker threads); the engine's `Leases` say where its connection comes from
    and whether a lease may wait (`bounded`). Leased registries share the database's Writer.

    When the database fails underneath (an engine may give up on a database after a fatal
    I/O error such as a full disk, or a server restarts), `recover` opens it again through
    `reconnect`, so the server works again once the cause is gone, without a restart.
    Requests in flight meanwhile finish on what they leased, which is closed when they are done.
    """

    def __init__(
        self,
        conn: Connection | None = None,
        *,
        engine: Engine | None = None,
        reconnect: Callable[[], Connection] | None = None,
        connections: int = 20,
    ) -> None:
        """On an open connection, or (None) on a new one of `engine`'s."""
        if engine is None:
            if conn is None:
                raise ValueError("a RegistryPool needs a connection or an engine")
            engine = engine_of(conn)
        self.engine = engine
        self._reconnect = reconnect or engine.connect
        self._connections = connections
        self._guard = threading.Lock()
        # One read cache for all: every write of this process goes through one of these
        # registries, so each commit reaches the cache (and `follow` tells of other
        # processes' commits, where the engine lets them write).
        self.cache = ReadCache()
        # Concurrent writes of the requests share transactions and commits.
        self.group: GroupCommit[Any, Any] = GroupCommit()
        # Called when another process commits to a shared database, after the cache is
        # emptied: a server forgets the token owners it remembered, for one.
        self.on_foreign_commit: list[Callable[[], None]] = []
        self._following: threading.Event | None = None
        self._open(conn if conn is not None else self._reconnect())

    def _open(self, conn: Connection) -> None:
        self.conn = conn
        # Leases first: if preparing the database fails, requests still get connections
        # of the new one (and their own errors), not of the closed one.
        self._leases: Leases = self.engine.leases(conn, self._connections)
        self.main = attach(conn, cache=self.cache, engine=self.engine)
        self.writer = self.main.writer
        if self.engine.shared and self._following is None:
            self._follow()

    @property
    def bounded(self) -> bool:
        """Whether a lease may wait for a connection (then lease off the event loop)."""
        return self._leases.bounded

    def _follow(self) -> None:
        """Other processes write to the database too: drop what this process keeps between
        commits whenever any of them commits."""

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
            target=self.engine.follow, args=(changed, self._following, listening), daemon=True
        ).start()
        listening.wait(timeout=10)  # from here on, no commit goes unnoticed

    def close(self) -> None:
        """Stop following other processes' commits and close the connections."""
        if self._following is not None:
            self._following.set()
        with contextlib.suppress(Exception):
            self._leases.close()
        with contextlib.suppress(Exception):
            self.conn.close()

    @contextmanager
    def lease(self, timeout: float = 30.0) -> Iterator[Registry]:
        """A registry for one request, returned when the block ends; waits up to `timeout`
        seconds while every connection is lent (`bounded`; TimeoutError then)."""
        leases = self._leases  # the request gives back to what it took from
        try:
            conn = leases.acquire(timeout)
        except TimeoutError:
            raise
        except Exception as exc:  # closed, or the database is away: say so, not a crash
            raise DatabaseUnavailableError(
                f"the registry database is not answering: {exc}"
            ) from exc
        try:
            leased = on_cursor(conn, self.writer, cache=self.cache, engine=self.engine)
            leased.group = self.group
            yield leased
        finally:
            leases.release(conn)

    def healthy(self) -> bool:
        """Whether the database answers at all."""
        return self.main.store.alive()

    def recover(self) -> bool:
        """Open the database again if it stopped answering; whether it answers now."""
        with self._guard:
            if self.healthy():
                return True
            self.cache.invalidate()
            # Close the failed connection and what is idle on it, so that opening it again
            # starts a new database instance rather than the invalidated one.
            with contextlib.suppress(Exception):
                self._leases.close()
            with contextlib.suppress(Exception):
                self.conn.close()
            try:
                self._open(self._reconnect())
            except Exception:  # still failing, whatever the cause: the caller answers 503
                return False
            return self.healthy()
