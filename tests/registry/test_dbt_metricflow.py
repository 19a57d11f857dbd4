"""The dbt export computes, in MetricFlow over the demo data, the numbers `da metrics run`
gives (issue 19, item 3): every exported metric, period by period, 0 wrong.

The export goes through the installed `da` (its door); MetricFlow runs from dbt's own
virtual environment (tests/dbt_env.py), on a dbt project made of the export, a staging model
per demo table and a time spine.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from starter_pack.demo_db import TABLES
from tests.dbt_env import dbt_bin

DA = shutil.which("da") or "da"
PROFILE = """\
metrics_registry:
  target: demo
  outputs:
    demo:
      type: duckdb
      path: {work}
      threads: 1
      attach:
        - path: {demo}
          alias: demo
          read_only: true
"""
TIME_SPINE = """\
models:
  - name: metricflow_time_spine
    time_spine:
      standard_granularity_column: date_day
    columns:
      - name: date_day
        granularity: day
"""


def da(data: Path, *args: str) -> Any:
    done = subprocess.run(
        [DA, "--data-dir", str(data), *args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout) if "--json" in args else done.stdout


def _day(text: str) -> str:
    return str(text)[:10]


def _number(text: Any) -> float | None:
    return None if text in (None, "") else float(text)


def _same(mine: float | None, theirs: float | None) -> bool:
    if mine is None or theirs is None:
        return mine is theirs
    return math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.slow
def test_every_exported_metric_computes_in_metricflow_what_the_registry_computes(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    da(data, "demo")
    project = tmp_path / "project"
    report = da(data, "metrics", "export", "--format", "dbt", "--dir", str(project), "--json")
    exported: dict[str, dict[str, str]] = report["exported"]
    assert report["not_exported"] == {
        "product_usage/feature_adoption": "the SQL has a WITH clause",
        "revenue/churn_rate": "the SQL has a WITH clause",
        "sales/new_customers": "the SQL has a WITH clause",
    }
    # The project a dbt user would have around the export: a profile, a model per table
    # (here straight from the demo database) and a time spine.
    (project / "dbt_project.yml").write_text(
        (project / "dbt_project.yml").read_text() + "profile: metrics_registry\n"
    )
    demo = data / "demo" / "analytics.duckdb"
    (project / "profiles.yml").write_text(PROFILE.format(work=tmp_path / "dbt.duckdb", demo=demo))
    for table in TABLES:
        (project / "models" / f"{table}.sql").write_text(f"select * from demo.main.{table}\n")
    (project / "models" / "metricflow_time_spine.sql").write_text(
        "select cast(range as date) as date_day"
        " from range(date '2020-01-01', date '2030-01-01', interval 1 day)\n"
    )
    (project / "models" / "time_spine.yml").write_text(TIME_SPINE)
    tools = dbt_bin()
    env = {**os.environ, "DBT_PROFILES_DIR": str(project), "DO_NOT_TRACK": "1"}

    def run(*command: str) -> None:
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    run(str(tools / "dbt"), "build", "--quiet")
    theirs: dict[str, dict[str, float | None]] = {}
    grains = sorted({e["grain"] for e in exported.values()})
    for grain in grains:
        names = [e["dbt_metric"] for e in exported.values() if e["grain"] == grain]
        out = tmp_path / f"{grain}.csv"
        bucket = f"metric_time__{grain}"
        run(
            str(tools / "mf"),
            "query",
            "--metrics",
            ",".join(names),
            "--group-by",
            bucket,
            "--csv",
            str(out),
        )
        with out.open() as rows:
            for row in csv.DictReader(rows):
                for name in names:
                    if row[name] != "":
                        theirs.setdefault(name, {})[_day(row[bucket])] = _number(row[name])

    wrong, exact = [], []
    for metric_id, entry in sorted(exported.items()):
        ran = da(data, "metrics", "run", metric_id, "--json", "--limit", "10000")
        assert not ran["truncated"]
        mine = {_day(r[0]): _number(r[1]) for r in ran["rows"] if r[1] is not None}
        got = theirs.get(entry["dbt_metric"], {})
        same = mine.keys() == got.keys() and all(_same(mine[k], got[k]) for k in mine)
        (exact if same and mine else wrong).append(metric_id)
    print(f"exact in MetricFlow: {len(exact)} of {len(exported)} exported: {exact}")
    assert wrong == []
    assert len(exact) >= 8
