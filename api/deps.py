"""Dependencies of the routes, as Annotated aliases: settings, the registry, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from registry import Registry, Settings
from registry.session import RegistryPool
from registry.tokens import Principal, authenticate

READERS = frozenset({"admin", "auditor", "analyst"})
AUDITORS = frozenset({"admin", "auditor"})
ADMINS = frozenset({"admin"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_registry(request: Request) -> Registry:
    """This worker thread's registry (its own DuckDB cursor)."""
    pool: RegistryPool = request.app.state.registries
    return pool.get()


def get_principal(
    registry: Annotated[Registry, Depends(get_registry)],
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    """The owner of the bearer token; 401 without a valid one."""
    scheme, _, token = (authorization or "").partition(" ")
    principal = authenticate(registry.conn, token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="a valid token is required: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def _role(allowed: frozenset[str], what: str):  # type: ignore[no-untyped-def]  # a dependency factory
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(status_code=403, detail=f"role {principal.role!r} may not {what}")
        return principal

    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
Reader = Annotated[Principal, Depends(_role(READERS, "read"))]
Auditor = Annotated[Principal, Depends(_role(AUDITORS, "read the audit log"))]
Admin = Annotated[Principal, Depends(_role(ADMINS, "write"))]
