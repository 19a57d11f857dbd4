"""dbt Semantic Layer export: the registry's metrics as a dbt project's YAML.

One file per table holds its semantic model (measures, dimensions, time dimensions) and a
simple metric per registry metric; the registry's whole definition stays under each metric's
`config.meta.registry`, so `registry.interchange.dbt` imports it back unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from registry.interchange.dbt import REGISTRY_META

# -- export -------------------------------------------------------------------------------------

_AGGREGATE_CALL = re.compile(
    r"^\s*(SUM|COUNT|AVG|MIN|MAX)\s*\(\s*(DISTINCT\s+)?(.+?)\s*\)\s*$", re.IGNORECASE
)
_DBT_AGG = {"sum": "sum", "count": "count", "avg": "average", "min": "min", "max": "max"}
_DEFAULT_AGG = {"sum": "sum", "count": "count", "avg": "average", "ratio": "sum"}


def _dbt_name(text: str) -> str:
    """A dbt name: lowercase letters, digits and single underscores."""
    name = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", text.lower())).strip("_")
    return name if name and not name[0].isdigit() else f"m_{name}"


def _measure_for(metric: dict[str, Any]) -> dict[str, Any]:
    expression = str(metric.get("expression") or "")
    found = _AGGREGATE_CALL.match(expression)
    if found is not None:
        agg = _DBT_AGG[found[1].lower()]
        if found[2]:
            agg = "count_distinct"
        return {"agg": agg, "expr": found[3]}
    # Not one aggregate of one expression: the measure counts rows of the table, and the
    # registry's SQL (under config.meta) stays the canonical calculation.
    return {"agg": _DEFAULT_AGG.get(str(metric.get("type")), "sum"), "expr": "1"}


def export_project(metrics: list[dict[str, Any]], name: str = "metrics_registry") -> dict[str, str]:
    """The registry's metrics as dbt Semantic Layer YAML, `{relative path: text}`: one file
    per table with its semantic model (measures, dimensions, time dimensions) and its
    metrics, each keeping the registry's whole definition under `config.meta.registry`, so
    that importing it again gives the same definitions. Metrics that read no table have no
    semantic model to live in; they are listed in `models/_not_exported.yml`."""
    by_table: dict[str, list[dict[str, Any]]] = {}
    homeless = []
    for metric in metrics:
        if metric.get("table_name"):
            by_table.setdefault(str(metric["table_name"]), []).append(metric)
        else:
            homeless.append(metric["id"])
    names = [m["name"] for ms in by_table.values() for m in ms]
    shown = [str(m.get("display_name") or m["name"]) for ms in by_table.values() for m in ms]
    files: dict[str, str] = {}
    for table, table_metrics in sorted(by_table.items()):
        files[f"models/{_dbt_name(table)}.yml"] = _dump(
            _table_document(table, table_metrics, names, shown)
        )
    if homeless:
        files["models/_not_exported.yml"] = _dump({"not_exported": {"no_table": sorted(homeless)}})
    files["dbt_project.yml"] = _dump({"name": name, "version": "1.0.0", "config-version": 2})
    return files


def _table_document(
    table: str, metrics: list[dict[str, Any]], all_names: list[str], all_labels: list[str]
) -> dict[str, Any]:
    times = [str(m["time_column"]) for m in metrics if m.get("time_column")]
    default_time = max(set(times), key=times.count) if times else None
    dimensions = [
        {
            "name": _dbt_name(t),
            "expr": t,
            "type": "time",
            "type_params": {"time_granularity": "day"},
        }
        for t in sorted(set(times))
    ]
    taken = {d["name"] for d in dimensions}
    for dimension in sorted({d for m in metrics for d in m.get("dimensions") or []}):
        if _dbt_name(dimension) not in taken:
            dimensions.append(
                {"name": _dbt_name(dimension), "expr": dimension, "type": "categorical"}
            )
            taken.add(_dbt_name(dimension))
    measures, dbt_metrics = [], []
    for metric in sorted(metrics, key=lambda m: m["id"]):
        name = (
            metric["name"]
            if all_names.count(metric["name"]) == 1
            else f"{metric['category']}_{metric['name']}"
        )
        metric_name = _dbt_name(name)
        measure = {"name": f"{metric_name}_measure", **_measure_for(metric)}
        if metric.get("time_column"):
            measure["agg_time_dimension"] = _dbt_name(str(metric["time_column"]))
        measures.append(measure)
        definition_fields = {
            k: v
            for k, v in metric.items()
            if k not in ("id", "created_at", "updated_at", "version")
        }
        dbt_metric: dict[str, Any] = {
            "name": metric_name,
            "label": _label(metric, all_labels),
            "type": "simple",
            "type_params": {"measure": measure["name"]},
            "config": {"meta": {REGISTRY_META: definition_fields}},
        }
        if metric.get("description"):
            dbt_metric["description"] = metric["description"]
        dbt_metrics.append(dbt_metric)
    model: dict[str, Any] = {
        "name": _dbt_name(table),
        "model": f"ref('{table}')",
        "primary_entity": _dbt_name(table),
        "dimensions": dimensions,
        "measures": measures,
    }
    if default_time:
        model["defaults"] = {"agg_time_dimension": _dbt_name(default_time)}
    return {"semantic_models": [model], "metrics": dbt_metrics}


def _label(metric: dict[str, Any], all_labels: list[str]) -> str:
    """The metric's display name, made unique as dbt requires labels to be."""
    label = str(metric.get("display_name") or metric["name"])
    return label if all_labels.count(label) == 1 else f"{label} ({metric['id']})"


def _dump(document: dict[str, Any]) -> str:
    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100))
