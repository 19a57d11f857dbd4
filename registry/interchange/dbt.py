"""dbt Semantic Layer interchange: a dbt project's metrics as registry definitions.

Reads `semantic_models:` and `metrics:` from a dbt project's YAML files (or a
`semantic_manifest.json` written by `dbt parse`) and turns each metric that can be expressed
faithfully into a definition whose `sql` is generated from its semantic model: the table,
the aggregation of the measure's expression, the time dimension at the metric's grain and
its filters. `simple` and `ratio` metrics map, and `derived` ones whose inputs map on one
table. Everything else (cumulative windows, conversions, filters that need the semantic
graph, unsupported aggregations) is kept in `skipped` with the reason; nothing is dropped
silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from registry.errors import InvalidDefinitionError, Issue
from registry.interchange.loading import MAX_DOCUMENT_BYTES, MAX_MANIFEST_BYTES, read_document
from registry.interchange.yaml_io import YAML_SUFFIXES, SourceMetric, UnreadableFile, YamlSource
from registry.models import MetricDefinition, build_issues

DBT_IMPORT = "dbt_import"
REGISTRY_META = "registry"  # the key under config.meta that keeps the whole definition
_AGGREGATES = {
    "sum": ("SUM({})", "sum"),
    "count": ("COUNT({})", "count"),
    "count_distinct": ("COUNT(DISTINCT {})", "count"),
    "average": ("AVG({})", "avg"),
    "avg": ("AVG({})", "avg"),
    "sum_boolean": ("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", "sum"),
}
_GRAINS = {
    "day": "daily",
    "week": "weekly",
    "month": "monthly",
    "quarter": "quarterly",
    "year": "yearly",
}
Mapped = tuple[str, dict[str, Any], str, str]  # aggregate SQL, semantic model, time, type
_DIMENSION = re.compile(r"\{\{\s*Dimension\(\s*['\"]([a-z0-9_]+)__([a-z0-9_]+)['\"]\s*\)\s*\}\}")
_JINJA = re.compile(r"\{\{|\{%")
_REF = re.compile(r"ref\(\s*['\"]([^'\"]+)['\"]\s*\)")


@dataclass
class DbtProject:
    """What a dbt project defines, as plain mappings, and where it came from."""

    name: str
    semantic_models: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    origin: dict[str, Path] = field(default_factory=dict)  # metric name -> file
    unreadable: list[UnreadableFile] = field(default_factory=list)


class Unmappable(Exception):
    """A dbt metric the registry cannot express faithfully; the message says why."""


def read_project(path: Path) -> DbtProject:
    """A dbt project folder, one YAML file, or a semantic_manifest.json."""
    name = path.stem
    project_file = path / "dbt_project.yml" if path.is_dir() else None
    if project_file is not None and project_file.is_file():
        found = _project_settings(project_file)
        name = str(found.get("name") or path.name)
    elif path.is_dir():
        name = path.name
    project = DbtProject(name)
    files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
    for file in files:
        if file.name == "dbt_project.yml" or "target" in file.parent.parts:
            continue  # the project's own settings, and what dbt builds
        if file.suffix in YAML_SUFFIXES or file.suffix == ".json":
            _read_file(project, file)
    return project


def _project_settings(project_file: Path) -> dict[str, Any]:
    """`dbt_project.yml`, through the bounded loader; InvalidDefinitionError names the file."""
    try:
        found = read_document(project_file)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        problem = " ".join(str(exc).split())
        raise InvalidDefinitionError(
            [Issue(str(project_file), f"cannot be read: {problem}")]
        ) from exc
    return found if isinstance(found, dict) else {}


def _read_file(project: DbtProject, file: Path) -> None:
    try:
        limit = MAX_MANIFEST_BYTES if file.suffix == ".json" else MAX_DOCUMENT_BYTES
        document = read_document(file, limit)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        project.unreadable.append(
            UnreadableFile(file, [Issue(str(file), f"cannot be read: {exc}")])
        )
        return
    if not isinstance(document, dict):
        return
    for model in document.get("semantic_models") or []:
        if isinstance(model, dict) and model.get("name"):
            project.semantic_models[str(model["name"])] = model
    for metric in document.get("metrics") or []:
        if isinstance(metric, dict) and metric.get("name"):
            project.metrics[str(metric["name"])] = metric
            project.origin[str(metric["name"])] = file


@dataclass(frozen=True)
class _Measure:
    model: dict[str, Any]
    aggregate: str  # SQL, e.g. SUM(total_amount)
    kind: str  # the registry's type


def _table(model: dict[str, Any]) -> str:
    relation = model.get("node_relation") or {}
    if relation.get("alias"):
        return str(relation["alias"])
    found = _REF.search(str(model.get("model") or ""))
    if found is None:
        raise Unmappable(f"semantic model {model.get('name')!r} names no table (model: ref(...))")
    return found[1]


def _measure(project: DbtProject, name: str) -> _Measure:
    for model in project.semantic_models.values():
        for measure in model.get("measures") or []:
            if measure.get("name") == name:
                agg = str(measure.get("agg") or "")
                if agg not in _AGGREGATES:
                    raise Unmappable(f"aggregation {agg!r} of measure {name!r} is not supported")
                template, kind = _AGGREGATES[agg]
                expression = str(measure.get("expr") or name)
                return _Measure(model, template.format(expression), kind)
    raise Unmappable(f"measure {name!r} is not defined by any semantic model")


def _time_column(model: dict[str, Any], measure_name: str) -> str:
    for measure in model.get("measures") or []:
        if measure.get("name") == measure_name and measure.get("agg_time_dimension"):
            return _dimension_expr(model, str(measure["agg_time_dimension"]))
    default = (model.get("defaults") or {}).get("agg_time_dimension")
    if not default:
        raise Unmappable(f"semantic model {model.get('name')!r} has no agg_time_dimension")
    return _dimension_expr(model, str(default))


def _dimension_expr(model: dict[str, Any], name: str) -> str:
    for dimension in model.get("dimensions") or []:
        if dimension.get("name") == name:
            return str(dimension.get("expr") or name)
    raise Unmappable(f"dimension {name!r} is not in semantic model {model.get('name')!r}")


def _filters(metric: dict[str, Any], model: dict[str, Any]) -> list[str]:
    """A metric's `filter` as SQL on its own table; Jinja that needs the graph is refused."""
    raw = metric.get("filter")
    if isinstance(raw, dict):  # a manifest's {where_filters: [{where_sql_template}]}
        raw = [f.get("where_sql_template") for f in raw.get("where_filters") or []]
    templates = [raw] if isinstance(raw, str) else [t for t in raw or [] if t]
    own = ("primary", "unique", "natural")  # a foreign entity leads to another model
    entities = {str(e.get("name")) for e in model.get("entities") or [] if e.get("type") in own}
    return [_filter_sql(str(t), model, entities) for t in templates]


