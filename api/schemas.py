"""Wire shapes that differ from the registry's models."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from projections import COLUMN_TABLE, METRIC_TABLE, ProjectionTable
from registry.models import ColumnMetadata, MetricDefinition

MAX_VERSION = 2**31 - 1  # versions are 32-bit in the log
MAX_POSITION = 2**62  # positions are 64-bit

_WIRE_TYPES: dict[str, Any] = {
    "scalar": (str | None, None),
    "list": (list[str], []),
    "json": (Any, None),
    "stream_id": (str, ...),
    "created_at": (datetime | None, None),
    "updated_at": (datetime | None, None),
}


class CertificationOut(BaseModel):
    """A metric's certification: `certified` at its current version, else `lapsed`, naming
    the version it was given for, who gave it, when, and the note."""

    state: Literal["certified", "lapsed"]
    version: int
    by: str
    at: datetime
    note: str | None = None


def _out_model(name: str, table: ProjectionTable, doc: str) -> type[BaseModel]:
    """A response model with the v4 columns of a table plus the stream's version (and a
    metric's certification)."""
    fields: dict[str, Any] = {c.name: _WIRE_TYPES[c.kind] for c in table.columns}
    fields["version"] = (int, ...)
    if table is METRIC_TABLE:
        fields["certification"] = (CertificationOut | None, None)
    model: type[BaseModel] = create_model(name, __doc__=doc, **fields)
    return model


if TYPE_CHECKING:  # generated below from the table specs; mypy sees plain models
    MetricOut = BaseModel
    ColumnOut = BaseModel
else:
    MetricOut = _out_model("MetricOut", METRIC_TABLE, "A metric as stored and its version.")
    ColumnOut = _out_model("ColumnOut", COLUMN_TABLE, "A column's metadata and its version.")


class RollbackIn(BaseModel):
    """The version to make current again, and why."""

    model_config = ConfigDict(extra="forbid")

    to_version: int = Field(ge=1, le=MAX_VERSION)
    reason: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)
    effective_from: str | None = Field(default=None, max_length=40)


class RenameIn(BaseModel):
    """The metric's new id, and why."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(pattern=r"^[a-z0-9_]+/[a-z0-9_]+$", max_length=201)
    reason: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)


class ErrorItem(BaseModel):
    loc: str
    msg: str


class ErrorOut(BaseModel):
    """Every error: a sentence, and the located problems behind it."""

    detail: str
    errors: list[ErrorItem] = []
    current_version: int | None = None


class MetricList(BaseModel):
    metrics: list[MetricOut]
    count: int
    next: str | None = None


if TYPE_CHECKING:
    SearchHitOut = BaseModel
else:
    SearchHitOut = create_model(
        "SearchHitOut",
        __base__=MetricOut,
        __doc__="A metric that matched a search: how well, and which words matched where.",
        score=(float, ...),
        matched=(str, ...),
    )


class SearchList(BaseModel):
    metrics: list[SearchHitOut]
    count: int


class DeletedOut(BaseModel):
    status: str
    id: str
    version: int


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    role: Literal["admin", "auditor", "analyst"]
    # The tables it may see (globs such as `finance_*`); none: every table.
    tables: list[str] | None = Field(default=None, max_length=64)


class GrantIn(BaseModel):
    """The tables a token may see from now on (null: every table), and why."""

    model_config = ConfigDict(extra="forbid")

    tables: list[str] | None = Field(max_length=64)
    reason: str | None = None


class HookIn(BaseModel):
    """A webhook subscription: where, which events (`metric.*`, `column.deleted`, ...), and
    optionally one category and table patterns (`finance_*`)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048)
    events: list[str] = Field(min_length=1, max_length=32)
    category: str | None = None
    tables: list[str] = Field(default_factory=list, max_length=32)


# -- documented request bodies ------------------------------------------------------------------
# Write bodies reach the registry as plain JSON objects (it validates them and words the
# problems); these schemas tell clients (and schemathesis) exactly what it accepts.

