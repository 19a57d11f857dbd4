"""`da db ...`: which database holds the registry, and copying it to another one."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.admin import Json, local
from cli.output import emit, emit_json
from registry.errors import RegistryError
from registry.settings import settings_elsewhere

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
    from registry.transfer import database_info

    settings = ctx.obj.settings
    found = database_info(local(ctx, "db info").existing, settings.database)
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
    from registry.database import open_registry
    from registry.transfer import copy_registry

    if (to is None) == (from_ is None):
        raise typer.BadParameter("give exactly one of --to and --from")
    here = ctx.obj.settings
    there = settings_elsewhere(here, to or from_ or "")
    if to is not None:
        source = local(ctx, "db copy").existing
        target = open_registry(there)
        shown = there.database
    else:
        source = open_registry(there, must_exist=True)
        target = local(ctx, "db copy").registry
        shown = here.database
    if source.conn is target.conn:
        raise RegistryError("the source and the target are the same database")
    report = copy_registry(source, target)
    if as_json:
        emit_json(report)
        return
    emit(f"copied {report['events']} events to {shown}; verified, head {report['head']}")
