"""Apache Ossie interchange: the registry's metrics and column metadata as Ossie documents,
and Ossie documents as registry definitions.

Export: one document per category (a semantic model named after it) whose datasets are the
tables its metrics read, with the fields they use and the columns the registry describes,
and whose metrics are ANSI_SQL expressions. A metric whose SQL is plain
(`registry.metric_sql`) is exported as its aggregate expression over `dataset.field`, its
WHERE as the standard `FILTER (WHERE ...)`; a metric whose SQL is not plain has no Ossie
expression and is kept, as metadata only, in the model's custom extension, with the reason.
Every registry field without an Ossie slot rides in a custom extension under the vendor
name `METRICS_REGISTRY` (`data` is a JSON-encoded string), so a registry -> Ossie ->
registry round trip is lossless.

Import: every document is validated (the typed model, unique names, known references,
DuckDB's parser). A metric exported by this registry comes back whole; any other becomes a
definition whose SQL computes its expression over its datasets' sources, joined along the
document's relationships when it spans datasets; one that cannot be expressed is reported.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from registry.errors import Issue, RegistryError
from registry.interchange.loading import read_document
from registry.interchange.ossie_model import (
    VERSION,
    CustomExtension,
    Dataset,
    DialectExpression,
    Dimension,
    Expression,
    OssieDocument,
    OssieField,
    OssieMetric,
    SemanticModel,
    extension,
    parse_document,
)
from registry.interchange.yaml_io import SourceMetric, UnreadableFile, YamlSource
from registry.metric_sql import NotPlain, PlainMetric, read_plain
from registry.models import MetricDefinition, build_issues
from registry.sql_parser import query_problem

OSSIE_IMPORT = "ossie_import"
VENDOR = "METRICS_REGISTRY"
SUFFIXES = (".yaml", ".yml", ".json")
_BASETYPES = {  # the registry's column basetypes and Ossie's data types
    "STRING": "String",
    "INTEGER": "Integer",
    "NUMERIC": "Decimal",
    "FLOAT": "Float",
    "BOOLEAN": "Boolean",
    "DATE": "Date",
    "TIME": "Time",
    "TIMESTAMP": "DateTime",
    "TIMESTAMPTZ": "DateTimeTz",
}
_DATATYPES = {v: k for k, v in _BASETYPES.items()}
_LEFT_OUT = ("id", "created_at", "updated_at", "version")


# -- export -------------------------------------------------------------------------------------


@dataclass
class OssieExport:
    """The documents (`{file name: YAML text}`), the metrics exported with an Ossie expression,
    and every other metric with why it has none (kept as metadata)."""

    files: dict[str, str] = field(default_factory=dict)
    exported: list[str] = field(default_factory=list)
    not_exported: dict[str, str] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {"exported": self.exported, "not_exported": self.not_exported}


def _identifier(text: str) -> str:
    name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9]+", "_", text)).strip("_").lower()
    return name if name and name[0].isalpha() else f"t_{name}"


def _column_sql(column: str) -> str:
    return (
        column
        if re.fullmatch(r"[a-z_][a-z0-9_]*", column)
        else exp.to_identifier(column, quoted=True).sql()
    )


def _ansi(text: str) -> Expression:
    return Expression(dialects=[DialectExpression(dialect="ANSI_SQL", expression=text)])


def _data(payload: dict[str, Any]) -> list[CustomExtension]:
    text = json.dumps(payload, sort_keys=True, default=str)
    return [CustomExtension(vendor_name=VENDOR, data=text)]


class _Datasets:
    """The datasets of one semantic model, named after their tables."""

    def __init__(self, columns: dict[str, list[dict[str, Any]]]) -> None:
        self.columns = columns  # table -> its described columns
        self.names: dict[str, str] = {}
        self.fields: dict[str, dict[str, bool]] = {}  # table -> column -> is time
        self.queries: list[Dataset] = []  # datasets whose source is a metric's own query

    def name(self, table: str) -> str:
        if table not in self.names:
            wanted, taken = _identifier(table), set(self.names.values())
            name, n = wanted, 1
            while name in taken:
                n += 1
                name = f"{wanted}_{n}"
            self.names[table] = name
            self.fields[table] = {}
        return self.names[table]

    def use(self, table: str, column: str, is_time: bool = False) -> str:
        dataset = self.name(table)
        self.fields[table][column] = self.fields[table].get(column, False) or is_time
        return f"{dataset}.{_column_sql(column)}"

    def datasets(self) -> list[Dataset]:
        found = []
        for table, dataset in self.names.items():
            described = {c["column_name"]: c for c in self.columns.get(table, [])}
            names = [*self.fields[table], *(c for c in described if c not in self.fields[table])]
            fields = [
                _field(name, self.fields[table].get(name, False), described.get(name))
                for name in names
            ]
            found.append(Dataset(name=dataset, source=table, fields=fields or None))
        return found


def _field(column: str, is_time: bool, described: dict[str, Any] | None) -> OssieField:
    datatype = _BASETYPES.get(str((described or {}).get("basetype") or "").upper())
    made = OssieField(
        name=column,
        expression=_ansi(_column_sql(column)),
        dimension=Dimension(is_time=is_time),
        description=(described or {}).get("description") or None,
        datatype=datatype,  # type: ignore[arg-type]
    )
    if described is not None:
        kept = {k: described.get(k) for k in ("basetype", "description", "confidence", "source")}
        made.custom_extensions = _data({"column": kept})
    return made


def _metric_expression(plain: PlainMetric, datasets: _Datasets) -> str:
    """The plain metric's value as one ANSI_SQL expression over `dataset.field`."""
    datasets.use(plain.table, plain.time_column, is_time=True)
    dataset = datasets.name(plain.table)

    def qualified(sql: str) -> str:
        tree = sqlglot.parse_one(sql, read="duckdb")
        for column in tree.find_all(exp.Column):
            datasets.use(plain.table, column.name)
            column.set("table", exp.to_identifier(dataset))
        return str(tree.sql())

    condition = f" FILTER (WHERE {qualified(plain.where)})" if plain.where else ""
    parts = []
    for aggregate in plain.aggregates:
        counts_rows = aggregate.agg == "sum" and aggregate.expr == "1"  # COUNT(*) as read
        inner = "1" if counts_rows else qualified(aggregate.expr)
        call = {
            "sum": f"SUM({inner})",
            "count": f"COUNT({inner})",
            "count_distinct": f"COUNT(DISTINCT {inner})",
            "average": f"AVG({inner})",
            "min": f"MIN({inner})",
            "max": f"MAX({inner})",
        }[aggregate.agg]
        parts.append(call + condition)
    return plain.formula.format(*parts)


