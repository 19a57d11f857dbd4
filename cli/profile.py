"""`da profile`: analytics tables profiled against the registry's current projection."""

from pathlib import Path
from typing import Annotated

import typer

from cli.backend import backend_for
from cli.governance import opened
from cli.output import AnalyticsDb, emit, emit_json, table


def profile(
    ctx: typer.Context,
    db: AnalyticsDb = None,
    table_name: Annotated[str | None, typer.Option("--table", help="Only this table.")] = None,
    metrics_dir: Annotated[
        Path | None,
        typer.Option(
            "--metrics-dir", help="YAML metrics folder, used only if the registry cannot be read."
        ),
    ] = None,
    record_basetypes: Annotated[
        bool,
        typer.Option(
            "--record-basetypes",
            help="Record basetypes as inferred column metadata (never over manual or verified).",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Stable JSON for scripts and AI agents.")
    ] = False,
) -> None:
    """Profile an analytics database: figures per column, and the metrics that use each table."""
    from registry import answers
    from registry.errors import NotFoundError

    backend = backend_for(ctx.obj)
    path = db or ctx.obj.settings.demo_db_path
    try:
        found = answers.table_profiles(
            path, table_name, lambda tables: backend.profile_knowledge(tables, metrics_dir)
        )
    except NotFoundError as exc:  # the option named something that is not there: usage
        raise typer.BadParameter(str(exc), param_hint="--table") from exc
    if found["note"]:
        typer.echo(f"note: {found['note']}", err=True)
    profiles = found["tables"]
    answer = backend.record_basetypes(profiles) if record_basetypes else {}
    recorded = answer.get("recorded")
    if as_json:
        emit_json(
            {
                "source": found["source"],
                "database": found["database"],
                "recorded": recorded,
                "proposal": answer.get("proposal"),
                "tables": [p.as_dict() for p in profiles],
            }
        )
        return
    emit(f"metrics and column meanings from: {found['source']}")
    for one in profiles:
        emit("")
        emit(f"{one.table}: {one.rows} rows; metrics: {', '.join(one.metrics) or 'none'}")
        rows = [
            {**c.__dict__, "null_share": f"{c.null_share:.1%}", "samples": ", ".join(c.samples)}
            for c in one.columns
        ]
        table(
            rows,
            [
                "name",
                "type",
                "null_share",
                "distinct",
                "min",
                "max",
                "samples",
                "description",
                "basetype",
                "confidence",
            ],
            optional=("samples", "confidence", "basetype"),  # --wide shows them
        )
        for missing in one.missing_columns:
            emit(f"  missing column: {missing}")
    if answer.get("proposal"):
        emit("")
        opened(answer)
    elif recorded is not None:
        emit(f"\nrecorded {recorded} basetypes as inferred column metadata")
