"""Answers about API tokens: issue, list, revoke (each change an audited event)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from registry.shape import json_object, jsonable
from storage.session import Registry


def new_token(
    reg: Registry, name: str, role: str, actor: str, tables: list[str] | None = None
) -> dict[str, Any]:
    """Create a token (an audited event): `{name, role, tables, token}`; the token is shown
    in this answer only. `tables`: the table patterns it may see (None: every table)."""
    from registry.access.tokens import issue_token

    token = issue_token(reg, name, role, actor, tables)
    granted = None if tables is None else sorted(set(tables))
    return {"name": name, "role": role, "tables": granted, "token": token}


def granted_token(
    reg: Registry, name: str, tables: list[str] | None, actor: str, reason: str | None
) -> dict[str, Any]:
    """Change the tables a token may see (an audited event, with why): the token as listed."""
    from registry.access.tokens import grant_tables

    return json_object(asdict(grant_tables(reg, name, tables, actor, reason)))


def token_list(reg: Registry) -> dict[str, Any]:
    """Every token's name, role and dates; never the tokens themselves."""
    from registry.access.tokens import list_tokens

    return {"tokens": jsonable(list_tokens(reg.conn))}


def has_admin_token(reg: Registry) -> bool:
    """Whether some live token has the admin role (a server can then be administered)."""
    from registry.access.tokens import has_admin

    return has_admin(reg.conn)


def revoked_token(reg: Registry, name: str, actor: str) -> dict[str, str]:
    """Revoke a token by name (an audited event): `{"status": "revoked", "name"}`."""
    from registry.access.tokens import withdraw_token

    withdraw_token(reg, name, actor)
    return {"status": "revoked", "name": name}
