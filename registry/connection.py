"""The connection factory: the one place in the registry that imports duckdb."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb

from projections.tables import quote_identifier
from registry.session import Registry, attach, on_cursor
from registry.settings import Settings, load_settings


class RegistryUnavailableError(RuntimeError):
    """The registry database cannot be read: missing, locked or broken."""


class DatabaseLockedError(RegistryUnavailableError):
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


def open_registry_read_only(settings: Settings) -> Registry:
    """The registry on an existing database, read-only (nothing is created or migrated).

    Raises RegistryUnavailableError (or DatabaseLockedError) when it cannot be read.
    """
    if not settings.db_path.is_file():
        raise RegistryUnavailableError(f"no registry database at {settings.db_path}")
    try:
        conn = connect(settings, read_only=True)
        conn.execute("SELECT count(*) FROM metric_definitions, column_metadata").fetchall()
    except duckdb.Error as exc:
        raise RegistryUnavailableError(
            f"the registry database {settings.db_path} cannot be read: {exc}"
        ) from exc
    return on_cursor(conn, threading.RLock())


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

    def describe(self, table: str) -> list[tuple[str, str]]:
        """(column, DuckDB type) of an existing table, in table order."""
        rows = self.conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [(str(c), str(t)) for c, t in rows]

    def profile(self, table: str) -> tuple[int, dict[str, dict[str, Any]]]:
        """Row count and per-column figures of an existing table, in one scan.

        Names come from the database's own catalog and are quoted; none is taken from input.
        """
        columns = self.describe(table)
        if not columns:
            raise LookupError(f"table {table!r} does not exist in {self.path.name}")
        parts = ["count(*)"]
        for name, kind in columns:
            q = quote_identifier(name)
            ordered = not kind.endswith("[]") and not kind.startswith(("STRUCT", "MAP", "UNION"))
            parts += [
                f"count({q})",
                f"approx_count_distinct({q})",
                f"min({q})::VARCHAR" if ordered else "NULL",
                f"max({q})::VARCHAR" if ordered else "NULL",
            ]
        source = quote_identifier(table)
        scan_sql = f"SELECT {', '.join(parts)} FROM {source}"  # noqa: S608 - quoted catalog names
        row = self.conn.execute(scan_sql).fetchone()
        assert row is not None  # noqa: S101 - an aggregate always answers one row
        total = int(row[0])
        figures: dict[str, dict[str, Any]] = {}
        for i, (name, kind) in enumerate(columns):
            filled, distinct, low, high = row[1 + 4 * i : 5 + 4 * i]
            figures[name] = {
                "type": kind,
                "null_share": 0.0 if total == 0 else round(1 - int(filled) / total, 4),
                "distinct": int(distinct),
                "min": low,
                "max": high,
                "samples": self._samples(source, quote_identifier(name)),
            }
        return total, figures

    def _samples(self, source: str, column: str, count: int = 3) -> list[str]:
        sample_sql = (
            f"SELECT DISTINCT {column}::VARCHAR FROM (SELECT {column} FROM {source}"  # noqa: S608 - quoted catalog names
            f" WHERE {column} IS NOT NULL LIMIT 1000) ORDER BY 1 LIMIT {int(count)}"
        )
        rows = self.conn.execute(sample_sql).fetchall()
        return [str(r[0]) for r in rows]

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
