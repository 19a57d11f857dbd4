"""Tables: which metrics read which table, and what is known of one table."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from api.deps import ERRORS, BoundedJsonRoute, IndexRead, Reader, RegistryDep
from api.schemas import MetricList
from registry import answers

router = APIRouter(prefix="/api", tags=["tables"], route_class=BoundedJsonRoute)


@router.get("/table-map", responses=ERRORS, summary="Which metrics read which table")
def table_map(__: IndexRead, reg: RegistryDep, _: Reader) -> dict[str, list[str]]:
    """`{table: [metric names]}` over `table_name` and `tables`."""
    return answers.table_map(reg)


@router.get(
    "/tables/{table}/metrics",
    response_model=MetricList,
    responses=ERRORS,
    summary="Metrics reading a table",
)
def metrics_of_table(
    reg: RegistryDep, _: Reader, table: Annotated[str, PathParam(max_length=200)]
) -> dict[str, Any]:
    """Metrics whose `table_name` or `tables` names this table."""
    return answers.metrics_reading(reg, table)


@router.get("/tables/{table}", responses=ERRORS, summary="What is known of a table")
def describe_table(
    reg: RegistryDep, _: Reader, table: Annotated[str, PathParam(max_length=200)]
) -> dict[str, Any]:
    """A table's described columns (with their metadata) and the metrics that read it."""
    return answers.describe_table(reg, table)
