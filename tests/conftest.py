"""Shared fixtures: a fresh registry on a temporary file database, and facades over it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from registry import ColumnMetadataRepository, MetricRepository, Registry, attach


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "system.duckdb"


# The engines the registry's and the API's tests run on (DA_TEST_ENGINES narrows them); the
# console's run on a file and on PostgreSQL.
ENGINES = os.environ.get("DA_TEST_ENGINES", "duckdb,memory,postgresql").split(",")
SERVER_ENGINES = [e for e in ENGINES if e != "memory"]


# The engine the default run tries the heaviest tests on; `-m slow` tries the others too.
DEFAULT_ENGINE = "duckdb"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked `slow_off_the_default_engine` is slow (left to `pytest -m slow`) on
    every engine but the default one."""
    for item in items:
        if item.get_closest_marker("slow_off_the_default_engine") is None:
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("conn", DEFAULT_ENGINE) != DEFAULT_ENGINE:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(params=ENGINES)
def conn(request: pytest.FixtureRequest, db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a fresh registry database: a DuckDB file, DuckDB :memory:, or a
    PostgreSQL schema."""
    if request.param == "postgresql":
        from storage.postgres import connect_postgres
        from tests.postgres import fresh_schema

        with fresh_schema() as url:
            pg = connect_postgres(url)
            yield pg  # type: ignore[misc]
            pg.close()
        return
    db_path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(":memory:" if request.param == "memory" else str(db_path))
    yield connection
    connection.close()


@pytest.fixture
def registry(conn: duckdb.DuckDBPyConnection) -> Registry:
    return attach(conn)


@pytest.fixture
def repo(conn: duckdb.DuckDBPyConnection) -> MetricRepository:
    return MetricRepository(conn, actor="alice")


@pytest.fixture
def columns(conn: duckdb.DuckDBPyConnection) -> ColumnMetadataRepository:
    return ColumnMetadataRepository(conn, actor="alice")


def metric_fields(**overrides: Any) -> dict[str, Any]:
    """A complete, valid metric definition (MRR) with overrides."""
    fields: dict[str, Any] = {
        "name": "mrr",
        "category": "revenue",
        "display_name": "Monthly Recurring Revenue",
        "description": "Recurring revenue of active subscriptions.",
        "type": "sum",
        "unit": "USD",
        "table_name": "subscriptions",
        "tables": ["plans"],
        "expression": "SUM(mrr_amount)",
        "time_column": "billing_date",
        "dimensions": ["plan_type", "region"],
        "synonyms": ["monthly_revenue", "recurring_revenue"],
        "notes": ["Active subscriptions only."],
        "sql": "SELECT date_trunc('month', billing_date) AS month, SUM(mrr_amount)\nFROM subscriptions\nGROUP BY 1",
        "sql_variants": {
            "by_plan": "SELECT plan_type, SUM(mrr_amount) FROM subscriptions GROUP BY 1"
        },
    }
    fields.update(overrides)
    return fields


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo analytics database, built once for the whole run."""
    from starter_pack.demo_db import build_demo_database

    return build_demo_database(tmp_path_factory.mktemp("demo") / "analytics.duckdb")


@pytest.fixture
def starter(repo: MetricRepository) -> MetricRepository:
    """A registry with the starter pack loaded."""
    from registry.interchange.starter import load_starter_pack

    report = load_starter_pack(repo.registry, actor="setup")
    assert len(report.added) == 11 and not report.unreadable, report
    return repo
