"""Answers that read the analytics database: validation of definitions against it, and
running a metric's canonical SQL there."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import queries, sight
from registry.answers.metrics import metric
from registry.errors import NotFoundError, UnavailableError
from registry.shape import jsonable, utc_text
from storage.session import Registry

if TYPE_CHECKING:
    from registry.analytics.profiler import Knowledge


def validation(
    reg: Registry,
    database: Path,
    metric_id: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Every finding of checking metrics against an analytics database: one metric, or a
    page of at most `limit` metrics after the cursor `after` (`next` pages on)."""
    from registry.analytics.validation import validate

    if not database.exists():
        raise UnavailableError(
            f"no analytics database at {database}: run `da demo` to build the demo one,"
            " or name another"
        )
    if metric_id is not None:
        sight.require_metric(reg, metric_id)
        metrics = [queries.require_metric(reg, metric_id)]
        more = False
    else:
        one_more = None if limit is None else limit + 1
        metrics = queries.list_metrics(reg, after=after, limit=one_more)
        more = limit is not None and len(metrics) > limit
        metrics = metrics[:limit] if limit is not None else metrics
    findings = [f.as_finding() for f in validate(reg, database, metrics)]
    return {
        "findings": jsonable(findings),
        "count": len(findings),
        "metrics_checked": len(metrics),
        "next": metrics[-1]["id"] if more else None,
    }


# -- running the canonical SQL ------------------------------------------------------------------

RUN_LIMIT = 100  # rows an answer holds unless asked for more
MAX_RUN_LIMIT = 10_000


def run_metric(
    reg: Registry,
    database: Path,
    metric_id: str,
    variant: str | None = None,
    limit: int = RUN_LIMIT,
    timeout: float = 10.0,
    valid_at: datetime | None = None,
) -> dict[str, Any]:
    """Run a metric's SQL (or one of its variants) exactly as stored, on the analytics
    database opened read-only with external access off: the SQL that ran, the metric's
    version, and at most `limit` rows (`truncated` says if there were more). With
    `valid_at`: the definition in force at that business time, and the version that made it.

    Raises NotFoundError (metric, variant), UnavailableError (no analytics database) or
    QueryFailedError (the SQL failed, was not one SELECT, or ran past `timeout` seconds).
    """
    from registry.analytics.sandbox import run_sandboxed

    row = metric(reg, metric_id, valid_at=valid_at)  # an old id runs the renamed metric
    version, metric_id = row["version"], row["id"]
    variants = row.get("sql_variants") or {}
    if variant is not None and variant not in variants:
        known = ", ".join(sorted(variants)) or "none"
        raise NotFoundError(
            f"metric {metric_id!r} has no variant {variant!r} (its variants: {known})"
        )
    sql = row["sql"] if variant is None else variants[variant]
    if not database.exists():
        raise UnavailableError(
            f"no analytics database at {database}: run `da demo` to build the demo one,"
            " or name another"
        )
    result = run_sandboxed(database, sql, min(limit, MAX_RUN_LIMIT), timeout)
    answer = {
        "id": metric_id,
        "version": version,
        "variant": variant,
        "valid_at": None if valid_at is None else utc_text(valid_at),
        "sql": sql,
        "columns": result.columns,
        "rows": jsonable(result.rows),
        "row_count": len(result.rows),
        "truncated": result.truncated,
    }
    if row.get("renamed_from"):  # asked by an old id: the answer says so
        answer["renamed_from"] = row["renamed_from"]
        answer["renamed_to"] = row["renamed_to"]
    return answer


def recorded_basetypes(
    reg: Registry, profiles: list[Any], actor: str, door: str = "python"
) -> dict[str, Any]:
    """Record each profiled column's basetype as inferred column metadata (never over a
    manual or verified entry): `{"recorded": how many columns were written}`, and the
    proposal they became instead when approval is required."""
    from registry.analytics.profiler import record_basetypes

    results = record_basetypes(reg, profiles, actor, door)
    proposal = results[0].proposal if results else None
    if proposal is not None:
        return {"recorded": 0, "proposal": jsonable(proposal)}
    return {"recorded": len(results)}


def table_profiles(
    database: Path, table: str | None, knowledge_of: Callable[[list[str]], Knowledge]
) -> dict[str, Any]:
    """Profile an analytics database (or one of its tables): figures per column, annotated
    with what `knowledge_of(tables)` says of them (the registry's, a server's, or a YAML
    folder's metrics and column meanings). `tables` holds TableProfile objects, which
    `recorded_basetypes` takes; `as_json` is the JSON-ready form.

    Raises UnavailableError (no analytics database) or NotFoundError (no such table).
    """
    from registry.analytics.profiler import profile
    from registry.analytics.sandbox import AnalyticsDatabase

    if not database.exists():
        raise UnavailableError(
            f"no analytics database at {database}: run `da demo` to build the demo one,"
            " or pass --db"
        )
    analytics = AnalyticsDatabase(database)
    try:
        present = analytics.tables()
        if table is not None and table not in present:
            raise NotFoundError(f"{table!r} is not a table of {database}")
        knowledge = knowledge_of([table] if table else sorted(present))
        profiles = profile(analytics, knowledge, table)
    finally:
        analytics.close()
    return {
        "source": knowledge.source,
        "note": knowledge.note,
        "database": str(database),
        "tables": profiles,
    }