_NOT_BLANK = r"\S"
_VARIANT_KEY = {"pattern": r"^[a-z][a-z0-9_]*$", "not": {"const": "variants"}}
_REASON = {"type": ["string", "null"], "maxLength": 2000}
_EXPECTED = {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_VERSION}
_EFFECTIVE = {"type": ["string", "null"], "maxLength": 40, "examples": ["2026-01-01"]}
_WRITE_META = {"reason": _REASON, "expected_version": _EXPECTED, "effective_from": _EFFECTIVE}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """A property schema that also takes null (the registry reads null as "absent")."""
    if "anyOf" in schema:
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _properties(model: type[BaseModel], defaulted_nullable: bool) -> dict[str, Any]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    properties: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k not in ("title", "default")}
        if defaulted_nullable and name not in required:
            prop = _nullable(prop)
        properties[name] = prop
    return properties


def _metric_properties() -> dict[str, Any]:
    properties = _properties(MetricDefinition, defaulted_nullable=True)
    properties["sql"] = {"type": "string", "pattern": _NOT_BLANK}
    properties["sql_variants"] = _nullable(
        {
            "type": "object",
            "propertyNames": _VARIANT_KEY,
            "additionalProperties": {"type": "string", "pattern": _NOT_BLANK},
        }
    )
    # The writer of a hand edit is `manual` and it has no import label (SPEC section 1).
    properties["source"] = {"enum": ["manual", None], "description": "the writer: manual"}
    properties["source_ref"] = {"type": "null", "description": "an import's label: none here"}
    return properties


def metric_create_body() -> dict[str, Any]:
    """POST /api/admin/metrics: a whole definition, named by category and name or by the
    earlier API's `id` (not both)."""
    properties = {
        **_metric_properties(),
        "id": {"type": "string", "pattern": r"^[a-z0-9_]+/[a-z0-9_]+$"},
        "reason": _REASON,
        "expected_version": _EXPECTED,
        "effective_from": _EFFECTIVE,
    }
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": ["sql"],
        "oneOf": [
            {"required": ["name", "category"], "not": {"required": ["id"]}},
            {
                "required": ["id"],
                "not": {"anyOf": [{"required": ["name"]}, {"required": ["category"]}]},
            },
        ],
    }
    return _json_body(schema)


def metric_patch_body() -> dict[str, Any]:
    """PATCH: the fields to change (not category or name: they make the id)."""
    properties = {k: v for k, v in _metric_properties().items() if k not in ("name", "category")}
    return _object_body(
        {
            **properties,
            "reason": _REASON,
            "expected_version": _EXPECTED,
            "effective_from": _EFFECTIVE,
        }
    )


def column_body() -> dict[str, Any]:
    """PUT and PATCH of a column's metadata (table and column come from the path)."""
    properties = {
        k: v
        for k, v in _properties(ColumnMetadata, defaulted_nullable=False).items()
        if k not in ("table_id", "column_name")
    }
    return _object_body(
        {
            **properties,
            "reason": _REASON,
            "expected_version": _EXPECTED,
            "effective_from": _EFFECTIVE,
        }
    )


def request_meta_body() -> dict[str, Any]:
    """A body of only `reason` and `expected_version` (restore); optional."""
    body = _object_body(dict(_WRITE_META))
    body["requestBody"]["required"] = False
    return body


def _object_body(properties: dict[str, Any]) -> dict[str, Any]:
    return _json_body({"type": "object", "additionalProperties": False, "properties": properties})


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


def upload_body() -> dict[str, Any]:
    """The import's body: one YAML file, or a zip of `<category>/<name>.yml`."""
    binary = {"type": "string", "format": "binary"}
    return {
        "requestBody": {
            "required": True,
            "content": {
                # Any YAML document: what cannot be read as metrics is listed in the report.
                "application/yaml": {"schema": {}},
                "application/zip": {"schema": binary},
            },
        }
    }
