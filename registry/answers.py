"""The answers every door shows: one function per question a user asks.

API routes, the embedded CLI (and through the API the remote CLI), the web pages and the MCP
server call these and only shape the result (status and headers, text or JSON, HTML). Each
returns plain JSON-ready data: times as UTC ISO text ending in `Z`, lists as lists. A write
answers from what it wrote, in its own transaction, and never reads back after the commit.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from events import utc_now
from projections import column_stream_id
from registry import queries
from registry.errors import NotFoundError, UnavailableError
from registry.session import Registry
from registry.subjects import COLUMN, METRIC

if TYPE_CHECKING:  # commands load pydantic: writes import them when called
    from registry.commands import WriteContext, WriteResult
    from registry.imports import ImportOptions
    from registry.yaml_io import Progress


def utc_text(moment: datetime) -> str:
    """A time as ISO text in UTC with `Z` (naive times are UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def jsonable(value: Any) -> Any:
    """A registry value as JSON data: times as UTC text, dataclasses and tuples unpacked,
    dates as ISO text, decimals as numbers (what an analytics query may return)."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return json_object(asdict(value))
    return value


def json_object(value: dict[str, Any]) -> dict[str, Any]:
    """`jsonable` for a mapping, typed as one."""
    out: dict[str, Any] = jsonable(value)
    return out


def etag(version: int) -> str:
    """The ETag of a version: `"v3"`."""
    return f'"v{version}"'


# -- metrics: reading ---------------------------------------------------------------------------


def metric(reg: Registry, metric_id: str, version: int | None = None) -> dict[str, Any]:
    """A metric's current definition with its version (or the definition at a version)."""
    if version is not None:
        return json_object(queries.get_version(reg, METRIC, metric_id, version))
    row, current = queries.metric_with_version(reg, metric_id)
    return json_object({**row, "version": current})


def cached_metric(reg: Registry, metric_id: str) -> dict[str, Any] | None:
    """`metric`'s answer when the server's read cache holds it (no I/O), else None."""
    found = queries.cached_metric_with_version(reg, metric_id)
    return None if found is None else jsonable({**found[0], "version": found[1]})


def _listing(
    rows: list[dict[str, Any]], versions: dict[str, int], limit: int | None = None
) -> dict[str, Any]:
    """A page of metrics with their versions; `next` is the cursor of the next page (the
    last id shown) while more remain, else None."""
    more = limit is not None and len(rows) > limit
    shown = rows[:limit] if limit is not None else rows
    metrics = [{**r, "version": versions.get(r["id"], 0)} for r in shown]
    return {
        "metrics": jsonable(metrics),
        "count": len(metrics),
        "next": shown[-1]["id"] if more else None,
    }


def metric_list(
    reg: Registry,
    category: str | None = None,
    as_of: datetime | None = None,
    at_position: int | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Live metrics by category and name, each with its version; rows and versions read in
    one snapshot (now), or both as of one log position (a time or a position). A page of at
    most `limit` after the cursor `after`; follow `next` for the rest."""
    one_more = None if limit is None else limit + 1
    if as_of is None and at_position is None:
        with reg.store.snapshot():
            rows = queries.list_metrics(reg, category, after=after, limit=one_more)
            return _listing(rows, queries.metric_versions(reg), limit)
    position = queries.resolve_position(reg, as_of, at_position)
    rows = queries.list_metrics(reg, category, at_position=position, after=after, limit=one_more)
    return _listing(rows, queries.metric_versions(reg, position), limit)


def metric_search(reg: Registry, text: str, limit: int = 20) -> dict[str, Any]:
    """The metrics a plain-words question most likely means, best first, each with its
    version, its score and the words that matched where (`registry.search`)."""
    from registry.search import rank

    with reg.store.snapshot():
        rows, versions = queries.list_metrics(reg), queries.metric_versions(reg)
    hits = rank(rows, text, limit)
    metrics = [
        {
            **hit.metric,
            "version": versions.get(hit.metric["id"], 0),
            "score": round(hit.score, 3),
            "matched": hit.reason(),
        }
        for hit in hits
    ]
    return {"metrics": jsonable(metrics), "count": len(metrics)}


def metrics_reading(reg: Registry, table: str) -> dict[str, Any]:
    """Metrics whose `table_name` or `tables` names a table, each with its version."""
    with reg.store.snapshot():
        return _listing(queries.find_by_table(reg, table), queries.metric_versions(reg))


def table_map(reg: Registry) -> dict[str, list[str]]:
    """`{table: [metric names]}` over `table_name` and `tables`."""
    return queries.table_map(reg)


def metric_history(reg: Registry, metric_id: str) -> dict[str, Any]:
    """Every version of a metric: who, when, why, which batch, which fields."""
    entries = queries.history(reg, METRIC, metric_id)
    return {"id": metric_id, "versions": jsonable([e.as_dict() for e in entries])}


def metric_diff(
    reg: Registry,
    metric_id: str,
    from_version: int | None = None,
    to_version: int | None = None,
    from_time: datetime | None = None,
    to_time: datetime | None = None,
) -> dict[str, Any]:
    """Field-level changes between two versions, or the versions in force at two times."""
    if from_time is not None:
        from_version = queries.version_at(reg, METRIC, metric_id, from_time)
    if to_time is not None:
        to_version = queries.version_at(reg, METRIC, metric_id, to_time)
    return json_object(queries.diff(reg, METRIC, metric_id, from_version, to_version).as_dict())


# -- writes -------------------------------------------------------------------------------------


def written(result: WriteResult) -> dict[str, Any]:
    """A write's answer from what it wrote: the row and its version, or the deletion."""
    if result.row is None:
        return {"status": "deleted", "id": result.id, "version": result.version}
    return json_object({**result.row, "version": result.version})


def create_metric(reg: Registry, fields: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
    """Create a metric (or replace an existing id's definition); its answer."""
    from registry import commands

    return written(commands.create_metric(reg, fields, ctx))


def update_metric(
    reg: Registry, metric_id: str, fields: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """Change named fields of a metric; its answer."""
    from registry import commands

    return written(commands.update_metric(reg, metric_id, fields, ctx))


def delete_metric(reg: Registry, metric_id: str, ctx: WriteContext) -> dict[str, Any]:
    """Delete a metric: `{"status": "deleted", "id", "version"}`."""
    from registry import commands

    return written(commands.delete_metric(reg, metric_id, ctx))


def restore_metric(reg: Registry, metric_id: str, ctx: WriteContext) -> dict[str, Any]:
    """Restore a deleted metric; its answer."""
    from registry import commands

    return written(commands.restore_metric(reg, metric_id, ctx))


def roll_back_metric(
    reg: Registry, metric_id: str, to_version: int, ctx: WriteContext
) -> dict[str, Any]:
    """Make an earlier version current again (a new event); its answer."""
    from registry import commands

    return written(commands.roll_back_metric(reg, metric_id, to_version, ctx))


def import_metrics(
    reg: Registry,
    path: Path,
    options: ImportOptions,
    progress: Progress | None = None,
    shown_root: Path | None = None,
) -> dict[str, Any]:
    """Reconcile with a YAML file or folder: the report, with paths relative to the folder
    (or to `shown_root`, the folder an upload was unpacked in)."""
    from dataclasses import replace

    from registry.imports import reconcile

    root = shown_root or (path if path.is_dir() else path.parent.parent)
    report = reconcile(reg, path, replace(options, shown_root=root), progress).as_dict()
    prefix = str(root).rstrip("/") + "/"
    if prefix != "/":
        report["unreadable"] = [p.removeprefix(prefix) for p in report["unreadable"]]
        report["problems"] = {
            k.removeprefix(prefix): [m.replace(prefix, "") for m in v]
            for k, v in report["problems"].items()
        }
    return report


# -- columns ------------------------------------------------------------------------------------


def column(reg: Registry, table_id: str, column_name: str) -> dict[str, Any]:
    """A column's current metadata and version; NotFoundError if it has none."""
    stream_id = column_stream_id(table_id, column_name)
    with reg.store.snapshot():
        row = queries.get_column(reg, table_id, column_name)
        if row is None:
            raise NotFoundError(f"column {table_id}.{column_name} has no metadata")
        version = reg.store.stream_version(COLUMN.kind.stream_type, stream_id)
    return json_object({**row, "version": version})


def column_list(
    reg: Registry,
    table_id: str,
    as_of: datetime | None = None,
    at_position: int | None = None,
) -> dict[str, Any]:
    """Every described column of a table with its version (now, or as of a time/position)."""
    with reg.store.snapshot():
        if as_of is None and at_position is None:
            position = None
            rows = queries.list_columns(reg, table_id)
        else:
            position = queries.resolve_position(reg, as_of, at_position)
            rows = [
                r
                for r in queries.columns_as_of(reg, at_position=position)
                if r["table_id"] == table_id
            ]
        versions = reg.store.versions_at(COLUMN.kind.stream_type, position)
    columns = [
        {**r, "version": versions.get(column_stream_id(table_id, r["column_name"]), 0)}
        for r in rows
    ]
    return {"table_id": table_id, "columns": jsonable(columns), "count": len(columns)}


def describe_table(reg: Registry, table_id: str) -> dict[str, Any]:
    """What the registry knows of a table: its described columns and the metrics that read
    it (as `table_name` or in `tables`)."""
    columns = column_list(reg, table_id)
    metrics = metrics_reading(reg, table_id)
    return {"table_id": table_id, "columns": columns["columns"], "metrics": metrics["metrics"]}


def column_history(reg: Registry, table_id: str, column_name: str) -> dict[str, Any]:
    """Every version of a column's metadata."""
    entries = queries.history(reg, COLUMN, column_stream_id(table_id, column_name))
    return {
        "table_id": table_id,
        "column_name": column_name,
        "versions": jsonable([e.as_dict() for e in entries]),
    }


def put_column(
    reg: Registry, table_id: str, column_name: str, fields: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """Create or replace a column's metadata; its answer."""
    from registry import commands

    whole = {**fields, "table_id": table_id, "column_name": column_name}
    return written(commands.save_column(reg, whole, ctx))


def set_column(
    reg: Registry, table_id: str, column_name: str, fields: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """Set some fields of a column's metadata (describing it first if new); its answer."""
    from registry import commands

    return written(commands.set_column(reg, table_id, column_name, fields, ctx))


def delete_column(
    reg: Registry, table_id: str, column_name: str, ctx: WriteContext
) -> dict[str, Any]:
    """Delete a column's metadata: `{"status": "deleted", "id", "version"}`."""
    from registry import commands

    return written(commands.delete_column(reg, table_id, column_name, ctx))


# -- audit --------------------------------------------------------------------------------------


def event_page(reg: Registry, after: int, limit: int, **filters: Any) -> dict[str, Any]:
    """Events after a position in log order; follow `next_after` to read on without gaps."""
    return json_object(queries.event_page(reg, after, limit, **filters))


def recent_events(
    reg: Registry, before: int | None, limit: int | None, **filters: Any
) -> dict[str, Any]:
    """The newest events first (for people reading the audit log); page back with
    `next_before` (None: nothing older). `limit` None gives every event."""
    return json_object(queries.recent_events(reg, before, limit, **filters))


_SHOWN_DIFFERENCES = 50


def verify(reg: Registry, anchor: str | None = None) -> dict[str, Any]:
    """The hash chain's verification (against a `POSITION:HASH` anchor if given), and the
    projections' against the log: `ok` only when both hold.

    `chain_ok` and `projections.in_step` tell which failed; the first differences are listed
    (an edited `metric_definitions` row is served to readers, so it must not pass unseen).
    """
    report = json_object(queries.verify_log(reg, anchor))
    differences = reg.projector.check()
    report["chain_ok"] = report["ok"]
    report["projections"] = {
        "in_step": not differences,
        "count": len(differences),
        "differences": [str(d) for d in differences[:_SHOWN_DIFFERENCES]],
    }
    report["ok"] = report["chain_ok"] and not differences
    report["verified_at"] = utc_text(utc_now())
    reg.writer.last_verify = {
        k: report[k] for k in ("ok", "chain_ok", "verified_at", "head", "broken_at")
    } | {"projections_in_step": not differences}
    return report


# -- exports and validation ---------------------------------------------------------------------


def export_zip(
    reg: Registry, as_of: datetime | None = None, at_position: int | None = None
) -> bytes:
    """The registry (now, or as of a time or position) as a zip of `<category>/<name>.yml`."""
    from registry.exports import export_zip as build

    return build(reg, as_of, at_position)


def export_folder(
    reg: Registry,
    directory: Path,
    as_of: datetime | None = None,
    at_position: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> list[str]:
    """Write `<dir>/<category>/<name>.yml` for every metric; the files written."""
    from registry.exports import export_yaml

    return [str(f) for f in export_yaml(reg, directory, as_of, at_position, overwrite, progress)]


def validation(
    reg: Registry,
    database: Path,
    metric_id: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Every finding of checking metrics against an analytics database: one metric, or a
    page of at most `limit` metrics after the cursor `after` (`next` pages on)."""
    from registry.validation import validate

    if not database.exists():
        raise UnavailableError(
            f"no analytics database at {database}: run `da demo` to build the demo one,"
            " or name another"
        )
    if metric_id is not None:
        metrics = [queries.require_metric(reg, metric_id)]
        more = False
    else:
        one_more = None if limit is None else limit + 1
        metrics = queries.list_metrics(reg, after=after, limit=one_more)
        more = limit is not None and len(metrics) > limit
        metrics = metrics[:limit] if limit is not None else metrics
    findings = [f.as_dict() for f in validate(reg, database, metrics)]
    return {
        "findings": jsonable(findings),
        "count": len(findings),
        "metrics_checked": len(metrics),
        "next": metrics[-1]["id"] if more else None,
    }


# -- running the canonical SQL ------------------------------------------------------------------

RUN_LIMIT = 100  # rows an answer holds unless asked for more
MAX_RUN_LIMIT = 10_000


def run_metric(
    reg: Registry,
    database: Path,
    metric_id: str,
    variant: str | None = None,
    limit: int = RUN_LIMIT,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Run a metric's SQL (or one of its variants) exactly as stored, on the analytics
    database opened read-only with external access off: the SQL that ran, the metric's
    version, and at most `limit` rows (`truncated` says if there were more).

    Raises NotFoundError (metric, variant), UnavailableError (no analytics database) or
    QueryFailedError (the SQL failed, was not one SELECT, or ran past `timeout` seconds).
    """
    from registry.connection import run_sandboxed

    row, version = queries.metric_with_version(reg, metric_id)
    variants = row.get("sql_variants") or {}
    if variant is not None and variant not in variants:
        known = ", ".join(sorted(variants)) or "none"
        raise NotFoundError(
            f"metric {metric_id!r} has no variant {variant!r} (its variants: {known})"
        )
    sql = row["sql"] if variant is None else variants[variant]
    if not database.exists():
        raise UnavailableError(
            f"no analytics database at {database}: run `da demo` to build the demo one,"
            " or name another"
        )
    result = run_sandboxed(database, sql, min(limit, MAX_RUN_LIMIT), timeout)
    return {
        "id": metric_id,
        "version": version,
        "variant": variant,
        "sql": sql,
        "columns": result.columns,
        "rows": jsonable(result.rows),
        "row_count": len(result.rows),
        "truncated": result.truncated,
    }


# -- tokens -------------------------------------------------------------------------------------


def new_token(reg: Registry, name: str, role: str, actor: str) -> dict[str, str]:
    """Create a token (an audited event): `{name, role, token}`; the token is shown in this
    answer only."""
    from registry.tokens import issue_token

    return {"name": name, "role": role, "token": issue_token(reg, name, role, actor)}


def token_list(reg: Registry) -> dict[str, Any]:
    """Every token's name, role and dates; never the tokens themselves."""
    from registry.tokens import list_tokens

    return {"tokens": jsonable(list_tokens(reg.conn))}


def revoked_token(reg: Registry, name: str, actor: str) -> dict[str, str]:
    """Revoke a token by name (an audited event): `{"status": "revoked", "name"}`."""
    from registry.tokens import withdraw_token

    withdraw_token(reg, name, actor)
    return {"status": "revoked", "name": name}


def health(reg: Registry) -> dict[str, Any]:
    """The log's head (position and hash) and whether the projections have caught up with it."""
    with reg.store.snapshot():
        head = reg.store.head()
        checkpoint = reg.projector.checkpoint()
    last = reg.writer.last_verify
    return {
        "status": "ok" if last is None or last["ok"] else "degraded",
        "head": {"position": head.position, "hash": head.hash},
        "projections_in_step": checkpoint == head.position,
        "last_verify": last,
    }
