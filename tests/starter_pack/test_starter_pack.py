"""The starter pack's metrics run on the demo database and give numbers that hang together."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from registry import MetricRepository
from registry.interchange.starter import load_starter_pack
from starter_pack.demo_db import TABLES, build_demo_database

SPEC_TABLE = {  # SPEC section 3: id -> (display name, type, unit, table, expression, time column)
    "revenue/total_revenue": (
        "Total Revenue",
        "sum",
        "USD",
        "orders",
        "SUM(total_amount)",
        "order_date",
    ),
    "revenue/mrr": (
        "Monthly Recurring Revenue",
        "sum",
        "USD",
        "subscriptions",
        "SUM(mrr_amount)",
        "billing_date",
    ),
    "revenue/arr": (
        "Annual Recurring Revenue",
        "sum",
        "USD",
        "subscriptions",
        "SUM(mrr_amount) * 12",
        "billing_date",
    ),
    "revenue/churn_rate": (
        "Monthly Churn Rate",
        "ratio",
        "percentage",
        "subscriptions",
        "churned_mrr / beginning_mrr * 100",
        "billing_date",
    ),
    "product_usage/active_users": (
        "Monthly Active Users",
        "count",
        "count",
        "user_events",
        "COUNT(DISTINCT user_id)",
        "event_date",
    ),
    "product_usage/feature_adoption": (
        "Feature Adoption Rate",
        "ratio",
        "percentage",
        "user_events",
        "users_using_feature / total_active_users * 100",
        "event_date",
    ),
    "sales/new_customers": (
        "New Customers",
        "count",
        "count",
        "orders",
        "COUNT(DISTINCT customer_id)",
        "order_date",
    ),
    "sales/upsell_expansion": (
        "Upsell & Expansion Revenue",
        "sum",
        "USD",
        "subscription_changes",
        "SUM(delta_mrr) where change_type is upgrade or expansion",
        "change_date",
    ),
    "sales/pipeline_value": (
        "Pipeline Value",
        "sum",
        "USD",
        "opportunities",
        "SUM(deal_value * probability / 100)",
        "expected_close_date",
    ),
    "operations/support_resolution_time": (
        "Support Resolution Time",
        "avg",
        "hours",
        "tickets",
        "AVG(resolution_hours)",
        "created_at",
    ),
    "operations/infrastructure_cost": (
        "Infrastructure Cost",
        "sum",
        "USD",
        "infra_costs",
        "SUM(cost_usd)",
        "billing_month",
    ),
}


@pytest.fixture(scope="module")
def analytics(demo_db: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(demo_db), read_only=True)


def run(
    analytics: duckdb.DuckDBPyConnection,
    starter: MetricRepository,
    metric_id: str,
    variant: str | None = None,
) -> list[tuple[Any, ...]]:
    metric = starter.get(metric_id)
    assert metric is not None
    sql = metric["sql_variants"][variant] if variant else metric["sql"]
    return analytics.execute(sql).fetchall()


def summed_by_month(rows: list[tuple[Any, ...]]) -> dict[Any, Decimal]:
    """(month, group, value) rows added up per month."""
    totals: dict[Any, Decimal] = {}
    for month, _group, value in rows:
        totals[month] = totals.get(month, Decimal(0)) + value
    return totals


def test_the_pack_matches_spec_section_3(starter: MetricRepository) -> None:
    metrics = {m["id"]: m for m in starter.list()}
    assert set(metrics) == set(SPEC_TABLE)
    for metric_id, expected in SPEC_TABLE.items():
        m = metrics[metric_id]
        assert (
            m["display_name"],
            m["type"],
            m["unit"],
            m["table_name"],
            m["expression"],
            m["time_column"],
        ) == expected
        assert m["grain"] == "monthly" and m["notes"] and m["description"] and m["synonyms"]
    assert set(metrics["revenue/mrr"]["sql_variants"]) == {"by_plan"}
    assert set(metrics["revenue/total_revenue"]["sql_variants"]) == {"by_channel"}
    assert set(metrics["operations/infrastructure_cost"]["sql_variants"]) == {"by_provider"}
    assert "mttr" in metrics["operations/support_resolution_time"]["synonyms"]


def test_loading_twice_changes_nothing(starter: MetricRepository) -> None:
    again = load_starter_pack(starter.registry, actor="setup")
    assert len(again.unchanged) == 11 and again.written == []


def test_every_metric_and_variant_runs(
    analytics: duckdb.DuckDBPyConnection, starter: MetricRepository
) -> None:
    for metric in starter.list():
        for variant in [None, *metric["sql_variants"]]:
            rows = run(analytics, starter, metric["id"], variant)
            assert len(rows) >= 20, (metric["id"], variant)  # about two years of months


def test_arr_is_twelve_times_mrr_every_month(
    analytics: duckdb.DuckDBPyConnection, starter: MetricRepository
) -> None:
    mrr = dict(run(analytics, starter, "revenue/mrr"))
    arr = dict(run(analytics, starter, "revenue/arr"))
    assert mrr.keys() == arr.keys() and len(mrr) == 24
    assert all(arr[m] == mrr[m] * 12 for m in mrr)
    assert all(Decimal(1_000) < v < Decimal(1_000_000) for v in mrr.values())


def test_mrr_by_plan_adds_up_to_mrr(
    analytics: duckdb.DuckDBPyConnection, starter: MetricRepository
) -> None:
    mrr = dict(run(analytics, starter, "revenue/mrr"))
    assert summed_by_month(run(analytics, starter, "revenue/mrr", "by_plan")) == mrr


def test_mrr_moves_by_exactly_the_changes_of_the_month(
    analytics: duckdb.DuckDBPyConnection, starter: MetricRepository
) -> None:
    mrr = sorted(run(analytics, starter, "revenue/mrr"))
    deltas = dict(
        analytics.execute(
            "SELECT CAST(date_trunc('month', change_date) AS DATE), SUM(delta_mrr)"
            " FROM subscription_changes GROUP BY 1"
        ).fetchall()
    )
    for (_, before), (month, after) in zip(mrr, mrr[1:], strict=False):
        assert after - before == deltas[month]


def test_churn_and_adoption_are_percentages(
    analytics: duckdb.DuckDBPyConnection, starter: MetricRepository
) -> None:
    churn = [v for _, v in run(analytics, starter, "revenue/churn_rate")]
    assert len(churn) == 23 and all(0 < v < 100 for v in churn)
    adoption = run(analytics, starter, "product_usage/feature_adoption")
    assert all(0 < v <= 100 for _, _, v in adoption)
    assert {f for _, f, _ in adoption} == {"dashboards", "reports", "alerts", "api", "exports"}


def test_new_customers_sum_to_customers_with_a_completed_order(
    analytics: duckdb.DuckDBPyConnection, starter: MetricRepository
) -> None:
    total = sum(n for _, n in run(analytics, starter, "sales/new_customers"))
    distinct = analytics.execute(
        "SELECT COUNT(DISTINCT customer_id) FROM orders WHERE status = 'completed'"
    ).fetchone()
    assert distinct is not None and total == distinct[0]


def test_revenue_by_channel_adds_up_and_excludes_refunds(
    analytics: duckdb.DuckDBPyConnection, starter: MetricRepository
) -> None:
    total = dict(run(analytics, starter, "revenue/total_revenue"))
    assert summed_by_month(run(analytics, starter, "revenue/total_revenue", "by_channel")) == total
    everything = analytics.execute("SELECT SUM(total_amount) FROM orders").fetchone()
    assert everything is not None and sum(total.values()) < everything[0]


def test_pipeline_resolution_and_costs_are_plausible(
    analytics: duckdb.DuckDBPyConnection, starter: MetricRepository
) -> None:
    open_weighted = analytics.execute(
        "SELECT SUM(deal_value * probability / 100) FROM opportunities"
        " WHERE stage NOT IN ('closed_won', 'closed_lost')"
    ).fetchone()
    pipeline = run(analytics, starter, "sales/pipeline_value")
    assert open_weighted is not None and sum(v for _, v in pipeline) == pytest.approx(
        open_weighted[0]
    )
    for _, mean, median in run(analytics, starter, "operations/support_resolution_time"):
        assert 0 < median < mean < 100  # long tickets pull the mean above the median
    cost = dict(run(analytics, starter, "operations/infrastructure_cost"))
    by_provider = run(analytics, starter, "operations/infrastructure_cost", "by_provider")
    assert summed_by_month(by_provider) == cost
    expansion = run(analytics, starter, "sales/upsell_expansion")
    assert all(v > 0 for _, v in expansion)


def test_the_demo_database_is_deterministic_and_small(demo_db: Path, tmp_path: Path) -> None:
    again = build_demo_database(tmp_path / "again.duckdb")
    assert again.stat().st_size < 10_000_000
    first, second = (
        duckdb.connect(str(demo_db), read_only=True),
        duckdb.connect(str(again), read_only=True),
    )
    for table in TABLES:
        query = f"SELECT * FROM {table} ORDER BY ALL"
        assert first.execute(query).fetchall() == second.execute(query).fetchall(), table
