"""Wire shapes that differ from the registry's models."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from projections import COLUMN_TABLE, METRIC_TABLE, ProjectionTable

_WIRE_TYPES: dict[str, Any] = {
    "scalar": (str | None, None),
    "list": (list[str], []),
    "json": (Any, None),
    "stream_id": (str, ...),
    "created_at": (datetime | None, None),
    "updated_at": (datetime | None, None),
}


def _out_model(name: str, table: ProjectionTable, doc: str) -> type[BaseModel]:
    """A response model with the v4 columns of a table plus the stream's version."""
    fields: dict[str, Any] = {c.name: _WIRE_TYPES[c.kind] for c in table.columns}
    fields["version"] = (int, ...)
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

    to_version: int = Field(ge=1)
    reason: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = Field(default=None, ge=0)


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


class DeletedOut(BaseModel):
    status: str
    id: str
    version: int


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    role: str
