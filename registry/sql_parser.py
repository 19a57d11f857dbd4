"""DuckDB's own parser, without a database: is a text one SELECT, or one SQL expression?

Metric SQL is written for the analytics engine, DuckDB, whatever engine holds the registry;
so a definition's `sql` (and each variant) is checked with DuckDB's parser at every door
(`registry.models`), and interchange (an Apache Ossie document's expressions, the SQL an
import makes) is checked with it too, not with a look-alike. Only parsing: binding to the
data's tables is `validate`'s work. Each thread keeps one in-memory connection for it.
"""

from __future__ import annotations

import json
import threading

import duckdb

_LOCAL = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    conn = getattr(_LOCAL, "conn", None)
    if conn is None:
        conn = duckdb.connect()
        _LOCAL.conn = conn
    return conn


def _parse(sql: str) -> str | None:
    [(tree,)] = _connection().execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
    found = json.loads(tree)
    if found.get("error"):
        return str(found.get("error_message") or "does not parse").splitlines()[0]
    if len(found.get("statements") or []) != 1:
        return "is not exactly one statement"
    return None


def query_problem(sql: str) -> str | None:
    """What DuckDB's parser finds wrong with one SELECT (None: it parses)."""
    return _parse(sql)


def expression_problem(expression: str) -> str | None:
    """What DuckDB's parser finds wrong with one SQL expression (None: it parses)."""
    if ";" in expression:
        return "holds a ';': an expression is not a statement"
    return _parse(f"SELECT {expression}")
