"""The `da` app, its global options, and its single error boundary."""

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cli import (
    agents,
    audit,
    columns,
    db,
    demo,
    governance,
    hooks,
    metrics,
    output,
    profile,
    serve,
    upkeep,
)
from cli.backend import Target
from cli.output import emit
from events import EventStoreError
from registry.errors import RegistryError
from registry.settings import default_actor, load_settings

# Errors the user can act on, and their exit codes: the CLI's one table (the API has its
# own, class -> status). Anything else is a bug and keeps its traceback.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (RegistryError, 1),
    (EventStoreError, 1),
    (OSError, 1),
)
USER_ERRORS = tuple(kind for kind, _ in EXIT_CODES)


class ErrorBoundary(TyperGroup):
    """The one place where registry errors become a message on stderr and exit code 1."""

    def invoke(self, ctx: Any) -> Any:  # Any: typer's vendored click Context
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`da metrics list | head`): stop quietly, as cat and grep do.
            # stdout is pointed at devnull so the interpreter's final flush cannot fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except USER_ERRORS as exc:
            typer.echo(f"error: {exc}", err=True)
            code = next(code for kind, code in EXIT_CODES if isinstance(exc, kind))
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=ErrorBoundary,
    name="da",
    help="Metrics registry: one canonical, audited definition of every business metric.",
    no_args_is_help=True,
    add_completion=True,  # da --install-completion [bash|zsh|fish|powershell]
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # usage errors as plain lines, not boxes that cut the message
)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="DATA_DIR",
            help="Folder holding state/system.duckdb (default ./data).",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="DA_DATABASE_URL",
            help="A postgresql:// URL: keep the registry there instead of the DuckDB file.",
            show_envvar=True,
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            envvar="DA_API_URL",
            help="Talk to this server instead of the embedded database.",
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="DA_TOKEN", help="Bearer token for the server.")
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor", envvar="DA_ACTOR", help="Who makes the changes (default: your OS user)."
        ),
    ] = None,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide", help="Tables show every value whole instead of fitting the terminal."
        ),
    ] = False,
) -> None:
    """Metrics registry: one canonical, audited definition of every business metric."""
    output.WIDE = wide
    try:
        settings = load_settings(data_dir=data_dir, database_url=database_url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    ctx.obj = Target(
        settings=settings, actor=actor or default_actor(), api_url=api_url, token=token
    )
    ctx.call_on_close(ctx.obj.release_all)


@app.command("version")
def show_version() -> None:
    """Print the installed version of the registry."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        emit(version("metrics-registry"))
    except PackageNotFoundError:
        emit("unknown (not installed)")


app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("profile")(profile.profile)
app.command("mcp")(agents.mcp)
app.add_typer(metrics.app, name="metrics")
app.add_typer(columns.app, name="columns")
app.add_typer(governance.proposals_app, name="proposals")
app.add_typer(governance.policy_app, name="policy")
app.add_typer(audit.app, name="audit")
app.add_typer(upkeep.projections_app, name="projections")
app.add_typer(upkeep.starter_app, name="starter-pack")
app.add_typer(serve.tokens_app, name="tokens")
app.add_typer(hooks.app, name="hooks")
app.add_typer(db.app, name="db")
