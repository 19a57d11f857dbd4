"""The engine: the one object that knows which database engine holds the registry.

An `Engine` is made once from where the registry lives (`engine_for`: a DuckDB file, an
in-memory DuckDB, a PostgreSQL URL), or found from a connection someone already opened
(`engine_of`). It connects, prepares the tables, names the store and projector classes,
says which writers share a database in this process, lends connections to a server's
requests, and follows other processes' commits where they can write too. Each engine is one
module (`storage/duckdb.py`, `storage/postgres.py`) held to the same contract tests; a third
is one more module and one more line below.
"""

from __future__ import annotations

import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from events.connection import Connection
from events.store import EventStore
from projections.projector import Projector

if TYPE_CHECKING:
    from storage.migration import LegacyTable

# Each engine's class, tried in this order; the first is the default (no URL).
_ENGINES = ("storage.duckdb:DuckDBEngine", "storage.postgres:PostgresEngine")
# What a database URL may be, for the message that refuses any other.
URL_FORMS = "a postgresql:// URL or :memory:"

WriterKey = tuple[object, ...]


class Leases(ABC):
    """Connections lent to one request at a time (a server's), and taken back."""

    # Whether a lease may wait for a connection (then it is taken off the event loop).
    bounded: ClassVar[bool]

    @abstractmethod
    def acquire(self, timeout: float) -> Connection:
        """A connection for one request (TimeoutError after `timeout` seconds of waiting)."""

    @abstractmethod
    def release(self, conn: Connection) -> None:
        """Take a connection back (closed instead, once these leases are closed)."""

    @abstractmethod
    def close(self) -> None:
        """Close what is idle; connections still lent are closed when they come back."""


class Engine(ABC):
    """Where the registry lives, and everything that depends on the engine behind it."""

    name: ClassVar[str]
    store_class: ClassVar[type[EventStore]]
    projector_class: ClassVar[type[Projector]]
    # Whether other processes may commit to the database too (then `follow` them).
    shared: ClassVar[bool] = False
    # Where the registry lives, as people read it (never with a password).
    shown: str
    # Where the log's checkpoint-signing key is kept (None: nowhere on disk, a database
    # that lives as long as the process; DA_TLOG_KEY names another file).
    key_file: Path | None = None

    @classmethod
    @abstractmethod
    def handles(cls, url: str | None) -> bool:
        """Whether a database URL (None: the default file) names this engine's database."""

    @classmethod
    @abstractmethod
    def of_url(cls, url: str | None, path: Path, home: Path | None) -> Engine:
        """The engine of the database a URL it `handles` names (`path` and `home`: the
        default file and its data folder)."""

    @classmethod
    @abstractmethod
    def owns(cls, conn: object) -> bool:
        """Whether a connection is this engine's."""

    @classmethod
    @abstractmethod
    def of_connection(cls, conn: Connection) -> Engine:
        """The engine of the database an open connection of this engine's is on."""

    @abstractmethod
    def connect(self, read_only: bool = False, must_exist: bool = False) -> Connection:
        """A new connection to the database, created unless `must_exist` or `read_only`.

        Raises DatabaseMissingError, DatabaseLockedError or DatabaseUnavailableError.
        """

    @abstractmethod
    def prepare(self, conn: Connection, set_up: list[str]) -> list[LegacyTable]:
        """Create the log and the v4 tables if missing, then run `set_up` (the registry's
        own tables); returns the legacy tables set aside for adoption."""

    @abstractmethod
    def writer_key(self, conn: Connection) -> WriterKey:
        """What tells this database apart from any other in this process."""

    @abstractmethod
    def leases(self, conn: Connection, size: int) -> Leases:
        """Connections for a server's requests (at most `size` where the engine counts)."""

    def follow(
        self,
        changed: Callable[[int | None], None],
        stop: threading.Event,
        listening: threading.Event,
    ) -> None:
        """Call `changed(head position or None)` whenever another process commits, until
        `stop` is set; set `listening` once nothing goes unnoticed. Only for `shared`."""
        raise NotImplementedError(f"{self.name} databases have one writing process")

    def sole_worker(self, name: str) -> SoleWorker:
        """Who, among the processes serving this database, does one job (deliver webhooks):
        here the one process that may open it."""
        return SoleWorker()


class SoleWorker:
    """Whether this process holds one job among the processes serving a database; an engine
    shared by processes decides with a lock that its holder's death releases."""

    def held(self) -> bool:
        """Whether this process does the job now (asked before each round of it)."""
        return True

    def release(self) -> None:
        """Give the job up (the process stops)."""


def _kinds() -> Iterator[type[Engine]]:
    """Each engine's class, its module imported only when it is reached."""
    for spec in _ENGINES:
        module, _, name = spec.partition(":")
        kind: type[Engine] = getattr(importlib.import_module(module), name)
        yield kind


def engine_for(database_url: str | None, path: Path, home: Path | None = None) -> Engine:
    """The engine of the database named by a URL, or (None) of the DuckDB file at `path`
    in the data folder `home`. Raises ValueError for a URL no engine takes."""
    for kind in _kinds():
        if kind.handles(database_url):
            return kind.of_url(database_url, path, home)
    raise ValueError(f"not {URL_FORMS}")


def engine_of(conn: Connection) -> Engine:
    """The engine of an open connection."""
    for kind in _kinds():
        if kind.owns(conn):
            return kind.of_connection(conn)
    raise TypeError(f"no engine takes a {type(conn).__name__}")


def url_is_valid(url: str) -> bool:
    """Whether some engine takes this database URL."""
    return any(kind.handles(url) for kind in _kinds())
