"""The two kinds of stream the registry writes, and the names of their events.

Event names are past-tense facts. Every event's payload holds the complete definition after
the change (`definition`) and the fields it changed (`changed`); a tombstone holds the
definition it removed. Migration events may carry the original `created_at`/`updated_at`.

A change may carry `effective_from` (UTC text): the business time from which it is in force.
One that is not in force when recorded is a `Scheduled` event (its payload names the `change`
and whether it `deleted`); when its date comes, a `TookEffect` event brings it into the v4
tables. See `projections.fold` for the two time axes.

A metric's stream id is its identity: the id it was first created under. `Renamed` moves it
to a new `category/name` (its payload names `renamed_from` and `renamed_to`); the v4 row is
keyed by the id the events carry (`row_id`: their payload's `id`, which a Renamed event and
every later event of a renamed stream hold; else the stream's id), and `metric_names` maps
every id a renamed stream has had to the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projections.tables import COLUMN_TABLE, METRIC_TABLE, ProjectionTable


@dataclass(frozen=True)
class StreamKind:
    """A kind of stream: its type tag, its projection table and its event names."""

    stream_type: str
    event_prefix: str
    table: ProjectionTable
    payload_schema: int

    def event(self, fact: str) -> str:
        """The event type name of a fact (Created, Updated, Deleted, Restored, RolledBack, ...)."""
        return f"{self.event_prefix}{fact}"

    @property
    def tombstone(self) -> str:
        return self.event("Deleted")

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(self.event(f) for f in FACTS)

    @property
    def scheduled(self) -> str:
        """A change not in force when it was recorded: effective from a later date, or from
        an earlier date that a later-dated version supersedes. The v4 tables skip it."""
        return self.event("Scheduled")

    @property
    def took_effect(self) -> str:
        """A scheduled change coming into force (its payload holds the definition)."""
        return self.event("TookEffect")

    def removes(self, event_type: str, payload: dict[str, Any]) -> bool:
        """Whether an event leaves the stream without a row: a deletion, or a scheduled
        deletion (or its coming into force)."""
        if event_type == self.tombstone:
            return True
        return event_type in (self.scheduled, self.took_effect) and bool(payload.get("deleted"))

    def key_of(self, stream_id: str, definition: dict[str, Any]) -> tuple[Any, ...]:
        """The projection row key of a stream's definition (for a metric, pass its row id:
        `row_id`)."""
        if self.table.key == ("id",):
            return (stream_id,)
        return tuple(definition[k] for k in self.table.key)

    def split(self, stream_id: str) -> tuple[str, ...]:
        """The projection row key a stream id names (a table id never holds ':')."""
        if self.table.key == ("id",):
            return (stream_id,)
        table_id, _, column_name = stream_id.partition(":")
        return (table_id, column_name)


FACTS = (
    "Created",
    "Updated",
    "Deleted",
    "Restored",
    "RolledBack",
    "Adopted",
    "Scheduled",
    "TookEffect",
    "Renamed",
)

# Metric payloads are at schema 2: schema 1 kept the YAML file's keys (see upcasters.py).
METRICS = StreamKind("metric", "Metric", METRIC_TABLE, payload_schema=2)
COLUMNS = StreamKind("column", "ColumnMetadata", COLUMN_TABLE, payload_schema=1)
KINDS = (METRICS, COLUMNS)


def row_id(stream_id: str, payload: dict[str, Any]) -> str:
    """The id of the row an event's stream has: the payload's `id` once the metric was
    renamed, else the stream's id (its identity, which a rename keeps)."""
    given = payload.get("id")
    return given if isinstance(given, str) and given else stream_id


def column_stream_id(table_id: str, column_name: str) -> str:
    """The stream id of a column's metadata: `table_id:column_name`."""
    return f"{table_id}:{column_name}"
