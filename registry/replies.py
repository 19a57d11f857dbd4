"""First answers of keyed requests, kept so that a retried request gets exactly the same one.

A write whose answer cannot be rebuilt from its events alone (an import's report: which
metrics were unchanged, which adopted) keeps its answer here under its idempotency key, in
the same transaction as its events. Rows are only ever inserted.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from events import Connection, utc_now
from registry.errors import ConflictError

_RECALL_SQL = "SELECT request_sha256, answer FROM idempotent_replies WHERE key = ?"
_REMEMBER_SQL = "INSERT INTO idempotent_replies VALUES (?, ?, ?, ?)"


def request_digest(request: Any) -> str:
    """A fingerprint of a request (any JSON-able value)."""
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


def recall(conn: Connection, key: str, digest: str) -> dict[str, Any] | None:
    """The first answer to this key, if any; ConflictError if it was for another request."""
    found = conn.execute(_RECALL_SQL, [key]).fetchall()
    if not found:
        return None
    kept_digest, answer = found[0]
    if kept_digest != digest:
        raise ConflictError(f"idempotency key {key!r} was already used for a different request")
    value: dict[str, Any] = orjson.loads(answer)
    return value


def remember(conn: Connection, key: str, digest: str, answer: dict[str, Any]) -> None:
    """Keep a request's answer under its key (call inside the write's transaction)."""
    conn.execute(_REMEMBER_SQL, [key, digest, orjson.dumps(answer).decode(), utc_now()])
