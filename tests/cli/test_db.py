"""`da db info` and `da db copy`, and every command on PostgreSQL through --database-url."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Run
from tests.postgres import fresh_schema
from tests.served import DA


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


def test_info_names_the_backend_and_the_schema(da: Run, data: Path, pg_url: str) -> None:
    here = json.loads(da("db", "info", "--json").stdout)
    assert here["backend"] == "duckdb" and here["schema_version"] == 4
    assert here["database"] == str(data / "state" / "system.duckdb")
    assert here["head"] == da("audit", "head").stdout.strip()
    assert da("--database-url", pg_url, "starter-pack", "load").exit_code == 0
    there = json.loads(da("--database-url", pg_url, "db", "info", "--json").stdout)
    assert there["backend"] == "postgresql" and there["schema_version"] == 4
    assert there["events"] == 11


def test_a_registry_goes_to_postgresql_and_back_unchanged(
    da: Run, tmp_path: Path, pg_url: str
) -> None:
    da("metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--reason", "before the move")
    da("tokens", "create", "--role", "auditor", "--name", "carol")
    head = da("audit", "head").stdout.strip()
    kept = da("audit", "checkpoint").stdout
    moved = da("db", "copy", "--to", pg_url)
    said = moved.stdout.splitlines()
    assert moved.exit_code == 0 and said[0].endswith(f"verified, head {head}")
    assert said[1] == "the log's signing key: shared"  # the data folder keeps one key
    pg = ("--database-url", pg_url)
    assert da(*pg, "audit", "head").stdout.strip() == head
    assert da(*pg, "audit", "checkpoint").stdout == kept  # the same tree, the same key
    assert da(*pg, "audit", "verify").stdout.startswith(f"ok: {head.split(':')[0]} events")
    assert da(*pg, "projections", "check").exit_code == 0
    assert json.loads(da(*pg, "metrics", "show", "revenue/mrr", "--json").stdout)["unit"] == "EUR"
    history = json.loads(da(*pg, "metrics", "history", "revenue/mrr", "--json").stdout)
    assert history[-1]["reason"] == "before the move"
    assert "carol" in da(*pg, "tokens", "list").stdout
    # ... and back into an empty data folder, from PostgreSQL.
    back = tmp_path / "back"
    returned = da("--data-dir", str(back), "db", "copy", "--from", pg_url)
    assert returned.exit_code == 0, returned.stderr
    assert da("--data-dir", str(back), "audit", "head").stdout.strip() == head
    # A target that holds a registry already is refused, and nothing is written.
    again = da("db", "copy", "--to", pg_url)
    assert again.exit_code == 1
    assert (
        again.stderr.strip()
        == "error: the target already holds a registry: copy into an empty database"
    )
    assert da(*pg, "audit", "head").stdout.strip() == head


def test_copy_needs_one_direction(da: Run, pg_url: str) -> None:
    for args in ((), ("--to", pg_url, "--from", pg_url)):
        refused = da("db", "copy", *args)
        assert refused.exit_code == 2 and "exactly one of --to and --from" in refused.stderr


def test_a_bad_database_url_is_one_line_without_the_password(da: Run) -> None:
    wrong = da("--database-url", "postgresql://me:s3cret@127.0.0.1:1/x", "metrics", "list")
    assert wrong.exit_code == 1
    assert wrong.stderr.startswith("error: cannot reach the registry database postgresql://me:***@")
    assert "s3cret" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    odd = da("--database-url", "mysql://x", "metrics", "list")
    assert odd.exit_code == 2 and "is not a postgresql:// URL" in odd.stderr


def test_reading_an_empty_postgresql_database_creates_nothing(da: Run, pg_url: str) -> None:
    empty = da("--database-url", pg_url, "metrics", "list")
    assert empty.exit_code == 1 and "no registry in postgresql://" in empty.stderr
    assert "no registry" in da("--database-url", pg_url, "db", "info").stderr


def test_the_installed_da_runs_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    env = {"DA_DATABASE_URL": pg_url, "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [DA, "--data-dir", str(tmp_path), "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "registry database: postgresql://" in run.stdout
    listed = subprocess.run(
        [DA, "metrics", "search", "recurring revenue", "--json"],
        capture_output=True,
        text=True,
        env={**env, "DATA_DIR": str(tmp_path)},
        timeout=60,
    )
    assert json.loads(listed.stdout)[0]["id"] == "revenue/mrr"


def test_the_profiler_reads_the_table_map_from_postgresql(da: Run, pg_url: str) -> None:
    pg = ("--database-url", pg_url)
    assert da(*pg, "starter-pack", "load").exit_code == 0
    da(*pg, "columns", "set", "subscriptions", "status", "--description", "active or churned")
    found = json.loads(da(*pg, "profile", "--table", "subscriptions", "--json").stdout)
    assert found["source"] == "registry"
    table = found["tables"][0]
    assert sorted(table["metrics"]) == ["arr", "churn_rate", "mrr"]
    status = next(c for c in table["columns"] if c["name"] == "status")
    assert status["description"] == "active or churned"