def export_documents(metrics: list[dict[str, Any]], columns: list[dict[str, Any]]) -> OssieExport:
    """The registry as Ossie documents, one per category, plus one for the tables no metric
    reads whose columns the registry describes (see the module's words). Each document is
    validated as an import would validate it; RegistryError if one is not valid (a bug)."""
    result = OssieExport()
    described: dict[str, list[dict[str, Any]]] = {}
    for column in columns:
        described.setdefault(str(column["table_id"]), []).append(column)
    by_category: dict[str, list[dict[str, Any]]] = {}
    for metric in sorted(metrics, key=lambda m: str(m["id"])):
        by_category.setdefault(str(metric["category"]), []).append(metric)
    used_tables: set[str] = set()
    for category, members in sorted(by_category.items()):
        datasets = _Datasets(described)
        exported: list[OssieMetric] = []
        kept: list[dict[str, Any]] = []
        not_exported: dict[str, str] = {}
        for metric in members:
            definition = {k: v for k, v in metric.items() if k not in _LEFT_OUT}
            try:
                plain = read_plain(str(metric["sql"]))
            except NotPlain as exc:
                not_exported[str(metric["id"])] = str(exc)
                kept.append(definition)
                _read_by(metric, datasets)
                continue
            expression = _metric_expression(plain, datasets)
            for table in metric.get("tables") or []:
                datasets.name(str(table))
            if metric.get("table_name") == plain.table:  # its dimensions are the table's
                for dimension in metric.get("dimensions") or []:
                    datasets.use(plain.table, str(dimension))
            synonyms = list(metric.get("synonyms") or [])
            exported.append(
                OssieMetric(
                    name=str(metric["name"]),
                    expression=_ansi(expression),
                    description=metric.get("description") or None,
                    ai_context={"synonyms": synonyms} if synonyms else None,  # type: ignore[arg-type]
                    custom_extensions=_data({"definition": definition}),
                )
            )
            result.exported.append(str(metric["id"]))
        result.not_exported.update(not_exported)
        used_tables |= set(datasets.names)
        model = SemanticModel(
            name=category,
            description=f"Metrics of the registry's category {category}.",
            datasets=datasets.datasets() + datasets.queries,
            metrics=exported or None,
            custom_extensions=_data({"kept": kept, "not_exported": not_exported}) if kept else None,
        )
        result.files[f"{category}.yaml"] = _dump(model)
    rest = {t: c for t, c in described.items() if t not in used_tables}
    if rest:
        datasets = _Datasets(described)
        for table in sorted(rest):
            datasets.name(table)
        model = SemanticModel(  # a name no category can have (categories hold no "-")
            name="described-columns",
            description="Tables whose columns the registry describes and no metric reads.",
            datasets=datasets.datasets(),
        )
        result.files["described-columns.yaml"] = _dump(model)
    return result


