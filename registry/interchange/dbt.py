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
INPUT_META = "registry_input_of"  # config.meta of an exported metric's input: whose it is
REGISTRY_FILE = "metrics_registry.yml"  # an export's kept definitions and report
REGISTRY_KEY = "metrics_registry"
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
_ONE_AGGREGATE = re.compile(r"(SUM|COUNT|AVG|MIN|MAX)\([^()]*\)", re.DOTALL)
_JINJA = re.compile(r"\{\{|\{%")
_REF = re.compile(r"ref\(\s*['\"]([^'\"]+)['\"]\s*\)")


@dataclass
class DbtProject:
    """What a dbt project defines, as plain mappings, and where it came from."""

    name: str
    semantic_models: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    origin: dict[str, Path] = field(default_factory=dict)  # metric name -> file
    kept: list[dict[str, Any]] = field(default_factory=list)  # an export's non-dbt metrics
    unreadable: list[UnreadableFile] = field(default_factory=list)


class Unmappable(Exception):
    """A dbt metric the registry cannot express faithfully; the message says why."""


MANIFEST = Path("target") / "semantic_manifest.json"


def read_project(path: Path) -> DbtProject:
    """What dbt reads of a project: the YAML under its model paths (`dbt_project.yml`'s
    `model-paths`, default `models`) and `target/semantic_manifest.json`; or one YAML file or
    manifest; or a folder of YAML with no `dbt_project.yml`. Other files are not read.

    A model path that leads outside the project is refused (InvalidDefinitionError)."""
    if not path.is_dir():
        project = DbtProject(path.stem)
        _read_file(project, path)
        return project
    project_file = path / "dbt_project.yml"
    if not project_file.is_file():
        project = DbtProject(path.name)
        for file in _yaml_files(path):
            _read_file(project, file)
        _read_own_file(project, path)
        return project
    settings = _project_settings(project_file)
    project = DbtProject(str(settings.get("name") or path.name))
    manifest = path / MANIFEST
    if manifest.is_file():
        _read_file(project, manifest)
    for folder in _model_paths(path, settings):
        for file in _yaml_files(folder):
            _read_file(project, file)  # the YAML is the source: it wins over a stale manifest
    _read_own_file(project, path)
    return project


def _model_paths(root: Path, settings: dict[str, Any]) -> list[Path]:
    given = settings.get("model-paths", settings.get("source-paths", ["models"]))
    names = [given] if isinstance(given, str) else given if isinstance(given, list) else []
    inside = root.resolve()
    folders = []
    for name in names:
        folder = (root / str(name)).resolve()
        if not folder.is_relative_to(inside):
            raise InvalidDefinitionError(
                [
                    Issue(
                        f"{root / 'dbt_project.yml'}: model-paths",
                        f"{name!r} leads outside the project",
                    )
                ]
            )
        if folder.is_dir():
            folders.append(folder)
    return folders


def _yaml_files(folder: Path) -> list[Path]:
    """The YAML files under a folder, leaving out what dbt builds and installs."""
    skipped = {"target", "dbt_packages", "logs", ".git"}
    return sorted(
        f
        for f in folder.rglob("*")
        if f.suffix in YAML_SUFFIXES
        and f.is_file()
        and not skipped & set(f.relative_to(folder).parts[:-1])
    )


def _read_own_file(project: DbtProject, root: Path) -> None:
    """The definitions an export of this registry kept as metadata (not dbt metrics)."""
    own = root / REGISTRY_FILE
    if own.is_file():
        _read_file(project, own)


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
    own = document.get(REGISTRY_KEY)
    if isinstance(own, dict):
        for kept in own.get("metrics") or []:
            if isinstance(kept, dict) and kept.get("name"):
                project.kept.append(kept)
                project.origin[f"kept:{len(project.kept)}"] = file
        return
    for model in _listed(document.get("semantic_models")):
        project.semantic_models[str(model["name"])] = model
        for measure in _listed(model.get("measures")):
            if measure.get("create_metric") is True:  # dbt makes a simple metric of it
                name = str(measure["name"])
                auto = {"name": name, "type": "simple", "type_params": {"measure": name}}
                project.metrics.setdefault(name, auto)
                project.origin.setdefault(name, file)
    for metric in _listed(document.get("metrics")):
        project.metrics[str(metric["name"])] = metric
        project.origin[str(metric["name"])] = file


