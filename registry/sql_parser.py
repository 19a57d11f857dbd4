"""DuckDB's own parser, without a database: is a text one SELECT, or one SQL expression?

Metric SQL is written for the analytics engine, DuckDB, whatever engine holds the registry;
so a definition's `sql` (and each variant) is checked with DuckDB's parser at every door
(`registry.models`), and interchange (an Apache Ossie document's expressions, the SQL an
import makes) is checked with it too, not with a look-alike. Only parsing: binding to the
data's tables is `validate`'s work. Each thread keeps one in-memory connection for it.
"""

from __future__ import annotations

import functools
import threading

import duckdb

_LOCAL = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    conn = getattr(_LOCAL, "conn", None)
    if conn is None:
        conn = duckdb.connect()
        _LOCAL.conn = conn
    return conn


@functools.lru_cache(maxsize=4096)
def _parse(sql: str) -> str | None:
    # The parser alone (no binding, no serialising the tree): every write and import pays it,
    # and an update re-checks the SQL it keeps, so the answers for recent texts are kept.
    try:
        statements = _connection().extract_statements(sql)
    except duckdb.Error as exc:
        return str(exc).splitlines()[0].removeprefix("Parser Error: ")
    if len(statements) != 1:
        return "is not exactly one statement"
    if statements[0].type != duckdb.StatementType.SELECT:
        return f"is a {statements[0].type.name} statement, not a SELECT"
    return None


def query_problem(sql: str) -> str | None:
    """What DuckDB's parser finds wrong with one SELECT (None: it parses)."""
    return _parse(sql)


def expression_problem(expression: str) -> str | None:
    """What DuckDB's parser finds wrong with one SQL expression (None: it parses)."""
    if ";" in expression:
        return "holds a ';': an expression is not a statement"
    return _parse(f"SELECT {expression}")
