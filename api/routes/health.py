"""Liveness, for load balancers and `da`: no token needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import RegistryDep
from registry import answers

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Is the registry up and in step?")
def healthz(reg: RegistryDep) -> dict[str, Any]:
    """The log's head (position and hash) and whether the projections have caught up with it."""
    return answers.health(reg)