def _listed(value: Any) -> list[dict[str, Any]]:
    """The named mappings of a list (anything else in it is not dbt's shape, and left out)."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict) and isinstance(v.get("name"), str)]


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
        for measure in _listed(model.get("measures")):
            if measure.get("name") == name:
                agg = str(measure.get("agg") or "")
                if agg not in _AGGREGATES:
                    raise Unmappable(f"aggregation {agg!r} of measure {name!r} is not supported")
                template, kind = _AGGREGATES[agg]
                expression = str(measure.get("expr") if measure.get("expr") is not None else name)
                return _Measure(model, template.format(expression), kind)
    raise Unmappable(f"measure {name!r} is not defined by any semantic model")


def _time_column(model: dict[str, Any], measure_name: str) -> str:
    for measure in _listed(model.get("measures")):
        if measure.get("name") == measure_name and measure.get("agg_time_dimension"):
            return _dimension_expr(model, str(measure["agg_time_dimension"]))
    defaults = model.get("defaults")
    default = defaults.get("agg_time_dimension") if isinstance(defaults, dict) else None
    if not default:
        raise Unmappable(f"semantic model {model.get('name')!r} has no agg_time_dimension")
    return _dimension_expr(model, str(default))


def _dimension_expr(model: dict[str, Any], name: str) -> str:
    for dimension in _listed(model.get("dimensions")):
        if dimension.get("name") == name:
            return str(dimension.get("expr") or name)
    raise Unmappable(f"dimension {name!r} is not in semantic model {model.get('name')!r}")


def _templates(raw: Any) -> list[str]:
    """A `filter` in any of dbt's forms (a string, a list of strings, or a manifest's
    `{where_filters: [{where_sql_template}]}`) as its SQL templates."""
    if isinstance(raw, dict):
        raw = [f.get("where_sql_template") for f in _dicts(raw.get("where_filters"))]
    if isinstance(raw, str):
        return [raw] if raw.strip() else []
    if isinstance(raw, list):
        return [str(t) for t in raw if isinstance(t, str) and t.strip()]
    if raw is None:
        return []
    raise Unmappable(f"filter {raw!r} is not a string or a list of strings")


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _filters(raw: Any, model: dict[str, Any]) -> list[str]:
    """A `filter` as SQL on its model's own table; Jinja that needs the graph is refused."""
    own = ("primary", "unique", "natural")  # a foreign entity leads to another model
    entities = {str(e.get("name")) for e in _listed(model.get("entities")) if e.get("type") in own}
    if model.get("primary_entity"):
        entities.add(str(model["primary_entity"]))
    return [_filter_sql(t, model, entities) for t in _templates(raw)]


def _filter_sql(template: str, model: dict[str, Any], entities: set[str]) -> str:
    def column(found: re.Match[str]) -> str:
        entity, dimension = found[1], found[2]
        if entity not in entities:
            raise Unmappable(
                f"filter {template.strip()!r} reaches entity {entity!r} of another semantic"
                " model (it needs the semantic graph)"
            )
        return _dimension_expr(model, dimension)

    sql = _DIMENSION.sub(column, template).strip()
    if _JINJA.search(sql):
        raise Unmappable(f"filter {template.strip()!r} needs dbt's Jinja (the semantic graph)")
    return sql


def _grain(metric: dict[str, Any]) -> str:
    unit = str(metric.get("time_granularity") or "month")
    if unit not in _GRAINS:
        raise Unmappable(f"time granularity {unit!r} is not supported")
    return unit


def _params(metric: dict[str, Any]) -> dict[str, Any]:
    found = metric.get("type_params")
    return found if isinstance(found, dict) else {}