def _filter_sql(template: str, model: dict[str, Any], entities: set[str]) -> str:
    def column(found: re.Match[str]) -> str:
        entity, dimension = found[1], found[2]
        if entity not in entities:
            raise Unmappable(
                f"filter {template!r} reaches entity {entity!r} of another semantic model"
                " (it needs the semantic graph)"
            )
        return _dimension_expr(model, dimension)

    sql = _DIMENSION.sub(column, template)
    if _JINJA.search(sql):
        raise Unmappable(f"filter {template!r} needs dbt's Jinja (the semantic graph)")
    return sql


def _grain(metric: dict[str, Any]) -> str:
    unit = str(metric.get("time_granularity") or "month")
    if unit not in _GRAINS:
        raise Unmappable(f"time granularity {unit!r} is not supported")
    return unit


def _measure_of(metric: dict[str, Any]) -> tuple[str, list[str]]:
    params = metric.get("type_params") or {}
    measure = params.get("measure")
    if isinstance(measure, dict):
        extra = measure.get("filter")
        return str(measure.get("name")), (
            [] if not extra else [extra] if isinstance(extra, str) else list(extra)
        )
    return str(measure), []


def _aggregate(
    project: DbtProject, name: str, seen: tuple[str, ...] = ()
) -> tuple[str, dict[str, Any], str, str]:
    """A mappable metric as (aggregate SQL, its semantic model, time column, type)."""
    if name in seen:
        raise Unmappable(f"metric {name!r} refers to itself")
    metric = project.metrics.get(name)
    if metric is None:
        raise Unmappable(f"input metric {name!r} is not defined")
    kind = str(metric.get("type") or "")
    params = metric.get("type_params") or {}
    if kind == "simple":
        measure_name, measure_filters = _measure_of(metric)
        measure = _measure(project, measure_name)
        conditions = _filters({"filter": measure_filters}, measure.model) + _filters(
            metric, measure.model
        )
        aggregate = measure.aggregate
        if conditions:
            aggregate += " FILTER (WHERE " + " AND ".join(f"({c})" for c in conditions) + ")"
        return aggregate, measure.model, _time_column(measure.model, measure_name), measure.kind
    if kind == "ratio":
        parts = [
            _input(project, params.get(side), (*seen, name))
            for side in ("numerator", "denominator")
        ]
        (top, model, time_column, _), (bottom, other, _, _) = parts
        if other is not model:
            raise Unmappable("numerator and denominator read different semantic models")
        return f"{top} / NULLIF({bottom}, 0)", model, time_column, "ratio"
    if kind == "derived":
        inputs = params.get("metrics") or []
        expression = str(params.get("expr") or "")
        models = []
        for item in inputs:
            if item.get("offset_window") or item.get("offset_to_grain"):
                raise Unmappable("derived metrics with offsets need the semantic graph")
            sql, model, time_column, _ = _input(project, item, (*seen, name))
            alias = str(item.get("alias") or item.get("name"))
            expression = re.sub(rf"\b{re.escape(alias)}\b", f"({sql})", expression)
            models.append((model, time_column))
        if not models or any(m is not models[0][0] for m, _ in models):
            raise Unmappable("the inputs of a derived metric must read one semantic model")
        return expression, models[0][0], models[0][1], "sum"
    raise Unmappable(f"{kind or 'untyped'} metrics cannot be expressed as one query (yet)")


