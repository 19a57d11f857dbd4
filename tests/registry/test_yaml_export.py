"""Export (now, as of a time or position, one version) and the round trips SPEC 2 promises."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from freezegun import freeze_time

from registry import MetricRepository, RefusedError, answers
from registry.interchange.exports import export_yaml, metric_yaml
from registry.queries import definition_of


def definitions(repo: MetricRepository) -> list[dict[str, object]]:
    return [definition_of(m) for m in repo.list()]


def test_export_writes_one_file_per_metric_with_yaml_keys(
    starter: MetricRepository, tmp_path: Path
) -> None:
    files = export_yaml(starter.registry, tmp_path / "out")
    assert len(files) == 11
    mrr = yaml.safe_load((tmp_path / "out/revenue/mrr.yml").read_text())
    assert mrr["table"] == "subscriptions" and "table_name" not in mrr
    assert mrr["sql_by_plan"].startswith("SELECT billing_date AS month")
    assert "sql_variants" not in mrr
    assert "|" in (tmp_path / "out/revenue/mrr.yml").read_text().split("sql:")[1].splitlines()[0]


def test_round_trip_into_a_fresh_registry_gives_identical_definitions(
    starter: MetricRepository, tmp_path: Path
) -> None:
    starter.update("revenue/mrr", validation={"min": 0}, filters=["status = 'active'"])
    starter.create(name="odd", category="misc", sql="SELECT 'a: b'\n-- note", notes=["x: y", "- z"])
    assert starter.export_to_yaml(tmp_path / "out") == 12
    fresh = MetricRepository(duckdb.connect(), actor="b")
    assert fresh.import_from_yaml(tmp_path / "out") == 12
    assert definitions(fresh) == definitions(starter)


def test_importing_an_export_back_appends_nothing(
    starter: MetricRepository, tmp_path: Path
) -> None:
    starter.create(name="manual", category="misc", sql="SELECT 1")
    starter.export_to_yaml(tmp_path / "out")
    before = starter.registry.conn.execute("SELECT count(*) FROM event_log").fetchone()
    report = starter.reconcile_from_yaml(tmp_path / "out")
    assert report["written"] == [] and len(report["unchanged"]) == 12
    assert starter.registry.conn.execute("SELECT count(*) FROM event_log").fetchone() == before


def test_export_as_of_a_time_and_a_position(repo: MetricRepository, tmp_path: Path) -> None:
    with freeze_time("2026-01-01"):
        repo.create(name="mrr", category="revenue", sql="SELECT 1")
    with freeze_time("2026-02-01"):
        repo.update("revenue/mrr", sql="SELECT 2")
        repo.create(name="arr", category="revenue", sql="SELECT 12")
    export_yaml(repo.registry, tmp_path / "jan", as_of=datetime(2026, 1, 15))
    assert [p.name for p in (tmp_path / "jan/revenue").iterdir()] == ["mrr.yml"]
    assert yaml.safe_load((tmp_path / "jan/revenue/mrr.yml").read_text())["sql"] == "SELECT 1"
    export_yaml(repo.registry, tmp_path / "p2", at_position=2)
    assert yaml.safe_load((tmp_path / "p2/revenue/mrr.yml").read_text())["sql"] == "SELECT 2"
    assert not (tmp_path / "p2/revenue/arr.yml").exists()


def test_one_metric_at_a_version(repo: MetricRepository) -> None:
    repo.create(name="mrr", category="revenue", sql="SELECT 1", table_name="t")
    repo.update("revenue/mrr", sql="SELECT 2")
    old = yaml.safe_load(metric_yaml(answers.metric(repo.registry, "revenue/mrr", version=1)))
    assert (old["sql"], old["table"]) == ("SELECT 1", "t")
    now = yaml.safe_load(metric_yaml(answers.metric(repo.registry, "revenue/mrr")))
    assert (now["sql"], now["type"], now["grain"]) == ("SELECT 2", "sum", "monthly")


def test_export_refuses_a_non_empty_folder_unless_overwriting(
    repo: MetricRepository, tmp_path: Path
) -> None:
    repo.create(name="mrr", category="revenue", sql="SELECT 1")
    (tmp_path / "out").mkdir()
    (tmp_path / "out/notes.txt").write_text("mine")
    with pytest.raises(RefusedError, match="is not empty"):
        export_yaml(repo.registry, tmp_path / "out")
    assert not (tmp_path / "out/revenue").exists()
    export_yaml(repo.registry, tmp_path / "out", overwrite=True)
    assert (tmp_path / "out/revenue/mrr.yml").exists() and (tmp_path / "out/notes.txt").exists()


def test_overwrite_removes_files_of_metrics_no_longer_there(
    repo: MetricRepository, tmp_path: Path
) -> None:
    repo.create(name="mrr", category="revenue", sql="SELECT 1")
    repo.create(name="arr", category="revenue", sql="SELECT 12")
    export_yaml(repo.registry, tmp_path / "out")
    repo.delete("revenue/arr")
    export_yaml(repo.registry, tmp_path / "out", overwrite=True)
    assert [p.name for p in (tmp_path / "out/revenue").iterdir()] == ["mrr.yml"]


def test_export_never_writes_outside_its_folder(tmp_path: Path) -> None:
    """A legacy id cannot become a path out of the target, whatever it holds."""
    conn = duckdb.connect()
    repo = MetricRepository(conn)
    conn.execute(
        "INSERT INTO event_log SELECT 1, 'metric', '../evil', 1, 'MetricAdopted', 2,"
        ' \'{"definition": {"name": "../../evil", "category": "..", "sql": "SELECT 1",'
        ' "display_name": "e"}, "changed": []}\', \'x\', \'migration\', NULL, NULL, NULL, NULL, NULL,'
        " now(), '', ''"
    )
    repo.registry.projector.rebuild()
    assert [m["id"] for m in repo.list()] == ["../evil"]
    with pytest.raises(RefusedError, match="would leave"):
        export_yaml(repo.registry, tmp_path / "out")
    assert list(tmp_path.rglob("*.yml")) == []


def test_export_reports_its_progress(starter: MetricRepository, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    export_yaml(
        starter.registry, tmp_path / "out", progress=lambda done, total: seen.append((done, total))
    )
    assert seen[0] == (1, 11) and seen[-1] == (11, 11) and len(seen) == 11
