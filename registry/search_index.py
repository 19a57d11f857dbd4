"""The search index kept in the database between calls, for the embedded CLI.

A server keeps its index in memory between commits; a `da metrics search` in a new process
would cut every metric into words again (a second and more at 10,000 metrics). So the index
of the live metrics is kept here, as plain data, under the log position it was built at: a
call at the same position reads it back instead. It is a cache: losing it loses nothing.
"""

from __future__ import annotations

from typing import Any

import orjson

from events import Connection

_READ_SQL = "SELECT data FROM search_index WHERE id = 1 AND head = ?"
_KEEP_SQL = (
    "INSERT INTO search_index (id, head, data) VALUES (1, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET head = excluded.head, data = excluded.data"
)


def kept(conn: Connection, head: int) -> dict[str, Any] | None:
    """The index data kept for this log position, or None."""
    rows = conn.execute(_READ_SQL, [head]).fetchall()
    if not rows:
        return None
    data: dict[str, Any] = orjson.loads(rows[0][0])
    return data


def keep(conn: Connection, head: int, data: dict[str, Any]) -> None:
    """Keep an index's data for a log position (replacing the one before)."""
    conn.execute(_KEEP_SQL, [head, orjson.dumps(data).decode()])
