"""`da audit ...`: the event log for auditors."""

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.backend import backend_for
from cli.output import emit, emit_json, table, time_option
from registry.errors import RegistryError

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


_MAX_CHECKPOINT = 64 * 1024


def _read_checkpoint(path: Path | None) -> str | None:
    """A kept checkpoint's text (a small UTF-8 file), or a one-line refusal."""
    if path is None:
        return None
    try:
        with path.open("rb") as kept:
            data = kept.read(_MAX_CHECKPOINT + 1)
    except OSError as exc:
        raise RegistryError(f"--checkpoint: cannot read {path}: {exc.strerror}") from exc
    if len(data) > _MAX_CHECKPOINT:
        raise RegistryError(f"--checkpoint: {path} is over 64 KiB, not a checkpoint")
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise RegistryError(f"--checkpoint: {path} is not UTF-8 text (byte {exc.start})") from exc


@app.command("verify")
def verify(
    ctx: typer.Context,
    anchor: Annotated[
        str | None,
        typer.Option(callback=_anchor, help="POSITION:HASH printed earlier by `da audit head`."),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="A signed checkpoint kept earlier (`da audit checkpoint`, or the `checkpoint`"
            " file `da audit publish` wrote, whose tiles then show where the log differs):"
            " prove the log extends it.",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Recompute the hash chain and the Merkle tree; exit 1 if anything was changed, removed,
    inserted or moved."""
    # A checkpoint in a folder `da audit publish` wrote comes with the tiles it was signed
    # for: then a log that no longer extends it is compared with them, position by position.
    kept = checkpoint.parent if checkpoint and (checkpoint.parent / "tile").is_dir() else None
    report = backend_for(ctx.obj).verify(anchor, _read_checkpoint(checkpoint), kept)
    if as_json:
        emit_json(report)
    else:
        show_verdict(report)
    if not report["ok"]:
        raise typer.Exit(1)


def show_verdict(report: dict[str, Any]) -> None:
    """One verdict on the first line (ok, or FAILED and every reason), then the details."""
    projections, tokens = report["projections"], report["tokens"]
    kept = report.get("checkpoint")
    if report["ok"]:
        extends = f"; it extends the checkpoint of {kept['checkpoint_size']} events" if kept else ""
        emit(f"ok: {report['checked']} events verified, head {report['head']}{extends}")
        return
    reasons = []
    if not report["chain_ok"]:
        reasons.append(f"the log breaks at position {report['broken_at']}: {report['problem']}")
    if kept is not None and not kept["consistent"]:
        reasons.append(f"the checkpoint does not hold: {kept['problem']}")
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


@app.command("key")
def key(ctx: typer.Context, as_json: Json = False) -> None:
    """Print the log's verifier key (signed-note vkey): give it to whoever checks the log."""
    found = backend_for(ctx.obj).tlog_key()
    if as_json:
        emit_json(found)
    else:
        emit(found["verifier_key"])


@app.command("checkpoint")
def checkpoint(ctx: typer.Context) -> None:
    """Print the log's signed checkpoint (c2sp.org/tlog-checkpoint): keep it somewhere else,
    and `da audit verify --checkpoint FILE` later proves nothing before it changed."""
    typer.echo(backend_for(ctx.obj).tlog_checkpoint(), nl=False)


@app.command("prove")
def prove(
    ctx: typer.Context,
    position: Annotated[int, typer.Argument(min=1, help="The event's log position.")],
    size: Annotated[
        int | None, typer.Option(min=0, help="In the tree of this many events (default: all).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Print the event's inclusion proof (c2sp.org/tlog-proof@v1) and its checkpoint."""
    found = backend_for(ctx.obj).prove(position, size)
    if as_json:
        emit_json(found)
    else:
        typer.echo(found["proof"], nl=False)


@app.command("publish")
def publish(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="The folder a static host serves.")],
    as_json: Json = False,
) -> None:
    """Write the checkpoint, tiles and entry bundles (tlog-tiles layout) and the verifier key
    into a folder; full tiles already there are checked, never rewritten."""
    found = backend_for(ctx.obj).publish_tlog(folder)
    if as_json:
        emit_json(found)
    else:
        emit(
            f"published a tree of {found['size']} events to {found['folder']}"
            f" ({found['files_written']} files written)"
        )


@app.command("head")
def head(ctx: typer.Context) -> None:
    """Print the log's head as POSITION:HASH, an anchor to keep somewhere else."""
    report = backend_for(ctx.obj).verify(None)
    if not report["chain_ok"]:
        emit(f"the log does not verify (position {report['broken_at']}): {report['problem']}")
        raise typer.Exit(1)
    emit(report["head"] or "0:" + "0" * 64)
