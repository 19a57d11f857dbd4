"""The domain's models: a metric definition, a column's metadata, and their ids.

Validation reports every problem with its field, never just the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from registry.errors import InvalidDefinitionError, Issue
from registry.sql_parser import query_problem

METRIC_TYPES = ("sum", "count", "avg", "ratio")
NAME_PATTERN = r"^[a-z0-9_]+$"
_NAME_RE = re.compile(NAME_PATTERN)
# A variant's key: a lowercase identifier (`by_plan`, `weekly`); its YAML key is `sql_<key>`.
_VARIANT_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED_VARIANTS = frozenset({"variants"})  # `sql_variants` is the column's own YAML key
TABLE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"
# A category or a name is one URL path segment and one file name (`<name>.yml`) at every door
# and in every export: short enough for both.
MAX_NAME_LENGTH = 100
# A column name: any text but '/' (it is one URL path segment) and control characters, with
# no space at either end. Written once for both regex dialects (Python's and the JSON
# schema's): the spaces are spelt out rather than `\s`, which differs between them.
_SPACES = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_NOT_IN_A_NAME = "/\x00-\x1f\x7f-\x9f"
COLUMN_NAME_PATTERN = (
    f"^[^{_NOT_IN_A_NAME}{_SPACES}](?:[^{_NOT_IN_A_NAME}]*[^{_NOT_IN_A_NAME}{_SPACES}])?$"
)
_COLUMN_NAME_RE = re.compile(COLUMN_NAME_PATTERN)


@dataclass(frozen=True, order=True)
class MetricId:
    """`category/name`, each lowercase letters, digits and `_`."""

    category: str
    name: str

    @classmethod
    def parse(cls, text: str) -> MetricId:
        """Parse `category/name`; raises InvalidDefinitionError saying what is wrong."""
        category, sep, name = text.partition("/")
        if not sep or not _NAME_RE.match(category) or not _NAME_RE.match(name):
            raise InvalidDefinitionError(
                [
                    Issue(
                        "id",
                        f"{text!r} is not of the form category/name "
                        "(lowercase letters, digits and _)",
                    )
                ]
            )
        return cls(category, name)

    def __str__(self) -> str:
        return f"{self.category}/{self.name}"


def valid_unicode(value: Any) -> bool:
    """Whether every string in a value (lists and mappings too) is valid Unicode text."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, list | tuple):
        return all(valid_unicode(v) for v in value)
    if isinstance(value, dict):
        return all(valid_unicode(k) and valid_unicode(v) for k, v in value.items())
    return True


_INT64 = range(-(2**63), 2**63)


def fits_64_bits(value: Any) -> bool:
    """Whether every whole number in a value fits the 64 bits that stored JSON keeps."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value in _INT64
    if isinstance(value, list | tuple):
        return all(fits_64_bits(v) for v in value)
    if isinstance(value, dict):
        return all(fits_64_bits(v) for v in value.values())
    return True


class Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _unicode(cls, value: Any) -> Any:
        if not valid_unicode(value):
            raise ValueError("is not valid Unicode text (it holds a lone surrogate)")
        if not fits_64_bits(value):
            raise ValueError("holds a whole number larger than 64 bits")
        return value

    def to_definition(self) -> dict[str, Any]:
        """The definition as it goes into an event payload (every field, JSON values)."""
        return self.model_dump(mode="json")


class MetricDefinition(Definition):
    """One metric's canonical definition (the v4 row without id and timestamps)."""

    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)
    category: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)
    display_name: str = ""
    description: str | None = None
    type: Literal["sum", "count", "avg", "ratio"] = "sum"
    unit: str | None = None
    grain: str = "monthly"
    table_name: str | None = None
    tables: list[str] = Field(default_factory=list)
    expression: str | None = None
    time_column: str | None = None
    dimensions: list[str] = Field(default_factory=list)
    filters: list[str] = Field(default_factory=list)
    synonyms: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    sql: str
    sql_variants: dict[str, str] = Field(default_factory=dict)
    validation: dict[str, Any] | None = None
    source: str = "manual"
    source_ref: str | None = None

    @property
    def id(self) -> str:
        return f"{self.category}/{self.name}"

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        """A NULL where a field has a default (rows adopted from plain SQL) takes the default."""
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if v is not None or k not in _DEFAULTED}

    @model_validator(mode="after")
    def _default_display_name(self) -> MetricDefinition:
        if not self.display_name:
            object.__setattr__(self, "display_name", self.name)
        return self

    @field_validator("sql")
    @classmethod
    def _sql_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        problem = query_problem(value)
        if problem:
            raise ValueError(f"must be one SELECT query; DuckDB's parser says: {problem}")
        return value

    @field_validator("sql_variants")
    @classmethod
    def _variant_keys(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not _VARIANT_RE.match(k) or k in _RESERVED_VARIANTS]
        if bad:
            raise ValueError(
                f"keys {', '.join(repr(k) for k in bad)} must be lowercase identifiers "
                "(letters, digits and _, starting with a letter; not 'variants')"
            )
        empty = [k for k, v in value.items() if not v.strip()]
        if empty:
            raise ValueError(f"variants {', '.join(empty)} have empty SQL")
        for key, sql in value.items():
            problem = query_problem(sql)
            if problem:
                raise ValueError(
                    f"variant {key} must be one SELECT query; DuckDB's parser says: {problem}"
                )
        return value


