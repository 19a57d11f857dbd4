"""Commands through the MetricRepository and ColumnMetadataRepository facades."""

from __future__ import annotations

from dataclasses import replace

import pytest
from freezegun import freeze_time

from registry import (
    ColumnMetadataRepository,
    ConflictError,
    InvalidDefinitionError,
    MetricRepository,
    NotFoundError,
    Registry,
    UnknownFieldError,
)
from registry.commands import WriteContext, create_metric, update_metric
from registry.errors import StorageError
from tests.conftest import metric_fields


def log_size(repo: MetricRepository) -> int:
    row = repo.registry.conn.execute("SELECT count(*) FROM event_log").fetchone()
    assert row is not None
    return int(row[0])


def test_create_stores_every_field_and_defaults(repo: MetricRepository) -> None:
    row = repo.create(name="active_users", category="product_usage", sql="SELECT 1")
    assert row["id"] == "product_usage/active_users"
    assert (row["display_name"], row["type"], row["grain"], row["source"]) == (
        "active_users",
        "sum",
        "monthly",
        "manual",
    )
    assert row["tables"] == [] and row["sql_variants"] == {}
    full = repo.create(**metric_fields())
    assert full["sql_variants"] == {"by_plan": metric_fields()["sql_variants"]["by_plan"]}
    assert full["dimensions"] == ["plan_type", "region"]


def test_create_on_existing_id_is_an_upsert(repo: MetricRepository) -> None:
    with freeze_time("2026-01-01"):
        repo.create(**metric_fields())
    with freeze_time("2026-02-01"):
        row = repo.create(**metric_fields(unit="EUR"))
    assert row["unit"] == "EUR"
    assert str(row["created_at"]) == "2026-01-01 00:00:00"
    assert str(row["updated_at"]) == "2026-02-01 00:00:00"
    assert [h["event_type"] for h in repo.history("revenue/mrr")] == [
        "MetricCreated",
        "MetricUpdated",
    ]
    assert repo.history("revenue/mrr")[1]["changed"] == ["unit"]


def test_a_write_that_changes_nothing_appends_nothing_and_says_so(repo: MetricRepository) -> None:
    repo.create(**metric_fields())
    before = log_size(repo)
    result = create_metric(repo.registry, metric_fields(), WriteContext(actor="bob"))
    assert (result.changed, result.version) == (False, 1)
    assert (
        update_metric(
            repo.registry, "revenue/mrr", {"unit": "USD"}, WriteContext(actor="b")
        ).changed
        is False
    )
    assert log_size(repo) == before


def test_update_changes_named_fields_and_records_actor_and_reason(repo: MetricRepository) -> None:
    repo.create(**metric_fields())
    row = repo.update("revenue/mrr", reason="finance asked", description="New text", tables=["x"])
    assert row is not None and (row["description"], row["tables"]) == ("New text", ["x"])
    last = repo.history("revenue/mrr")[-1]
    assert (last["actor"], last["reason"], sorted(last["changed"])) == (
        "alice",
        "finance asked",
        ["description", "tables"],
    )


def test_update_rejects_unknown_fields_by_name_and_writes_nothing(repo: MetricRepository) -> None:
    repo.create(**metric_fields())
    before = log_size(repo)
    with pytest.raises(UnknownFieldError) as caught:
        repo.update("revenue/mrr", colour="red", unit="EUR")
    assert "colour: unknown field" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert log_size(repo) == before
    assert repo.update("revenue/none", unit="EUR") is None


