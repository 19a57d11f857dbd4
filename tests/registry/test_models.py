"""The models and the v4 tables describe the same fields."""

from __future__ import annotations

from projections import COLUMN_TABLE, METRIC_TABLE
from registry.models import ColumnMetadata, MetricDefinition


def test_metric_definition_fields_are_the_projection_columns() -> None:
    columns = [c.name for c in METRIC_TABLE.definition_columns]
    assert sorted(MetricDefinition.model_fields) == sorted(columns)
    assert set(METRIC_TABLE.column_names) - set(columns) == {"id", "created_at", "updated_at"}


def test_column_metadata_fields_are_the_projection_columns() -> None:
    columns = [c.name for c in COLUMN_TABLE.definition_columns]
    assert sorted(ColumnMetadata.model_fields) == sorted(columns)
    assert set(COLUMN_TABLE.column_names) - set(columns) == {"updated_at"}
