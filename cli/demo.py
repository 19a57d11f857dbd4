"""`da demo`: a working registry on a fresh machine, in one command."""

import typer

from cli.backend import backend_for
from cli.output import emit


def demo(ctx: typer.Context) -> None:
    """Build the demo analytics database, load the starter pack, validate it, say what next."""
    built = backend_for(ctx.obj).demo()
    emit(f"demo analytics database: {built['analytics_database']}")
    emit(
        f"starter pack: {built['loaded']} metrics in the registry ({built['written']} written now)"
    )
    emit(f"validated against the demo database: {built['findings']} findings")
    emit(f"registry database: {built['registry_database']}")
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
