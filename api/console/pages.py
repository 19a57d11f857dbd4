"""The console's reading pages: the registry, a metric and its timeline, two versions
compared, a table's columns, and the registry as a YAML zip."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from api.console.web import AsOfForm, ConsoleRoute, ReaderPage, page
from api.deps import (
    Category,
    ColumnName,
    HeavyRead,
    Name,
    RegistryDep,
    TableId,
    renamed_redirect,
)
from api.schemas import MAX_VERSION
from registry import answers
from registry.times import parse_time

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50
Version = Annotated[int | None, Query(ge=0, le=MAX_VERSION)]


@router.get("/")
def registry_page(
    __: HeavyRead,
    request: Request,
    reg: RegistryDep,
    viewer: ReaderPage,
    moment: AsOfForm,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=100)] = "",
    after: Annotated[str, Query(max_length=300)] = "",
    written: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    """Every live metric (or a search's best matches), now or as of a time or position."""
    found = answers.catalog(
        reg,
        q.strip() or None,
        category or None,
        moment.as_of,
        moment.at_position,
        after or None,
        PAGE_SIZE,
    )
    context = {"found": found, "q": q, "category": category, "moment": moment, "after": after}
    return page(request, "registry.html", context, viewer, reg=reg)


@router.get("/registry.zip")
def registry_zip(__: HeavyRead, reg: RegistryDep, _: ReaderPage, moment: AsOfForm) -> Response:
    """The registry (now, or as of the page's time or position) as the YAML zip."""
    body = answers.export_zip(reg, moment.as_of, moment.at_position)
    name = (
        "registry.zip"
        if moment.as_of is None and moment.at_position is None
        else ("registry-as-of.zip")
    )
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/metrics/{category}/{name}")
def metric_page(
    request: Request,
    reg: RegistryDep,
    viewer: ReaderPage,
    category: Category,
    name: Name,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    written: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    certified: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    valid_at: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """A metric's definition (now, at one version, or in force at a business date), the
    timeline of every version, and its versions on both time axes."""
    record = answers.metric_record(reg, f"{category}/{name}")
    if record["renamed_from"]:  # an old id: the page is at the new one now
        return renamed_redirect(request, "/metrics/", f"{category}/{name}", record["id"])
    shown = record["metric"]
    in_force_at = parse_time(valid_at, "valid_at") if valid_at.strip() else None
    if in_force_at is not None:
        shown = answers.metric(reg, record["id"], valid_at=in_force_at)
    elif version is not None:
        shown = answers.metric(reg, record["id"], version)
    context = {
        "record": record,
        "shown": shown,
        "version": version,
        "written": written,
        "certified_version": certified,
        "valid_at": valid_at,
        "in_force_at": in_force_at,
        "axes": answers.metric_timeline(reg, record["id"])["versions"],
    }
    return page(request, "metric.html", context, viewer, reg=reg)


@router.get("/metrics/{category}/{name}/diff")
def diff_page(
    request: Request,
    reg: RegistryDep,
    viewer: ReaderPage,
    category: Category,
    name: Name,
    from_version: Annotated[int | None, Query(alias="from", ge=0, le=MAX_VERSION)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1, le=MAX_VERSION)] = None,
    from_time: Annotated[str, Query(max_length=64)] = "",
    to_time: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Two versions (or the versions in force at two times) side by side."""
    from registry.times import parse_time

    metric_id = f"{category}/{name}"
    compared = answers.metric_diff(
        reg,
        metric_id,
        from_version,
        to_version,
        parse_time(from_time, "from_time") if from_time.strip() else None,
        parse_time(to_time, "to_time") if to_time.strip() else None,
    )
    record = answers.metric_record(reg, metric_id)
    context = {"diff": compared, "record": record, "from_time": from_time, "to_time": to_time}
    return page(request, "diff.html", context, viewer, reg=reg)


@router.get("/columns")
def tables_page(request: Request, reg: RegistryDep, viewer: ReaderPage) -> Response:
    """Every table the registry knows: the metrics that read it, its described columns."""
    return page(request, "tables.html", answers.table_index(reg), viewer, reg=reg)


@router.get("/columns/{table}/{column:column}/diff")
def column_diff_page(
    request: Request,
    reg: RegistryDep,
    viewer: ReaderPage,
    table: TableId,
    column: ColumnName,
    from_version: Annotated[int | None, Query(alias="from", ge=0, le=MAX_VERSION)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1, le=MAX_VERSION)] = None,
) -> Response:
    """What changed in a column's metadata between two versions."""
    compared = answers.column_diff(reg, table, column, from_version, to_version)
    context = {"diff": compared, "table_id": table, "column_name": column}
    return page(request, "column_diff.html", context, viewer, reg=reg)


@router.get("/columns/{table}")
def columns_page(
    request: Request, reg: RegistryDep, viewer: ReaderPage, table: TableId
) -> Response:
    """Each described column of a table, its metadata and history, and the metrics reading it."""
    context = {"table": answers.table_record(reg, table)}
    return page(request, "columns.html", context, viewer, reg=reg)


@router.get("/proposals")
def proposals_page(
    request: Request,
    reg: RegistryDep,
    viewer: ReaderPage,
    state: Annotated[
        Literal["", "open", "stale", "approved", "rejected", "withdrawn"], Query()
    ] = "",
) -> Response:
    """Every proposal (or those in one state), newest first, and the approval policy."""
    context = {
        "found": answers.proposal_list(reg, state or None),
        "policy": answers.approval_policy(reg),
        "state": state,
        "states": ("open", "stale", "approved", "rejected", "withdrawn"),
    }
    return page(request, "proposals.html", context, viewer, reg=reg)


@router.get("/proposals/{number}")
def proposal_page(
    request: Request,
    reg: RegistryDep,
    viewer: ReaderPage,
    number: Annotated[int, Path(ge=1, le=MAX_VERSION)],
    decided: bool = False,
) -> Response:
    """One proposal, each change beside the current version; for an admin who did not
    propose it, the forms to approve or reject it (the server refuses the proposer anyway)."""
    context = {"p": answers.proposal(reg, number), "decided": decided}
    return page(request, "proposal.html", context, viewer, reg=reg)
