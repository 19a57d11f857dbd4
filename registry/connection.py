"""The connection factory: the one place in the registry that imports duckdb."""

from __future__ import annotations

from pathlib import Path

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


class AnalyticsDatabase:
    """A read-only view of an analytics DuckDB database, for checking metric SQL against it."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"analytics database {path} does not exist")
        self.path = path
        try:
            self.conn = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise DatabaseLockedError(f"cannot open analytics database {path}: {exc}") from exc

    def close(self) -> None:
        self.conn.close()

    def tables(self) -> set[str]:
        rows = self.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def columns(self, table: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'main' AND table_name = ?",
            [table],
        ).fetchall()
        return {str(r[0]) for r in rows}

    def check_query(self, sql: str) -> tuple[str | None, set[str]]:
        """Parse and bind one SELECT without running it: (the error or None, tables it reads)."""
        try:
            statements = self.conn.extract_statements(sql)
            if len(statements) != 1:
                return f"must be exactly one statement, found {len(statements)}", set()
            if statements[0].type != duckdb.StatementType.SELECT:
                return "must be a SELECT query", set()
            self.conn.execute("EXPLAIN " + sql)
            return None, set(self.conn.get_table_names(sql))
        except duckdb.Error as exc:
            return str(exc).splitlines()[0], set()


def get_system_db(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to `$DATA_DIR/state/system.duckdb` with the log and v4 tables ready."""
    conn = connect(settings)
    attach(conn)
    return conn


def open_registry(settings: Settings | None = None) -> Registry:
    """The registry on the configured database file."""
    return attach(connect(settings))
