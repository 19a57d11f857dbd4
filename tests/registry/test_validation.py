"""Validating metrics against an analytics database: clean for the pack, each finding on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import MetricRepository, NotFoundError
from registry.analytics.validation import validate


def test_every_starter_metric_validates_clean(starter: MetricRepository, demo_db: Path) -> None:
    assert validate(starter.registry, demo_db) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"table_name": "subscription"},
            ("tables", "error", "table 'subscription' does not exist"),
        ),
        (
            {"sql": "SELECT SUM(mrr) FROM subscriptions"},
            ("sql", "error", 'Referenced column "mrr" not found'),
        ),
        (
            {"sql": "SELECT 1 FROM nowhere"},
            ("sql", "error", "Table with name nowhere does not exist"),
        ),
        ({"sql": "SELEC 1"}, ("sql", "error", "syntax error")),
        ({"sql": "DELETE FROM subscriptions"}, ("sql", "error", "must be a SELECT query")),
        ({"sql": "SELECT 1; SELECT 2"}, ("sql", "error", "exactly one statement")),
        (
            {"sql_variants": {"by_plan": "SELECT nope FROM subscriptions"}},
            ("sql_variants.by_plan", "error", '"nope" not found'),
        ),
        (
            {"sql": "SELECT SUM(mrr_amount) FROM subscriptions JOIN orders ON true"},
            ("tables", "warning", "reads 'orders', which it does not declare"),
        ),
        ({"tables": ["plans_missing"]}, ("tables", "error", "'plans_missing' does not exist")),
        (
            {"tables": ["orders"]},
            ("tables", "warning", "declares 'orders', which its SQL does not read"),
        ),
        (
            {"time_column": "billed_on"},
            ("time_column", "error", "'billed_on' is not a column of 'subscriptions'"),
        ),
        (
            {"dimensions": ["plan_type", "colour"]},
            ("dimensions", "error", "'colour' is not a column"),
        ),
    ],
)
def test_each_kind_of_finding(
    starter: MetricRepository,
    demo_db: Path,
    change: dict[str, object],
    expected: tuple[str, str, str],
) -> None:
    # Checked as a definition (SQL that does not parse is refused when written, so those
    # cases could not be stored; `validate` still reports them, as for a definition to be).
    definition = {**(starter.get("revenue/mrr") or {}), **change}
    findings = validate(starter.registry, demo_db, [definition])
    matching = [
        f
        for f in findings
        if (f.subject, f.location, f.level) == ("revenue/mrr", *expected[:2])
        and expected[2] in f.message
    ]
    assert len(matching) == 1, findings
    if (
        change.get("table_name") != "subscription"
    ):  # a wrong table also shows the SQL reading another
        assert len(findings) == 1, findings
    assert validate(starter.registry, demo_db) == []  # the stored ones are untouched


def test_validating_a_missing_metric_or_database(starter: MetricRepository, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        validate(starter.registry, tmp_path / "x.duckdb", "revenue/none")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        validate(starter.registry, tmp_path / "x.duckdb")


def test_structured_fields_that_compute_other_numbers_than_the_sql_are_a_finding(
    starter: MetricRepository, demo_db: Path
) -> None:
    """MRR's SQL counts active subscriptions; fields that forget the filter say otherwise."""
    starter.update("revenue/mrr", filters=[])
    starter.update("revenue/total_revenue", expression="SUM(total_amount) * 2")
    found = {f.subject: f for f in validate(starter.registry, demo_db)}
    assert set(found) == {"revenue/mrr", "revenue/total_revenue"}
    mrr = found["revenue/mrr"]
    assert (mrr.location, mrr.level) == ("expression", "warning")
    assert mrr.message.startswith(
        "expression, filters and time_column compute other numbers than sql on the data:"
        " 22 of 24 periods differ (first: 2024-03-01: sql 15878.40, fields 16077.40)"
    )
    assert "24 of 24 periods differ" in found["revenue/total_revenue"].message
    # Put right, they agree again; a wrong column is named by the engine.
    starter.update("revenue/mrr", filters=["status = 'active'"])
    starter.update("revenue/total_revenue", expression="SUM(amount)")
    [left] = validate(starter.registry, demo_db)
    assert left.subject == "revenue/total_revenue"
    assert "do not compute" in left.message and "amount" in left.message
