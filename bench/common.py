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
    from registry.yaml_io import dump_metric

    for n in range(count):
        d = definition(n)
        d.pop("source")
        d.pop("source_ref")
        target = source / d["category"] / f"{d['name']}.yml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dump_metric(d))
