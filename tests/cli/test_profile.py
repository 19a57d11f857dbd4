"""`da profile` on the demo database: real figures, the registry's view, and the fallback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from starter_pack.demo_db import TABLES
from tests.cli.conftest import Run, held_open


def profiled(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def by_name(report: dict[str, Any], table: str) -> dict[str, Any]:
    return next(t for t in report["tables"] if t["table"] == table)


def test_figures_match_the_data(da: Run, data: Path) -> None:
    report = profiled(da("profile", "--json"))
    assert report["source"] == "registry"
    analytics = duckdb.connect(str(data / "demo" / "analytics.duckdb"), read_only=True)
    tables = {t["table"] for t in report["tables"]}
    assert tables == set(TABLES)
    for table in tables:
        count = analytics.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert by_name(report, table)["rows"] == count[0]  # type: ignore[index]
    tickets = {c["name"]: c for c in by_name(report, "tickets")["columns"]}
    share = analytics.execute("SELECT avg((resolved_at IS NULL)::INT) FROM tickets").fetchone()
    assert abs(tickets["resolved_at"]["null_share"] - share[0]) < 1e-4  # type: ignore[index]
    assert tickets["priority"]["distinct"] == 4 and tickets["priority"]["samples"] == [
        "high",
        "low",
        "medium",
    ]
    subscriptions = by_name(report, "subscriptions")
    columns = {c["name"]: c for c in subscriptions["columns"]}
    assert (columns["billing_date"]["min"], columns["billing_date"]["max"]) == (
        "2024-01-01",
        "2025-12-01",
    )
    assert columns["mrr_amount"]["type"] == "DECIMAL(12,2)"
    assert subscriptions["metrics"] == ["arr", "churn_rate", "mrr"]
    assert by_name(report, "subscription_changes")["metrics"] == ["churn_rate", "upsell_expansion"]
    assert subscriptions["missing_columns"] == []


def test_column_meanings_and_missing_columns(da: Run) -> None:
    da(
        "columns",
        "set",
        "orders",
        "total_amount",
        "--description",
        "Order total incl. discounts",
        "--basetype",
        "NUMERIC",
    )
    da("metrics", "update", "revenue/total_revenue", "--set", "dimensions=[channel, country]")
    report = profiled(da("profile", "--table", "orders", "--json"))
    [orders] = report["tables"]
    amount = next(c for c in orders["columns"] if c["name"] == "total_amount")
    assert (amount["description"], amount["basetype"], amount["confidence"]) == (
        "Order total incl. discounts",
        "NUMERIC",
        "manual",
    )
    assert orders["missing_columns"] == ["revenue/total_revenue: country (dimension)"]
    human = da("profile", "--table", "orders")
    assert "missing column: revenue/total_revenue: country (dimension)" in human.stdout
    assert "orders: " in human.stdout and "metrics: new_customers, total_revenue" in human.stdout


def test_record_basetypes_never_overwrites_manual(da: Run) -> None:
    da(
        "columns",
        "set",
        "orders",
        "channel",
        "--basetype",
        "TEXT",
        "--description",
        "Sales channel",
    )
    report = profiled(da("profile", "--table", "orders", "--record-basetypes", "--json"))
    assert report["recorded"] == 6
    channel = json.loads(da("columns", "show", "orders", "channel", "--json").stdout)
    assert (channel["basetype"], channel["confidence"], channel["source"]) == (
        "TEXT",
        "manual",
        "manual",
    )
    amount = json.loads(da("columns", "show", "orders", "total_amount", "--json").stdout)
    assert (amount["basetype"], amount["confidence"], amount["source"]) == (
        "NUMERIC",
        "inferred",
        "profiler",
    )
    history = json.loads(da("columns", "history", "orders", "order_date", "--json").stdout)
    assert history[0]["source"] == "profiler" and history[0]["actor"] == "alice"
    again = profiled(da("profile", "--table", "orders", "--record-basetypes", "--json"))
    assert again["recorded"] == 0  # nothing changed, nothing appended


def test_falls_back_to_yaml_only_when_the_registry_cannot_be_read(
    da: Run, data: Path, tmp_path: Path
) -> None:
    with held_open(data / "state" / "system.duckdb"):
        folder = tmp_path / "metrics" / "revenue"
        folder.mkdir(parents=True)
        (folder / "gmv.yml").write_text("name: gmv\nsql: SELECT 1\ntable: orders\n")
        result = da(
            "profile", "--table", "orders", "--metrics-dir", str(tmp_path / "metrics"), "--json"
        )
        report = profiled(result)
        assert report["source"] == f"yaml:{tmp_path / 'metrics'}"
        assert report["tables"][0]["metrics"] == ["gmv"]
        assert "is in use by another process" in result.stderr


def test_profile_errors(da: Run, tmp_path: Path) -> None:
    unknown = da("profile", "--table", "nope")
    assert unknown.exit_code == 2 and "'nope' is not a table" in unknown.stderr
    missing = da("profile", "--db", str(tmp_path / "none.duckdb"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
