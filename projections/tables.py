"""The schema-v4 projection tables: their columns, DDL, and how each column is read off an event.

Outside readers (a profiler, notebooks, BI tools) read these tables directly, so names, column
names and types are fixed by SPEC section 1.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SCHEMA_VERSION = 4


def quote_identifier(name: str) -> str:
    """A SQL identifier, double-quoted with its quotes doubled: the one place names are quoted."""
    return '"' + name.replace('"', '""') + '"'


Kind = Literal["scalar", "list", "json", "stream_id", "created_at", "updated_at"]


@dataclass(frozen=True)
class Column:
    """One projection column: its name, SQL type and where its value comes from."""

    name: str
    sql_type: str
    kind: Kind = "scalar"


@dataclass(frozen=True)
class ProjectionTable:
    """A v4 table kept by the projector."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def definition_columns(self) -> tuple[Column, ...]:
        """Columns whose values come from the event's definition payload."""
        return tuple(c for c in self.columns if c.kind in ("scalar", "list", "json"))

    # SQL below is assembled only from this fixed spec, never from input.

    def ddl(self, types: dict[str, str] | None = None) -> str:
        """CREATE TABLE, with some SQL types renamed for another engine (`types`)."""
        renamed = types or {}
        body = ", ".join(f"{c.name} {_renamed(c.sql_type, renamed)}" for c in self.columns)
        key = ", ".join(self.key)
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({body}, PRIMARY KEY ({key}))"

    @property
    def select_sql(self) -> str:
        return "SELECT " + ", ".join(self.column_names) + " FROM " + self.name  # noqa: S608 - fixed spec

    @property
    def insert_sql(self) -> str:
        marks = ", ".join("?" for _ in self.columns)
        return f"INSERT INTO {self.name} VALUES ({marks})"  # noqa: S608 - fixed spec

    @property
    def delete_by_key_sql(self) -> str:
        return f"DELETE FROM {self.name} WHERE {self._key_clause}"  # noqa: S608 - fixed spec

    @property
    def delete_streams_sql(self) -> str:
        """Delete the rows of a list of stream ids (`?` binds the list)."""
        stream_id = " || ':' || ".join(self.key)
        return f"DELETE FROM {self.name} WHERE {stream_id} IN (SELECT unnest(?::VARCHAR[]))"  # noqa: S608 - fixed spec

    @property
    def select_by_key_sql(self) -> str:
        return f"{self.select_sql} WHERE {self._key_clause}"

    @property
    def created_at_by_key_sql(self) -> str:
        return f"SELECT created_at FROM {self.name} WHERE {self._key_clause}"  # noqa: S608 - fixed spec

    @property
    def count_sql(self) -> str:
        return f"SELECT count(*) FROM {self.name}"  # noqa: S608 - fixed spec

    @property
    def drop_sql(self) -> str:
        return f"DROP TABLE IF EXISTS {self.name}"

    def update_sql(self, columns: tuple[Column, ...]) -> str:
        """UPDATE of some of this table's columns plus `updated_at`, by key."""
        unknown = [c.name for c in columns if c not in self.columns]
        if unknown:
            raise ValueError(f"{self.name} has no columns {unknown}")
        assignments = ", ".join([f"{c.name} = ?" for c in columns] + ["updated_at = ?"])
        return f"UPDATE {self.name} SET {assignments} WHERE {self._key_clause}"  # noqa: S608 - fixed spec

    @property
    def _key_clause(self) -> str:
        return " AND ".join(f"{k} = ?" for k in self.key)


def _renamed(sql_type: str, types: dict[str, str]) -> str:
    base, _, rest = sql_type.partition(" ")
    return " ".join(p for p in (types.get(base, base), rest) if p)


METRIC_TABLE = ProjectionTable(
    name="metric_definitions",
    key=("id",),
    columns=(
        Column("id", "VARCHAR", "stream_id"),
        Column("name", "VARCHAR NOT NULL"),
        Column("display_name", "VARCHAR NOT NULL"),
        Column("category", "VARCHAR NOT NULL"),
        Column("description", "TEXT"),
        Column("type", "VARCHAR"),
        Column("unit", "VARCHAR"),
        Column("grain", "VARCHAR"),
        Column("table_name", "VARCHAR"),
        Column("tables", "VARCHAR[]", "list"),
        Column("expression", "VARCHAR"),
        Column("time_column", "VARCHAR"),
        Column("dimensions", "VARCHAR[]", "list"),
        Column("filters", "VARCHAR[]", "list"),
        Column("synonyms", "VARCHAR[]", "list"),
        Column("notes", "VARCHAR[]", "list"),
        Column("sql", "TEXT NOT NULL"),
        Column("sql_variants", "JSON", "json"),
        Column("validation", "JSON", "json"),
        Column("source", "VARCHAR"),
        Column("source_ref", "VARCHAR"),
        Column("created_at", "TIMESTAMP", "created_at"),
        Column("updated_at", "TIMESTAMP", "updated_at"),
    ),
)

COLUMN_TABLE = ProjectionTable(
    name="column_metadata",
    key=("table_id", "column_name"),
    columns=(
        Column("table_id", "VARCHAR NOT NULL"),
        Column("column_name", "VARCHAR NOT NULL"),
        Column("basetype", "VARCHAR"),
        Column("description", "VARCHAR"),
        Column("confidence", "VARCHAR"),
        Column("source", "VARCHAR"),
        Column("updated_at", "TIMESTAMP", "updated_at"),
    ),
)

CREATE_SCHEMA_VERSION_SQL = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)"
)
CREATE_CHECKPOINT_SQL = (
    "CREATE TABLE IF NOT EXISTS projection_checkpoint"
    " (name VARCHAR PRIMARY KEY, position BIGINT NOT NULL)"
)

# The effective dates of the events that carry one (`effective_from`, or the `updated_at` a
# migration carried): a small index beside the log, so that a read in business time need not
# parse every payload. `pending`: a scheduled change whose date has not yet been brought in.
DATES_TABLE = "effective_dates"
CREATE_DATES_SQL = (
    "CREATE TABLE IF NOT EXISTS effective_dates (position BIGINT PRIMARY KEY,"
    " stream_type VARCHAR NOT NULL, stream_id VARCHAR NOT NULL,"
    " effective_from TIMESTAMP NOT NULL, pending BOOLEAN NOT NULL)"
)
INSERT_DATE_SQL = "INSERT INTO effective_dates VALUES (?, ?, ?, ?, ?)"
SELECT_DATES_SQL = (
    "SELECT position, stream_type, stream_id, effective_from FROM effective_dates ORDER BY 1"
)

# Every id a renamed metric has had, and its stream (its identity): `current` marks the id it
# has now. A metric never renamed has no row (its id is its stream's).
NAMES_TABLE = "metric_names"
CREATE_NAMES_SQL = (
    "CREATE TABLE IF NOT EXISTS metric_names (name_id VARCHAR PRIMARY KEY,"
    " stream_id VARCHAR NOT NULL, current BOOLEAN NOT NULL)"
)
SELECT_NAMES_SQL = "SELECT name_id, stream_id, current FROM metric_names ORDER BY 1"
