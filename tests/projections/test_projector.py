"""The projector: in step with the log, rebuildable from zero, and checkable."""

from __future__ import annotations

from typing import Any

import duckdb

from events import NewEvent, ensure_event_log
from projections import METRICS, fold_all
from registry import ColumnMetadataRepository, MetricRepository, attach
from storage.engine import engine_of
from tests.conftest import metric_fields


def table_rows(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[Any, ...]]:
    return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


def test_rebuild_from_zero_reproduces_the_tables(
    repo: MetricRepository, columns: ColumnMetadataRepository
) -> None:
    repo.create(**metric_fields())
    repo.create(name="arr", category="revenue", sql="SELECT 1")
    repo.update("revenue/mrr", unit="EUR", tables=["a", "b"])
    repo.delete("revenue/arr")
    columns.save("orders", "amount", basetype="NUMERIC")
    conn = repo.registry.conn
    before = {t: table_rows(conn, t) for t in ("metric_definitions", "column_metadata")}
    assert repo.registry.projector.rebuild() == 2
    assert {t: table_rows(conn, t) for t in before} == before
    assert repo.registry.projector.check() == []


def test_check_lists_every_difference(repo: MetricRepository) -> None:
    repo.create(**metric_fields())
    repo.create(name="arr", category="revenue", sql="SELECT 1")
    conn = repo.registry.conn
    conn.execute("UPDATE metric_definitions SET unit = 'JPY' WHERE id = 'revenue/mrr'")
    conn.execute("DELETE FROM metric_definitions WHERE id = 'revenue/arr'")
    conn.execute(
        "INSERT INTO column_metadata VALUES ('t', 'c', NULL, NULL, 'manual', 'manual', now())"
    )
    found = sorted(str(d) for d in repo.registry.projector.check())
    assert found == [
        "column_metadata t/c: row not in the log",
        "metric_definitions revenue/arr: row missing from the table",
        "metric_definitions revenue/mrr: unit is 'JPY', the log says 'USD'",
    ]
    repo.registry.projector.rebuild()
    assert repo.registry.projector.check() == []


def test_large_batches_are_applied_set_based_with_the_same_result(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    registry = attach(conn)
    events = []
    for i in range(60):
        definition = {
            **metric_fields(name=f"m{i % 20}"),
            "sql_variants": {},
            "validation": None,
            "filters": [],
            "source": "manual",
            "source_ref": None,
            "grain": "monthly",
        }
        events.append(
            NewEvent(
                stream_type="metric",
                stream_id=f"revenue/m{i % 20}",
                event_type="MetricCreated" if i < 20 else "MetricUpdated",
                event_schema=2,
                payload={"definition": definition, "changed": ["name"]},
                actor="bulk",
            )
        )
    events.append(
        NewEvent(
            stream_type="metric",
            stream_id="revenue/m3",
            event_type="MetricDeleted",
            event_schema=2,
            payload={"definition": {}, "changed": []},
            actor="bulk",
        )
    )
    with registry.store.transaction():
        registry.projector.apply(registry.store.append(events))
    assert len(table_rows(conn, "metric_definitions")) == 19
    assert registry.projector.check() == []
    live = fold_all(METRICS, registry.store.read())
    assert sorted(live) == sorted(r[0] for r in table_rows(conn, "metric_definitions"))


def test_schema_1_events_are_upcast_in_every_read(tmp_path: Any) -> None:
    """An event written by the first payload schema (YAML keys) reads as v4 everywhere."""
    conn = duckdb.connect(str(tmp_path / "old.duckdb"))
    ensure_event_log(conn)
    old_definition = {
        "name": "mrr",
        "category": "revenue",
        "display_name": "MRR",
        "sql": "SELECT 1",
        "table": "subscriptions",
        "sql_by_plan": "SELECT 2",
        "tables": [],
        "dimensions": [],
        "filters": [],
        "synonyms": [],
        "notes": [],
        "type": "sum",
        "grain": "monthly",
        "source": "manual",
    }
    engine_of(conn).store_class(conn).append(
        [
            NewEvent(
                stream_type="metric",
                stream_id="revenue/mrr",
                event_type="MetricCreated",
                event_schema=1,
                payload={"definition": old_definition, "changed": ["table", "sql_by_plan", "sql"]},
                actor="v1-writer",
            )
        ]
    )
    repo = MetricRepository(conn)  # opening catches the projection up through the upcaster
    row = repo.get("revenue/mrr")
    assert row is not None
    assert (row["table_name"], row["sql_variants"]) == ("subscriptions", {"by_plan": "SELECT 2"})
    assert repo.get_version("revenue/mrr", 1)["table_name"] == "subscriptions"
    assert repo.history("revenue/mrr")[0]["changed"] == ["table_name", "sql_variants", "sql"]
    repo.registry.projector.rebuild()
    assert repo.get("revenue/mrr") == row
    assert repo.update("revenue/mrr", unit="USD")["sql_variants"] == {"by_plan": "SELECT 2"}  # type: ignore[index]
    assert repo.registry.projector.check() == []
    stored = conn.execute("SELECT event_schema FROM event_log ORDER BY position").fetchall()
    assert stored == [(1,), (2,)]  # the old event was never rewritten