def _input(
    project: DbtProject, item: Any, seen: tuple[str, ...]
) -> tuple[str, dict[str, Any], str, str]:
    name = str(item.get("name") if isinstance(item, dict) else item)
    sql, model, time_column, kind = _aggregate(project, name, seen)
    extra = item.get("filter") if isinstance(item, dict) else None
    if extra:
        raise Unmappable(f"a filter on input metric {name!r} needs the semantic graph")
    return sql, model, time_column, kind


def definition(project: DbtProject, name: str) -> dict[str, Any]:
    """The registry definition of one dbt metric; Unmappable says why there is none."""
    metric = project.metrics[name]
    kept = ((metric.get("config") or {}).get("meta") or {}).get(REGISTRY_META)
    if isinstance(kept, dict):  # exported by this registry: its own definition, as it was
        return dict(kept)
    aggregate, model, time_column, kind = _aggregate(project, name)
    unit = _grain(metric)
    table = _table(model)
    sql = (
        f"SELECT date_trunc('{unit}', {time_column}) AS {unit},\n"
        f"       {aggregate} AS {name}\n"
        f"FROM {table}\nGROUP BY 1\nORDER BY 1"
    )
    meta = (metric.get("config") or {}).get("meta") or metric.get("meta") or {}
    dimensions = [
        str(d.get("name")) for d in model.get("dimensions") or [] if d.get("type") != "time"
    ]
    fields: dict[str, Any] = {
        "name": name,
        "category": str(meta.get("category") or model.get("name")),
        "display_name": str(metric.get("label") or name),
        "description": metric.get("description"),
        "type": kind,
        "grain": _GRAINS[unit],
        "table_name": table,
        "expression": aggregate,
        "time_column": time_column,
        "dimensions": dimensions,
        "sql": sql,
        "source": DBT_IMPORT,
        "source_ref": project.name,
    }
    return fields


def read_dbt_source(path: Path, label: str | None) -> tuple[YamlSource, dict[str, str], str]:
    """The mappable metrics of a dbt project as an import source, every metric that is not
    imported with the reason (`{name: reason}`), and the label (default: the project's name)."""
    project = read_project(path)
    label = label or project.name
    source = YamlSource(unreadable=list(project.unreadable))
    skipped: dict[str, str] = {}
    for name in sorted(project.metrics):
        try:
            fields = definition(project, name)
        except Unmappable as exc:
            skipped[name] = str(exc)
            continue
        if fields.get("source") == DBT_IMPORT:  # generated here; a kept definition keeps its own
            fields["source_ref"] = label
        found = build_issues(MetricDefinition, fields)
        if isinstance(found, list):
            skipped[name] = "; ".join(str(i) for i in found)
            continue
        source.metrics.append(SourceMetric(project.origin[name], found.to_definition()))
    return source, skipped, label
