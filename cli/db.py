"""`da db ...`: which database holds the registry, and copying it to another one."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.backend import backend_for
from cli.output import emit, emit_json
from cli.upkeep import Json

app = typer.Typer(
    help="The database behind the registry: DuckDB file or PostgreSQL.", no_args_is_help=True
)

Place = Annotated[
    str | None,
    typer.Option(help="A postgresql:// URL, or a data folder (its state/system.duckdb)."),
]


@app.command("info")
def info(ctx: typer.Context, as_json: Json = False) -> None:
    """Which backend and database hold the registry, its schema version and its head."""
    found = backend_for(ctx.obj).database_info()
    if as_json:
        emit_json(found)
        return
    for key, value in found.items():
        emit(f"{key}: {value}")


@app.command("copy")
def copy(
    ctx: typer.Context,
    to: Place = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Copy from this database into this registry's.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Copy the registry to an empty database (--to), or from one into an empty registry
    (--from): positions, times and hashes unchanged; the copy is verified."""
    if (to is None) == (from_ is None):
        raise typer.BadParameter("give exactly one of --to and --from")
    report = backend_for(ctx.obj).copy_database(to or from_ or "", outward=to is not None)
    shown = report["target"]
    if as_json:
        emit_json(report)
        return
    emit(f"copied {report['events']} events to {shown}; verified, head {report['head']}")
    emit(f"the log's signing key: {report['signing_key']}")