def _read_by(metric: dict[str, Any], datasets: _Datasets) -> None:
    """The datasets a metric without an Ossie expression reads: the tables it declares and
    its SQL reads; a SQL that reads no table is itself the dataset's source (a query)."""
    try:
        tree = sqlglot.parse_one(str(metric["sql"]), read="duckdb")
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        read = [t.name for t in tree.find_all(exp.Table) if t.name not in ctes and not t.db]
    except (ParseError, TokenError):
        read = []
    tables = [metric.get("table_name"), *(metric.get("tables") or []), *read]
    named = [str(t) for t in dict.fromkeys(tables) if t]
    for table in named:
        datasets.name(table)
    if not named:
        name = _identifier(f"{metric['name']}_query")
        datasets.queries.append(Dataset(name=name, source=str(metric["sql"]).strip()))


def export_report(files: dict[str, str]) -> dict[str, Any]:
    """What an export gave an Ossie expression and what it kept as metadata (with why), read
    from its own documents: the report of `OssieExport.report`."""
    report: dict[str, Any] = {"exported": [], "not_exported": {}}
    for _, text in sorted(files.items()):
        document = yaml.safe_load(text) or {}
        for model in document.get("semantic_model") or []:
            for metric in model.get("metrics") or []:
                report["exported"].append(f"{model['name']}/{metric['name']}")
            for one in model.get("custom_extensions") or []:
                if one.get("vendor_name") == VENDOR:
                    report["not_exported"].update(json.loads(one["data"]).get("not_exported", {}))
    return report


def _dump(model: SemanticModel) -> str:
    document = OssieDocument(version=VERSION, semantic_model=[model])  # type: ignore[arg-type]
    data = document.dump()
    _, issues = parse_document(data, f"{model.name}.yaml")
    if issues:
        raise RegistryError("the Ossie export is not valid: " + "; ".join(map(str, issues)))
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))


# -- import -------------------------------------------------------------------------------------


class _Unmappable(Exception):
    """An Ossie metric the registry cannot express as one query; the message says why."""


@dataclass
class OssieSource:
    """What Ossie documents hold for the registry: metrics (and unreadable documents), the
    metrics not imported with why, and column metadata."""

    metrics: YamlSource = field(default_factory=YamlSource)
    skipped: dict[str, str] = field(default_factory=dict)
    columns: list[dict[str, Any]] = field(default_factory=list)


