"""Apache Ossie's core metadata document (spec 0.2.0.dev0), as the registry's own typed model.

Written from the specification (apache/ossie `core-spec/spec.md` and `osi-schema.json` at
commit 88e0011): a document holds a `version` and a list of semantic models; a model holds
datasets (a physical source and its fields), relationships (foreign keys between datasets)
and metrics (expressions, each in one or more dialects). Every object refuses keys the
specification does not name, and `custom_extensions` carry what a vendor needs beyond it
(`data` is a JSON-encoded string). `document_issues` adds the rules a schema cannot say:
names unique where the specification requires it, relationships naming known datasets and
fields, and every ANSI_SQL expression accepted by DuckDB's parser.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from registry.errors import Issue
from registry.sql_parser import expression_problem

VERSION = "0.2.0.dev0"
Dialect = Literal["ANSI_SQL", "SNOWFLAKE", "MDX", "TABLEAU", "DATABRICKS", "MAQL", "BIGQUERY"]
DataType = Literal[
    "String",
    "Integer",
    "Decimal",
    "Float",
    "Boolean",
    "Date",
    "Time",
    "DateTime",
    "DateTimeTz",
    "Opaque",
]
TIME_TYPES = ("Date", "Time", "DateTime", "DateTimeTz")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class AIContextDetail(BaseModel):
    """`ai_context` as an object: instructions, synonyms, examples (more keys are allowed)."""

    model_config = ConfigDict(extra="allow", strict=True)

    instructions: str | None = None
    synonyms: list[str] | None = None
    examples: list[str] | None = None


AIContext = str | AIContextDetail


class CustomExtension(_Strict):
    vendor_name: str
    data: str  # a JSON document, encoded as a string


class DialectExpression(_Strict):
    dialect: Dialect
    expression: str


class Expression(_Strict):
    dialects: list[DialectExpression] = Field(min_length=1)

    def text(self, dialect: str = "ANSI_SQL") -> str | None:
        """The expression in one dialect, or None."""
        return next((d.expression for d in self.dialects if d.dialect == dialect), None)


class Dimension(_Strict):
    is_time: bool | None = None


class OssieField(_Strict):
    name: str
    expression: Expression
    dimension: Dimension | None = None
    label: str | None = None
    description: str | None = None
    datatype: DataType | None = None
    ai_context: AIContext | None = None
    custom_extensions: list[CustomExtension] | None = None

    @property
    def is_time(self) -> bool:
        """The time role: as the dimension says, else by the data type (the specification's
        default)."""
        if self.dimension is not None and self.dimension.is_time is not None:
            return self.dimension.is_time
        return self.datatype in TIME_TYPES


class Dataset(_Strict):
    name: str
    source: str
    primary_key: list[str] | None = None
    unique_keys: list[list[str]] | None = None
    description: str | None = None
    ai_context: AIContext | None = None
    fields: list[OssieField] | None = None
    custom_extensions: list[CustomExtension] | None = None


class Relationship(_Strict):
    name: str
    from_: str = Field(alias="from")
    to: str
    from_columns: list[str] = Field(min_length=1)
    to_columns: list[str] = Field(min_length=1)
    ai_context: AIContext | None = None
    custom_extensions: list[CustomExtension] | None = None


class OssieMetric(_Strict):
    name: str
    expression: Expression
    description: str | None = None
    datatype: DataType | None = None
    ai_context: AIContext | None = None
    custom_extensions: list[CustomExtension] | None = None


class SemanticModel(_Strict):
    name: str
    description: str | None = None
    ai_context: AIContext | None = None
    datasets: list[Dataset] = Field(min_length=1)
    relationships: list[Relationship] | None = None
    metrics: list[OssieMetric] | None = None
    custom_extensions: list[CustomExtension] | None = None


class OssieDocument(_Strict):
    version: Literal["0.2.0.dev0"]
    semantic_model: list[SemanticModel]

    def dump(self) -> dict[str, Any]:
        """The document as plain data, in the specification's key names, absent keys left out."""
        return self.model_dump(by_alias=True, exclude_none=True)


def extension(extensions: list[CustomExtension] | None, vendor: str) -> dict[str, Any] | None:
    """The decoded `data` of one vendor's extension, or None (also when it is not a JSON
    object)."""
    for found in extensions or []:
        if found.vendor_name == vendor:
            try:
                data = json.loads(found.data)
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def parse_document(data: Any, where: str) -> tuple[OssieDocument | None, list[Issue]]:
    """The typed document and every issue with it (located `where: path`); the document is
    None when its shape is wrong."""
    try:
        document = OssieDocument.model_validate(data)
    except ValidationError as exc:
        return None, [
            Issue(f"{where}: {'.'.join(str(p) for p in e['loc']) or '(root)'}", e["msg"])
            for e in exc.errors(include_url=False)
        ]
    return document, document_issues(document, where)


def _twice(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


def document_issues(document: OssieDocument, where: str) -> list[Issue]:
    """The rules beyond the schema: unique names, known references, SQL that DuckDB parses."""
    issues: list[Issue] = []
    for m, model in enumerate(document.semantic_model):
        at = f"{where}: semantic_model.{m}"
        for kind, names in (
            ("dataset", [d.name for d in model.datasets]),
            ("metric", [x.name for x in model.metrics or []]),
            ("relationship", [r.name for r in model.relationships or []]),
        ):
            issues += [Issue(at, f"{kind} name {n!r} is given twice") for n in _twice(names)]
        fields = {d.name: {f.name for f in d.fields or []} for d in model.datasets}
        for d, dataset in enumerate(model.datasets):
            own = [f.name for f in dataset.fields or []]
            issues += [
                Issue(f"{at}.datasets.{d}", f"field name {n!r} is given twice") for n in _twice(own)
            ]
            for f, found in enumerate(dataset.fields or []):
                at_field = f"{at}.datasets.{d}.fields.{f}"
                issues += _sql_issues(found.expression, at_field)
        for r, relation in enumerate(model.relationships or []):
            for side, dataset_name, columns in (
                ("from", relation.from_, relation.from_columns),
                ("to", relation.to, relation.to_columns),
            ):
                if dataset_name not in fields:
                    issues.append(
                        Issue(f"{at}.relationships.{r}.{side}", f"no dataset {dataset_name!r}")
                    )
                    continue
                known = fields[dataset_name]
                for column in columns:
                    if known and column not in known:
                        issues.append(
                            Issue(
                                f"{at}.relationships.{r}.{side}_columns",
                                f"dataset {dataset_name!r} has no field {column!r}",
                            )
                        )
            if len(relation.from_columns) != len(relation.to_columns):
                issues.append(
                    Issue(f"{at}.relationships.{r}", "from_columns and to_columns differ in length")
                )
        for x, metric in enumerate(model.metrics or []):
            issues += _sql_issues(metric.expression, f"{at}.metrics.{x}")
    return issues


def _sql_issues(expression: Expression, at: str) -> list[Issue]:
    issues = []
    for i, dialect in enumerate(expression.dialects):
        if dialect.dialect == "ANSI_SQL":
            problem = expression_problem(dialect.expression)
            if problem:
                issues.append(Issue(f"{at}.expression.dialects.{i}", f"SQL {problem}"))
    return issues
