"""dbt Semantic Layer export: the registry's metrics as a dbt project's YAML that computes, in
MetricFlow, the numbers `da metrics run` computes.

A metric becomes a dbt metric only when its SQL is plain (`registry.metric_sql`): one table,
a time bucket, arithmetic of aggregates, a filter on the table's columns. Then each
aggregate is a measure, the filter is the metric's `filter` (its columns as `Dimension`
references), and the value is a `simple` metric, or a `derived` one over one input metric per
aggregate (`SUM(mrr_amount) * 12`). A raw time column is bucketed by day; `date_trunc`'s unit
is the grain to query at. Every other metric is not a dbt metric: its definition is kept, as
metadata only, in `metrics_registry.yml`, with the reason, and the export says which and why.
Nothing is exported as a placeholder.

Every exported metric also keeps the registry's whole definition under `config.meta.registry`,
so `registry.interchange.dbt` imports the project back unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from registry.interchange.dbt import INPUT_META, REGISTRY_FILE, REGISTRY_KEY, REGISTRY_META
from registry.metric_sql import NotPlain, PlainMetric, read_plain


@dataclass
class DbtExport:
    """The project's files, the metrics exported as dbt metrics (by registry id, with the
    grain to query each at), and every other metric with the reason it is not one."""

    files: dict[str, str] = field(default_factory=dict)
    exported: dict[str, dict[str, str]] = field(default_factory=dict)
    not_exported: dict[str, str] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {"exported": self.exported, "not_exported": self.not_exported}


def dbt_name(text: str) -> str:
    """A dbt name: lowercase letters, digits and single underscores, starting with a letter."""
    name = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", text.lower())).strip("_")
    return name if name and name[0].isalpha() else f"m_{name}"


def _definition(metric: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in metric.items() if k not in ("id", "created_at", "updated_at", "version")
    }


def _plains(metrics: list[dict[str, Any]]) -> dict[str, PlainMetric | str]:
    """Each metric's plain reading, or why it cannot be a dbt metric (by metric id)."""
    found: dict[str, PlainMetric | str] = {}
    for metric in metrics:
        try:
            found[str(metric["id"])] = read_plain(str(metric.get("sql") or ""))
        except NotPlain as exc:
            found[str(metric["id"])] = str(exc)
    times: dict[str, set[str]] = {}
    for plain in found.values():
        if isinstance(plain, PlainMetric):
            times.setdefault(plain.table, set()).add(plain.time_column)
    for metric_id, plain in found.items():
        if isinstance(plain, PlainMetric):
            clash = sorted(set(plain.where_columns) & times[plain.table])
            if clash:
                found[metric_id] = f"the filter reads the time column {clash[0]!r}"
    return found


