"""Helpers shared by the benchmarks: timing and realistic metric definitions."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def median_ms(fn: Callable[[int], Any], runs: int, warmup: int = 20) -> float:
    """Median wall time of fn(i) in milliseconds over `runs` calls, after a warm-up."""
    for i in range(warmup):
        fn(-1 - i)
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def definition(n: int, revision: int = 0) -> dict[str, Any]:
    """A full, realistic metric definition (~1.7 KB as a payload)."""
    return {
        "name": f"metric_{n}",
        "category": f"category_{n % 10}",
        "display_name": f"Metric number {n}",
        "description": (
            f"Revision {revision}. Recurring revenue of active subscriptions, counted at the"
            " billing date, excluding one-time setup fees, overages and refunds issued later."
        ),
        "type": "sum",
        "unit": "USD",
        "grain": "monthly",
        "table_name": "subscriptions",
        "tables": ["plans", "customers"],
        "expression": "SUM(mrr_amount)",
        "time_column": "billing_date",
        "dimensions": ["plan_type", "region", "channel"],
        "filters": ["status = 'active'"],
        "synonyms": ["monthly_revenue", "recurring_revenue", f"m{n}"],
        "notes": [
            "Counts active subscriptions only.",
            "Excludes one-time setup fees and overages.",
            "Uses the billing date, not the signup date.",
        ],
        "sql": (
            "SELECT date_trunc('month', billing_date) AS month,\n"
            "       SUM(mrr_amount) AS value\n"
            "FROM subscriptions s\n"
            "JOIN plans p ON p.plan_id = s.plan_id\n"
            "WHERE s.status = 'active'\n"
            "GROUP BY 1\nORDER BY 1"
        ),
        "sql_variants": {
            "by_plan": (
                "SELECT date_trunc('month', billing_date) AS month, p.plan_type,"
                " SUM(mrr_amount) FROM subscriptions s JOIN plans p USING (plan_id)"
                " WHERE s.status = 'active' GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            "by_region": (
                "SELECT date_trunc('month', billing_date) AS month, region,"
                " SUM(mrr_amount) FROM subscriptions WHERE status = 'active'"
                " GROUP BY 1, 2 ORDER BY 1, 2"
            ),
        },
        "validation": {"min": 0, "max_month_over_month_change": 0.5},
        "source": "manual",
        "source_ref": None,
    }


def write_metric_files(source: Path, count: int) -> None:
    """`count` metric files, `<source>/<category>/<name>.yml`, as an import reads them."""
    from registry.interchange.yaml_io import dump_metric

    for n in range(count):
        d = definition(n)
        d.pop("source")
        d.pop("source_ref")
        target = source / d["category"] / f"{d['name']}.yml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dump_metric(d))


def database_option(parser: Any) -> None:
    """`--database-url`: run on PostgreSQL (`pgserver`: a throwaway local one) instead of
    DuckDB files."""
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://... (each registry gets a fresh schema), or 'pgserver' to start one",
    )


def server_url(chosen: str) -> str:
    """The PostgreSQL server's URL: the given one, or a throwaway pgserver's."""
    if chosen != "pgserver":
        return chosen
    import os
    import tempfile

    import pgserver  # type: ignore[import-untyped]

    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    return str(pgserver.get_server(tempfile.mkdtemp(prefix="bench-pg-")).get_uri())


def open_connection(folder: Path, name: str, database_url: str | None) -> Any:
    """A connection for one registry of a bench: a DuckDB file in `folder`, or a new schema
    of the PostgreSQL database (its URL carries the schema)."""
    if database_url is None:
        import duckdb

        return duckdb.connect(str(folder / f"{name}.duckdb"))
    return connect_schema(server_url(database_url), name)


def connect_schema(url: str, name: str) -> Any:
    from storage.postgres import connect_postgres

    return connect_postgres(schema_url(url, name))


def schema_url(url: str, name: str) -> str:
    """The URL of a new, empty schema of the server's database."""
    import uuid
    from urllib.parse import quote

    import psycopg
    from psycopg import sql

    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    glue = "&" if "?" in url else "?"
    return f"{url}{glue}options={quote(f'-csearch_path={schema}')}"
