"""Answers about API tokens: issue, list, revoke (each change an audited event)."""

from __future__ import annotations

from typing import Any

from registry.shape import jsonable
from storage.session import Registry


def new_token(reg: Registry, name: str, role: str, actor: str) -> dict[str, str]:
    """Create a token (an audited event): `{name, role, token}`; the token is shown in this
    answer only."""
    from registry.access.tokens import issue_token

    return {"name": name, "role": role, "token": issue_token(reg, name, role, actor)}


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
