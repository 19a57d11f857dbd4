"""Opening the registry's database from settings: the one way every door gets a Registry.

The engine (storage/engine.py) does the connecting; this module only says, in the registry's
words, what went wrong.
"""

from __future__ import annotations

from events import Connection
from events.errors import DatabaseLockedError as _Locked
from events.errors import DatabaseUnavailableError
from registry.errors import UnavailableError
from registry.settings import Settings, load_settings
from storage.session import Registry, attach, on_cursor


class RegistryUnavailableError(UnavailableError):
    """The registry database cannot be read: missing, locked or broken."""


class DatabaseLockedError(RegistryUnavailableError):
    """Another process holds the registry database open for writing."""


def _unavailable(exc: DatabaseUnavailableError) -> RegistryUnavailableError:
    kind = DatabaseLockedError if isinstance(exc, _Locked) else RegistryUnavailableError
    return kind(str(exc))


def open_registry_read_only(settings: Settings) -> Registry:
    """The registry on an existing database, read-only (nothing is created or migrated).

    Raises RegistryUnavailableError (or DatabaseLockedError) when it cannot be read.
    """
    engine = settings.engine()
    try:
        return on_cursor(engine.connect(read_only=True), engine=engine)
    except DatabaseUnavailableError as exc:
        raise _unavailable(exc) from exc


def open_registry(settings: Settings | None = None, must_exist: bool = False) -> Registry:
    """The registry on the configured database (created unless `must_exist`).

    Raises RegistryUnavailableError (or DatabaseLockedError) when it cannot be opened.
    """
    settings = settings or load_settings()
    engine = settings.engine()
    try:
        conn = engine.connect(must_exist=must_exist)
        try:
            return attach(conn, engine=engine)
        except BaseException:
            conn.close()
            raise
    except DatabaseUnavailableError as exc:
        raise _unavailable(exc) from exc


def get_system_db(settings: Settings | None = None) -> Connection:
    """A connection to the registry database (by default `$DATA_DIR/state/system.duckdb`)
    with the log and v4 tables ready, for `MetricRepository(conn)` and the like."""
    return open_registry(settings).conn
