"""API tokens: created once, shown once, stored only as a hash; three roles."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from events import Connection, utc_now
from registry.errors import ConflictError, InvalidDefinitionError, Issue, NotFoundError

ROLES = ("admin", "auditor", "analyst")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

CREATE_TOKENS_SQL = (
    "CREATE TABLE IF NOT EXISTS api_tokens (name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL,"
    " token_sha256 VARCHAR NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)"
)


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Principal:
    """Who a valid token belongs to."""

    name: str
    role: str


def _digest(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, name: str, role: str) -> str:
    """Create a token and return it; only its hash is stored, so it cannot be shown again."""
    issues = []
    if not _NAME_RE.match(name):
        issues.append(Issue("name", f"{name!r} must be 1-64 letters, digits, '_', '.', '@' or '-'"))
    if role not in ROLES:
        issues.append(Issue("role", f"{role!r} is not one of {', '.join(ROLES)}"))
    if issues:
        raise InvalidDefinitionError(issues)
    token = "mr_" + secrets.token_urlsafe(32)
    row = conn.execute("SELECT 1 FROM api_tokens WHERE name = ?", [name]).fetchone()
    if row is not None:
        raise ConflictError(f"a token named {name!r} already exists (revoked names stay taken)")
    conn.execute(
        "INSERT INTO api_tokens VALUES (?, ?, ?, ?, NULL)", [name, role, _digest(token), utc_now()]
    )
    return token


def list_tokens(conn: Connection) -> list[TokenInfo]:
    rows = conn.execute(
        "SELECT name, role, created_at, revoked_at FROM api_tokens ORDER BY name"
    ).fetchall()
    return [TokenInfo(*r) for r in rows]


def revoke_token(conn: Connection, name: str) -> None:
    """Revoke a token by name; NotFoundError if there is no live token of that name."""
    row = conn.execute(
        "SELECT 1 FROM api_tokens WHERE name = ? AND revoked_at IS NULL", [name]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no live token named {name!r}")
    conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ?", [utc_now(), name])


def authenticate(conn: Connection, token: str) -> Principal | None:
    """The owner of a live token, or None."""
    row = conn.execute(
        "SELECT name, role FROM api_tokens WHERE token_sha256 = ? AND revoked_at IS NULL",
        [_digest(token)],
    ).fetchone()
    return None if row is None else Principal(str(row[0]), str(row[1]))


def has_admin(conn: Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL"
    ).fetchone()
    return bool(row and row[0])


class Authenticator:
    """Remembers the owners of valid tokens, so that a server does not look each one up.

    Only a process that owns the database changes its tokens, so it is told (`forget`) when
    one is revoked; unknown tokens are never remembered.
    """

    def __init__(self) -> None:
        self._known: dict[str, Principal] = {}

    def __call__(self, conn: Connection, token: str) -> Principal | None:
        digest = _digest(token)
        principal = self._known.get(digest)
        if principal is None:
            principal = authenticate(conn, token)
            if principal is not None:
                self._known[digest] = principal
        return principal

    def forget(self) -> None:
        self._known.clear()
