"""Effective dates through the CLI (embedded, and through a server), and the MCP server."""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from freezegun import freeze_time
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.cli.conftest import Run
from tests.served import DA, make_token, served


def _day(offset: int) -> str:
    return (datetime.now(UTC) + timedelta(days=offset)).date().isoformat()


@pytest.mark.parametrize("door", ["embedded", "server"])
def test_a_dated_change_at_every_command(da: Run, data: Path, tmp_path: Path, door: str) -> None:
    env = None
    if door == "server":
        env = {"DA_TOKEN": make_token(data, "boss")}
    with served(data) if door == "server" else nullcontext():
        written = da(
            "metrics", "update", "revenue/mrr", "--set", "sql=SELECT 2 AS mrr",
            "--effective-from", _day(2), "--reason", "the new rule", "--json", env=env,
        )  # fmt: skip
        assert written.exit_code == 0, written.stderr
        assert json.loads(written.stdout)["sql"] != "SELECT 2 AS mrr"  # not yet in force
        later = da("metrics", "show", "revenue/mrr", "--valid-at", _day(3), "--json", env=env)
        assert json.loads(later.stdout)["sql"] == "SELECT 2 AS mrr"
        assert json.loads(later.stdout)["version"] == 2
        listed = da("metrics", "list", "--valid-at", _day(3), "--json", env=env)
        versions = {m["id"]: m["version"] for m in json.loads(listed.stdout)}
        assert versions["revenue/mrr"] == 2 and versions["revenue/arr"] == 1
        spans = da(
            "metrics", "show", "revenue/mrr", "--valid-from", _day(-1), "--valid-to", _day(5),
            env=env,
        )  # fmt: skip
        assert spans.exit_code == 0, spans.stderr
        assert f"{_day(2)} -> {_day(5)}  v2 (effective from {_day(2)})" in spans.stdout
        assert "sql: SELECT 2 AS mrr" in spans.stdout
        axes = da("metrics", "timeline", "revenue/mrr", env=env)
        assert axes.exit_code == 0, axes.stderr
        assert max(len(line) for line in axes.stdout.splitlines()) <= 80
        lines = axes.stdout.splitlines()
        assert lines[2].split()[-2:] == ["in", "force"] and lines[3].endswith("scheduled")
        history = da("metrics", "history", "revenue/mrr", "--json", env=env)
        last = json.loads(history.stdout)[-1]
        assert (last["what"], last["effective_from"]) == (
            "updated, scheduled",
            f"{_day(2)}T00:00:00",
        )
        folder = tmp_path / "export"
        exported = da("metrics", "export", "--dir", str(folder), "--valid-at", _day(3), env=env)
        assert exported.exit_code == 0, exported.stderr
        assert yaml.safe_load((folder / "revenue" / "mrr.yml").read_text())["sql"].strip() == (
            "SELECT 2 AS mrr"
        )
        ran = da("metrics", "run", "revenue/mrr", "--valid-at", _day(3), "--json", env=env)
        assert json.loads(ran.stdout)["rows"] == [[2]]
        retired = da(
            "columns", "set", "orders", "amount", "--description", "gone soon",
            "--effective-from", _day(-30), env=env,
        )  # fmt: skip
        assert retired.exit_code == 0, retired.stderr
        refused = da(
            "metrics", "update", "revenue/mrr", "--set", "unit=EUR",
            "--effective-from", "2001-01-01", env=env,
        )  # fmt: skip
        assert refused.exit_code == 1
        assert refused.stderr.count("\n") == 1 and "nothing was in force at 2001-01-01" in (
            refused.stderr
        )


def test_the_cli_brings_a_due_change_in_when_it_opens_the_registry(da: Run) -> None:
    start = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    with freeze_time(start):
        written = da(
            "metrics", "update", "revenue/arr", "--set", "unit=EUR",
            "--effective-from", (start + timedelta(days=1)).isoformat(), env=None,
        )  # fmt: skip
        assert written.exit_code == 0, written.stderr
        assert json.loads(da("metrics", "show", "revenue/arr", "--json").stdout)["unit"] == "USD"
    with freeze_time(start + timedelta(days=1, seconds=1)):
        shown = json.loads(da("metrics", "show", "revenue/arr", "--json").stdout)
        assert (shown["unit"], shown["version"]) == ("EUR", 3)
        last = json.loads(da("metrics", "history", "revenue/arr", "--json").stdout)[-1]
        assert (last["what"], last["door"], last["actor"]) == ("v2 took effect", "cli", "registry")
        assert da("audit", "verify").exit_code == 0


