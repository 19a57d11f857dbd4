"""DDL of the event log. The log is append-only: no code path updates or deletes its rows."""

EVENT_COLUMNS = (
    "position",
    "stream_type",
    "stream_id",
    "version",
    "event_type",
    "event_schema",
    "payload",
    "payload_hash",
    "actor",
    "reason",
    "batch_id",
    "source",
    "source_ref",
    "idempotency_key",
    "recorded_at",
    "prev_hash",
    "hash",
)

CREATE_EVENT_LOG_SQL = """
CREATE TABLE IF NOT EXISTS event_log (
    position        BIGINT PRIMARY KEY,
    stream_type     VARCHAR NOT NULL,
    stream_id       VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    event_type      VARCHAR NOT NULL,
    event_schema    INTEGER NOT NULL,
    payload         JSON NOT NULL,
    payload_hash    VARCHAR NOT NULL,
    actor           VARCHAR NOT NULL,
    reason          VARCHAR,
    batch_id        VARCHAR,
    source          VARCHAR,
    source_ref      VARCHAR,
    idempotency_key VARCHAR,
    recorded_at     TIMESTAMP NOT NULL,
    prev_hash       VARCHAR NOT NULL,
    hash            VARCHAR NOT NULL,
    UNIQUE (stream_type, stream_id, version)
)
"""

# The UNIQUE index is not used for `WHERE stream_id = ?`; this one serves history and heads.
CREATE_STREAM_INDEX_SQL = "CREATE INDEX IF NOT EXISTS event_log_stream_idx ON event_log (stream_id)"

SELECT_EVENTS_SQL = "SELECT " + ", ".join(EVENT_COLUMNS) + " FROM event_log"  # noqa: S608 - fixed

_MARKS = ", ".join("?" for _ in EVENT_COLUMNS)
INSERT_EVENT_SQL = f"INSERT INTO event_log VALUES ({_MARKS})"  # noqa: S608 - fixed

HEAD_SQL = (
    "SELECT position, hash, recorded_at FROM event_log"
    " WHERE position = (SELECT max(position) FROM event_log)"
)
