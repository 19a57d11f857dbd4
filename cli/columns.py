"""`da columns ...`: what each table column means."""

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.backend import Write, backend_for
from cli.governance import opened
from cli.output import (
    EffectiveFrom,
    ExpectedVersion,
    IdempotencyKey,
    Reason,
    emit,
    emit_json,
    fields,
    table,
)

app = typer.Typer(help="Read and change column metadata.", no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="Stable JSON for scripts and AI agents.")]
Table = Annotated[str, typer.Argument(help="The table id, e.g. in.c-sales.orders.")]
Column = Annotated[str, typer.Argument(help="The column name.")]
COLUMNS = [
    "table_id",
    "column_name",
    "basetype",
    "description",
    "confidence",
    "source",
    "updated_at",
]


def _show_written(row: dict[str, Any], as_json: bool) -> None:
    """A column write's answer; or, when the policy made it a proposal, what it proposed."""
    if as_json:
        emit_json(row)
    elif row.get("status") == "proposed":
        opened(row)
    else:
        fields(row, COLUMNS + ["version"])


@app.command("list")
def list_columns(ctx: typer.Context, table_id: Table, as_json: Json = False) -> None:
    """Every described column of a table."""
    rows = backend_for(ctx.obj).column_list(table_id)["columns"]
    emit_json(rows) if as_json else table(rows, COLUMNS[1:])


@app.command("show")
def show(ctx: typer.Context, table_id: Table, column: Column, as_json: Json = False) -> None:
    """One column's metadata."""
    row = backend_for(ctx.obj).column(table_id, column)
    emit_json(row) if as_json else fields(row, COLUMNS + ["version"])


@app.command("set")
def set_(
    ctx: typer.Context,
    table_id: Table,
    column: Column,
    basetype: Annotated[
        str | None, typer.Option(help="e.g. STRING, INTEGER, NUMERIC, DATE.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the column means.")] = None,
    confidence: Annotated[str | None, typer.Option(help="manual, inferred, verified, ...")] = None,
    source: Annotated[str | None, typer.Option(help="Who says so (default manual).")] = None,
    reason: Reason = None,
    effective_from: EffectiveFrom = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    as_json: Json = False,
) -> None:
    """Set fields of a column's metadata (describing the column if it is new)."""
    given = {
        "basetype": basetype,
        "description": description,
        "confidence": confidence,
        "source": source,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    write = Write(reason, expected_version, idempotency_key, effective_from)
    row = backend_for(ctx.obj).set_column(table_id, column, changes, write)
    _show_written(row, as_json)


@app.command("delete")
def delete(
    ctx: typer.Context,
    table_id: Table,
    column: Column,
    reason: Reason = None,
    effective_from: EffectiveFrom = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    as_json: Json = False,
) -> None:
    """Delete a column's metadata (a tombstone: the history stays)."""
    result = backend_for(ctx.obj).delete_column(
        table_id, column, Write(reason, expected_version, idempotency_key, effective_from)
    )
    if as_json or result.get("status") == "proposed":
        _show_written(result, as_json)
    else:
        emit(f"deleted {result['id']} (version {result['version']})")


@app.command("diff")
def diff(
    ctx: typer.Context,
    table_id: Table,
    column: Column,
    from_version: Annotated[
        int | None, typer.Argument(min=0, help="Older version (default: the previous one).")
    ] = None,
    to_version: Annotated[
        int | None, typer.Argument(min=1, help="Newer version (default: the current one).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Field-level differences between two versions of a column's metadata."""
    result = backend_for(ctx.obj).column_diff(table_id, column, (from_version, to_version))
    if as_json:
        emit_json(result)
        return
    emit(f"{result['id']}: version {result['from_version']} -> {result['to_version']}")
    for change in result["changes"]:
        emit(f"  {change['field']}: {change['old']!r} -> {change['new']!r}")
    if not result["changes"]:
        emit("  no differences")


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    table_id: Table,
    column: Column,
    to: Annotated[int, typer.Option("--to", min=1, help="The version to make current again.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: required for a rollback.")],
    effective_from: EffectiveFrom = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    as_json: Json = False,
) -> None:
    """Make an earlier version of a column's metadata current again, as a new event."""
    write = Write(reason, expected_version, idempotency_key, effective_from)
    row = backend_for(ctx.obj).roll_back_column(table_id, column, to, write)
    _show_written(row, as_json)


@app.command("restore")
def restore(
    ctx: typer.Context,
    table_id: Table,
    column: Column,
    reason: Reason = None,
    effective_from: EffectiveFrom = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    as_json: Json = False,
) -> None:
    """Bring back a column's deleted metadata as it was."""
    write = Write(reason, expected_version, idempotency_key, effective_from)
    row = backend_for(ctx.obj).restore_column(table_id, column, write)
    _show_written(row, as_json)


@app.command("history")
def history(ctx: typer.Context, table_id: Table, column: Column, as_json: Json = False) -> None:
    """Every version of a column's metadata."""
    entries = backend_for(ctx.obj).column_history(table_id, column)["versions"]
    emit_json(entries) if as_json else table(
        entries,
        ["version", "what", "recorded_at", "actor", "reason", "door", "writer", "changed"],
    )


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="YAML: a list of {table_id, column_name, basetype, description, ...}.",
        ),
    ],
    reason: Reason = None,
    idempotency_key: IdempotencyKey = None,
) -> None:
    """Describe many columns from a YAML file, as one atomic batch."""
    done = backend_for(ctx.obj).import_columns(file, Write(reason, None, idempotency_key))
    emit(f"{done['written']} columns written, {done['unchanged']} unchanged")
    if done.get("proposal"):
        opened(done)


@app.command("export")
def export(
    ctx: typer.Context,
    table_id: Annotated[str | None, typer.Option("--table", help="Only this table.")] = None,
) -> None:
    """Print column metadata as YAML (the format `da columns import` reads)."""
    import yaml

    rows = backend_for(ctx.obj).export_columns(table_id)["columns"]
    emit(yaml.safe_dump(rows, sort_keys=False, allow_unicode=True).rstrip())
