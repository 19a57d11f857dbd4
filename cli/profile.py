"""`da profile`: analytics tables profiled against the registry's current projection."""

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.backend import backend_for, running_server
from cli.backend.remote import RemoteBackend
from cli.output import AnalyticsDb, emit, emit_json, table


def _knowledge(ctx: typer.Context, metrics_dir: Path | None, profiled: list[str]) -> Any:
    """The registry's view (embedded, or the server's); the YAML folder only if neither reads."""
    import starter_pack
    from registry.analytics.profiler import Knowledge, knowledge_from_registry, knowledge_from_yaml
    from registry.database import RegistryUnavailableError, open_registry_read_only

    target = ctx.obj
    if target.api_url or running_server(target.settings):
        backend = backend_for(target)
        if isinstance(backend, RemoteBackend):
            columns = {
                (c["table_id"], c["column_name"]): c
                for t in profiled
                for c in backend.column_list(t)["columns"]
            }
            metrics = backend.metric_list(None, None, None)["metrics"]
            return Knowledge(f"server:{backend.url}", metrics, columns)
    try:
        return knowledge_from_registry(open_registry_read_only(target.settings))
    except RegistryUnavailableError as exc:
        folder = metrics_dir or starter_pack.METRICS_DIR
        typer.echo(f"note: {exc}; reading metrics from {folder} instead", err=True)
        return knowledge_from_yaml(folder)


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
    from registry.analytics.profiler import profile as run_profile
    from registry.analytics.profiler import record_basetypes as record
    from registry.analytics.sandbox import AnalyticsDatabase

    path = db or ctx.obj.settings.demo_db_path
    if not path.exists():
        raise FileNotFoundError(
            f"no analytics database at {path}: run `da demo` to build the demo one, or pass --db"
        )
    analytics = AnalyticsDatabase(path)
    try:
        tables = [table_name] if table_name else sorted(analytics.tables())
        if table_name and table_name not in analytics.tables():
            raise typer.BadParameter(
                f"{table_name!r} is not a table of {path}", param_hint="--table"
            )
        knowledge = _knowledge(ctx, metrics_dir, tables)
        profiles = run_profile(analytics, knowledge, table_name)
    finally:
        analytics.close()
    recorded = None
    if record_basetypes:
        from cli.admin import local

        recorded = record(
            local(ctx, "profile --record-basetypes").registry, profiles, ctx.obj.actor
        )
    if as_json:
        emit_json(
            {
                "source": knowledge.source,
                "database": str(path),
                "recorded": recorded,
                "tables": [p.as_dict() for p in profiles],
            }
        )
        return
    emit(f"metrics and column meanings from: {knowledge.source}")
    for found in profiles:
        emit("")
        emit(f"{found.table}: {found.rows} rows; metrics: {', '.join(found.metrics) or 'none'}")
        rows = [
            {**c.__dict__, "null_share": f"{c.null_share:.1%}", "samples": ", ".join(c.samples)}
            for c in found.columns
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
        )
        for missing in found.missing_columns:
            emit(f"  missing column: {missing}")
    if recorded is not None:
        emit(f"\nrecorded {recorded} basetypes as inferred column metadata")
