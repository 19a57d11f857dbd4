"""API tokens (admin role): create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import ERRORS, WRITE_ERRORS, Admin, BoundedJsonRoute, RegistryDep
from api.schemas import GrantIn, TokenIn
from registry import answers

router = APIRouter(prefix="/api/admin", tags=["tokens"], route_class=BoundedJsonRoute)


@router.post("/tokens", status_code=201, responses=WRITE_ERRORS, summary="Create a token")
def create_token(reg: RegistryDep, who: Admin, body: TokenIn) -> dict[str, Any]:
    """Create a token; it is shown in this answer only (the registry keeps only its hash).
    With `tables`, it sees only metrics reading those tables and their columns."""
    return answers.new_token(reg, body.name, body.role, who.name, body.tables)


@router.get("/tokens", responses=ERRORS, summary="List tokens")
def tokens(reg: RegistryDep, _: Admin) -> dict[str, Any]:
    """Every token's name, role and dates; never the tokens themselves."""
    return answers.token_list(reg)


@router.delete("/tokens/{name}", responses=WRITE_ERRORS, summary="Revoke a token")
def revoke(request: Request, reg: RegistryDep, who: Admin, name: str) -> dict[str, str]:
    """Revoke a token by name; it stops working at once."""
    answer = answers.revoked_token(reg, name, who.name)
    request.app.state.authenticator.forget()
    return answer


@router.put("/tokens/{name}/tables", responses=WRITE_ERRORS, summary="Change a token's tables")
def grant(request: Request, reg: RegistryDep, who: Admin, name: str, body: GrantIn) -> Any:
    """Change which tables a token may see (null: every table); it takes effect at once."""
    answer = answers.granted_token(reg, name, body.tables, who.name, body.reason)
    request.app.state.authenticator.forget()
    return answer
