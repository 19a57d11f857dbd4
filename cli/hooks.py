"""`da hooks ...`: webhook subscriptions (signed deliveries come from `da serve`)."""

from typing import Annotated

import typer

from cli.backend import backend_for
from cli.output import emit, emit_json, table

app = typer.Typer(
    help="Webhooks: tell other tools of each change, signed (Standard Webhooks).",
    no_args_is_help=True,
)

Json = Annotated[bool, typer.Option("--json", help="Stable JSON for scripts and AI agents.")]
HookId = Annotated[str, typer.Argument(help="The subscription's id (hook_...).")]


def _patterns(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


@app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Where to POST each event (http or https).")],
    events: Annotated[
        str, typer.Option(help="Comma-separated patterns: 'metric.*', 'column.deleted', '*'.")
    ],
    category: Annotated[str | None, typer.Option(help="Only metrics of this category.")] = None,
    tables: Annotated[
        str | None,
        typer.Option(help="Only what reads these tables: comma-separated globs ('fin_*,orders')."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Subscribe a URL; prints its id and its signing secret (shown this once)."""
    made = backend_for(ctx.obj).new_hook(url, _patterns(events), category, _patterns(tables))
    if as_json:
        emit_json(made)
        return
    emit(f"subscribed {made['hook']['id']} to {', '.join(made['hook']['events'])}")
    emit(f"signing secret (shown once): {made['secret']}")


@app.command("list")
def show(ctx: typer.Context, as_json: Json = False) -> None:
    """Every subscription: id, state, events, URL (never a secret)."""
    found = backend_for(ctx.obj).hook_list()["hooks"]
    if as_json:
        emit_json(found)
        return
    rows = [{**h, "events": ",".join(h["events"])} for h in found]
    table(rows, ["id", "state", "events", "url"])


@app.command("remove")
def remove(ctx: typer.Context, hook_id: HookId) -> None:
    """Remove a subscription: nothing more is sent to it."""
    backend_for(ctx.obj).remove_hook(hook_id)
    emit(f"removed {hook_id}")


@app.command("test")
def test(ctx: typer.Context, hook_id: HookId, as_json: Json = False) -> None:
    """Send a signed `webhook.test` message now; exits 1 unless the receiver took it."""
    answer = backend_for(ctx.obj).test_hook(hook_id)
    if as_json:
        emit_json(answer)
    elif answer["delivered"]:
        emit(f"delivered: {answer['status']} in {answer['millis']} ms")
    else:
        emit(f"not delivered: {answer['status'] or 'no answer'}: {answer['error']}")
    if not answer["delivered"]:
        raise typer.Exit(1)


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    hook_id: HookId,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    as_json: Json = False,
) -> None:
    """A subscription's latest delivery attempts, newest first."""
    found = backend_for(ctx.obj).hook_deliveries(hook_id, limit)["deliveries"]
    if as_json:
        emit_json(found)
        return
    rows = [
        {
            **d,
            "attempted_at": d["attempted_at"][:19].replace("T", " "),
            "position": d["position"] or "test",  # `da hooks test` sends no event
            "status": d["status"] or "-",
        }
        for d in found
    ]
    table(rows, ["attempted_at", "position", "attempt", "status", "error"])
