"""Pure folds from events to state, and the projector that keeps the v4 tables in step."""

from projections.fold import (
    StreamState,
    apply_event,
    effective_text,
    effective_time,
    fold,
    fold_all,
    in_force,
    projects,
    valid_winner,
)
from projections.projector import Difference, Projector, ensure_tables
from projections.rows import row_to_dict
from projections.streams import COLUMNS, KINDS, METRICS, StreamKind, column_stream_id
from projections.tables import COLUMN_TABLE, METRIC_TABLE, SCHEMA_VERSION, ProjectionTable
from projections.upcasters import build_upcasters

__all__ = [
    "COLUMNS",
    "COLUMN_TABLE",
    "KINDS",
    "METRICS",
    "METRIC_TABLE",
    "SCHEMA_VERSION",
    "Difference",
    "ProjectionTable",
    "Projector",
    "StreamKind",
    "StreamState",
    "apply_event",
    "effective_text",
    "effective_time",
    "in_force",
    "projects",
    "valid_winner",
    "build_upcasters",
    "column_stream_id",
    "ensure_tables",
    "fold",
    "fold_all",
    "row_to_dict",
]
