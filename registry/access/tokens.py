"""API tokens: created once, shown once, stored only as a hash; three roles."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from events import Connection, utc_now
from registry.errors import ConflictError, InvalidDefinitionError, Issue, NotFoundError

if TYPE_CHECKING:
    from storage.session import Registry

ROLES = ("admin", "auditor", "analyst")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


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


def digest(token: str) -> str:
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
        "INSERT INTO api_tokens VALUES (?, ?, ?, ?, NULL)", [name, role, digest(token), utc_now()]
    )
    return token


_AUDIT_STREAM = "token"  # the stream type of token events


def _audited(reg: Registry, name: str, fact: str, role: str, actor: str) -> None:
    """Record a token's creation or revocation in the event log (never the token itself)."""
    from events import NewEvent

    recorded = reg.store.append(
        [
            NewEvent(
                stream_type=_AUDIT_STREAM,
                stream_id=name,
                event_type=f"Token{fact}",
                payload={"name": name, "role": role},
                actor=actor,
            )
        ]
    )
    reg.projector.apply(recorded)  # moves the checkpoint; tokens have no projection table


def issue_token(reg: Registry, name: str, role: str, actor: str) -> str:
    """Create a token and record `TokenCreated` (name, role, who) in the same transaction."""
    from registry.commands import run_atomically

    def work() -> str:
        token = create_token(reg.conn, name, role)
        _audited(reg, name, "Created", role, actor)
        return token

    return run_atomically(reg, work, f"token {name!r}")


def withdraw_token(reg: Registry, name: str, actor: str) -> None:
    """Revoke a token and record `TokenRevoked` (name, role, who) in the same transaction."""
    from registry.commands import run_atomically

    def work() -> None:
        role = revoke_token(reg.conn, name)
        _audited(reg, name, "Revoked", role, actor)

    run_atomically(reg, work, f"token {name!r}")


def list_tokens(conn: Connection) -> list[TokenInfo]:
    rows = conn.execute(
        "SELECT name, role, created_at, revoked_at FROM api_tokens ORDER BY name"
    ).fetchall()
    return [TokenInfo(*r) for r in rows]


def revoke_token(conn: Connection, name: str) -> str:
    """Revoke a token by name and return its role; NotFoundError if there is no live token
    of that name."""
    rows = conn.execute(
        "SELECT role FROM api_tokens WHERE name = ? AND revoked_at IS NULL", [name]
    ).fetchall()
    if not rows:
        raise NotFoundError(f"no live token named {name!r}")
    conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ?", [utc_now(), name])
    return str(rows[0][0])


def authenticate(conn: Connection, token: str) -> Principal | None:
    """The owner of a live token, or None."""
    row = conn.execute(
        "SELECT name, role FROM api_tokens WHERE token_sha256 = ? AND revoked_at IS NULL",
        [digest(token)],
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
        key = digest(token)
        principal = self._known.get(key)
        if principal is None:
            principal = authenticate(conn, token)
            if principal is not None:
                self._known[key] = principal
        return principal

    def forget(self) -> None:
        self._known.clear()
