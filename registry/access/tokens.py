"""API tokens: created once, shown once, stored only as a hash; three roles."""

from __future__ import annotations

import hashlib
import json
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
    tables: list[str] | None = None  # the tables it may see (globs); None: every table


@dataclass(frozen=True)
class Principal:
    """Who a valid token belongs to, and the tables it may see (None: every table)."""

    name: str
    role: str
    tables: tuple[str, ...] | None = None


_MAX_PATTERNS = 64


def tables_issue(role: str, tables: list[str] | None) -> Issue | None:
    """What is wrong with a token's table grants (None: nothing)."""
    if tables is None:
        return None
    if role == "admin":
        return Issue("tables", "an admin sees every table: grants are for auditors and analysts")
    if not tables or len(tables) > _MAX_PATTERNS:
        return Issue("tables", f"name 1 to {_MAX_PATTERNS} table patterns, such as 'finance_*'")
    for pattern in tables:
        if not isinstance(pattern, str) or not _PATTERN_RE.match(pattern):
            return Issue(
                "tables", f"{pattern!r} is not a table pattern (letters, digits, '_.-', '*', '?')"
            )
    return None


_PATTERN_RE = re.compile(r"^[A-Za-z0-9_.\-*?]{1,200}$")


def _stored(tables: list[str] | None) -> str | None:
    return None if tables is None else json.dumps(sorted(set(tables)))


def _loaded(text: object) -> list[str] | None:
    return None if text is None else [str(t) for t in json.loads(str(text))]


def digest(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    conn: Connection,
    name: str,
    role: str,
    actor: str = "setup",
    tables: list[str] | None = None,
) -> str:
    """Create a token on an open connection to a prepared registry (an audited event, as
    `issue_token`) and return it; only its hash is stored, so it cannot be shown again."""
    from storage.session import on_cursor

    return issue_token(on_cursor(conn), name, role, actor, tables)


def _refusal(conn: Connection, name: str, role: str, tables: list[str] | None = None) -> None:
    issues = []
    if not _NAME_RE.match(name):
        issues.append(Issue("name", f"{name!r} must be 1-64 letters, digits, '_', '.', '@' or '-'"))
    if role not in ROLES:
        issues.append(Issue("role", f"{role!r} is not one of {', '.join(ROLES)}"))
    elif (found := tables_issue(role, tables)) is not None:
        issues.append(found)
    if issues:
        raise InvalidDefinitionError(issues)
    if conn.execute("SELECT 1 FROM api_tokens WHERE name = ?", [name]).fetchone() is not None:
        raise ConflictError(f"a token named {name!r} already exists (revoked names stay taken)")


_AUDIT_STREAM = "token"  # the stream type of token events


def _audited(
    reg: Registry,
    name: str,
    fact: str,
    payload: dict[str, object],
    actor: str,
    reason: str | None = None,
) -> datetime:
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
                reason=reason,
            )
        ]
    )
    reg.projector.apply(recorded)  # moves the checkpoint; tokens have no v4 table
    return recorded[0].recorded_at


def issue_token(
    reg: Registry, name: str, role: str, actor: str, tables: list[str] | None = None
) -> str:
    """Create a token: `TokenCreated` (name, role, the token's SHA-256, its table grants,
    who) and its row, in one transaction; `api_tokens` is the fold of these events, which
    verify checks."""
    from registry.commands import run_atomically

    def work() -> str:
        _refusal(reg.conn, name, role, tables)
        token = "mr_" + secrets.token_urlsafe(32)
        hashed = digest(token)
        payload: dict[str, object] = {"role": role, "token_sha256": hashed}
        if tables is not None:
            payload["tables"] = sorted(set(tables))
        made = _audited(reg, name, "Created", payload, actor)
        reg.conn.execute(
            "INSERT INTO api_tokens (name, role, token_sha256, created_at, revoked_at, tables)"
            " VALUES (?, ?, ?, ?, NULL, ?)",
            [name, role, hashed, made, _stored(tables)],
        )
        return token

    return run_atomically(reg, work, f"token {name!r}")


