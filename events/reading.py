"""Reading the event log: by stream, by position, by idempotency key, with filters.

`LogReader` holds the read side of the store; `EventStore` adds transactions and appends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from events.connection import Connection
from events.recorded import EventSummary, RecordedEvent
from events.schema import EVENT_COLUMNS, SELECT_EVENTS_SQL
from events.upcasting import Upcasters

STREAM_FILTER = " WHERE stream_id = ? AND stream_type = ? AND version <= ? ORDER BY version"
# The envelope without hashes, the payload replaced by the values at a list of JSON paths.
SUMMARY_COLUMNS = tuple(c for c in EVENT_COLUMNS if c not in ("payload_hash", "prev_hash", "hash"))


class LogSql:
    """The read statements. Those written here run on every engine; an engine's store fills
    in the rest in its own dialect (`?` marks a parameter in all of them)."""

    stream = SELECT_EVENTS_SQL + STREAM_FILTER
    # The columns of SUMMARY_COLUMNS, the payload replaced by a list of the JSON texts at
    # the payload keys given as the first parameter (`summary_paths`), for one stream.
    summaries: str
    # The same columns of each named stream's last event up to a position (no payload keys).
    last_events: str
    payload = "SELECT payload FROM event_log WHERE position = ?"

    @staticmethod
    def summary_paths(keys: Sequence[str]) -> list[Any]:
        """The parameter that picks payload keys in `summaries`."""
        return list(keys)


def _version_bound(up_to_version: int | None) -> int:
    return up_to_version if up_to_version is not None else 2**31 - 1


def decode_payload(text: str) -> dict[str, Any]:
    """A stored payload's JSON text as a dict."""
    value = orjson.loads(text)
    if not isinstance(value, dict):
        raise ValueError("an event payload must be a JSON object")
    return value


