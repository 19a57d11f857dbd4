"""Checking live metrics against an analytics database, without scanning its data.

Findings are data (metric id, field, severity, message), never exceptions: one run reports
everything wrong with every metric.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from registry.analytics.sandbox import AnalyticsDatabase
from registry.queries import list_metrics, require_metric
from storage.session import Registry

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem of one metric: where (field), how bad, and what is wrong."""

    metric_id: str
    field: str
    severity: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.severity}: {self.metric_id}: {self.field}: {self.message}"


def _queries(metric: dict[str, Any]) -> list[tuple[str, str]]:
    variants = sorted((metric.get("sql_variants") or {}).items())
    return [("sql", metric["sql"]), *((f"sql_variants.{k}", v) for k, v in variants)]


def check_metric(db: AnalyticsDatabase, tables: set[str], metric: dict[str, Any]) -> list[Finding]:
    """Every finding for one metric row against an open analytics database."""
    mid = metric["id"]
    found: list[Finding] = []
    declared = {t for t in [metric.get("table_name"), *metric.get("tables", [])] if t}
    for table in sorted(declared - tables):
        found.append(
            Finding(mid, "tables", ERROR, f"table {table!r} does not exist in {db.path.name}")
        )
    read: set[str] = set()
    for field, sql in _queries(metric):
        error, used = db.check_query(sql)
        if error:
            found.append(Finding(mid, field, ERROR, error))
        read |= used
    if not any(f.field.startswith("sql") for f in found):
        for table in sorted(read - declared):
            found.append(
                Finding(
                    mid, "tables", WARNING, f"its SQL reads {table!r}, which it does not declare"
                )
            )
        for table in sorted((declared & tables) - read):  # a missing table is an error already
            found.append(
                Finding(mid, "tables", WARNING, f"declares {table!r}, which its SQL does not read")
            )
    main = metric.get("table_name")
    if main and main in tables:
        columns = db.columns(main)
        wanted = [("time_column", metric.get("time_column"))]
        wanted += [("dimensions", d) for d in metric.get("dimensions", [])]
        for field, column in wanted:
            if column and column not in columns:
                found.append(Finding(mid, field, ERROR, f"{column!r} is not a column of {main!r}"))
    return found


def validate(
    reg: Registry,
    database: Path,
    which: str | list[dict[str, Any]] | None = None,
) -> list[Finding]:
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