def read_ossie_source(path: Path) -> OssieSource:
    """Every document in a file or under a folder (`.yaml`, `.yml`, `.json`), validated."""
    files = (
        sorted(f for f in path.rglob("*") if f.suffix in SUFFIXES and f.is_file())
        if path.is_dir()
        else [path]
    )
    found = OssieSource()
    seen_columns: set[tuple[str, str]] = set()
    for file in files:
        try:
            data = read_document(file)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            problem = " ".join(str(exc).split())
            found.metrics.unreadable.append(
                UnreadableFile(file, [Issue(str(file), f"cannot be read: {problem}")])
            )
            continue
        document, issues = parse_document(data, str(file))
        if document is None or issues:
            found.metrics.unreadable.append(UnreadableFile(file, issues))
            continue
        for model in document.semantic_model:
            _read_model(model, file, found, seen_columns)
    return found


def _read_model(
    model: SemanticModel,
    file: Path,
    found: OssieSource,
    seen: set[tuple[str, str]],
) -> None:
    category = _identifier(model.name)
    for kept in (extension(model.custom_extensions, VENDOR) or {}).get("kept") or []:
        _add(found, file, kept, str(kept.get("name")) if isinstance(kept, dict) else "?")
    for metric in model.metrics or []:
        own = (extension(metric.custom_extensions, VENDOR) or {}).get("definition")
        if isinstance(own, dict):
            _add(found, file, own, metric.name)
            continue
        try:
            definition = _translated(model, metric, category)
        except _Unmappable as exc:
            found.skipped[f"{model.name}.{metric.name}"] = str(exc)
            continue
        _add(found, file, definition, f"{model.name}.{metric.name}")
    for dataset in model.datasets:
        for one in dataset.fields or []:
            column = _column_of(dataset, one)
            if column is not None and (column["table_id"], column["column_name"]) not in seen:
                seen.add((column["table_id"], column["column_name"]))
                found.columns.append(column)


def _add(found: OssieSource, file: Path, definition: dict[str, Any], shown: str) -> None:
    definition = dict(definition)
    known = definition.pop("identity", None)  # a renamed metric's (registry.identity)
    built = build_issues(MetricDefinition, definition)
    if isinstance(built, list):
        found.skipped[shown] = "; ".join(str(i) for i in built)
        return
    found.metrics.metrics.append(SourceMetric(file, built.to_definition(), identity=known))


def _column_of(dataset: Dataset, one: OssieField) -> dict[str, Any] | None:
    """A field's column metadata: as the registry exported it, or (another tool's document)
    a plain column with a description."""
    own = (extension(one.custom_extensions, VENDOR) or {}).get("column")
    base = {"table_id": dataset.source, "column_name": one.name}
    if isinstance(own, dict):
        return {
            **base,
            **{k: own.get(k) for k in ("basetype", "description", "confidence")},
            "source": own.get("source") or OSSIE_IMPORT,
        }
    text = one.expression.text()
    if not one.description or text is None or text.strip('"') != one.name:
        return None
    return {
        **base,
        "basetype": _DATATYPES.get(one.datatype or ""),
        "description": one.description,
        "confidence": "imported",
        "source": OSSIE_IMPORT,
    }


def _parsed(sql: str, what: str) -> exp.Expr:
    try:
        return sqlglot.parse_one(sql)
    except (ParseError, TokenError) as exc:
        raise _Unmappable(f"{what} does not parse: {str(exc).splitlines()[0]}") from exc


