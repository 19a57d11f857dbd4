"""The projector on PostgreSQL: the same v4 tables (lists as TEXT[], JSON as JSONB), kept in
the append's transaction, rebuilt and checked the same way.

DuckDB folds a big batch in one set-based statement (json_transform); here the batch is
folded in Python, with the same fold the as-of reads use, and its rows are inserted in one
pipelined executemany.
"""

from __future__ import annotations

from typing import Any

from events.postgres import PgConnection
from projections.projector import Projector, ensure_tables
from projections.rows import encode_value
from projections.streams import StreamKind

# The SPEC's types as PostgreSQL spells them.
PG_TYPES = {"VARCHAR[]": "TEXT[]", "JSON": "JSONB"}

# Each live stream's last event up to a position, and its first event's time and the
# `created_at` that migration events carry (the rows `rows_at` builds).
_AS_OF_SQL = (
    "WITH winners AS (SELECT max(position) AS last, min(position) AS first FROM event_log"
    " WHERE stream_type = ? AND position <= ? {streams} GROUP BY stream_id)"
    " SELECT e.stream_id, e.event_type, e.event_schema, e.recorded_at, e.payload,"
    " f.recorded_at, f.payload::jsonb ->> 'created_at'"
    " FROM winners w JOIN event_log e ON e.position = w.last"
    " JOIN event_log f ON f.position = w.first"
    " WHERE e.event_type <> ?"
)
_ALL_STREAMS = _AS_OF_SQL.format(streams="")
_SOME_STREAMS = _AS_OF_SQL.format(streams="AND stream_id = ANY(?::text[])")


def ensure_pg_tables(conn: PgConnection) -> None:
    """The v4 tables in PostgreSQL's types, the checkpoint and `schema_version`."""
    ensure_tables(conn, PG_TYPES)  # type: ignore[arg-type]  # the same statements, psycopg


class PgProjector(Projector):
    """Keeps the v4 tables in step on a PostgreSQL connection."""

    def _insert_fold(self, kind: StreamKind, position: int, streams: list[str] | None) -> None:
        """Insert the fold of some streams (None: all) up to `position` (the shared projector
        has deleted their rows first, or dropped the tables)."""
        table = kind.table
        rows = [
            [encode_value(c.kind, row[c.name]) for c in table.columns]
            for row in self._fold(kind, position, streams)
        ]
        if rows:
            self.conn.executemany(table.insert_sql, rows)

    def _ensure_tables(self) -> None:
        ensure_pg_tables(self.conn)  # type: ignore[arg-type]

    def rows_at(self, kind: StreamKind, position: int) -> list[dict[str, Any]]:
        return self._fold(kind, position, None)

    def _fold(
        self, kind: StreamKind, position: int, streams: list[str] | None
    ) -> list[dict[str, Any]]:
        params: list[Any] = [kind.stream_type, position]
        if streams is not None:
            params.append(streams)
        found = self.conn.execute(
            _ALL_STREAMS if streams is None else _SOME_STREAMS, [*params, kind.tombstone]
        ).fetchall()
        return self._winners_to_rows(kind, found)
