"""`da mcp`: the registry for AI agents, as a Model Context Protocol server over stdio.

Built on the official `mcp` SDK. Every tool is one call to the same Backend every other
command uses (embedded, or the running server), so an agent sees the registry's own answers
and words. A registry error comes back as a tool error. Every tool reads, but one:
`propose_change` suggests a change as a proposal, which a person (an admin who is not the
agent) approves elsewhere; no tool here approves, rejects or writes directly.
"""

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

import typer

from cli.backend import Backend, Write, backend_for

INSTRUCTIONS = """\
This server holds the company's canonical definitions of its business metrics.
Before computing any business metric (MRR, churn, active users, ...):
1. search_metrics with the user's words to find it;
2. get_metric for its canonical SQL, variants, notes (business rules), unit and grain;
3. use that SQL exactly as written, or run it with run_metric; never write your own.
If no metric fits the question, say so plainly instead of improvising a calculation.
A metric whose certification is `certified` is one the company stands behind at that version.
If a definition looks wrong, propose_change with the fix and why: a person approves it."""
USE_AS_IS = " Use the `sql` (or a variant in `sql_variants`) exactly as written; never rewrite it."


def build_server(backend_of: Callable[[], Backend]) -> Any:
    """The MCP server with its tools and resources; each call asks `backend_of()` for its
    backend (embedded, or a server that started meanwhile) and lets it go afterwards, so an
    agent's long session never holds the embedded database between calls."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.server.mcpserver.resources import FunctionResource

    from registry.errors import RegistryError

    server = MCPServer("metrics-registry", instructions=INSTRUCTIONS)
    lock = threading.Lock()  # one call at a time

    def answer(call: Callable[[Backend], Any]) -> Any:
        try:
            with lock:
                backend = backend_of()
                try:
                    return call(backend)
                finally:
                    backend.release()
        except RegistryError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    def search_metrics(query: str, limit: int = 10) -> dict[str, Any]:
        """Find the canonical metric for a question in plain words ("revenue per month",
        "how many new customers"), best match first, with the words that matched. If nothing
        fits, tell the user no canonical metric exists rather than inventing one."""
        return dict(answer(lambda b: b.metric_search(query, limit)))

    def moment(text: str | None, name: str) -> datetime | None:
        """A time an agent gave, read by the registry's one parser."""
        from registry.times import parse_time

        try:
            return None if text is None else parse_time(text, name)
        except RegistryError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool(
        description="A metric's canonical definition by id (`category/name`): now, at a"
        " version, as the registry recorded it at a time (`as_of`), or the definition in force"
        " at a business date (`valid_at`, e.g. 2025-07-01: which rule applied to Q3 2025),"
        " as known now or at `as_of`. Times are ISO 8601." + USE_AS_IS
    )
    def get_metric(
        metric_id: str,
        version: int | None = None,
        as_of: str | None = None,
        valid_at: str | None = None,
    ) -> dict[str, Any]:
        recorded, valid = moment(as_of, "as_of"), moment(valid_at, "valid_at")
        return dict(answer(lambda b: b.metric(metric_id, version, recorded, valid)))

    @server.tool()
    def metric_periods(
        metric_id: str, valid_from: str, valid_to: str, as_of: str | None = None
    ) -> dict[str, Any]:
        """A metric through a range of business dates (e.g. a quarter), piece by piece: each
        definition in force with the sub-range it covers, as known now (or at `as_of`). Use
        it when a period spans a change of rule: compute each piece with its own SQL."""
        start = moment(valid_from, "valid_from") or datetime.min
        end = moment(valid_to, "valid_to") or datetime.max
        recorded = moment(as_of, "as_of")
        return dict(answer(lambda b: b.metric_periods(metric_id, start, end, recorded)))

    @server.tool()
    def metric_timeline(metric_id: str) -> dict[str, Any]:
        """A metric's versions on both time axes: when each was recorded, from when it is in
        force, the stretches it governs as known now, and its status (in force, scheduled,
        past, superseded)."""
        return dict(answer(lambda b: b.metric_timeline(metric_id)))

    @server.tool()
    def list_metrics(category: str | None = None, valid_at: str | None = None) -> dict[str, Any]:
        """Every live metric (or one category's): ids, display names, units, versions; with
        `valid_at` (a business date), the definitions in force then."""
        valid = moment(valid_at, "valid_at")
        listed = answer(lambda b: b.metric_list(category, None, None, valid))["metrics"]
        keep = (
            "id",
            "display_name",
            "description",
            "unit",
            "type",
            "grain",
            "version",
            "certification",
        )
        return {"metrics": [{k: m.get(k) for k in keep} for m in listed], "count": len(listed)}

    @server.tool()
    def metric_history(metric_id: str) -> dict[str, Any]:
        """Every version of a metric: who changed what, when and why."""
        return dict(answer(lambda b: b.metric_history(metric_id)))

    @server.tool()
    def diff_metric(
        metric_id: str, from_version: int | None = None, to_version: int | None = None
    ) -> dict[str, Any]:
        """What changed between two versions of a metric (default: the previous and the
        current one), field by field, with the SQL as a unified diff."""
        return dict(
            answer(lambda b: b.metric_diff(metric_id, (from_version, to_version), (None, None)))
        )

    @server.tool()
    def table_map() -> dict[str, Any]:
        """Which metrics read which table: `{table: [metric names]}`."""
        return {"tables": answer(lambda b: b.table_map())}

    @server.tool()
    def describe_table(table: str) -> dict[str, Any]:
        """A table's described columns (type, meaning, confidence) and the metrics that read it."""
        return dict(answer(lambda b: b.describe_table(table)))

    @server.tool()
    def run_metric(
        metric_id: str, variant: str | None = None, limit: int = 100, valid_at: str | None = None
    ) -> dict[str, Any]:
        """Run a metric's canonical SQL (or a variant such as `by_plan`) exactly as stored, on
        the analytics database, read-only: the SQL that ran, the metric's version and the rows;
        with `valid_at` (a business date), the definition in force then. Prefer this to
        writing SQL of your own."""
        valid = moment(valid_at, "valid_at")
        return dict(answer(lambda b: b.run_metric(metric_id, variant, limit, None, valid)))

    @server.tool()
    def validate_metric(metric_id: str) -> dict[str, Any]:
        """Check a metric against the analytics database: tables, columns, SQL and variants,
        and its structured fields computed beside its SQL. An empty list of findings means it
        is sound."""
        return dict(answer(lambda b: b.validation(metric_id, None)))

    @server.tool()
    def propose_change(
        metric_id: str,
        reason: str,
        changes: dict[str, Any] | None = None,
        action: Literal["update", "create", "delete", "rollback", "restore"] = "update",
        to_version: int | None = None,
    ) -> dict[str, Any]:
        """Suggest a change to a metric, for a person to approve: `changes` holds the fields
        to set (for `create`, the whole definition), `reason` says why (the approver reads
        it). Nothing changes until an admin who is not you approves it; the answer is the
        proposal (its number and state), or the metric if the change would change nothing."""
        target = None if action == "create" else metric_id
        fields = dict(changes or {})
        if action == "create":
            category, _, name = metric_id.partition("/")
            fields = {"category": category, "name": name, **fields}
        write = Write(reason=reason)
        return dict(answer(lambda b: b.propose(action, target, fields, to_version, write)))

    @server.tool()
    def list_proposals(state: str | None = None) -> dict[str, Any]:
        """Proposed changes, newest first (or those in one state: open, stale, approved,
        rejected, withdrawn): who proposed what, why, and what was decided."""
        return dict(answer(lambda b: b.proposal_list(state)))

    @server.tool()
    def get_proposal(number: int) -> dict[str, Any]:
        """One proposal, each change with its differences from the current version."""
        return dict(answer(lambda b: b.proposal(number)))

    @server.resource(
        "metric://{category}/{name}",
        name="metric",
        description="A metric's canonical definition (JSON)." + USE_AS_IS,
        mime_type="application/json",
    )
    def metric_resource(category: str, name: str) -> str:
        return json.dumps(answer(lambda b: b.metric(f"{category}/{name}", None)))

    def reader(metric_id: str) -> Callable[[], str]:
        return lambda: json.dumps(answer(lambda b: b.metric(metric_id, None)))

    for metric in answer(lambda b: b.metric_list(None, None, None))["metrics"]:
        server.add_resource(
            FunctionResource(
                uri=f"metric://{metric['id']}",
                name=metric["id"],
                title=metric.get("display_name"),
                description=metric.get("description"),
                mime_type="application/json",
                fn=reader(metric["id"]),
            )
        )
    return server


def mcp(ctx: typer.Context) -> None:
    """Serve the registry to AI agents over MCP (stdio): search, read, diff and run metrics,
    and propose changes for a person to approve."""
    target = replace(ctx.obj, door="mcp")  # embedded, its proposals record the MCP door
    build_server(lambda: backend_for(target)).run("stdio")
