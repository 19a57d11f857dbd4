"""`da mcp` driven by the MCP SDK's own stdio client: tools, resources and tool errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.cli.conftest import Run
from tests.served import DA

TOOLS = {
    "search_metrics",
    "get_metric",
    "list_metrics",
    "metric_history",
    "metric_periods",
    "metric_timeline",
    "diff_metric",
    "table_map",
    "describe_table",
    "run_metric",
    "validate_metric",
    "propose_change",
    "list_proposals",
    "get_proposal",
}


def session_run(data: Path, script: Any) -> Any:
    """Start `da mcp` on a data folder, run `script(session)`, and return what it returns."""
    params = StdioServerParameters(command=DA, args=["--data-dir", str(data), "mcp"])

    async def main() -> Any:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await script(session)

    return anyio.run(main)


def payload(result: Any) -> Any:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def test_every_tool_answers_from_the_registry(da: Run, data: Path) -> None:
    da("metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--reason", "finance")

    async def script(session: ClientSession) -> dict[str, Any]:
        tools = await session.list_tools()
        calls = {
            "search": ("search_metrics", {"query": "revenue per month", "limit": 2}),
            "get": ("get_metric", {"metric_id": "revenue/mrr"}),
            "get_v1": ("get_metric", {"metric_id": "revenue/mrr", "version": 1}),
            "get_then": ("get_metric", {"metric_id": "revenue/mrr", "as_of": "2999-01-01"}),
            "list": ("list_metrics", {"category": "revenue"}),
            "history": ("metric_history", {"metric_id": "revenue/mrr"}),
            "diff": ("diff_metric", {"metric_id": "revenue/mrr"}),
            "map": ("table_map", {}),
            "table": ("describe_table", {"table": "subscriptions"}),
            "run": ("run_metric", {"metric_id": "revenue/mrr", "variant": "by_plan", "limit": 2}),
            "validate": ("validate_metric", {"metric_id": "revenue/mrr"}),
        }
        results = {k: payload(await session.call_tool(n, a)) for k, (n, a) in calls.items()}
        results["tools"] = {t.name: t.description for t in tools.tools}
        return results

    got = session_run(data, script)
    assert set(got["tools"]) == TOOLS
    assert "exactly as written" in got["tools"]["get_metric"]
    assert "tell the user no canonical metric exists" in got["tools"]["search_metrics"]
    assert got["search"]["metrics"][0]["id"] == "revenue/mrr" and got["search"]["count"] == 2
    assert (got["get"]["unit"], got["get"]["version"]) == ("EUR", 2)
    assert got["get_v1"]["unit"] == "USD" and got["get_then"]["unit"] == "EUR"
    assert [m["id"] for m in got["list"]["metrics"]][:2] == ["revenue/arr", "revenue/churn_rate"]
    assert [v["reason"] for v in got["history"]["versions"]] == ["da demo", "finance"]
    # Door and writer as the log holds them: the demo's import, then a hand edit in the CLI.
    assert [(v["door"], v["writer"], v["what"]) for v in got["history"]["versions"]] == [
        ("cli", "yaml_import", "created"),
        ("cli", "manual", "updated"),
    ]
    assert got["diff"]["changes"] == [
        {"field": "unit", "old": "USD", "new": "EUR"},
        {"field": "source", "old": "yaml_import", "new": "manual"},
        {"field": "source_ref", "old": "starter_pack", "new": None},
    ]
    assert "mrr" in got["map"]["tables"]["subscriptions"]
    assert {m["id"] for m in got["table"]["metrics"]} >= {"revenue/mrr", "revenue/arr"}
    assert got["run"]["columns"] == ["month", "plan_type", "mrr"] and got["run"]["row_count"] == 2
    assert got["validate"]["findings"] == []


def test_resources_and_tool_errors(da: Run, data: Path) -> None:
    da("metrics", "create", "-f", str(write_evil(data)))

    async def script(session: ClientSession) -> dict[str, Any]:
        resources = await session.list_resources()
        templates = await session.list_resource_templates()
        read = await session.read_resource("metric://revenue/arr")
        bad = {
            "unknown": await session.call_tool("get_metric", {"metric_id": "revenue/nope"}),
            "version": await session.call_tool(
                "get_metric", {"metric_id": "revenue/mrr", "version": 99}
            ),
            "variant": await session.call_tool(
                "run_metric", {"metric_id": "revenue/mrr", "variant": "by_moon"}
            ),
            "writes": await session.call_tool("run_metric", {"metric_id": "ops/evil"}),
            "types": await session.call_tool("get_metric", {"metric_id": 5, "version": "x"}),
        }
        return {
            "resources": [str(r.uri) for r in resources.resources],
            "templates": [t.uri_template for t in templates.resource_templates],
            "read": json.loads(read.contents[0].text),
            "bad": {k: (v.is_error, v.content[0].text) for k, v in bad.items()},
        }

    got = session_run(data, script)
    assert "metric://revenue/mrr" in got["resources"] and len(got["resources"]) == 12
    assert got["templates"] == ["metric://{category}/{name}"]
    assert got["read"]["id"] == "revenue/arr" and got["read"]["sql"].startswith("SELECT")
    bad = got["bad"]
    assert all(is_error for is_error, _ in bad.values()), bad
    assert "metric 'revenue/nope' does not exist" in bad["unknown"][1]
    assert "has no version 99" in bad["version"][1]
    assert "its variants: by_plan" in bad["variant"][1]
    assert "current_setting() tells about the server" in bad["writes"][1]


def write_evil(data: Path) -> Path:
    path = data.parent / "ops" / "evil.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    # One SELECT (SQL that writes is refused when written), but it asks about the server.
    path.write_text("name: evil\nsql: SELECT current_setting('threads')\n")
    return path


def test_the_agent_gets_the_limits_and_times_it_asked_for(
    da: Run, data: Path, tmp_path: Path
) -> None:
    """The MCP door passes what the agent asked for to the registry's one answer: no cap
    of its own on a search, and a metric as it stood at a time, read from its own stream."""
    folder = tmp_path / "signals" / "growth"
    folder.mkdir(parents=True)
    for n in range(25):
        (folder / f"signal_{n}.yml").write_text(
            f"name: signal_{n}\ndescription: Pinecone signal number {n}.\nsql: SELECT {n}\n"
        )
    assert da("metrics", "import", str(tmp_path / "signals")).exit_code == 0
    da("metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--reason", "finance")
    versions = json.loads(da("metrics", "history", "revenue/mrr", "--json").stdout)
    first_recorded = versions[0]["recorded_at"]

    async def script(session: ClientSession) -> dict[str, Any]:
        calls = {
            "many": ("search_metrics", {"query": "pinecone signal", "limit": 25}),
            "too_many": ("search_metrics", {"query": "pinecone", "limit": 101}),
            "then": ("get_metric", {"metric_id": "revenue/mrr", "as_of": first_recorded}),
            "before": ("get_metric", {"metric_id": "revenue/mrr", "as_of": "2000-01-01"}),
        }
        out = {}
        for key, (name, arguments) in calls.items():
            result = await session.call_tool(name, arguments)
            out[key] = (result.is_error, result.content[0].text)
        return out

    got = session_run(data, script)
    many = json.loads(got["many"][1])
    assert not got["many"][0] and many["count"] == 25 and len(many["metrics"]) == 25
    assert got["too_many"][0] and "limit: 101 is not between 1 and 100" in got["too_many"][1]
    then = json.loads(got["then"][1])
    assert not got["then"][0] and (then["unit"], then["version"]) == ("USD", 1)
    assert got["before"][0]
    assert "metric 'revenue/mrr' did not exist at 2000-01-01T00:00:00Z" in got["before"][1]


def test_an_agents_session_never_locks_anyone_out(da: Run, data: Path) -> None:
    """Between calls `da mcp` holds nothing: other commands run meanwhile, and a server
    started during the session is used by the next call (with the token the README's
    snippet passes)."""
    import os
    import subprocess

    from tests.served import make_token, served

    token = make_token(data, "agent", "analyst")
    params = StdioServerParameters(
        command=DA,
        args=["--data-dir", str(data), "mcp"],
        env={**os.environ, "DA_TOKEN": token},
    )

    def others(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DA, "--data-dir", str(data), *args], capture_output=True, text=True, timeout=60
        )

    async def main() -> dict[str, Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            first = payload(await session.call_tool("get_metric", {"metric_id": "revenue/mrr"}))
            listed = others("metrics", "list", "--json")  # while the agent's session is open
            updated = others("metrics", "update", "revenue/mrr", "--set", "unit=EUR")
            with served(data):
                through_server = payload(
                    await session.call_tool("get_metric", {"metric_id": "revenue/mrr"})
                )
            after = payload(await session.call_tool("get_metric", {"metric_id": "revenue/mrr"}))
            return {
                "first": first,
                "listed": (listed.returncode, listed.stderr),
                "updated": (updated.returncode, updated.stderr),
                "through_server": through_server,
                "after": after,
            }

    got = anyio.run(main)
    assert got["first"]["unit"] == "USD"
    assert got["listed"] == (0, "") and got["updated"] == (0, "")
    assert (got["through_server"]["unit"], got["through_server"]["version"]) == ("EUR", 2)
    assert got["after"]["unit"] == "EUR"


def test_an_agent_proposes_a_fix_and_only_a_person_applies_it(da: Run, data: Path) -> None:
    """Issue 22: `propose_change` records a proposal through the MCP door; no tool can
    approve; the agent sees certification and its lapse; embedded and through a server with
    the analyst token an agent is given."""
    import os

    from tests.served import make_token, served

    da("--actor", "boss", "metrics", "certify", "revenue/churn_rate", "--note", "checked")

    async def script(session: ClientSession) -> dict[str, Any]:
        tools = {t.name for t in (await session.list_tools()).tools}
        fix = {"metric_id": "revenue/mrr", "reason": "unit is EUR", "changes": {"unit": "EUR"}}
        proposed = payload(await session.call_tool("propose_change", fix))
        shown = payload(await session.call_tool("get_proposal", {"number": 1}))
        churn = payload(await session.call_tool("get_metric", {"metric_id": "revenue/churn_rate"}))
        listed = payload(await session.call_tool("list_metrics", {"category": "revenue"}))
        empty = await session.call_tool("propose_change", {**fix, "reason": ""})
        return {
            "tools": tools,
            "proposed": proposed,
            "shown": shown,
            "churn": churn,
            "listed": listed,
            "empty": empty,
        }

    params = StdioServerParameters(
        command=DA, args=["--data-dir", str(data), "--actor", "agent", "mcp"]
    )

    async def main(params: StdioServerParameters = params) -> dict[str, Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await script(session)

    got = anyio.run(main)
    assert not {t for t in got["tools"] if "approve" in t or "reject" in t}
    assert (got["proposed"]["status"], got["proposed"]["proposal"]["number"]) == ("proposed", 1)
    assert (got["shown"]["proposed_by"], got["shown"]["door"]) == ("agent", "mcp")
    assert got["shown"]["changes"][0]["diff"][-1] == {
        "field": "unit",
        "current": "USD",
        "proposed": "EUR",
    }
    assert got["churn"]["certification"]["state"] == "certified"
    certified = {m["id"]: m["certification"] for m in got["listed"]["metrics"]}
    assert certified["revenue/churn_rate"]["by"] == "boss" and certified["revenue/mrr"] is None
    assert got["empty"].is_error and "reason: is required" in got["empty"].content[0].text
    # The agent's proposal waits for a person; that person applies it.
    assert da("metrics", "show", "revenue/mrr", "--json").stdout.count('"USD"') >= 1
    done = da("--actor", "boss", "proposals", "approve", "1", "--reason", "right")
    assert done.exit_code == 0 and "approved by boss" in done.stdout
    # Through a server, with an analyst's token: the agent still only proposes.
    token = make_token(data, "agent-token", "analyst")
    remote = StdioServerParameters(
        command=DA, args=["--data-dir", str(data), "mcp"], env={**os.environ, "DA_TOKEN": token}
    )
    da(
        "--actor",
        "boss",
        "metrics",
        "update",
        "revenue/churn_rate",
        "--set",
        "unit=ratio",
        "--reason",
        "changed",
    )

    async def over_http() -> dict[str, Any]:
        async with stdio_client(remote) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            fix = {"metric_id": "revenue/arr", "reason": "note", "changes": {"notes": ["x"]}}
            return {
                "proposed": payload(await session.call_tool("propose_change", fix)),
                "churn": payload(
                    await session.call_tool("get_metric", {"metric_id": "revenue/churn_rate"})
                ),
                "open": payload(await session.call_tool("list_proposals", {"state": "open"})),
            }

    with served(data):
        there = anyio.run(over_http)
    assert there["proposed"]["proposal"]["proposed_by"] == "agent-token"
    assert there["proposed"]["proposal"]["door"] == "api"  # the door the server saw
    lapsed = there["churn"]["certification"]
    assert (lapsed["state"], lapsed["version"]) == ("lapsed", 1)
    assert [p["number"] for p in there["open"]["proposals"]] == [2]