class _Model:
    """One table's semantic model as it is filled."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.entity = dbt_name(table)
        self.times: list[str] = []
        self.categorical: list[str] = []
        self.measures: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []

    def time(self, column: str) -> str:
        if column not in self.times:
            self.times.append(column)
        return self._dimension_name(column)

    def dimension(self, column: str) -> str:
        if column not in self.categorical and column not in self.times:
            self.categorical.append(column)
        return f"{self.entity}__{self._dimension_name(column)}"

    @staticmethod
    def _dimension_name(column: str) -> str:
        return dbt_name(column)

    def document(self) -> dict[str, Any]:
        dimensions: list[dict[str, Any]] = [
            {
                "name": dbt_name(t),
                "expr": t,
                "type": "time",
                "type_params": {"time_granularity": "day"},
            }
            for t in self.times
        ]
        dimensions += [
            {"name": dbt_name(c), "expr": c, "type": "categorical"} for c in self.categorical
        ]
        model: dict[str, Any] = {
            "name": self.entity,
            "model": f"ref('{self.table}')",
            "primary_entity": self.entity,
            "defaults": {"agg_time_dimension": dbt_name(self.times[0])},
            "dimensions": dimensions,
            "measures": self.measures,
        }
        return {"semantic_models": [model], "metrics": self.metrics}


def export_project(metrics: list[dict[str, Any]], name: str = "metrics_registry") -> DbtExport:
    """The registry's metrics as a dbt project's Semantic Layer YAML (see the module's words)."""
    result = DbtExport()
    models: dict[str, _Model] = {}
    names = [str(m["name"]) for m in metrics]
    labels = [str(m.get("display_name") or m["name"]) for m in metrics]
    kept: list[dict[str, Any]] = []
    plains = _plains(metrics)
    for metric in sorted(metrics, key=lambda m: str(m["id"])):
        plain = plains[str(metric["id"])]
        if not isinstance(plain, PlainMetric):
            result.not_exported[str(metric["id"])] = plain
            kept.append(_definition(metric))
            continue
        model = models.setdefault(plain.table, _Model(plain.table))
        unique = names.count(str(metric["name"])) == 1
        metric_name = dbt_name(
            metric["name"] if unique else f"{metric['category']}_{metric['name']}"
        )
        _add_metric(model, metric, plain, metric_name, _label(metric, labels))
        result.exported[str(metric["id"])] = {"dbt_metric": metric_name, "grain": plain.grain}
    for table, model in sorted(models.items()):
        result.files[f"models/{dbt_name(table)}.yml"] = _dump(model.document())
    result.files["dbt_project.yml"] = _dump(
        {"name": dbt_name(name), "version": "1.0.0", "config-version": 2}
    )
    result.files[REGISTRY_FILE] = _dump(
        {
            REGISTRY_KEY: {
                "about": "Metrics of the registry that are not dbt metrics: kept as metadata"
                " for a round trip, with the reason.",
                "exported": result.exported,
                "not_exported": result.not_exported,
                "metrics": kept,
            }
        }
    )
    return result


def _add_metric(
    model: _Model, metric: dict[str, Any], plain: PlainMetric, name: str, label: str
) -> None:
    time_dimension = model.time(plain.time_column)
    where = plain.filter_with("{{{{ Dimension('" + model.entity + "__{column}') }}}}")
    for column in plain.where_columns:
        model.dimension(column)
    inputs = []
    single = len(plain.aggregates) == 1 and plain.formula == "{0}"
    for index, aggregate in enumerate(plain.aggregates):
        measure = f"{name}_measure" if single else f"{name}_input_{index + 1}_measure"
        model.measures.append(
            {
                "name": measure,
                "agg": aggregate.agg,
                "expr": aggregate.expr,
                "agg_time_dimension": time_dimension,
            }
        )
        simple: dict[str, Any] = {
            "name": name if single else f"{name}_input_{index + 1}",
            "label": label if single else f"{label} (input {index + 1})",
            "type": "simple",
            "type_params": {"measure": measure},
        }
        if where is not None:
            simple["filter"] = where
        if not single:
            simple["config"] = {"meta": {INPUT_META: str(metric["id"])}}
        inputs.append(simple)
    if single:
        inputs[0]["config"] = {"meta": {REGISTRY_META: _definition(metric)}}
        _describe(inputs[0], metric)
        model.metrics.extend(inputs)
        return
    derived: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "derived",
        "type_params": {
            "expr": plain.formula.format(*(i["name"] for i in inputs)),
            "metrics": [{"name": i["name"]} for i in inputs],
        },
        "config": {"meta": {REGISTRY_META: _definition(metric)}},
    }
    _describe(derived, metric)
    model.metrics.extend([*inputs, derived])


def _describe(dbt_metric: dict[str, Any], metric: dict[str, Any]) -> None:
    if metric.get("description"):
        dbt_metric["description"] = metric["description"]


def _label(metric: dict[str, Any], all_labels: list[str]) -> str:
    """The metric's display name, made unique as dbt requires labels to be."""
    label = str(metric.get("display_name") or metric["name"])
    return label if all_labels.count(label) == 1 else f"{label} ({metric['id']})"


def export_report(files: dict[str, str]) -> dict[str, Any]:
    """What an export made dbt metrics and what not (with why), read from its own
    `metrics_registry.yml`: the report of `DbtExport.report`."""
    document = yaml.safe_load(files.get(REGISTRY_FILE) or "{}") or {}
    found = document.get(REGISTRY_KEY) or {}
    return {
        "exported": found.get("exported") or {},
        "not_exported": found.get("not_exported") or {},
    }


def _dump(document: dict[str, Any]) -> str:
    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100))
