"""Checking live metrics against an analytics database, without scanning its data.

Findings are data (`registry.errors.Issue`: the metric as subject, the field as location, a
level and a message), never exceptions: one run reports everything wrong with every metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry.analytics.sandbox import AnalyticsDatabase
from registry.errors import ERROR, WARNING, Issue
from registry.queries import list_metrics, require_metric
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
    return found


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
