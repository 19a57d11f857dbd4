"""dbt Semantic Layer import: mappable metrics become definitions whose SQL gives the numbers
computed by hand; the others are reported with the reason, never dropped silently."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from registry import MetricRepository, answers
from registry.errors import RefusedError
from registry.interchange.imports import ImportOptions, reconcile

PROJECT = Path(__file__).with_name("dbt_project")


@pytest.fixture
def shop_db(tmp_path: Path) -> Path:
    """Five orders and three customers over January and February 2024."""
    path = tmp_path / "shop.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute(
        "CREATE TABLE orders (order_id INT, customer_id VARCHAR, amount DECIMAL(10, 2),"
        " channel VARCHAR, ordered_at DATE)"
    )
    conn.execute(
        "INSERT INTO orders VALUES (1, 'c1', 100, 'web', '2024-01-05'),"
        " (2, 'c2', 50, 'store', '2024-01-10'), (3, 'c1', 30, 'web', '2024-01-20'),"
        " (4, 'c3', 200, 'web', '2024-02-02'), (5, 'c3', 20, 'store', '2024-02-14')"
    )
    conn.execute("CREATE TABLE customers (customer_id VARCHAR, country VARCHAR, signed_up_at DATE)")
    conn.execute(
        "INSERT INTO customers VALUES ('c1', 'DE', '2024-01-01'), ('c2', 'FR', '2024-01-15'),"
        " ('c3', 'DE', '2024-02-01')"
    )
    conn.close()
    return path


def options(**overrides: object) -> ImportOptions:
    return ImportOptions(actor="alice", format="dbt", **overrides)  # type: ignore[arg-type]


def values(repo: MetricRepository, db: Path, metric_id: str) -> list[object]:
    result = answers.run_metric(repo.registry, db, metric_id)
    return [row[1] for row in result["rows"]]


def test_a_dbt_project_imports_what_maps_and_reports_the_rest(
    repo: MetricRepository, shop_db: Path
) -> None:
    report = reconcile(repo.registry, PROJECT, options())
    assert sorted(report.added) == [
        "customers/signups",
        "orders/average_order_value",
        "orders/buyers",
        "orders/order_count",
        "orders/revenue_per_buyer",
        "orders/web_revenue",
        "sales/revenue",
    ]
    assert sorted(report.skipped) == [
        "cumulative_revenue",
        "german_revenue",
        "median_order",
        "visit_to_buy",
    ]
    assert "cumulative metrics (a running window" in report.skipped["cumulative_revenue"]
    assert (
        "conversion metrics (a running window, a conversion funnel)"
        in report.skipped["visit_to_buy"]
    )
    assert "needs the semantic graph" in report.skipped["german_revenue"]
    assert "aggregation 'median'" in report.skipped["median_order"]
    revenue = repo.get("sales/revenue")
    assert revenue is not None
    assert (revenue["display_name"], revenue["table_name"], revenue["time_column"]) == (
        "Revenue",
        "orders",
        "ordered_at",
    )
    assert (revenue["type"], revenue["grain"], revenue["dimensions"]) == (
        "sum",
        "monthly",
        ["channel"],
    )
    assert (revenue["source"], revenue["source_ref"]) == ("dbt_import", "shop")
    assert values(repo, shop_db, "sales/revenue") == [180.0, 220.0]
    assert values(repo, shop_db, "orders/web_revenue") == [130.0, 200.0]
    assert values(repo, shop_db, "orders/order_count") == [3, 2]
    assert values(repo, shop_db, "orders/buyers") == [2, 1]
    assert values(repo, shop_db, "orders/average_order_value") == [60.0, 110.0]
    assert values(repo, shop_db, "orders/revenue_per_buyer") == [90.0, 220.0]
    assert values(repo, shop_db, "customers/signups") == [2, 1]
    assert repo.get("orders/average_order_value")["type"] == "ratio"  # type: ignore[index]


def test_dbt_imports_are_batches_like_yaml_ones(repo: MetricRepository, tmp_path: Path) -> None:
    dry = reconcile(repo.registry, PROJECT, options(dry_run=True))
    assert len(dry.added) == 7 and dry.written == [] and repo.list() == []
    reconcile(repo.registry, PROJECT, options())
    again = reconcile(repo.registry, PROJECT, options())
    assert len(again.unchanged) == 7 and again.written == []
    smaller = tmp_path / "smaller"
    (smaller / "models").mkdir(parents=True)
    (smaller / "dbt_project.yml").write_text("name: shop\n")
    (smaller / "models" / "s.yml").write_text(
        (PROJECT / "models" / "semantic_models.yml").read_text()
    )
    (smaller / "models" / "m.yml").write_text(
        "metrics:\n  - {name: signups, type: simple, type_params: {measure: signups}}\n"
    )
    pruned = reconcile(repo.registry, smaller, options(prune=True))
    assert len(pruned.deleted) == 6 and pruned.unchanged == ["customers/signups"]
    with pytest.raises(RefusedError, match="strict import refused: 4 of the source"):
        reconcile(repo.registry, PROJECT, options(strict=True))


def test_a_semantic_manifest_imports_the_same(repo: MetricRepository, tmp_path: Path) -> None:
    import yaml

    models = yaml.safe_load((PROJECT / "models" / "semantic_models.yml").read_text())
    metrics = yaml.safe_load((PROJECT / "models" / "metrics.yml").read_text())
    for model in models["semantic_models"]:
        model["node_relation"] = {"alias": model.pop("model").split("'")[1], "schema_name": "main"}
    for metric in metrics["metrics"]:
        if isinstance(metric.get("filter"), str):
            metric["filter"] = {"where_filters": [{"where_sql_template": metric["filter"]}]}
    manifest = tmp_path / "semantic_manifest.json"
    manifest.write_text(json.dumps({**models, **metrics}))
    report = reconcile(repo.registry, manifest, options(label="shop"))
    assert len(report.added) == 7 and len(report.skipped) == 4
    web = repo.get("orders/web_revenue")
    assert web is not None and "WHERE (channel = 'web')" in web["sql"]