class LogReader:
    """Reads of the log on one connection (or cursor); payloads upcast on the way."""

    conn: Connection
    upcasters: Upcasters
    sql: type[LogSql]

    def stream_version(self, stream_type: str, stream_id: str) -> int:
        """A stream's current version (0 if it has no events)."""
        row = self.conn.execute(
            "SELECT coalesce(max(version), 0) FROM event_log"
            " WHERE stream_id = ? AND stream_type = ?",
            [stream_id, stream_type],
        ).fetchone()
        return int(row[0]) if row else 0

    def versions_of_id(self, stream_id: str, stream_types: Sequence[str]) -> dict[str, int]:
        """The version of each stream of one id among some stream types (0: left out), by
        stream type: one index probe, no payload read."""
        marks = ", ".join("?" for _ in stream_types)  # a count of marks, never a name
        rows = self.conn.execute(
            "SELECT stream_type, max(version) FROM event_log"  # noqa: S608 - marks only
            f" WHERE stream_id = ? AND stream_type IN ({marks}) GROUP BY stream_type",
            [stream_id, *stream_types],
        ).fetchall()
        return {str(t): int(v) for t, v in rows}

    def versions_at(
        self,
        stream_type: str,
        position: int | None = None,
        stream_ids: Sequence[str] | None = None,
    ) -> dict[str, int]:
        """Every stream's version of one type (or only those named), as of a log position
        (default: now)."""
        sql = (
            "SELECT stream_id, max(version) FROM event_log WHERE stream_type = ? AND position <= ?"
        )
        params: list[Any] = [stream_type, position if position is not None else 2**62]
        if stream_ids is not None:
            sql += " AND stream_id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(stream_ids))
        rows = self.conn.execute(sql + " GROUP BY stream_id", params).fetchall()
        return {str(s): int(v) for s, v in rows}

    def last_events(
        self, stream_type: str, stream_ids: Sequence[str], position: int | None = None
    ) -> dict[str, EventSummary]:
        """The last event (as of a log position; default: now) of each of some streams,
        without payload or hashes: who changed each last, when, and how."""
        if not stream_ids:
            return {}
        rows = self.conn.execute(
            self.sql.last_events,
            [stream_type, list(stream_ids), position if position is not None else 2**62],
        ).fetchall()
        return {str(r[2]): self._to_summary(r, ()) for r in rows}

    def read_stream(
        self, stream_type: str, stream_id: str, up_to_version: int | None = None
    ) -> list[RecordedEvent]:
        """Every event of one stream in version order, optionally up to a version."""
        params = [stream_id, stream_type, _version_bound(up_to_version)]
        return [self._to_event(r) for r in self.conn.execute(self.sql.stream, params).fetchall()]

    def stream_summaries(
        self, stream_type: str, stream_id: str, payload_keys: Sequence[str]
    ) -> list[EventSummary]:
        """Every event of one stream in version order, without hashes, with some payload keys.

        The engine extracts the keys, so a long history is read without decoding every full
        payload; an event of an outgrown schema is upcast whole first, then picked from.
        """
        paths = self.sql.summary_paths(payload_keys)
        params = [paths, stream_id, stream_type, _version_bound(None)]
        rows = self.conn.execute(self.sql.summaries, params).fetchall()
        return [self._to_summary(r, payload_keys) for r in rows]

    def read_event(self, stream_type: str, stream_id: str, version: int) -> RecordedEvent | None:
        """One event of a stream by its version, or None."""
        row = self.conn.execute(
            SELECT_EVENTS_SQL + " WHERE stream_id = ? AND stream_type = ? AND version = ?",
            [stream_id, stream_type, version],
        ).fetchone()
        return None if row is None else self._to_event(row)

    def read(
        self,
        after: int = 0,
        until_position: int | None = None,
        limit: int | None = None,
        *,
        stream_type: str | None = None,
        stream_id: str | None = None,
        actor: str | None = None,
        event_type: str | None = None,
        batch_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = False,
    ) -> list[RecordedEvent]:
        """Events after a position (and up to `until_position`), filtered by the given fields
        (all optional); in log order, or newest first (`limit` then keeps the newest)."""
        clauses = ["position > ?"]
        params: list[Any] = [after]
        optional = (
            ("position <= ?", until_position),
            ("stream_type = ?", stream_type),
            ("stream_id = ?", stream_id),
            ("actor = ?", actor),
            ("event_type = ?", event_type),
            ("batch_id = ?", batch_id),
            ("recorded_at >= ?", since),
            ("recorded_at <= ?", until),
        )
        for clause, value in optional:
            if value is not None:
                clauses.append(clause)
                params.append(value)
        order = " ORDER BY position DESC" if newest_first else " ORDER BY position"
        sql = SELECT_EVENTS_SQL + " WHERE " + " AND ".join(clauses) + order
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._to_event(r) for r in self.conn.execute(sql, params).fetchall()]

    def raw_rows(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Stored rows after a position, as they are (`EVENT_COLUMNS`, payload as its text),
        for copying a log to another database unchanged."""
        sql = SELECT_EVENTS_SQL + " WHERE position > ? ORDER BY position LIMIT ?"
        return [tuple(r) for r in self.conn.execute(sql, [after, limit]).fetchall()]

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before a time (0 if none)."""
        row = self.conn.execute(
            "SELECT coalesce(max(position), 0) FROM event_log WHERE recorded_at <= ?",
            [_naive_utc(moment)],
        ).fetchone()
        return int(row[0]) if row else 0

    def events_for_key(self, idempotency_key: str) -> list[RecordedEvent]:
        """The events an earlier append with this idempotency key wrote (empty if none)."""
        rows = self.conn.execute(
            SELECT_EVENTS_SQL + " WHERE idempotency_key = ? ORDER BY position", [idempotency_key]
        ).fetchall()
        return [self._to_event(r) for r in rows]

    def _to_event(self, row: Sequence[Any]) -> RecordedEvent:
        values = dict(zip(EVENT_COLUMNS, row, strict=True))
        schema, payload = self.upcasters.upcast(
            values["event_type"], values["event_schema"], decode_payload(values["payload"])
        )
        values["event_schema"] = schema
        values["payload"] = payload
        return RecordedEvent(**values)

    def _to_summary(self, row: Sequence[Any], keys: Sequence[str]) -> EventSummary:
        values = dict(zip(SUMMARY_COLUMNS, row, strict=True))
        if values["event_schema"] < self.upcasters.current_schema(values["event_type"]):
            # An old schema may rename or move keys: upcast the whole payload, then pick.
            [(text,)] = self.conn.execute(self.sql.payload, [values["position"]]).fetchall()
            schema, payload = self.upcasters.upcast(
                values["event_type"], values["event_schema"], decode_payload(text)
            )
            values["event_schema"] = schema
            values["payload"] = {k: payload[k] for k in keys if k in payload}
        else:
            parts = zip(keys, values["payload"], strict=True)
            values["payload"] = {k: orjson.loads(v) for k, v in parts if v is not None}
        return EventSummary(**values)


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
