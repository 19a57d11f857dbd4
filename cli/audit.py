"""`da audit ...`: the event log for auditors."""

from datetime import datetime
from typing import Annotated, Any

import typer

from cli.backend import backend_for
from cli.output import emit, emit_json, table, time_option

app = typer.Typer(help="Read and verify the event log.", no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="Stable JSON for scripts and AI agents.")]


def _anchor(value: str | None) -> str | None:
    if value is not None:
        from events import Anchor

        try:
            Anchor.parse(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return value


@app.command("log")
def log(
    ctx: typer.Context,
    since: Annotated[datetime | None, time_option("--since", "From this time.")] = None,
    until: Annotated[datetime | None, time_option("--until", "Up to this time.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor's events.")] = None,
    metric: Annotated[str | None, typer.Option(help="Only this metric's events.")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="Only this event type, e.g. MetricRolledBack.")
    ] = None,
    batch: Annotated[str | None, typer.Option(help="Only this import batch's events.")] = None,
    before: Annotated[
        int | None, typer.Option(min=1, help="Only events before this log position (page back).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many events.")] = 50,
    all_: Annotated[bool, typer.Option("--all", help="Every matching event.")] = False,
    as_json: Json = False,
) -> None:
    """The event log, newest first: who did what, when, why."""
    filters = {
        "since": since,
        "until": until,
        "actor": actor,
        "stream_id": metric,
        "event_type": type_,
        "batch_id": batch,
    }
    page = backend_for(ctx.obj).recent_events(before, None if all_ else limit, filters)
    if as_json:
        emit_json(page)
        return
    rows = [{**e, "changed": ", ".join(e["payload"].get("changed") or [])} for e in page["events"]]
    table(
        rows,
        [
            "position",
            "recorded_at",
            "actor",
            "what",
            "stream_id",
            "version",
            "reason",
            "door",
            "writer",
            "changed",
        ],
        optional=("door", "writer", "changed"),  # --wide shows them; `--json` has them all
    )
    if page["next_before"] is not None:
        emit(
            f"... older events: da audit log --before {page['next_before']}"
            " (or --limit N, or --all)"
        )


@app.command("verify")
def verify(
    ctx: typer.Context,
    anchor: Annotated[
        str | None,
        typer.Option(callback=_anchor, help="POSITION:HASH printed earlier by `da audit head`."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Recompute the hash chain; exit 1 if anything was changed, removed, inserted or moved."""
    report = backend_for(ctx.obj).verify(anchor)
    if as_json:
        emit_json(report)
    else:
        show_verdict(report)
    if not report["ok"]:
        raise typer.Exit(1)


def show_verdict(report: dict[str, Any]) -> None:
    """One verdict on the first line (ok, or FAILED and every reason), then the details."""
    projections, tokens = report["projections"], report["tokens"]
    if report["ok"]:
        emit(f"ok: {report['checked']} events verified, head {report['head']}")
        return
    reasons = []
    if not report["chain_ok"]:
        reasons.append(f"the chain breaks at position {report['broken_at']}: {report['problem']}")
    if not projections["in_step"]:
        reasons.append(f"the projections differ from the log ({projections['count']})")
    if not tokens["in_step"]:
        reasons.append(f"the API tokens differ from the log ({tokens['count']})")
    emit(f"FAILED: {'; '.join(reasons)}")
    if not projections["in_step"]:
        emit(f"PROJECTIONS DIFFER from the log ({projections['count']} differences):")
        for difference in projections["differences"]:
            emit(f"  {difference}")
        emit("  `da projections rebuild` refills the tables from the log.")
    if not tokens["in_step"]:
        emit(f"TOKENS DIFFER from the log ({tokens['count']} differences):")
        for difference in tokens["differences"]:
            emit(f"  {difference}")
        emit("  Revoke and reissue the tokens named; find who changed the table.")


@app.command("head")
def head(ctx: typer.Context) -> None:
    """Print the log's head as POSITION:HASH, an anchor to keep somewhere else."""
    report = backend_for(ctx.obj).verify(None)
    if not report["chain_ok"]:
        emit(f"the log does not verify (position {report['broken_at']}): {report['problem']}")
        raise typer.Exit(1)
    emit(report["head"] or "0:" + "0" * 64)
