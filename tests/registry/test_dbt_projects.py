"""dbt import of real projects (issue 19, item 2): a project shaped like
dbt-labs/jaffle-sl-template imports with every metric shape either mapped, computing what
dbt would, or reported with its reason; only what dbt reads is read."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from registry import MetricRepository, answers
from registry.errors import InvalidDefinitionError
from registry.interchange.imports import ImportOptions, reconcile

JAFFLE = Path(__file__).with_name("jaffle_shaped")
# What `dbt parse` (dbt-core 1.11) wrote for that project, its two broken metrics left out.
MANIFEST = Path(__file__).with_name("jaffle_shaped_manifest.json")

MAPPED = [
    "orders/average_order",  # a measure's create_metric: true
    "orders/food_orders",
    "orders/food_share",
    "orders/large_order",
    "orders/order_total",
    "orders/orders",
    "orders/orders_filled",
    "orders/twice_orders",
]
REASONS = {
    "median_order": "aggregation 'percentile' of measure 'median_order' is not supported",
    "new_customer_orders": "reaches entity 'customer' of another semantic model",
    "orders_growth": "derived metrics with offsets",
    "orders_last_7_days": "cumulative metrics",
    "orders_on_the_spine": "join_to_timespine needs dbt's time spine",
}


def _import(repo: MetricRepository, path: Path) -> dict[str, object]:
    return reconcile(repo.registry, path, ImportOptions(actor="alice", format="dbt")).as_dict()


def _orders_db(tmp_path: Path) -> Path:
    """Six orders over two months: totals, food flags and dates as the jaffle shop has."""
    path = tmp_path / "jaffle.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute(
        "CREATE TABLE orders AS SELECT * FROM (VALUES"
        " (1, 5.0, true, TIMESTAMP '2024-01-03 10:00'), (2, 25.0, false, TIMESTAMP '2024-01-09 12:00'),"
        " (3, 40.0, true, TIMESTAMP '2024-01-20 18:30'), (4, 12.0, true, TIMESTAMP '2024-02-01 08:00'),"
        " (5, 30.0, false, TIMESTAMP '2024-02-11 09:00'), (6, 21.0, false, TIMESTAMP '2024-02-28 23:59'))"
        " AS t(order_id, order_total, is_food_order, ordered_at)"
    )
    conn.close()
    return path


def test_a_jaffle_shaped_project_imports_what_maps_and_says_why_not_the_rest(
    repo: MetricRepository, tmp_path: Path
) -> None:
    report = _import(repo, JAFFLE)
    assert sorted(report["added"]) == MAPPED  # type: ignore[call-overload]
    skipped: dict[str, str] = report["skipped"]  # type: ignore[assignment]
    for name, words in REASONS.items():
        assert words in skipped.pop(name), name
    # Malformed shapes are reported, never a traceback.
    assert skipped.pop("broken_shape").startswith("a derived metric needs `expr` and its input")
    assert skipped.pop("self_loop") == "metric 'self_loop' refers to itself"
    assert skipped == {}
    # Only the model paths are read: no JSON beside them, no YAML outside them.
    assert report["unreadable"] == [] and repo.get("analyses/outside_model_paths") is None

    # What was imported computes what dbt's definitions mean, month by month.
    db = _orders_db(tmp_path)

    def monthly(metric_id: str) -> list[object]:
        return [row[1] for row in answers.run_metric(repo.registry, db, metric_id)["rows"]]

    assert monthly("orders/orders") == [3, 3]
    assert monthly("orders/large_order") == [2, 2]  # order_total >= 20
    assert monthly("orders/food_orders") == [2, 1]
    assert monthly("orders/twice_orders") == [6, 6]
    assert monthly("orders/food_share") == [pytest.approx(2 / 3), pytest.approx(1 / 3)]
    assert monthly("orders/order_total") == [70.0, 63.0]
    assert monthly("orders/average_order") == [pytest.approx(70 / 3), pytest.approx(21.0)]


def test_the_projects_semantic_manifest_imports_the_same(
    repo: MetricRepository, tmp_path: Path
) -> None:
    project = tmp_path / "jaffle"
    shutil.copytree(JAFFLE, project)
    (project / "models" / "marts" / "orders.yml").unlink()  # only dbt's output is left
    (project / "target").mkdir()
    shutil.copy(MANIFEST, project / "target" / "semantic_manifest.json")
    from_manifest = _import(repo, project)
    assert sorted(from_manifest["added"]) == MAPPED  # type: ignore[call-overload]
    assert set(from_manifest["skipped"]) == set(REASONS)  # type: ignore[arg-type]
    from_yaml = MetricRepository(duckdb.connect(), actor="bob")
    _import(from_yaml, JAFFLE)
    for metric_id in MAPPED:
        mine, theirs = repo.get(metric_id), from_yaml.get(metric_id)
        assert mine is not None and theirs is not None
        assert (mine["sql"], mine["filters"]) == (theirs["sql"], theirs["filters"]), metric_id


def test_model_paths_stay_inside_the_project(repo: MetricRepository, tmp_path: Path) -> None:
    project = tmp_path / "escape"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: escape\nmodel-paths: ['../../etc']\n")
    with pytest.raises(InvalidDefinitionError, match="model-paths: '../../etc' leads outside"):
        _import(repo, project)