def _translated(model: SemanticModel, metric: OssieMetric, category: str) -> dict[str, Any]:
    """Another tool's metric as a registry definition whose SQL computes its expression."""
    text = metric.expression.text()
    if text is None:
        raise _Unmappable("it has no ANSI_SQL expression")
    tree = _parsed(text, "its expression")
    datasets = {d.name: d for d in model.datasets}
    used: list[str] = []
    for column in list(tree.find_all(exp.Column)):
        owner = column.table or (model.datasets[0].name if len(datasets) == 1 else "")
        if owner not in datasets:
            raise _Unmappable(f"{column.sql()} names no dataset of the model")
        fields = {f.name: f for f in datasets[owner].fields or []}
        if column.name not in fields:
            raise _Unmappable(f"dataset {owner!r} has no field {column.name!r}")
        if owner not in used:
            used.append(owner)
        field_sql = fields[column.name].expression.text()
        if field_sql is None:
            raise _Unmappable(f"field {owner}.{column.name} has no ANSI_SQL expression")
        replacement = _parsed(field_sql, f"field {owner}.{column.name}")
        for inner in replacement.find_all(exp.Column):
            inner.set("table", exp.to_identifier(owner))
        if column is tree:
            tree = replacement
        else:
            column.replace(replacement)
    if not used:
        raise _Unmappable("its expression reads no dataset")
    joins = _joins(model, used)
    first = datasets[used[0]]
    sql = f"SELECT {tree.sql()} AS {metric.name}\nFROM {_from(first)}{joins}"
    problem = query_problem(sql)
    if problem:
        raise _Unmappable(f"the SQL made of it {problem}")
    times = [f.name for f in first.fields or [] if f.is_time]
    synonyms: list[str] = []
    context = metric.ai_context
    if context is not None and not isinstance(context, str) and context.synonyms:
        synonyms = list(context.synonyms)
    return {
        "name": metric.name,
        "category": category,
        "display_name": metric.name.replace("_", " ").capitalize(),
        "description": metric.description,
        "table_name": first.source,
        "tables": [datasets[d].source for d in used[1:]],
        "expression": tree.sql(),
        "time_column": times[0] if len(times) == 1 else None,
        "synonyms": synonyms,
        "sql": sql,
        "source": OSSIE_IMPORT,
    }


def _from(dataset: Dataset) -> str:
    source = dataset.source.strip()
    if re.match(r"(?is)^\s*(select|with)\b", source):
        return f"({source}) AS {dataset.name}"
    try:
        table = sqlglot.parse_one(source, into=exp.Table)
    except (ParseError, TokenError):
        # database.schema.table whose parts are not plain identifiers (in.c-sales.orders)
        parts = source.split(".")
        if not 1 <= len(parts) <= 3 or any(not p or re.search(r'[\s"]', p) for p in parts):
            raise _Unmappable(
                f"dataset {dataset.name!r}: source {source!r} is not a table or a query"
            ) from None
        table = exp.Table(
            this=exp.to_identifier(parts[-1], quoted=True),
            db=exp.to_identifier(parts[-2], quoted=True) if len(parts) > 1 else None,
            catalog=exp.to_identifier(parts[0], quoted=True) if len(parts) > 2 else None,
        )
    if not isinstance(table, exp.Table) or table.alias:
        raise _Unmappable(f"dataset {dataset.name!r}: source {source!r} is not a table")
    return f"{table.sql()} AS {dataset.name}"


def _joins(model: SemanticModel, used: list[str]) -> str:
    """The joins that bring every dataset a metric uses next to the first, along the model's
    relationships (the shortest path to each)."""
    if len(used) == 1:
        return ""
    edges: dict[str, list[tuple[str, str]]] = {}
    for relation in model.relationships or []:
        pairs = zip(relation.from_columns, relation.to_columns, strict=True)
        condition = " AND ".join(
            f"{relation.from_}.{_column_sql(a)} = {relation.to}.{_column_sql(b)}" for a, b in pairs
        )
        edges.setdefault(relation.from_, []).append((relation.to, condition))
        edges.setdefault(relation.to, []).append((relation.from_, condition))
    came: dict[str, tuple[str, str] | None] = {used[0]: None}
    queue = deque([used[0]])
    while queue:
        here = queue.popleft()
        for there, condition in edges.get(here, []):
            if there not in came:
                came[there] = (here, condition)
                queue.append(there)
    joined: list[str] = [used[0]]
    text = ""
    datasets = {d.name: d for d in model.datasets}
    for target in used[1:]:
        if target not in came:
            raise _Unmappable(f"no relationship joins {used[0]!r} and {target!r}")
        path = []
        step = target
        while step not in joined:
            before = came[step]
            if before is None:  # the first dataset: joined from the start
                break
            path.append((step, before[1]))
            step = before[0]
        for name, condition in reversed(path):
            text += f"\nJOIN {_from(datasets[name])} ON {condition}"
            joined.append(name)
    return text
