"""The analytics database (DuckDB): metric SQL checked and run on it, its tables profiled.

This is the data the metrics compute on, not the registry's own database: it is a DuckDB file
whatever engine holds the registry, so this module imports duckdb; beside it only
`registry.sql_parser` does, for DuckDB's parser alone (no database).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from projections.tables import quote_identifier
from registry.errors import QueryFailedError, UnavailableError


class AnalyticsUnavailableError(UnavailableError):
    """The analytics database cannot be opened (missing, locked or broken)."""


class AnalyticsMissingError(AnalyticsUnavailableError, FileNotFoundError):
    """There is no analytics database at that path."""


# The one way the analytics database is opened, by every reader (running a metric,
# validating, profiling): DuckDB refuses a second connection to a file with another
# configuration in the same process, so /run and validation must agree. What SQL run there
# may not do: touch files other than the database it was opened on (COPY ... TO, read_csv,
# ATTACH), load or install extensions, turn any of that back on, or take more than
# MEMORY_LIMIT of memory. The connection is read-only as well.
MEMORY_LIMIT = "512MB"
_SANDBOX: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "memory_limit": MEMORY_LIMIT,
    "lock_configuration": True,
}
# Functions that tell about the server rather than the data (where its files are, its
# settings): a metric's SQL may not call them.
_HOST_FUNCTIONS = ("duckdb_", "pragma_", "current_setting", "getenv")


def open_analytics(path: Path) -> duckdb.DuckDBPyConnection:
    """The analytics database, read-only, in the sandbox; AnalyticsUnavailableError names
    the file when it cannot be opened."""
    if not path.is_file():
        raise AnalyticsMissingError(f"analytics database {path} does not exist")
    try:
        return duckdb.connect(str(path), read_only=True, config=_SANDBOX)
    except duckdb.Error as exc:
        raise AnalyticsUnavailableError(f"cannot open analytics database {path}: {exc}") from exc


def _host_function(conn: duckdb.DuckDBPyConnection, sql: str) -> str | None:
    """The first function a query calls that tells about the server, if any."""
    [(tree,)] = conn.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            # a function, or a table function named without parentheses (`FROM duckdb_tables`)
            for key in ("function_name", "table_name"):
                name = node.get(key)
                if isinstance(name, str):
                    names.append(name.lower())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(tree))
    return next((n for n in names if n.startswith(_HOST_FUNCTIONS)), None)


@dataclass(frozen=True)
class QueryResult:
    """What a query returned: its columns, at most `limit` rows, and whether there were more."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


def run_sandboxed(path: Path, sql: str, limit: int, timeout: float) -> QueryResult:
    """Run one SELECT on an analytics database opened read-only with external access off,
    stopping it after `timeout` seconds and keeping at most `limit` rows."""
    conn = open_analytics(path)
    timer = threading.Timer(timeout, conn.interrupt)
    try:
        statements = conn.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise QueryFailedError("only one SELECT statement may run")
        if (function := _host_function(conn, sql)) is not None:
            raise QueryFailedError(
                f"{function}() tells about the server, not the data: a metric may not call it"
            )
        timer.start()
        result = conn.execute(sql)
        columns = [d[0] for d in result.description or []]
        rows = result.fetchmany(limit + 1)
        return QueryResult(columns, [list(r) for r in rows[:limit]], len(rows) > limit)
    except duckdb.InterruptException as exc:
        raise QueryFailedError(f"stopped after {timeout:g} seconds") from exc
    except duckdb.Error as exc:
        raise QueryFailedError(str(exc).splitlines()[0]) from exc
    finally:
        timer.cancel()
        conn.close()


class AnalyticsDatabase:
    """A read-only view of an analytics DuckDB database, for checking metric SQL against it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = open_analytics(path)

    def close(self) -> None:
        self.conn.close()

    def first_two_columns(self, sql: str, limit: int) -> list[tuple[Any, Any]] | str:
        """The first two columns of one SELECT's rows (at most `limit`), or what went wrong."""
        if (function := _host_function(self.conn, sql)) is not None:
            return f"{function}() tells about the server, not the data"
        try:
            rows = self.conn.execute(sql).fetchmany(limit)
        except duckdb.Error as exc:
            return str(exc).splitlines()[0]
        return [(r[0], r[1]) for r in rows if len(r) >= 2]

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
