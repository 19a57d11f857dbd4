"""`da serve` and `da tokens`: the HTTP API and who may use it."""

import json
import os
import signal
from datetime import UTC, datetime
from typing import Annotated

import typer

from cli.backend import backend_for, process_identity
from cli.output import emit, emit_json
from registry import Settings, answers, open_registry
from registry.access.tokens import ROLES

tokens_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Create an admin token if there is none.")
    ] = False,
) -> None:
    """Serve the HTTP API on the registry database (the server owns the file while it runs)."""
    import uvicorn  # imported here: only this command pays for the web stack

    from api.app import create_app
    from registry.interchange.yaml_io import write_atomically

    settings: Settings = ctx.obj.settings
    # The server's files (the database's write-ahead log, created whenever it next writes,
    # and server.json) are readable by their owner only.
    os.umask(0o077)
    registry = open_registry(settings)  # the server's own: it is about to hold the database
    if not answers.has_admin_token(registry):
        if demo:
            name = f"demo-admin-{os.getpid()}"
            token = answers.new_token(registry, name, "admin", ctx.obj.actor)["token"]
            emit(f"admin token (shown once): {token}")
        else:
            emit("no admin token yet: stop the server and run")
            emit("  da tokens create --role admin --name NAME")
            emit("or start it with `da serve --demo` to create one.")
    registry.conn.close()
    url = f"http://{host}:{port}"
    discovery = settings.server_file
    started = datetime.now(UTC).isoformat()
    found = {"url": url, "pid": os.getpid(), "started_at": started, "process": process_identity()}
    # uvicorn re-raises SIGTERM once it has shut down; with the default handler that would kill
    # the process before `finally` removes the discovery file. Exit through Python instead.
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, _exit_on_signal)
    write_atomically(discovery, json.dumps(found))
    emit(f"serving {settings.database} on {url} (console at {url}/, API docs at {url}/docs)")
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
    finally:
        discovery.unlink(missing_ok=True)


def _exit_on_signal(number: int, _frame: object) -> None:
    raise SystemExit(128 + number)


_TABLES_HELP = (
    "Only these tables (comma-separated globs: 'finance_*,orders'): the token sees the"
    " metrics reading only them, and their columns."
)


def _tables(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


@tokens_app.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    name: Annotated[
        str, typer.Option(help="Who the token is for; recorded as the actor of writes.")
    ],
    tables: Annotated[str | None, typer.Option(help=_TABLES_HELP)] = None,
) -> None:
    """Create a token and print it once; only its hash is kept."""
    emit(backend_for(ctx.obj).new_token(name, role, _tables(tables))["token"])


@tokens_app.command("grant")
def grant(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The token's name.")],
    tables: Annotated[str | None, typer.Option(help=_TABLES_HELP)] = None,
    all_tables: Annotated[
        bool, typer.Option("--all-tables", help="Lift the limit: every table.")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why: recorded with the change.")] = None,
) -> None:
    """Change which tables a token may see (recorded, with who and why)."""
    if (tables is not None) == all_tables:  # exactly one of them
        raise typer.BadParameter("give --tables PATTERNS or --all-tables")
    found = backend_for(ctx.obj).grant_tables(name, _tables(tables), reason)
    shown = ", ".join(found["tables"]) if found["tables"] is not None else "every table"
    emit(f"{name} sees {shown}")


@tokens_app.command("list")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """List tokens: name, role, created and revoked times (never the tokens)."""
    found = backend_for(ctx.obj).token_list()["tokens"]
    if as_json:
        emit_json(found)
        return
    for t in found:
        state = f"revoked {t['revoked_at'][:16]}" if t["revoked_at"] else "live"
        seen = "" if t.get("tables") is None else f"  tables {','.join(t['tables'])}"
        emit(f"{t['name']:<24} {t['role']:<8} created {t['created_at'][:16]}  {state}{seen}")


@tokens_app.command("revoke")
def revoke(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The token's name.")]
) -> None:
    """Revoke a token by name; it stops working at once."""
    backend_for(ctx.obj).revoke_token(name)
    emit(f"revoked {name}")
