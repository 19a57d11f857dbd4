"""Dependencies of the routes, as Annotated aliases: settings, the registry, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from registry import Registry, Settings
from registry.session import RegistryPool
from registry.tokens import Authenticator, Principal

READERS = frozenset({"admin", "auditor", "analyst"})
AUDITORS = frozenset({"admin", "auditor"})
ADMINS = frozenset({"admin"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_registry(request: Request) -> AsyncIterator[Registry]:
    """A registry (its own DuckDB cursor) lent to this request until it is answered.

    Async, like the other dependencies here: none of them blocks for long (a token's first
    lookup), and each sync dependency would cost a hop through the thread pool.
    """
    pool: RegistryPool = request.app.state.registries
    with pool.lease() as registry:
        yield registry


async def get_principal(
    request: Request,
    registry: Annotated[Registry, Depends(get_registry)],
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    """The owner of the bearer token; 401 without a valid one."""
    scheme, _, token = (authorization or "").partition(" ")
    authenticate: Authenticator = request.app.state.authenticator
    principal = authenticate(registry.conn, token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="a valid token is required: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def _role(allowed: frozenset[str], what: str):  # type: ignore[no-untyped-def]  # a dependency factory
    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(status_code=403, detail=f"role {principal.role!r} may not {what}")
        return principal

    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
Reader = Annotated[Principal, Depends(_role(READERS, "read"))]
Auditor = Annotated[Principal, Depends(_role(AUDITORS, "read the audit log"))]
Admin = Annotated[Principal, Depends(_role(ADMINS, "write"))]
