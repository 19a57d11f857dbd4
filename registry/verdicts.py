"""The last verification's verdict, kept in the database so that it outlives a restart.

`registry.answers.audit.verify` keeps each verdict (one row, replaced); `/healthz` and the
console's badge read it back when the process has none of its own yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from events import Connection

_KEEP_SQL = (
    "INSERT INTO last_verification (id, verdict, verified_at) VALUES (1, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET verdict = excluded.verdict,"
    " verified_at = excluded.verified_at"
)
_READ_SQL = "SELECT verdict FROM last_verification WHERE id = 1"


def keep(conn: Connection, verdict: dict[str, Any], when: datetime) -> None:
    """Keep a verification's verdict (replacing the one before)."""
    conn.execute(_KEEP_SQL, [orjson.dumps(verdict).decode(), when])


def last(conn: Connection) -> dict[str, Any] | None:
    """The verdict of the last verification of this database, or None."""
    rows = conn.execute(_READ_SQL).fetchall()
    if not rows:
        return None
    found: dict[str, Any] = orjson.loads(rows[0][0])
    return found
