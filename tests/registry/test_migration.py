"""Opening a database written by the earlier, non-event-sourced code keeps every row."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from projections import METRIC_TABLE, row_to_dict
from registry import ColumnMetadataRepository, MetricRepository, get_system_db, load_settings
from storage.duckdb import DuckDBEventStore

V3_METRICS_SQL = """
CREATE TABLE metric_definitions (
    id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, display_name VARCHAR NOT NULL,
    category VARCHAR NOT NULL, description TEXT, type VARCHAR, unit VARCHAR, grain VARCHAR,
    table_name VARCHAR, expression VARCHAR, time_column VARCHAR, dimensions VARCHAR[],
    sql TEXT NOT NULL, created_at TIMESTAMP, updated_at TIMESTAMP)
"""
V3_COLUMNS_SQL = """
CREATE TABLE column_metadata (
    table_id VARCHAR NOT NULL, column_name VARCHAR NOT NULL, basetype VARCHAR,
    description VARCHAR, updated_at TIMESTAMP, PRIMARY KEY (table_id, column_name))
"""


def make_v3(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path))
    conn.execute(V3_METRICS_SQL)
    conn.execute(V3_COLUMNS_SQL)
    conn.execute(
        "INSERT INTO metric_definitions VALUES"
        " ('revenue/mrr', 'mrr', 'MRR', 'revenue', 'Recurring', 'sum', 'USD', 'monthly',"
        "  'subscriptions', 'SUM(mrr_amount)', 'billing_date', ['plan_type'], 'SELECT 1',"
        "  '2024-01-05 10:00:00', '2024-06-01 08:30:00'),"
        " ('Legacy/Odd Name', 'Odd Name', 'Odd', 'Legacy', NULL, NULL, NULL, NULL, NULL, NULL,"
        "  NULL, NULL, 'SELECT 2', '2023-01-01', '2023-01-02')"
    )
    conn.execute(
        "INSERT INTO column_metadata VALUES ('orders', 'amount', 'NUMERIC', 'Total', '2024-02-02')"
    )
    conn.close()


def test_v3_database_is_adopted_without_losing_anything(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path)
    make_v3(settings.db_path)
    conn = get_system_db(settings)
    repo = MetricRepository(conn)
    mrr = repo.get("revenue/mrr")
    assert mrr is not None
    assert (mrr["display_name"], mrr["table_name"], mrr["dimensions"], mrr["sql"]) == (
        "MRR",
        "subscriptions",
        ["plan_type"],
        "SELECT 1",
    )
    assert (mrr["created_at"], mrr["updated_at"]) == (
        datetime(2024, 1, 5, 10),
        datetime(2024, 6, 1, 8, 30),
    )
    assert (mrr["source"], mrr["tables"], mrr["synonyms"]) == ("manual", [], [])
    odd = repo.get("Legacy/Odd Name")
    assert (
        odd is not None and odd["sql"] == "SELECT 2"
    )  # kept even though today it would not validate
    [entry] = repo.history("revenue/mrr")
    assert (entry["event_type"], entry["actor"], entry["door"], entry["writer"]) == (
        "MetricAdopted",
        "migration",
        "migration",
        "migration",
    )
    column = ColumnMetadataRepository(conn).get("orders", "amount")
    assert column is not None and (
        column["basetype"],
        column["description"],
        column["confidence"],
    ) == ("NUMERIC", "Total", "manual")
    tables = {
        r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert {"legacy_metric_definitions_v3", "legacy_column_metadata_v3"} <= tables
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (4,)
    assert DuckDBEventStore(conn).verify().ok and repo.registry.projector.check() == []
    columns = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'metric_definitions'"
            " ORDER BY ordinal_position"
        ).fetchall()
    ]
    assert tuple(columns) == METRIC_TABLE.column_names
    conn.close()
    again = get_system_db(settings)  # a second open adopts nothing more
    assert again.execute("SELECT count(*) FROM event_log").fetchone() == (3,)


def test_v4_filled_by_direct_sql_is_adopted_with_its_source(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path)
    settings.db_path.parent.mkdir(parents=True)
    conn = duckdb.connect(str(settings.db_path))
    conn.execute(METRIC_TABLE.ddl())
    conn.execute(
        "INSERT INTO metric_definitions VALUES ('sales/pipeline', 'pipeline', 'Pipeline', 'sales',"
        " 'd', 'sum', 'USD', 'monthly', 'opportunities', ['accounts'], 'SUM(x)', 'close_date',"
        " ['stage'], ['stage <> ''won'''], ['deals'], ['note'], 'SELECT 3', '{\"by_owner\": \"SELECT 4\"}',"
        " '{\"min\": 0}', 'yaml_import', 'finance', '2024-01-01', '2024-01-02')"
    )
    before = [
        row_to_dict(METRIC_TABLE, r)
        for r in conn.execute("SELECT * FROM metric_definitions").fetchall()
    ]
    conn.close()
    conn = get_system_db(settings)
    assert MetricRepository(conn).list() == before  # JSON compared as values, all else exactly
    # The row keeps its writer; the adoption's own writer is the migration.
    row = conn.execute("SELECT source, actor FROM event_log").fetchone()
    assert row == ("migration", "migration")


def test_nulls_in_an_adopted_v4_row_mean_absent_and_stay_editable(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path)
    settings.db_path.parent.mkdir(parents=True)
    conn = duckdb.connect(str(settings.db_path))
    conn.execute(METRIC_TABLE.ddl())
    conn.execute(
        "INSERT INTO metric_definitions (id, name, display_name, category, sql, type, grain,"
        " tables, dimensions, sql_variants, validation)"
        " VALUES ('ops/uptime', 'uptime', 'Uptime', 'ops', 'SELECT 1', NULL, NULL,"
        " NULL, NULL, NULL, NULL)"
    )
    conn.close()
    repo = MetricRepository(get_system_db(settings))
    updated = repo.update("ops/uptime", unit="percentage", sql_variants={"weekly": "SELECT 2"})
    assert updated is not None
    assert (updated["unit"], updated["sql_variants"], updated["tables"]) == (
        "percentage",
        {"weekly": "SELECT 2"},
        [],
    )
    assert (updated["type"], updated["grain"]) == ("sum", "monthly")
    changed = repo.history("ops/uptime")[-1]["changed"]
    assert set(changed) == {"unit", "sql_variants"}