def _input_ref(item: Any, role: str) -> tuple[str, dict[str, Any]]:
    """An input's name and its options, from the short form (a name) or the long form (a
    mapping with `name` and options such as `filter`, `alias`, `offset_window`)."""
    if isinstance(item, str) and item:
        return item, {}
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return str(item["name"]), item
    raise Unmappable(f"its {role} {item!r} names no input")


@dataclass(frozen=True)
class _Mapped:
    """A mappable metric: its value as SQL over one table, and the filter of a simple one."""

    value: str
    model: dict[str, Any]
    time_column: str
    kind: str
    where: tuple[str, ...] = ()

    def folded(self) -> str:
        """The value with its filter folded in, for use inside another metric."""
        if not self.where:
            return self.value
        if not _ONE_AGGREGATE.fullmatch(self.value):
            raise Unmappable("a filter on a composite input needs the semantic graph")
        condition = " AND ".join(f"({c})" for c in self.where)
        return re.sub(r"\)$", f") FILTER (WHERE {condition})", self.value, count=1)


def _simple(project: DbtProject, metric: dict[str, Any]) -> _Mapped:
    params = _params(metric)
    name, options = _input_ref(params.get("measure"), "measure")
    if options.get("join_to_timespine"):
        raise Unmappable("join_to_timespine needs dbt's time spine (a row for every period)")
    measure = _measure(project, name)
    where = _filters(options.get("filter"), measure.model) + _filters(
        metric.get("filter"), measure.model
    )
    value = measure.aggregate
    fill = options.get("fill_nulls_with")
    if fill is not None:
        if isinstance(fill, bool) or not isinstance(fill, int | float):
            raise Unmappable(f"fill_nulls_with {fill!r} is not a number")
        value = f"coalesce({value}, {fill})"
        if where:  # a FILTER inside coalesce: fold here, so the coalesce applies after it
            inner = _Mapped(measure.aggregate, measure.model, "", "", tuple(where)).folded()
            value, where = f"coalesce({inner}, {fill})", []
    time_column = _time_column(measure.model, name)
    return _Mapped(value, measure.model, time_column, measure.kind, tuple(where))


def _aggregate(project: DbtProject, name: str, seen: tuple[str, ...] = ()) -> _Mapped:
    """A mappable metric; Unmappable says why it is not."""
    if name in seen:
        raise Unmappable(f"metric {name!r} refers to itself")
    metric = project.metrics.get(name)
    if metric is None:
        raise Unmappable(f"input metric {name!r} is not defined")
    kind = str(metric.get("type") or "")
    params = _params(metric)
    if kind == "simple":
        return _simple(project, metric)
    if kind == "ratio":
        top = _input(project, params.get("numerator"), (*seen, name), "numerator")
        bottom = _input(project, params.get("denominator"), (*seen, name), "denominator")
        if bottom.model is not top.model:
            raise Unmappable("numerator and denominator read different semantic models")
        value = f"CAST({top.folded()} AS DOUBLE) / NULLIF({bottom.folded()}, 0)"
        return _with_filter(metric, _Mapped(value, top.model, top.time_column, "ratio"))
    if kind == "derived":
        inputs = params.get("metrics")
        expression = str(params.get("expr") or "")
        if not isinstance(inputs, list) or not inputs or not expression:
            raise Unmappable("a derived metric needs `expr` and its input `metrics`")
        mapped = []
        for item in inputs:
            _, options = _input_ref(item, "input metric")
            if options.get("offset_window") or options.get("offset_to_grain"):
                raise Unmappable(
                    "derived metrics with offsets (offset_window, offset_to_grain) compare"
                    " periods: they need the semantic graph"
                )
            found = _input(project, item, (*seen, name), "input metric")
            alias = str(options.get("alias") or _input_ref(item, "input metric")[0])
            expression = re.sub(rf"\b{re.escape(alias)}\b", f"({found.folded()})", expression)
            mapped.append(found)
        if any(m.model is not mapped[0].model for m in mapped):
            raise Unmappable("the inputs of a derived metric must read one semantic model")
        return _with_filter(
            metric, _Mapped(expression, mapped[0].model, mapped[0].time_column, "sum")
        )
    if kind in ("cumulative", "conversion"):
        raise Unmappable(
            f"{kind} metrics (a running window, a conversion funnel) need dbt's time spine"
            " and semantic graph"
        )
    raise Unmappable(f"{kind or 'untyped'} metrics cannot be expressed as one query")


