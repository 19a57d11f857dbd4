"""Answers that read the analytics side: exports, validation, running the canonical SQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import queries
from registry.answers.shape import jsonable
from registry.errors import NotFoundError, UnavailableError
from registry.session import Registry

if TYPE_CHECKING:  # commands load pydantic: writes import them when called
    from registry.yaml_io import Progress


# -- exports and validation ---------------------------------------------------------------------


def export_zip(
    reg: Registry,
    as_of: datetime | None = None,
    at_position: int | None = None,
    format: str = "yaml",
) -> bytes:
    """The registry (now, or as of a time or position) as a zip of `<category>/<name>.yml`,
    or (format `dbt`) of a dbt project's Semantic Layer YAML."""
    from registry.exports import export_zip as build
    from registry.exports import zip_files

    if format == "dbt":
        return zip_files(dbt_files(reg, as_of, at_position))
    return build(reg, as_of, at_position)


def dbt_files(
    reg: Registry, as_of: datetime | None = None, at_position: int | None = None
) -> dict[str, str]:
    """The registry (now, or as of a time or position) as dbt Semantic Layer YAML files."""
    from registry.dbt_export import export_project

    return export_project(queries.list_metrics(reg, as_of=as_of, at_position=at_position))


def export_folder(
    reg: Registry,
    directory: Path,
    as_of: datetime | None = None,
    at_position: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    format: str = "yaml",
) -> list[str]:
    """Write `<dir>/<category>/<name>.yml` for every metric (or, format `dbt`, a dbt
    project's Semantic Layer YAML); the files written."""
    from registry.exports import export_yaml, install_files

    if format == "dbt":
        files = dbt_files(reg, as_of, at_position)
        return [str(f) for f in install_files(files, directory, overwrite)]

    return [str(f) for f in export_yaml(reg, directory, as_of, at_position, overwrite, progress)]


def validation(
    reg: Registry,
    database: Path,
    metric_id: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Every finding of checking metrics against an analytics database: one metric, or a
    page of at most `limit` metrics after the cursor `after` (`next` pages on)."""
    from registry.validation import validate

    if not database.exists():
        raise UnavailableError(
            f"no analytics database at {database}: run `da demo` to build the demo one,"
            " or name another"
        )
    if metric_id is not None:
        metrics = [queries.require_metric(reg, metric_id)]
        more = False
    else:
        one_more = None if limit is None else limit + 1
        metrics = queries.list_metrics(reg, after=after, limit=one_more)
        more = limit is not None and len(metrics) > limit
        metrics = metrics[:limit] if limit is not None else metrics
    findings = [f.as_dict() for f in validate(reg, database, metrics)]
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
) -> dict[str, Any]:
    """Run a metric's SQL (or one of its variants) exactly as stored, on the analytics
    database opened read-only with external access off: the SQL that ran, the metric's
    version, and at most `limit` rows (`truncated` says if there were more).

    Raises NotFoundError (metric, variant), UnavailableError (no analytics database) or
    QueryFailedError (the SQL failed, was not one SELECT, or ran past `timeout` seconds).
    """
    from registry.connection import run_sandboxed

    row, version = queries.metric_with_version(reg, metric_id)
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
    return {
        "id": metric_id,
        "version": version,
        "variant": variant,
        "sql": sql,
        "columns": result.columns,
        "rows": jsonable(result.rows),
        "row_count": len(result.rows),
        "truncated": result.truncated,
    }
