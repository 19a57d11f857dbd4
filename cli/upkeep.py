"""`da projections ...` and `da starter-pack load`: upkeep of the embedded database."""

from typing import Annotated

import typer

from cli.backend import backend_for
from cli.output import emit, emit_json

projections_app = typer.Typer(
    help="Rebuild or check the v4 tables against the log.", no_args_is_help=True
)
starter_app = typer.Typer(help="The 11 starter SaaS metrics.", no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="Stable JSON for scripts and AI agents.")]


@projections_app.command("rebuild")
def rebuild(ctx: typer.Context) -> None:
    """Drop metric_definitions and column_metadata and refill them from the event log."""
    rows = backend_for(ctx.obj).rebuild_projections()["rows"]
    emit(f"rebuilt: {rows} rows from the event log")


@projections_app.command("check")
def check(ctx: typer.Context, as_json: Json = False) -> None:
    """Compare the v4 tables with a fresh fold of the log; exit 1 on any difference."""
    differences = backend_for(ctx.obj).check_projections()["differences"]
    if as_json:
        emit_json(differences)
    else:
        for difference in differences:
            emit(difference)
        if not differences:
            emit("in step: the tables match the event log")
    if differences:
        raise typer.Exit(1)


@starter_app.command("load")
def load(ctx: typer.Context, as_json: Json = False) -> None:
    """Load the starter pack (label starter_pack); loading it again changes nothing."""
    report = backend_for(ctx.obj).load_starter_pack()
    if as_json:
        emit_json(report)
    else:
        changed = len(report["updated"]) + len(report["adopted"])
        emit(
            f"starter pack: {len(report['added'])} added, {changed} updated, "
            f"{len(report['unchanged'])} unchanged"
        )
