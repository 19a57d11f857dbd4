"""`da demo`: the registry working end to end on the embedded database."""

from __future__ import annotations

import typer

from cli.output import emit
from registry import open_registry
from registry.commands import METRIC, WriteContext, create_metric, roll_back_metric, update_metric
from registry.queries import diff, history, require_metric

DEMO_METRIC = {
    "name": "mrr",
    "category": "revenue",
    "display_name": "Monthly Recurring Revenue",
    "description": "Recurring revenue of active subscriptions, excluding setup fees and overages.",
    "type": "sum",
    "unit": "USD",
    "table_name": "subscriptions",
    "expression": "SUM(mrr_amount)",
    "time_column": "billing_date",
    "dimensions": ["plan_type", "region"],
    "synonyms": ["monthly_revenue", "recurring_revenue"],
    "sql": (
        "SELECT date_trunc('month', billing_date) AS month, SUM(mrr_amount) AS mrr\n"
        "FROM subscriptions\nWHERE status = 'active'\nGROUP BY 1\nORDER BY 1"
    ),
}


def demo(ctx: typer.Context) -> None:
    """Create a metric, make a bad change, read its history and diff, roll it back, verify."""
    from events import verify_chain

    reg = open_registry(ctx.obj)
    created = create_metric(reg, DEMO_METRIC, WriteContext(actor="demo", reason="demo: define MRR"))
    emit(f"{created.id}: version {created.version}" + ("" if created.changed else " (unchanged)"))
    good = created.version
    bad_sql = str(DEMO_METRIC["sql"]).replace("WHERE status = 'active'\n", "")
    changed = update_metric(
        reg, created.id, {"sql": bad_sql}, WriteContext(actor="demo", reason="demo: a bad change")
    )
    emit(f"bad change recorded as version {changed.version}\n")
    emit("history:")
    for entry in history(reg, METRIC, created.id)[-4:]:
        emit(f"  v{entry.version} {entry.event_type:<16} {entry.actor:<6} {entry.reason or ''}")
    emit("\ndiff of the bad change:")
    emit(diff(reg, METRIC, created.id).sql_diff or "")
    back = roll_back_metric(reg, created.id, good, WriteContext(actor="demo", reason="demo: undo"))
    emit(
        f"rolled back to version {good} as version {back.version}; current SQL filters "
        f"active subscriptions again: {'active' in require_metric(reg, created.id)['sql']}"
    )
    report = verify_chain(reg.conn)
    emit(f"event log verified: {report.ok} ({report.checked} events, head {report.head})")
    emit(f"projection in step with the log: {reg.projector.check() == []}")
    emit(f"database: {ctx.obj.db_path}")