def _with_filter(metric: dict[str, Any], mapped: _Mapped) -> _Mapped:
    """A composite metric's own `filter` applies to all its inputs: here, to the query."""
    where = _filters(metric.get("filter"), mapped.model)
    return _Mapped(mapped.value, mapped.model, mapped.time_column, mapped.kind, tuple(where))


def _input(project: DbtProject, item: Any, seen: tuple[str, ...], role: str) -> _Mapped:
    name, options = _input_ref(item, role)
    found = _aggregate(project, name, seen)
    extra = _filters(options.get("filter"), found.model)
    return _Mapped(found.value, found.model, found.time_column, found.kind, (*found.where, *extra))


def _meta(metric: dict[str, Any]) -> dict[str, Any]:
    config = metric.get("config")
    meta = config.get("meta") if isinstance(config, dict) else None
    if not isinstance(meta, dict):
        meta = metric.get("meta")
    return meta if isinstance(meta, dict) else {}


def definition(project: DbtProject, name: str) -> dict[str, Any] | None:
    """The registry definition of one dbt metric (None for the input of a metric this
    registry exported: it comes back as part of that metric); Unmappable says why there is
    none."""
    metric = project.metrics[name]
    meta = _meta(metric)
    kept = meta.get(REGISTRY_META)
    if isinstance(kept, dict):  # exported by this registry: its own definition, as it was
        return dict(kept)
    if meta.get(INPUT_META):  # a part of an exported metric, imported with it
        return None
    try:
        mapped = _aggregate(project, name)
    except (AttributeError, TypeError, KeyError) as exc:  # a part that is not dbt's shape
        raise Unmappable(f"it is not of dbt's metric shape ({type(exc).__name__}: {exc})") from exc
    unit = _grain(metric)
    table = _table(mapped.model)
    where = "".join(f"\n{'WHERE' if i == 0 else '  AND'} ({c})" for i, c in enumerate(mapped.where))
    sql = (
        f"SELECT date_trunc('{unit}', {mapped.time_column}) AS {unit},\n"
        f"       {mapped.value} AS {name}\n"
        f"FROM {table}{where}\nGROUP BY 1\nORDER BY 1"
    )
    dimensions = [
        str(d["name"]) for d in _listed(mapped.model.get("dimensions")) if d.get("type") != "time"
    ]
    label = metric.get("label")
    description = metric.get("description")
    fields: dict[str, Any] = {
        "name": name,
        "category": str(meta.get("category") or mapped.model.get("name")),
        "display_name": str(label) if label else name,
        "description": str(description).strip() if description else None,
        "type": mapped.kind,
        "grain": _GRAINS[unit],
        "table_name": table,
        "expression": mapped.value,
        "time_column": mapped.time_column,
        "dimensions": dimensions,
        "filters": list(mapped.where),
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
        if fields is None:
            continue
        if fields.get("source") == DBT_IMPORT:  # generated here; a kept definition keeps its own
            fields["source_ref"] = label
        known = fields.pop("identity", None)  # a renamed metric's (registry.identity)
        found = build_issues(MetricDefinition, fields)
        if isinstance(found, list):
            skipped[name] = "; ".join(str(i) for i in found)
            continue
        source.metrics.append(
            SourceMetric(project.origin[name], found.to_definition(), identity=known)
        )
    for index, kept in enumerate(project.kept, start=1):  # an export's non-dbt metrics
        kept = dict(kept)
        known = kept.pop("identity", None)
        found = build_issues(MetricDefinition, kept)
        where = project.origin[f"kept:{index}"]
        if isinstance(found, list):
            skipped[str(kept.get("name"))] = "; ".join(str(i) for i in found)
            continue
        source.metrics.append(SourceMetric(where, found.to_definition(), identity=known))
    return source, skipped, label
