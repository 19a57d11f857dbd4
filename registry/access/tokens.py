"""API tokens: created once, shown once, stored only as a hash; three roles."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from events import Connection
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


def create_token(conn: Connection, name: str, role: str, actor: str = "setup") -> str:
    """Create a token on an open connection to a prepared registry (an audited event, as
    `issue_token`) and return it; only its hash is stored, so it cannot be shown again."""
    from storage.session import on_cursor

    return issue_token(on_cursor(conn), name, role, actor)


def _refusal(conn: Connection, name: str, role: str) -> None:
    issues = []
    if not _NAME_RE.match(name):
        issues.append(Issue("name", f"{name!r} must be 1-64 letters, digits, '_', '.', '@' or '-'"))
    if role not in ROLES:
        issues.append(Issue("role", f"{role!r} is not one of {', '.join(ROLES)}"))
    if issues:
        raise InvalidDefinitionError(issues)
    if conn.execute("SELECT 1 FROM api_tokens WHERE name = ?", [name]).fetchone() is not None:
        raise ConflictError(f"a token named {name!r} already exists (revoked names stay taken)")


_AUDIT_STREAM = "token"  # the stream type of token events


def _audited(reg: Registry, name: str, fact: str, payload: dict[str, str], actor: str) -> datetime:
    """Record a token's creation or revocation in the event log (its hash, never the token
    itself); when it was recorded, which the table then holds too."""
    from events import NewEvent

    recorded = reg.store.append(
        [
            NewEvent(
                stream_type=_AUDIT_STREAM,
                stream_id=name,
                event_type=f"Token{fact}",
                payload={"name": name, **payload},
                actor=actor,
            )
        ]
    )
    reg.projector.apply(recorded)  # moves the checkpoint; tokens have no v4 table
    return recorded[0].recorded_at


def issue_token(reg: Registry, name: str, role: str, actor: str) -> str:
    """Create a token: `TokenCreated` (name, role, the token's SHA-256, who) and its row, in
    one transaction; `api_tokens` is the fold of these events, which verify checks."""
    from registry.commands import run_atomically

    def work() -> str:
        _refusal(reg.conn, name, role)
        token = "mr_" + secrets.token_urlsafe(32)
        hashed = digest(token)
        made = _audited(reg, name, "Created", {"role": role, "token_sha256": hashed}, actor)
        reg.conn.execute(
            "INSERT INTO api_tokens VALUES (?, ?, ?, ?, NULL)", [name, role, hashed, made]
        )
        return token

    return run_atomically(reg, work, f"token {name!r}")


def withdraw_token(reg: Registry, name: str, actor: str) -> None:
    """Revoke a token: `TokenRevoked` (name, role, who) and its row's `revoked_at`, in one
    transaction. NotFoundError if there is no live token of that name."""
    from registry.commands import run_atomically

    def work() -> None:
        rows = reg.conn.execute(
            "SELECT role FROM api_tokens WHERE name = ? AND revoked_at IS NULL", [name]
        ).fetchall()
        if not rows:
            raise NotFoundError(f"no live token named {name!r}")
        revoked = _audited(reg, name, "Revoked", {"role": str(rows[0][0])}, actor)
        reg.conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ?", [revoked, name])

    run_atomically(reg, work, f"token {name!r}")


def token_differences(reg: Registry) -> list[str]:
    """Every way `api_tokens` differs from a fold of the token events (empty when in step):
    a row edited in place (a role raised to admin), forged, removed, or revived.

    Tokens created before their events carried the token's hash are checked on name, role
    and whether they are revoked.
    """
    expected: dict[str, dict[str, object]] = {}
    for event in reg.store.read(stream_type=_AUDIT_STREAM):
        if event.event_type == "TokenCreated":
            exact = "token_sha256" in event.payload
            expected[event.stream_id] = {
                "role": event.payload.get("role"),
                "token_sha256": event.payload.get("token_sha256"),
                "created_at": event.recorded_at if exact else None,
                "revoked_at": None,
                "exact": exact,
            }
        elif event.event_type == "TokenRevoked" and event.stream_id in expected:
            expected[event.stream_id]["revoked_at"] = event.recorded_at
    found = reg.conn.execute(
        "SELECT name, role, token_sha256, created_at, revoked_at FROM api_tokens"
    ).fetchall()
    actual = {
        str(r[0]): dict(
            zip(("role", "token_sha256", "created_at", "revoked_at"), r[1:], strict=True)
        )
        for r in found
    }
    differences = []
    for name in sorted(expected.keys() | actual.keys()):
        want, have = expected.get(name), actual.get(name)
        if want is None or have is None:
            where = "missing from the table" if have is None else "not in the log"
            differences.append(f"api_tokens {name}: row {where}")
            continue
        columns = (
            ["role", "token_sha256", "created_at", "revoked_at"] if want["exact"] else ["role"]
        )
        differences += [
            f"api_tokens {name}: {c} is {have[c]!r}, the log says {want[c]!r}"
            for c in columns
            if have[c] != want[c]
        ]
        if not want["exact"] and (have["revoked_at"] is None) != (want["revoked_at"] is None):
            state = "live" if have["revoked_at"] is None else "revoked"
            differences.append(f"api_tokens {name}: the token is {state}, the log says otherwise")
    return differences


def list_tokens(conn: Connection) -> list[TokenInfo]:
    rows = conn.execute(
        "SELECT name, role, created_at, revoked_at FROM api_tokens ORDER BY name"
    ).fetchall()
    return [TokenInfo(*r) for r in rows]


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
