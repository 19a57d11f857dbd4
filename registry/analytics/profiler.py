"""Profiling analytics tables against the registry: figures per column, and what they mean.

The profiler is a reader of the registry: which metrics use a table comes from the current
projection (`table_name` and `tables`), and what a column means from `column_metadata`. Only
when the registry cannot be read does it fall back to scanning a YAML metrics folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from registry import queries
from registry.analytics.sandbox import AnalyticsDatabase
from registry.commands import WriteContext, WriteResult, import_columns
from storage.session import Registry

PROFILER = "profiler"
INFERRED = "inferred"
PROTECTED = ("manual", "verified")  # confidences a profiler never overwrites

BASETYPES = {
    "VARCHAR": "STRING",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TINYINT": "INTEGER",
    "SMALLINT": "INTEGER",
    "INTEGER": "INTEGER",
    "BIGINT": "INTEGER",
    "HUGEINT": "INTEGER",
    "DOUBLE": "NUMERIC",
    "FLOAT": "NUMERIC",
    "DECIMAL": "NUMERIC",
}


def basetype(duckdb_type: str) -> str:
    """The registry's basetype for a DuckDB type (STRING for anything unusual)."""
    root = duckdb_type.split("(")[0].split(" ")[0].upper()
    if root.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    return BASETYPES.get(root, "STRING")


@dataclass
class ColumnProfile:
    name: str
    type: str
    null_share: float
    distinct: int
    min: str | None
    max: str | None
    samples: list[str]
    description: str | None = None
    basetype: str | None = None
    confidence: str | None = None


@dataclass
class TableProfile:
    table: str
    rows: int
    columns: list[ColumnProfile]
    metrics: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)  # "metric: column (role)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Knowledge:
    """What the registry (or the YAML fallback) says about tables: metrics and columns."""

    source: str
    metrics: list[dict[str, Any]]
    columns: dict[tuple[str, str], dict[str, Any]]
    note: str | None = None  # why this source and not the registry, if it is not

    def table_map(self) -> dict[str, list[str]]:
        return queries.table_map_of(self.metrics)


def knowledge_from_registry(reg: Registry) -> Knowledge:
    columns = {(c["table_id"], c["column_name"]): c for c in queries.list_columns(reg)}
    return Knowledge("registry", queries.list_metrics(reg), columns)


def knowledge_from_yaml(folder: Path) -> Knowledge:
    """The metrics of a YAML folder, for when the registry cannot be read (no column metadata)."""
    from registry.interchange.yaml_io import read_source

    source = read_source(folder, "yaml_import", None)
    return Knowledge(f"yaml:{folder}", [m.definition for m in source.metrics], {})


def profile(
    db: AnalyticsDatabase, knowledge: Knowledge, table: str | None = None
) -> list[TableProfile]:
    """Profile every table of an analytics database (or one), annotated with the knowledge."""
    tables = sorted(db.tables()) if table is None else [table]
    table_map = knowledge.table_map()
    profiles = []
    for name in tables:
        rows, figures = db.profile(name)
        columns = []
        for column, stats in figures.items():
            meta = knowledge.columns.get((name, column), {})
            columns.append(
                ColumnProfile(
                    name=column,
                    type=stats["type"],
                    null_share=stats["null_share"],
                    distinct=stats["distinct"],
                    min=stats["min"],
                    max=stats["max"],
                    samples=stats["samples"],
                    description=meta.get("description"),
                    basetype=meta.get("basetype"),
                    confidence=meta.get("confidence"),
                )
            )
        profiles.append(
            TableProfile(
                name,
                rows,
                columns,
                table_map.get(name, []),
                _missing(knowledge, name, set(figures)),
            )
        )
    return profiles


def _missing(knowledge: Knowledge, table: str, present: set[str]) -> list[str]:
    """Columns that metrics reading this table name (time column, dimensions) but it lacks."""
    found = []
    for metric in knowledge.metrics:
        if metric.get("table_name") != table:
            continue
        wanted = [(metric.get("time_column"), "time column")] + [
            (d, "dimension") for d in metric.get("dimensions", [])
        ]
        found += [
            f"{metric['category']}/{metric['name']}: {c} ({role})"
            for c, role in wanted
            if c and c not in present
        ]
    return found


def record_basetypes(
    reg: Registry, profiles: list[TableProfile], actor: str, door: str = "python"
) -> list[WriteResult]:
    """Record each profiled column's basetype (source profiler, confidence inferred), as events.

    Never overwrites a manual or verified entry; returns how many columns were written.
    """
    entries = []
    for table in profiles:
        for column in table.columns:
            current = queries.get_column(reg, table.table, column.name)
            if current is not None and current["confidence"] in PROTECTED:
                continue
            entries.append(
                {
                    "table_id": table.table,
                    "column_name": column.name,
                    "basetype": basetype(column.type),
                    "description": current["description"] if current else None,
                    "confidence": INFERRED,
                    "source": PROFILER,
                }
            )
    ctx = WriteContext(
        actor=actor, door=door, reason="da profile --record-basetypes", source=PROFILER
    )
    return import_columns(reg, entries, ctx)