def grant_tables(
    reg: Registry, name: str, tables: list[str] | None, actor: str, reason: str | None
) -> TokenInfo:
    """Change which tables a live token may see (None: every table): `TokenGranted` (the
    new grants, who, why) and its row, in one transaction."""
    from registry.commands import run_atomically
    from registry.reasons import reason_issue

    def work() -> TokenInfo:
        role = _live_role(reg.conn, name)
        found = [i for i in (tables_issue(role, tables), reason_issue(reason)) if i]
        if found:
            raise InvalidDefinitionError(found)
        granted = None if tables is None else sorted(set(tables))
        _audited(reg, name, "Granted", {"tables": granted}, actor, reason)
        reg.conn.execute("UPDATE api_tokens SET tables = ? WHERE name = ?", [_stored(tables), name])
        return next(t for t in list_tokens(reg.conn) if t.name == name)

    return run_atomically(reg, work, f"token {name!r}")


def _live_role(conn: Connection, name: str) -> str:
    """A live token's role; NotFoundError if there is no live token of that name."""
    rows = conn.execute(
        "SELECT role FROM api_tokens WHERE name = ? AND revoked_at IS NULL", [name]
    ).fetchall()
    if not rows:
        raise NotFoundError(f"no live token named {name!r}")
    return str(rows[0][0])


def withdraw_token(reg: Registry, name: str, actor: str) -> None:
    """Revoke a token: `TokenRevoked` (name, role, who) and its row's `revoked_at`, in one
    transaction. NotFoundError if there is no live token of that name."""
    from registry.commands import run_atomically

    def work() -> None:
        revoked = _audited(reg, name, "Revoked", {"role": _live_role(reg.conn, name)}, actor)
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
                "tables": event.payload.get("tables"),
                "exact": exact,
            }
        elif event.event_type == "TokenRevoked" and event.stream_id in expected:
            expected[event.stream_id]["revoked_at"] = event.recorded_at
        elif event.event_type == "TokenGranted" and event.stream_id in expected:
            expected[event.stream_id]["tables"] = event.payload.get("tables")
    found = reg.conn.execute(
        "SELECT name, role, token_sha256, created_at, revoked_at, tables FROM api_tokens"
    ).fetchall()
    columns = ("role", "token_sha256", "created_at", "revoked_at", "tables")
    actual = {str(r[0]): dict(zip(columns, [*r[1:5], _loaded(r[5])], strict=True)) for r in found}
    differences = []
    for name in sorted(expected.keys() | actual.keys()):
        want, have = expected.get(name), actual.get(name)
        if want is None or have is None:
            where = "missing from the table" if have is None else "not in the log"
            differences.append(f"api_tokens {name}: row {where}")
            continue
        checked = [*columns] if want["exact"] else ["role", "tables"]
        differences += [
            f"api_tokens {name}: {c} is {have[c]!r}, the log says {want[c]!r}"
            for c in checked
            if have[c] != want[c]
        ]
        if not want["exact"] and (have["revoked_at"] is None) != (want["revoked_at"] is None):
            state = "live" if have["revoked_at"] is None else "revoked"
            differences.append(f"api_tokens {name}: the token is {state}, the log says otherwise")
    return differences


def list_tokens(conn: Connection) -> list[TokenInfo]:
    rows = conn.execute(
        "SELECT name, role, created_at, revoked_at, tables FROM api_tokens ORDER BY name"
    ).fetchall()
    return [TokenInfo(r[0], r[1], r[2], r[3], _loaded(r[4])) for r in rows]


def principal_of(name: object, role: object, tables: object) -> Principal:
    """A token's owner from its row's name, role and table grants."""
    granted = _loaded(tables)
    return Principal(str(name), str(role), None if granted is None else tuple(granted))


def authenticate(conn: Connection, token: str) -> Principal | None:
    """The owner of a live token, or None."""
    row = conn.execute(
        "SELECT name, role, tables FROM api_tokens WHERE token_sha256 = ? AND revoked_at IS NULL",
        [digest(token)],
    ).fetchone()
    return None if row is None else principal_of(*row)


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