def test_an_agent_asks_which_rule_was_in_force(da: Run, data: Path) -> None:
    da(
        "metrics", "update", "revenue/mrr", "--set", "sql=SELECT 2 AS mrr",
        "--effective-from", _day(2), "--reason", "the new rule",
    )  # fmt: skip
    params = StdioServerParameters(command=DA, args=["--data-dir", str(data), "mcp"])

    async def main() -> dict[str, Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            calls = {
                "then": ("get_metric", {"metric_id": "revenue/mrr", "valid_at": _day(3)}),
                "now": ("get_metric", {"metric_id": "revenue/mrr"}),
                "listed": ("list_metrics", {"valid_at": _day(3)}),
                "spans": (
                    "metric_periods",
                    {"metric_id": "revenue/mrr", "valid_from": _day(-1), "valid_to": _day(5)},
                ),
                "axes": ("metric_timeline", {"metric_id": "revenue/mrr"}),
                "ran": ("run_metric", {"metric_id": "revenue/mrr", "valid_at": _day(3)}),
                "bad": ("get_metric", {"metric_id": "revenue/mrr", "valid_at": "soon"}),
            }
            return {k: await session.call_tool(n, a) for k, (n, a) in calls.items()}

    got = anyio.run(main)
    shown = {k: json.loads(v.content[0].text) for k, v in got.items() if k != "bad"}
    assert shown["then"]["sql"] == "SELECT 2 AS mrr" and shown["now"]["sql"] != "SELECT 2 AS mrr"
    mrr = next(m for m in shown["listed"]["metrics"] if m["id"] == "revenue/mrr")
    assert mrr["version"] == 2
    assert [p["version"] for p in shown["spans"]["periods"]] == [None, 1, 2]  # made today
    assert [a["status"] for a in shown["axes"]["versions"]] == ["in force", "scheduled"]
    assert shown["ran"]["rows"] == [[2]]
    assert got["bad"].is_error and "valid_at" in got["bad"].content[0].text


@pytest.mark.parametrize("door", ["embedded", "server"])
def test_an_import_of_dated_files(da: Run, data: Path, tmp_path: Path, door: str) -> None:
    folder = tmp_path / "metrics" / "revenue"
    folder.mkdir(parents=True)
    shown = json.loads(da("metrics", "show", "revenue/arr", "--json").stdout)
    (folder / "arr.yml").write_text(
        f"name: arr\ncategory: revenue\nsql: {shown['sql']!r}\nunit: EUR\n"
        f"effective_from: {_day(10)}\n"
    )
    (folder / "new_one.yml").write_text("name: new_one\nsql: SELECT 1\n")
    env = {"DA_TOKEN": make_token(data, "boss")} if door == "server" else None
    with served(data) if door == "server" else nullcontext():
        done = da(
            "metrics", "import", str(tmp_path / "metrics"), "--effective-from", _day(-1),
            "--json", env=env,
        )  # fmt: skip
        assert done.exit_code == 0, done.stderr
        report = json.loads(done.stdout)
        assert sorted(report["written"]) == ["revenue/arr", "revenue/new_one"]
        now = json.loads(da("metrics", "show", "revenue/arr", "--json", env=env).stdout)
        assert now["unit"] == "USD"  # the file's own date is to come
        later = da("metrics", "show", "revenue/arr", "--valid-at", _day(11), "--json", env=env)
        assert json.loads(later.stdout)["unit"] == "EUR"
        made = json.loads(da("metrics", "history", "revenue/new_one", "--json", env=env).stdout)
        assert [(e["what"], e["effective_from"]) for e in made] == [
            ("created", f"{_day(-1)}T00:00:00")
        ]
        (folder / "arr.yml").write_text("name: arr\nsql: SELECT 1\neffective_from: soon\n")
        bad = da("metrics", "import", str(folder / "arr.yml"), env=env)
        assert bad.exit_code == 1
        assert "arr.yml:3: effective_from: 'soon' is not a time" in bad.stdout + bad.stderr
