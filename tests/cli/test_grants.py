"""Table grants through the remote CLI and the MCP server over a token (issue 24): an
analyst limited to `orders` sees total_revenue and never MRR; embedded, with no token, the
owner of the database sees everything."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.cli.conftest import Run
from tests.served import DA, served

SEEN = ["revenue/total_revenue", "sales/new_customers"]


def _limited_token(da: Run) -> str:
    made = da(
        "tokens", "create", "--role", "analyst", "--name", "orders-only", "--tables", "orders"
    )
    assert made.exit_code == 0, made.stderr
    return made.stdout.strip()


def test_the_remote_cli_shows_only_what_reads_orders(da: Run, data: Path) -> None:
    token = _limited_token(da)
    listed = da("tokens", "list")
    assert "orders-only" in listed.stdout and "tables orders" in listed.stdout
    embedded = json.loads(da("metrics", "list", "--json").stdout)
    assert "revenue/mrr" in [m["id"] for m in embedded]  # no token: everything
    env = {"DA_TOKEN": token}
    with served(data):
        shown = json.loads(da("metrics", "list", "--json", env=env).stdout)
        hidden = da("metrics", "show", "revenue/mrr", env=env)
        missing = da("metrics", "show", "revenue/never", env=env)
        history = da("metrics", "history", "revenue/mrr", env=env)
        run = da("metrics", "run", "revenue/mrr", env=env)
        visible = da("metrics", "show", "revenue/total_revenue", "--json", env=env)
    assert [m["id"] for m in shown] == SEEN
    assert hidden.exit_code == missing.exit_code == 1
    assert hidden.stderr == missing.stderr.replace("revenue/never", "revenue/mrr")
    assert history.exit_code == 1 and "has no history" in history.stderr
    assert run.exit_code == 1 and hidden.stderr == run.stderr
    assert json.loads(visible.stdout)["table_name"] == "orders"


def test_an_agent_over_a_limited_token_sees_only_what_reads_orders(da: Run, data: Path) -> None:
    token = _limited_token(da)
    params = StdioServerParameters(
        command=DA, args=["--data-dir", str(data), "mcp"], env={**os.environ, "DA_TOKEN": token}
    )

    async def main() -> dict[str, Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            listed = await session.call_tool("list_metrics", {})
            hidden = await session.call_tool("get_metric", {"metric_id": "revenue/mrr"})
            missing = await session.call_tool("get_metric", {"metric_id": "revenue/never"})
            found = await session.call_tool("search_metrics", {"query": "recurring revenue"})
            return {"listed": listed, "hidden": hidden, "missing": missing, "found": found}

    with served(data):
        got = anyio.run(main)
    listed = json.loads(got["listed"].content[0].text)
    assert [m["id"] for m in listed["metrics"]] == SEEN
    assert got["hidden"].is_error and got["missing"].is_error
    assert got["hidden"].content[0].text == got["missing"].content[0].text.replace(
        "revenue/never", "revenue/mrr"
    )
    found = json.loads(got["found"].content[0].text)
    assert "revenue/mrr" not in [m["id"] for m in found["metrics"]]
