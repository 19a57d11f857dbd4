"""Renaming a metric through the CLI (embedded, and through a server), and an old id asked
of the MCP server."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.cli.conftest import Run
from tests.served import DA, make_token, served


@pytest.mark.parametrize("door", ["embedded", "server"])
def test_rename_at_the_cli(da: Run, data: Path, tmp_path: Path, door: str) -> None:
    env = {"DA_TOKEN": make_token(data, "boss")} if door == "server" else None
    with served(data) if door == "server" else nullcontext():
        done = da("metrics", "rename", "revenue/mrr", "revenue/mrr_v2", "--reason", "v2", env=env)
        assert done.exit_code == 0, done.stderr
        assert done.stdout.strip() == "renamed revenue/mrr to revenue/mrr_v2 (version 2)"
        old = da("metrics", "show", "revenue/mrr", "--json", env=env)
        assert old.exit_code == 0, old.stderr
        assert json.loads(old.stdout)["id"] == "revenue/mrr_v2"
        assert "revenue/mrr was renamed to revenue/mrr_v2" in old.stderr
        history = json.loads(da("metrics", "history", "revenue/mrr", "--json", env=env).stdout)
        assert [e["what"] for e in history] == [
            "created",
            "renamed from revenue/mrr to revenue/mrr_v2",
        ]
        refused = da("metrics", "update", "revenue/mrr", "--set", "unit=EUR", env=env)
        assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
        assert "renamed to 'revenue/mrr_v2'" in refused.stderr
        clash = da("metrics", "rename", "revenue/arr", "revenue/mrr_v2", "--reason", "x", env=env)
        assert clash.exit_code == 1 and "exists" in clash.stderr
        folder = tmp_path / "out"
        assert da("metrics", "export", "--dir", str(folder), env=env).exit_code == 0
        file = yaml.safe_load((folder / "revenue" / "mrr_v2.yml").read_text())
        assert file["identity"] == "revenue/mrr"
        # The file renamed once more and imported: a rename, with its history.
        file["name"] = "mrr_v3"
        (folder / "revenue" / "mrr_v2.yml").unlink()
        (folder / "revenue" / "mrr_v3.yml").write_text(yaml.safe_dump(file))
        report = json.loads(da("metrics", "import", str(folder), "--json", env=env).stdout)
        assert report["renamed"] == ["revenue/mrr_v2 -> revenue/mrr_v3"]
        assert report["added"] == []
        shown = json.loads(da("metrics", "show", "revenue/mrr", "--json", env=env).stdout)
        assert (shown["id"], shown["version"]) == ("revenue/mrr_v3", 3)
        assert da("audit", "verify", env=env).exit_code == 0


def test_an_agent_asking_by_an_old_id_gets_the_renamed_metric(da: Run, data: Path) -> None:
    assert da("metrics", "rename", "revenue/mrr", "revenue/mrr_v2", "--reason", "v2").exit_code == 0
    params = StdioServerParameters(command=DA, args=["--data-dir", str(data), "mcp"])

    async def main() -> dict[str, Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            got = await session.call_tool("get_metric", {"metric_id": "revenue/mrr"})
            ran = await session.call_tool("run_metric", {"metric_id": "revenue/mrr"})
            return {"got": got, "ran": ran}

    answers = {k: json.loads(v.content[0].text) for k, v in anyio.run(main).items()}
    assert (answers["got"]["id"], answers["got"]["renamed_from"]) == (
        "revenue/mrr_v2",
        "revenue/mrr",
    )
    assert answers["ran"]["id"] == "revenue/mrr_v2" and answers["ran"]["row_count"] > 0
