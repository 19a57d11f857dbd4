"""Checking live metrics against an analytics database: the SQL is parsed and bound, never
run, except where a metric's structured fields (table, expression, time column, filters)
describe a plain SQL: then both are computed and compared, period by period.

Findings are data (`registry.errors.Issue`: the metric as subject, the field as location, a
level and a message), never exceptions: one run reports everything wrong with every metric.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from projections.tables import quote_identifier
from registry.analytics.sandbox import AnalyticsDatabase
from registry.errors import ERROR, WARNING, Issue
from registry.metric_sql import NotPlain, read_plain
from registry.queries import list_metrics, require_metric
from registry.sql_parser import expression_problem
from storage.session import Registry


def _found(metric_id: str, field: str, level: str, message: str) -> Issue:
    return Issue(field, message, level, metric_id)


def _queries(metric: dict[str, Any]) -> list[tuple[str, str]]:
    variants = sorted((metric.get("sql_variants") or {}).items())
    return [("sql", metric["sql"]), *((f"sql_variants.{k}", v) for k, v in variants)]


def check_metric(db: AnalyticsDatabase, tables: set[str], metric: dict[str, Any]) -> list[Issue]:
    """Every finding for one metric row against an open analytics database."""
    mid = metric["id"]
    found: list[Issue] = []
    declared = {t for t in [metric.get("table_name"), *metric.get("tables", [])] if t}
    for table in sorted(declared - tables):
        found.append(
            _found(mid, "tables", ERROR, f"table {table!r} does not exist in {db.path.name}")
        )
    read: set[str] = set()
    for field, sql in _queries(metric):
        error, used = db.check_query(sql)
        if error:
            found.append(_found(mid, field, ERROR, error))
        read |= used
    if not any(f.location.startswith("sql") for f in found):
        for table in sorted(read - declared):
            found.append(
                _found(
                    mid, "tables", WARNING, f"its SQL reads {table!r}, which it does not declare"
                )
            )
        for table in sorted((declared & tables) - read):  # a missing table is an error already
            found.append(
                _found(mid, "tables", WARNING, f"declares {table!r}, which its SQL does not read")
            )
    main = metric.get("table_name")
    if main and main in tables:
        columns = db.columns(main)
        wanted = [("time_column", metric.get("time_column"))]
        wanted += [("dimensions", d) for d in metric.get("dimensions", [])]
        for field, column in wanted:
            if column and column not in columns:
                found.append(_found(mid, field, ERROR, f"{column!r} is not a column of {main!r}"))
    if not found:  # only a metric clean so far is computed: its fields against its SQL
        disagreement = _disagreement(db, metric)
        if disagreement:
            found.append(_found(mid, "expression", WARNING, disagreement))
    return found


_COMPARED_ROWS = 10_000


def _structured_query(metric: dict[str, Any]) -> str | None:
    """A query from the metric's structured fields (table_name, expression, time_column,
    filters), bucketed as its SQL buckets; None when the fields do not describe a plain SQL."""
    table, expression, time_column = (
        metric.get(k) for k in ("table_name", "expression", "time_column")
    )
    if not (table and expression and time_column):
        return None
    if expression_problem(str(expression)):
        return None  # an expression in words (SPEC's starter pack has one) computes nothing
    try:
        plain = read_plain(str(metric["sql"]))
    except NotPlain:
        return None  # the structured fields describe a query they cannot compute alone
    bucket = time_column if plain.raw_time else f"date_trunc('{plain.grain}', {time_column})"
    filters = [f"({f})" for f in metric.get("filters") or []]
    where = f" WHERE {' AND '.join(filters)}" if filters else ""
    return (
        f"SELECT {bucket} AS bucket, {expression} AS value"  # noqa: S608 - the metric's own SQL fields
        f" FROM {quote_identifier(str(table))}{where} GROUP BY 1"
    )


def _disagreement(db: AnalyticsDatabase, metric: dict[str, Any]) -> str | None:
    """How the structured fields' numbers differ from the SQL's on the data, if they do."""
    structured = _structured_query(metric)
    if structured is None:
        return None
    theirs = db.first_two_columns(structured, _COMPARED_ROWS)
    if isinstance(theirs, str):
        return f"expression, filters and time_column do not compute: {theirs}"
    ours = db.first_two_columns(str(metric["sql"]), _COMPARED_ROWS)
    if isinstance(ours, str):
        return None  # the SQL's own error is a finding already
    mine = {str(k): v for k, v in ours}
    other = {str(k): v for k, v in theirs}
    differ = sorted(k for k in mine.keys() | other.keys() if not _same(mine.get(k), other.get(k)))
    if not differ:
        return None
    first = differ[0]
    return (
        f"expression, filters and time_column compute other numbers than sql on the data:"
        f" {len(differ)} of {len(mine.keys() | other.keys())} periods differ (first: {first}:"
        f" sql {mine.get(first)}, fields {other.get(first)}); make the fields say what the"
        " SQL does"
    )


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    except (TypeError, ValueError):
        return bool(a == b)


def validate(
    reg: Registry,
    database: Path,
    which: str | list[dict[str, Any]] | None = None,
) -> list[Issue]:
    """Check metrics against an analytics database: every live one, one by id, or the given
    definitions; returns findings."""
    if isinstance(which, list):
        metrics = which
    else:
        metrics = [require_metric(reg, which)] if which else list_metrics(reg)
    db = AnalyticsDatabase(database)
    try:
        tables = db.tables()
        return [f for m in metrics for f in check_metric(db, tables, m)]
    finally:
        db.close()