class ColumnMetadata(Definition):
    """What one column of one table means."""

    table_id: str = Field(pattern=TABLE_ID_PATTERN, max_length=255)
    column_name: str = Field(min_length=1, max_length=255)
    basetype: str | None = None
    description: str | None = None
    confidence: str = "manual"
    source: str = "manual"

    @field_validator("column_name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not _COLUMN_NAME_RE.match(value):
            raise ValueError("must not contain '/', control characters or surrounding spaces")
        return value


METRIC_FIELDS = tuple(MetricDefinition.model_fields)
_DEFAULTED = frozenset(
    name
    for name, info in MetricDefinition.model_fields.items()
    if not info.is_required() and info.get_default(call_default_factory=True) is not None
)

Model = TypeVar("Model", bound=Definition)


def describe_error(error: dict[str, Any]) -> str:
    """A pydantic error as a sentence that says what would be accepted."""
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "literal_error":
        return f"{value!r} is not one of {', '.join(METRIC_TYPES)}"
    if kind == "string_pattern_mismatch":
        if error.get("ctx", {}).get("pattern") == NAME_PATTERN:
            return f"{value!r} must be lowercase letters, digits and _"
        return f"{value!r} must be letters, digits, '_', '.' or '-'"
    if kind in ("string_type", "list_type", "dict_type"):
        wanted = {
            "string_type": "a string",
            "list_type": "a list of strings",
            "dict_type": "a mapping",
        }[kind]
        return f"{value!r} is not {wanted}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def issues_from(exc: ValidationError, prefix: str = "") -> list[Issue]:
    """Every pydantic error as an Issue located at its field path."""
    issues = []
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"])
        issues.append(Issue(f"{prefix}{path}", describe_error(dict(error))))
    return issues


def build_issues(model: type[Model], data: dict[str, Any]) -> Model | list[Issue]:
    """Validate a mapping into a model, or return every issue found."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return issues_from(exc)


def build(model: type[Model], data: dict[str, Any], subject: str | None = None) -> Model:
    """Validate a mapping into a model; raises InvalidDefinitionError with every issue."""
    found = build_issues(model, data)
    if isinstance(found, list):
        raise InvalidDefinitionError(found, subject)
    return found


def metric_input(fields: dict[str, Any]) -> dict[str, Any]:
    """Metric fields with an optional `id` folded into category and name (they must agree)."""
    data = dict(fields)
    if "id" not in data:
        return data
    given = data.pop("id")
    if not isinstance(given, str):
        raise InvalidDefinitionError([Issue("id", f"{given!r} is not a string 'category/name'")])
    category, _, name = str(given).partition("/")
    data.setdefault("category", category)
    data.setdefault("name", name)
    if f"{data['category']}/{data['name']}" != given:
        raise InvalidDefinitionError(
            [
                Issue(
                    "id",
                    f"{given!r} does not match category/name {data['category']!r}/{data['name']!r}",
                )
            ]
        )
    return data
