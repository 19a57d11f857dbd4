"""`da demo`: a working registry on a fresh machine, in one command."""

import typer

from cli.admin import local
from cli.output import emit


def demo(ctx: typer.Context) -> None:
    """Build the demo analytics database, load the starter pack, validate it, say what next."""
    from registry.analytics.validation import validate
    from registry.interchange.starter import build_demo, load_starter_pack

    settings = ctx.obj.settings
    registry = local(ctx, "demo").registry
    database = build_demo(settings.demo_db_path)
    emit(f"demo analytics database: {database}")
    report = load_starter_pack(registry, actor=ctx.obj.actor, reason="da demo")
    loaded = len(report.added) + len(report.updated) + len(report.adopted) + len(report.unchanged)
    emit(f"starter pack: {loaded} metrics in the registry ({len(report.written)} written now)")
    findings = validate(registry, database)
    emit(f"validated against the demo database: {len(findings)} findings")
    emit(f"registry database: {settings.database}")
    emit("")
    emit("Try next:")
    for line in (
        "da metrics list",
        "da metrics show revenue/mrr",
        "da metrics search churn",
        'da metrics update revenue/mrr --set unit=EUR --reason "try a change"',
        "da metrics history revenue/mrr",
        "da metrics diff revenue/mrr",
        'da metrics rollback revenue/mrr --to 1 --reason "undo the try"',
        "da audit verify",
        "da serve --demo",
    ):
        emit(f"  {line}")