def test_update_cannot_move_a_metric_to_another_id(repo: MetricRepository) -> None:
    repo.create(**metric_fields())
    with pytest.raises(InvalidDefinitionError, match="category: is part of the id"):
        repo.update("revenue/mrr", category="sales")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"type": "summ"}, "type: 'summ' is not one of sum, count, avg, ratio"),
        ({"name": "MRR"}, "name: 'MRR' must be lowercase letters, digits and _"),
        ({"category": "rev/enue"}, "category: 'rev/enue' must be lowercase letters, digits and _"),
        ({"name": "../etc"}, "name: '../etc' must be lowercase letters, digits and _"),
        ({"sql": "   "}, "sql: must not be empty"),
        ({"tables": "orders"}, "tables: 'orders' is not a list of strings"),
        ({"synonyms": ["a", 3]}, "synonyms.1: 3 is not a string"),
        (
            {"sql_variants": {"By Plan": "SELECT 1", "variants": "SELECT 2"}},
            "sql_variants: keys 'By Plan', 'variants' must be lowercase identifiers",
        ),
        ({"colour": "red"}, "colour: unknown field"),
    ],
)
def test_invalid_definitions_name_the_field(
    repo: MetricRepository, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        repo.create(**metric_fields(**overrides))
    assert message in str(caught.value)
    assert log_size(repo) == 0


def test_every_issue_is_reported_at_once(repo: MetricRepository) -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        repo.create(name="Bad Name", category="x", sql="", type="mean", colour=1)
    locations = sorted(i.location for i in caught.value.issues)
    assert locations == ["colour", "name", "sql", "type"]


def test_missing_required_fields(repo: MetricRepository) -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        repo.create(category="revenue")
    assert {str(i) for i in caught.value.issues} == {"name: is required", "sql: is required"}


def test_id_must_match_category_and_name(repo: MetricRepository) -> None:
    assert repo.create(id="revenue/arr", sql="SELECT 1")["name"] == "arr"
    with pytest.raises(InvalidDefinitionError, match="does not match"):
        repo.create(id="revenue/arr", name="mrr", category="revenue", sql="SELECT 1")


def test_delete_is_a_tombstone_and_history_stays_readable(repo: MetricRepository) -> None:
    repo.create(**metric_fields())
    assert repo.delete("revenue/mrr", reason="obsolete") is True
    before = log_size(repo)
    assert repo.delete("revenue/mrr") is False
    assert repo.delete("revenue/never") is False
    assert log_size(repo) == before
    assert repo.get("revenue/mrr") is None
    history = repo.history("revenue/mrr")
    assert [h["event_type"] for h in history] == ["MetricCreated", "MetricDeleted"]
    assert repo.get_version("revenue/mrr", 2)["deleted"] is True


def test_recreating_a_deleted_metric_continues_its_versions(repo: MetricRepository) -> None:
    with freeze_time("2026-01-01"):
        repo.create(**metric_fields())
    repo.delete("revenue/mrr")
    with freeze_time("2026-05-01"):
        row = repo.create(**metric_fields(unit="EUR"))
    assert [h["version"] for h in repo.history("revenue/mrr")] == [1, 2, 3]
    assert str(row["created_at"]) == "2026-01-01 00:00:00"


def test_restore_brings_back_the_deleted_definition(repo: MetricRepository) -> None:
    repo.create(**metric_fields(description="kept"))
    repo.delete("revenue/mrr")
    row = repo.restore("revenue/mrr", actor="admin", reason="deleted by mistake")
    assert row["description"] == "kept"
    assert repo.history("revenue/mrr")[-1]["event_type"] == "MetricRestored"
    with pytest.raises(ConflictError, match="is not deleted"):
        repo.restore("revenue/mrr")
    with pytest.raises(NotFoundError):
        repo.restore("revenue/never")


def test_rollback_is_a_new_event_with_the_old_definition(repo: MetricRepository) -> None:
    repo.create(**metric_fields(sql="SELECT 1"))
    repo.update("revenue/mrr", sql="SELECT 2", unit="EUR")
    row = repo.rollback("revenue/mrr", 1, actor="admin", reason="bad change")
    assert (row["sql"], row["unit"]) == ("SELECT 1", "USD")
    history = repo.history("revenue/mrr")
    assert [h["version"] for h in history] == [1, 2, 3]
    assert (history[2]["event_type"], history[2]["actor"], sorted(history[2]["changed"])) == (
        "MetricRolledBack",
        "admin",
        ["sql", "unit"],
    )
    assert repo.get_version("revenue/mrr", 2)["sql"] == "SELECT 2"  # nothing was rewritten


def test_rollback_restores_a_deleted_metric(repo: MetricRepository) -> None:
    repo.create(**metric_fields(unit="GBP"))
    repo.update("revenue/mrr", unit="EUR")
    repo.delete("revenue/mrr")
    assert repo.rollback("revenue/mrr", 1)["unit"] == "GBP"


def test_rollback_errors(repo: MetricRepository) -> None:
    repo.create(**metric_fields())
    repo.delete("revenue/mrr")
    repo.restore("revenue/mrr")
    with pytest.raises(NotFoundError, match="has no version 9"):
        repo.rollback("revenue/mrr", 9)
    with pytest.raises(InvalidDefinitionError, match="version 2 is a deletion"):
        repo.rollback("revenue/mrr", 2)
    with pytest.raises(NotFoundError):
        repo.rollback("revenue/never", 1)
    before = log_size(repo)
    repo.rollback("revenue/mrr", 1)  # identical to the current definition: nothing to do
    assert log_size(repo) == before


def test_expected_version_guards_against_lost_updates(repo: MetricRepository) -> None:
    repo.create(**metric_fields())
    ctx = WriteContext(actor="bob", expected_version=1)
    update_metric(repo.registry, "revenue/mrr", {"unit": "EUR"}, ctx)
    with pytest.raises(ConflictError) as caught:
        update_metric(repo.registry, "revenue/mrr", {"unit": "GBP"}, ctx)
    assert caught.value.current_version == 2
    assert repo.get("revenue/mrr")["unit"] == "EUR"  # type: ignore[index]


def test_idempotency_key_returns_the_first_answer(repo: MetricRepository) -> None:
    repo.create(**metric_fields())
    ctx = WriteContext(actor="bob", idempotency_key="req-1")
    first = update_metric(repo.registry, "revenue/mrr", {"unit": "EUR"}, ctx)
    again = update_metric(repo.registry, "revenue/mrr", {"unit": "EUR"}, ctx)
    assert again == replace(first, replayed=True) and again.changed
    assert log_size(repo) == 2
    with pytest.raises(ConflictError, match="different change"):
        update_metric(repo.registry, "revenue/mrr", {"unit": "GBP"}, ctx)


def test_column_metadata_commands(columns: ColumnMetadataRepository) -> None:
    row = columns.save("in.c-sales.orders", "amount", basetype="NUMERIC", description="Order total")
    assert (row["basetype"], row["confidence"], row["source"]) == ("NUMERIC", "manual", "manual")
    columns.save("in.c-sales.orders", "amount", basetype="NUMERIC", description="Gross total")
    columns.save("in.c-sales.orders", "id", basetype="INTEGER")
    assert [c["column_name"] for c in columns.list_for_table("in.c-sales.orders")] == [
        "amount",
        "id",
    ]
    assert columns.diff("in.c-sales.orders", "amount")["changes"] == [
        {"field": "description", "old": "Order total", "new": "Gross total"}
    ]
    assert columns.rollback("in.c-sales.orders", "amount", 1)["description"] == "Order total"  # type: ignore[index]
    assert columns.delete("in.c-sales.orders", "amount") is True
    assert columns.delete("in.c-sales.orders", "amount") is False
    assert columns.get("in.c-sales.orders", "amount") is None
    assert columns.restore("in.c-sales.orders", "amount")["description"] == "Order total"  # type: ignore[index]
    assert len(columns.history("in.c-sales.orders", "amount")) == 5
    with pytest.raises(InvalidDefinitionError, match="table_id"):
        columns.save("bad table", "x")


def test_every_write_is_in_the_chain_and_the_projection_in_step(repo: MetricRepository) -> None:
    repo.create(**metric_fields())
    repo.update("revenue/mrr", unit="EUR")
    repo.delete("revenue/mrr")
    repo.restore("revenue/mrr")
    assert repo.registry.store.verify().ok
    assert repo.registry.projector.check() == []


class FullDisk:
    """A connection whose commit fails as its engine's does when the disk is full."""

    def __init__(self, conn: object, engine: str) -> None:
        self._conn = conn
        self._engine = engine

    def commit(self) -> None:
        if self._engine == "postgresql":
            import psycopg

            self._conn.rollback()  # type: ignore[attr-defined]  # as the server does
            raise psycopg.errors.DiskFull("could not extend file: No space left on device")
        import duckdb

        raise duckdb.IOException("Could not write file: No space left on device")

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


def test_a_full_disk_is_a_storage_error_tried_once_and_nothing_is_written(
    registry: Registry,
) -> None:
    create_metric(registry, metric_fields(), WriteContext(actor="alice"))
    real = registry.store.conn
    registry.store.conn = FullDisk(real, registry.engine.name)  # type: ignore[assignment]
    try:
        with pytest.raises(StorageError, match="No space left on device") as caught:
            update_metric(registry, "revenue/mrr", {"unit": "EUR"}, WriteContext(actor="alice"))
    finally:
        registry.store.conn = real
    assert "nothing was written" in str(caught.value)
    assert "concurrent" not in str(caught.value)
    rows = registry.conn.execute("SELECT count(*), max(version) FROM event_log").fetchall()
    assert rows == [(1, 1)]
    assert (
        update_metric(registry, "revenue/mrr", {"unit": "EUR"}, WriteContext(actor="alice")).version
        == 2
    )


def test_sql_must_parse_as_one_select(repo: MetricRepository) -> None:
    from registry.errors import InvalidDefinitionError

    for sql in ("0", "SELECT 1; SELECT 2", "DELETE FROM t", "SELEC 1"):
        with pytest.raises(InvalidDefinitionError, match="sql: must be one SELECT query"):
            repo.create(name="bad", category="ops", sql=sql)
    repo.create(name="good", category="ops", sql="WITH t AS (SELECT 1 AS x) SELECT x FROM t")
    assert repo.get("ops/good") is not None
