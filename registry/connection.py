"""The connection factory: the one place in the registry that imports duckdb."""

from __future__ import annotations

import duckdb

from registry.session import Registry, attach
from registry.settings import Settings, load_settings


class DatabaseLockedError(RuntimeError):
    """Another process holds the registry database open for writing."""


def connect(settings: Settings | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the registry database file (creating its folder); raises DatabaseLockedError."""
    settings = settings or load_settings()
    path = settings.db_path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLockedError(
                f"the registry database {path} is in use by another process "
                "(is `da serve` running?)"
            ) from exc
        raise


def get_system_db(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to `$DATA_DIR/state/system.duckdb` with the log and v4 tables ready."""
    conn = connect(settings)
    attach(conn)
    return conn


def open_registry(settings: Settings | None = None) -> Registry:
    """The registry on the configured database file."""
    return attach(connect(settings))
