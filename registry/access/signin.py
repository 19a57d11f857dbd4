"""Console sessions: a person signs in with an API token and gets a session id for a while.

Only hashes are stored (of the session id and of the token), so the table holds no secret.
A session ends when it expires, when its owner signs out, or when its token is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from events import utc_now
from registry.access.tokens import Principal, digest, principal_of

if TYPE_CHECKING:
    from storage.session import Registry

_OWNER_SQL = (
    "SELECT t.name, t.role, t.tables FROM console_sessions s JOIN api_tokens t"
    " ON t.token_sha256 = s.token_sha256"
    " WHERE s.session_sha256 = ? AND s.ended_at IS NULL AND s.expires_at > ?"
    " AND t.revoked_at IS NULL"
)


def sign_in(reg: Registry, token: str, lifetime: timedelta) -> tuple[str, Principal] | None:
    """A new session for the owner of a live token: `(session id, owner)`, or None when the
    token is not one. Sessions that have expired are forgotten on the way."""
    from registry.access.tokens import authenticate
    from registry.commands import run_atomically

    def work() -> tuple[str, Principal] | None:
        principal = authenticate(reg.conn, token)
        if principal is None:
            return None
        now = utc_now()
        reg.conn.execute("DELETE FROM console_sessions WHERE expires_at <= ?", [now])
        session_id = secrets.token_urlsafe(32)
        reg.conn.execute(
            "INSERT INTO console_sessions VALUES (?, ?, ?, ?, NULL)",
            [digest(session_id), digest(token), now, now + lifetime],
        )
        return session_id, principal

    return run_atomically(reg, work, "session")


def session_owner(reg: Registry, session_id: str) -> Principal | None:
    """Who a live session belongs to, or None (unknown, expired, ended, token revoked)."""
    row = reg.conn.execute(_OWNER_SQL, [digest(session_id), utc_now()]).fetchone()
    return None if row is None else principal_of(*row)


def sign_out(reg: Registry, session_id: str) -> None:
    """End a session now (an unknown one is already ended)."""
    from registry.commands import run_atomically

    def work() -> None:
        reg.conn.execute(
            "UPDATE console_sessions SET ended_at = ? WHERE session_sha256 = ?",
            [utc_now(), digest(session_id)],
        )

    run_atomically(reg, work, "session")


def form_token(secret: str) -> str:
    """The token a page's forms carry to prove they came from a page of this session (or of
    this browser's sign-in page): derived from a cookie that other sites cannot read."""
    return hmac.new(secret.encode(), b"console-form", hashlib.sha256).hexdigest()


def same_form_token(secret: str, sent: str) -> bool:
    return hmac.compare_digest(form_token(secret), sent)
