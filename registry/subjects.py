"""What a command or query is about: a metric or a column's metadata.

Kept free of pydantic so that read paths (`da metrics list`, the API's GET routes) never pay
for importing the models; the model behind a subject is loaded on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from projections import COLUMNS, METRICS, StreamKind, column_stream_id

if TYPE_CHECKING:
    from registry.models import Definition


@dataclass(frozen=True)
class Subject:
    """A kind of stream bound to the model that validates its definitions."""

    kind: StreamKind
    model_name: str  # a class in registry.models
    label: str
    fixed: tuple[str, ...]  # fields that make up the id and so cannot be updated

    @cached_property
    def model(self) -> type[Definition]:
        models = importlib.import_module("registry.models")
        model: type[Definition] = getattr(models, self.model_name)
        return model

    @cached_property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.model.model_fields)

    def id_fields(self, stream_id: str) -> dict[str, str]:
        """The fields a stream id fixes (category and name; table and column)."""
        if self.kind is METRICS:
            category, _, name = stream_id.partition("/")
            return {"category": category, "name": name}
        return dict(zip(self.fixed, self.kind.split(stream_id), strict=True))

    def stream_id(self, definition: Any) -> str:
        """The stream id of a validated definition of this subject."""
        if self.kind is METRICS:
            return str(definition.id)
        return column_stream_id(definition.table_id, definition.column_name)


METRIC = Subject(METRICS, "MetricDefinition", "metric", ("category", "name"))
COLUMN = Subject(COLUMNS, "ColumnMetadata", "column", ("table_id", "column_name"))
