"""Reading metrics: list, one, search, history, versions, diff, table map, export, validation."""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from api.deps import Reader, RegistryDep, SettingsDep
from api.schemas import ErrorOut, MetricList, MetricOut
from registry import queries
from registry.exports import export_yaml
from registry.models import NAME_PATTERN
from registry.subjects import METRIC
from registry.validation import validate

router = APIRouter(prefix="/api", tags=["metrics"])

Category = Annotated[str, PathParam(pattern=NAME_PATTERN, max_length=100)]
Name = Annotated[str, PathParam(pattern=NAME_PATTERN, max_length=100)]
AsOf = Annotated[
    datetime | None, Query(description="Read the registry as it was at this time (UTC).")
]
AtPosition = Annotated[int | None, Query(ge=0, description="... or after this log position.")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}


def with_versions(
    reg: RegistryDep, rows: list[dict[str, Any]], position: int | None = None
) -> list[dict[str, Any]]:
    versions = queries.metric_versions(reg, position)
    return [{**r, "version": versions.get(r["id"], 0)} for r in rows]


def metric_response(reg: RegistryDep, metric_id: str, response: Response) -> dict[str, Any]:
    """One metric with its version, and its ETag header."""
    return _shaped(queries.metric_with_version(reg, metric_id), response)


def _shaped(found: tuple[dict[str, Any], int], response: Response) -> dict[str, Any]:
    row, version = found
    response.headers["ETag"] = f'"v{version}"'
    return {**row, "version": version}


@router.get("/metrics", response_model=MetricList, responses=ERRORS, summary="List metrics")
def list_metrics(
    reg: RegistryDep,
    _: Reader,
    category: str | None = None,
    as_of: AsOf = None,
    at_position: AtPosition = None,
) -> dict[str, Any]:
    """Live metrics ordered by category and name; as of a time or log position if asked."""
    rows = queries.list_metrics(reg, category, as_of, at_position)
    position = (
        None
        if as_of is None and at_position is None
        else queries.resolve_position(reg, as_of, at_position)
    )
    metrics = with_versions(reg, rows, position)
    return {"metrics": metrics, "count": len(metrics)}


@router.get(
    "/metrics/search", response_model=MetricList, responses=ERRORS, summary="Search metrics"
)
def search(
    reg: RegistryDep, _: Reader, q: Annotated[str, Query(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """Metrics whose name, display name, description or a synonym contains `q`."""
    metrics = with_versions(reg, queries.search_metrics(reg, q))
    return {"metrics": metrics, "count": len(metrics)}


@router.get(
    "/metrics/{category}/{name}", response_model=MetricOut, responses=ERRORS, summary="Get a metric"
)
async def get_metric(
    reg: RegistryDep, _: Reader, category: Category, name: Name, response: Response
) -> dict[str, Any]:
    """The current definition of one metric, with its version (also as the ETag)."""
    # The hottest route: a cached answer is served on the event loop, without the two
    # thread-pool hops a sync route costs; only a cache miss reads the database in a thread.
    metric_id = f"{category}/{name}"
    found = queries.cached_metric_with_version(reg, metric_id)
    if found is None:
        found = await run_in_threadpool(queries.metric_with_version, reg, metric_id)
    return _shaped(found, response)


@router.get("/metrics/{category}/{name}/history", responses=ERRORS, summary="History of a metric")
def history(reg: RegistryDep, _: Reader, category: Category, name: Name) -> dict[str, Any]:
    """Every version: who, when, why, which batch and which fields changed."""
    entries = queries.history(reg, METRIC, f"{category}/{name}")
    return {"id": f"{category}/{name}", "versions": [e.as_dict() for e in entries]}


@router.get(
    "/metrics/{category}/{name}/versions/{version}",
    responses=ERRORS,
    summary="A metric at one version",
)
def get_version(
    reg: RegistryDep,
    _: Reader,
    category: Category,
    name: Name,
    version: Annotated[int, PathParam(ge=1)],
) -> dict[str, Any]:
    """The definition the metric had at that version."""
    return queries.get_version(reg, METRIC, f"{category}/{name}", version)


@router.get("/metrics/{category}/{name}/diff", responses=ERRORS, summary="Diff two versions")
def diff(
    reg: RegistryDep,
    _: Reader,
    category: Category,
    name: Name,
    from_version: Annotated[int | None, Query(alias="from", ge=0)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1)] = None,
    from_time: Annotated[
        datetime | None, Query(description="... or the version at a time.")
    ] = None,
    to_time: Annotated[datetime | None, Query(description="... or the version at a time.")] = None,
) -> dict[str, Any]:
    """Field-level changes between two versions (default: previous to current)."""
    metric_id = f"{category}/{name}"
    if from_time is not None:
        from_version = queries.version_at(reg, METRIC, metric_id, from_time)
    if to_time is not None:
        to_version = queries.version_at(reg, METRIC, metric_id, to_time)
    return queries.diff(reg, METRIC, metric_id, from_version, to_version).as_dict()


@router.get("/metrics/{category}/{name}/validate", responses=ERRORS, summary="Validate a metric")
def validate_metric(
    reg: RegistryDep, settings: SettingsDep, _: Reader, category: Category, name: Name
) -> dict[str, Any]:
    """Check one metric against the configured analytics database (plans only, no scan)."""
    findings = validate(reg, settings.validation_db, f"{category}/{name}")
    return {"findings": [f.as_dict() for f in findings], "count": len(findings)}


@router.get("/validate", responses=ERRORS, summary="Validate every metric")
def validate_all(reg: RegistryDep, settings: SettingsDep, _: Reader) -> dict[str, Any]:
    """Check every live metric against the configured analytics database."""
    findings = validate(reg, settings.validation_db)
    return {"findings": [f.as_dict() for f in findings], "count": len(findings)}


@router.get("/table-map", responses=ERRORS, summary="Which metrics read which table")
def table_map(reg: RegistryDep, _: Reader) -> dict[str, list[str]]:
    """`{table: [metric names]}` over `table_name` and `tables`."""
    return queries.table_map(reg)


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
    metrics = with_versions(reg, queries.find_by_table(reg, table))
    return {"metrics": metrics, "count": len(metrics)}


@router.get(
    "/export",
    responses={**ERRORS, 200: {"content": {"application/zip": {}}}},
    response_class=Response,
    summary="Export as a zip of YAML files",
)
def export(
    reg: RegistryDep, _: Reader, as_of: AsOf = None, at_position: AtPosition = None
) -> Response:
    """The registry (now, or as of a time or position) as `<category>/<name>.yml` files, zipped."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="da-export-") as folder:
        root = Path(folder) / "metrics"
        files = export_yaml(reg, root, as_of, at_position)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in files:
                archive.write(file, file.relative_to(root.resolve()).as_posix())
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="metrics.zip"'},
    )
