"""Queries: lookups, table map, history, versions, diffs and as-of reads."""

from __future__ import annotations

from datetime import datetime

import pytest
from freezegun import freeze_time

from registry import MetricRepository, NotFoundError
from registry.queries import columns_as_of, metrics_as_of
from tests.conftest import metric_fields


@pytest.fixture
def filled(repo: MetricRepository) -> MetricRepository:
    repo.create(**metric_fields())
    repo.create(
        name="arr",
        category="revenue",
        sql="SELECT 12",
        table_name="subscriptions",
        synonyms=["Annual_Revenue"],
    )
    repo.create(
        name="active_users",
        category="product_usage",
        sql="SELECT 1",
        table_name="user_events",
        tables=["subscriptions"],
    )
    repo.create(name="no_table", category="misc", sql="SELECT 1")
    return repo


def test_list_is_ordered_by_category_then_name(filled: MetricRepository) -> None:
    assert [m["id"] for m in filled.list()] == [
        "misc/no_table",
        "product_usage/active_users",
        "revenue/arr",
        "revenue/mrr",
    ]
    assert [m["id"] for m in filled.list(category="revenue")] == ["revenue/arr", "revenue/mrr"]
    assert filled.list(category="nothing") == []


def test_find_by_table_counts_table_name_and_tables(filled: MetricRepository) -> None:
    assert [m["id"] for m in filled.find_by_table("subscriptions")] == [
        "product_usage/active_users",
        "revenue/arr",
        "revenue/mrr",
    ]
    assert [m["id"] for m in filled.find_by_table("plans")] == ["revenue/mrr"]
    assert filled.find_by_table("nope") == []


def test_find_by_synonym_is_case_insensitive(filled: MetricRepository) -> None:
    assert [m["id"] for m in filled.find_by_synonym("annual_revenue")] == ["revenue/arr"]
    assert [m["id"] for m in filled.find_by_synonym("MONTHLY_REVENUE")] == ["revenue/mrr"]
    assert filled.find_by_synonym("unknown") == []


def test_table_map(filled: MetricRepository) -> None:
    assert filled.get_table_map() == {
        "plans": ["mrr"],
        "subscriptions": ["active_users", "arr", "mrr"],
        "user_events": ["active_users"],
    }


def test_history_lists_every_version(repo: MetricRepository) -> None:
    with freeze_time("2026-01-01 09:00"):
        repo.create(**metric_fields())
    with freeze_time("2026-01-02 09:00"):
        repo.update("revenue/mrr", reason="typo", description="Fixed")
    history = repo.history("revenue/mrr")
    assert [
        (h["version"], h["event_type"], h["actor"], h["reason"], h["recorded_at"]) for h in history
    ] == [
        (1, "MetricCreated", "alice", None, datetime(2026, 1, 1, 9)),
        (2, "MetricUpdated", "alice", "typo", datetime(2026, 1, 2, 9)),
    ]
    assert history[1]["changed"] == ["description"]
    with pytest.raises(NotFoundError):
        repo.history("revenue/never")


def test_get_version(repo: MetricRepository) -> None:
    repo.create(**metric_fields(unit="USD"))
    repo.update("revenue/mrr", unit="EUR")
    assert repo.get_version("revenue/mrr", 1)["unit"] == "USD"
    assert repo.get_version("revenue/mrr", 2)["unit"] == "EUR"
    with pytest.raises(NotFoundError, match="no version 3"):
        repo.get_version("revenue/mrr", 3)


def test_diff_compares_fields_as_values_and_sql_as_text(repo: MetricRepository) -> None:
    repo.create(**metric_fields(sql="SELECT a\nFROM t\nWHERE x = 1", dimensions=["a", "b"]))
    repo.update(
        "revenue/mrr",
        sql="SELECT a\nFROM t\nWHERE x = 2",
        dimensions=["b", "a"],
        sql_variants={"by_plan": "SELECT 1"},
        validation={"min": 0},
    )
    repo.update("revenue/mrr", unit="EUR")
    result = repo.diff("revenue/mrr", 1, 2)
    fields = {c["field"]: (c["old"], c["new"]) for c in result["changes"]}
    assert set(fields) == {"sql", "dimensions", "sql_variants", "validation"}
    assert fields["dimensions"] == (["a", "b"], ["b", "a"])
    assert fields["validation"] == (None, {"min": 0})
    assert "-WHERE x = 1\n+WHERE x = 2\n" in result["sql_diff"]
    assert result["sql_diff"].startswith("--- revenue/mrr@v1\n+++ revenue/mrr@v2\n")
    default = repo.diff("revenue/mrr")
    assert (default["from_version"], default["to_version"]) == (2, 3)
    assert default["changes"] == [{"field": "unit", "old": "USD", "new": "EUR"}]
    assert default["sql_diff"] is None
    assert repo.diff("revenue/mrr", 2, 2)["changes"] == []
    with pytest.raises(NotFoundError):
        repo.diff("revenue/mrr", 1, 7)


def test_as_of_reads_what_a_reader_saw_then(repo: MetricRepository) -> None:
    with freeze_time("2026-01-01"):
        repo.create(**metric_fields(unit="USD"))
    with freeze_time("2026-02-01"):
        repo.update("revenue/mrr", unit="EUR")
        repo.create(name="arr", category="revenue", sql="SELECT 1")
    with freeze_time("2026-03-01"):
        repo.delete("revenue/mrr")
    assert repo.list(as_of=datetime(2025, 12, 31)) == []
    [january] = repo.list(as_of=datetime(2026, 1, 15))
    assert (january["unit"], january["updated_at"]) == ("USD", datetime(2026, 1, 1))
    assert [(m["id"], m["unit"]) for m in repo.list(as_of=datetime(2026, 2, 15))] == [
        ("revenue/arr", None),
        ("revenue/mrr", "EUR"),
    ]
    assert [m["id"] for m in repo.list(as_of=datetime(2026, 3, 2))] == ["revenue/arr"]
    assert [m["id"] for m in metrics_as_of(repo.registry, at_position=1)] == ["revenue/mrr"]
    assert repo.list(as_of=datetime(2026, 3, 2)) == repo.list()


def test_columns_as_of(repo: MetricRepository) -> None:
    from registry import ColumnMetadataRepository

    columns = ColumnMetadataRepository(repo.registry.conn)
    with freeze_time("2026-01-01"):
        columns.save("orders", "amount", description="old")
    with freeze_time("2026-02-01"):
        columns.save("orders", "amount", description="new")
    [row] = columns_as_of(repo.registry, datetime(2026, 1, 10))
    assert row["description"] == "old"
