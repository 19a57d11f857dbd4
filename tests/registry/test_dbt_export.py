"""dbt Semantic Layer export: valid for dbt-semantic-interfaces, and a lossless round trip."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import duckdb
import yaml
from dbt_semantic_interfaces.parsing.dir_to_model import (
    parse_yaml_files_to_validation_ready_semantic_manifest,
)
from dbt_semantic_interfaces.parsing.objects import YamlConfigFile
from dbt_semantic_interfaces.validations.semantic_manifest_validator import (
    SemanticManifestValidator,
)

from registry import MetricRepository, answers
from registry.interchange.imports import ImportOptions, reconcile
from storage.session import attach
from tests.conftest import metric_fields

# dbt-core turns a project's `semantic_models:` / `metrics:` lists into one document each,
# and adds the project's configuration (its time spine); the parser reads that form.
PROJECT_CONFIGURATION = {
    "project_configuration": {
        "time_spine_table_configurations": [
            {"location": "main.time_spine", "column_name": "date_day", "grain": "day"}
        ]
    }
}


def validate_with_dbt(files: dict[str, str]) -> list[str]:
    documents = [PROJECT_CONFIGURATION]
    for name, text in files.items():
        content = yaml.safe_load(text)
        if name.startswith("models/") and "semantic_models" in content:
            for model in content["semantic_models"]:  # dbt-core resolves ref() to a relation
                table = model.pop("model").split("'")[1]
                model["node_relation"] = {"alias": table, "schema_name": "main"}
                documents.append({"semantic_model": model})
            documents += [{"metric": m} for m in content["metrics"]]
    config = [
        YamlConfigFile(filepath=f"d{i}.yml", contents=yaml.safe_dump(d))
        for i, d in enumerate(documents)
    ]
    built = parse_yaml_files_to_validation_ready_semantic_manifest(
        config, raise_issues_as_exceptions=False
    )
    results = SemanticManifestValidator[Any]().validate_semantic_manifest(built.semantic_manifest)
    blocking = [*built.issues.errors, *results.errors, *results.future_errors]
    return [i.as_readable_str() for i in blocking]


def full_metric() -> dict[str, Any]:
    return metric_fields(
        name="every_field",
        category="sales",
        tables=["plans"],
        filters=["status = 'active'"],
        validation={"min": 0},
        sql_variants={"weekly": "SELECT 1", "by_plan": "SELECT 2"},
    )


def test_the_starter_pack_and_a_full_metric_export_as_valid_dbt(starter: MetricRepository) -> None:
    starter.create(**full_metric())
    files = answers.dbt_files(starter.registry)
    assert set(files) >= {"dbt_project.yml", "models/subscriptions.yml", "models/orders.yml"}
    assert validate_with_dbt(files) == []
    orders = yaml.safe_load(files["models/orders.yml"])
    [model] = orders["semantic_models"]
    assert model["defaults"] == {"agg_time_dimension": "order_date"}
    measures = {m["name"]: m for m in model["measures"]}
    assert measures["total_revenue_measure"] == {
        "name": "total_revenue_measure",
        "agg": "sum",
        "expr": "total_amount",
        "agg_time_dimension": "order_date",
    }
    # The SQL's WHERE is the metric's filter, its column a dimension of the semantic model.
    total = next(m for m in orders["metrics"] if m["name"] == "total_revenue")
    assert total["filter"] == "{{ Dimension('orders__status') }} = 'completed'"
    assert {"name": "status", "expr": "status", "type": "categorical"} in model["dimensions"]
    # ARR is derived: its input is MRR's sum with the same filter, times 12.
    subscriptions = yaml.safe_load(files["models/subscriptions.yml"])
    arr = next(m for m in subscriptions["metrics"] if m["name"] == "arr")
    assert arr["type_params"] == {"expr": "arr_input_1 * 12", "metrics": [{"name": "arr_input_1"}]}
    # A metric the export cannot express exactly is no dbt metric: kept as metadata, with why.
    kept = yaml.safe_load(files["metrics_registry.yml"])["metrics_registry"]
    assert kept["not_exported"] == {
        "product_usage/feature_adoption": "the SQL has a WITH clause",
        "revenue/churn_rate": "the SQL has a WITH clause",
        "sales/every_field": "the value column has no name (AS ...)",
        "sales/new_customers": "the SQL has a WITH clause",
    }
    assert [m["name"] for m in kept["metrics"]] == [
        "feature_adoption",
        "churn_rate",
        "every_field",
        "new_customers",
    ]
    assert "new_customers" not in {m["name"] for m in orders["metrics"]}


def test_registry_to_dbt_to_a_fresh_registry_is_identical(
    starter: MetricRepository, tmp_path: Path
) -> None:
    starter.create(**full_metric())
    folder = tmp_path / "project"
    answers.export_folder(starter.registry, folder, format="dbt")
    fresh = attach(duckdb.connect(str(tmp_path / "fresh.duckdb")))
    report = reconcile(fresh, folder, ImportOptions(actor="bob", format="dbt"))
    assert report.skipped == {} and len(report.added) == 12

    def definitions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k not in ("created_at", "updated_at")} for r in rows]

    from registry import queries

    assert definitions(queries.list_metrics(fresh)) == definitions(starter.list())


def test_the_export_goes_through_the_api_as_a_zip(starter: MetricRepository) -> None:
    data = answers.export_zip(starter.registry, format="dbt")
    names = zipfile.ZipFile(BytesIO(data)).namelist()
    assert "dbt_project.yml" in names and "models/subscriptions.yml" in names
