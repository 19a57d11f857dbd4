"""Governed changes through the CLI (issue 22), embedded and over a real `da serve`: the same
steps by two people give the same answers, and the CLI's own words for them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.cli.conftest import Run
from tests.cli.test_remote import VOLATILE, blank
from tests.served import make_token, served

WHEN = VOLATILE | {"proposed_at", "decided_at", "set_at", "at"}

# (who, command): alice proposes, bob is the second admin.
STEPS: list[tuple[str, list[str]]] = [
    (
        "alice",
        ["metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--propose", "--reason", "euro"],
    ),
    ("alice", ["proposals", "list"]),
    ("alice", ["proposals", "approve", "1", "--reason", "mine"]),  # four eyes: refused
    ("bob", ["proposals", "approve", "1", "--reason", "ok"]),
    ("bob", ["proposals", "approve", "1", "--reason", "again"]),  # decided already
    ("alice", ["metrics", "propose", "revenue/mrr", "--set", "unit=GBP", "--reason", "gbp"]),
    (
        "bob",
        [
            "metrics",
            "update",
            "revenue/mrr",
            "--set",
            "description=Moved.",
            "--reason",
            "meanwhile",
        ],
    ),
    ("bob", ["proposals", "approve", "2", "--reason", "ok"]),  # stale: refused
    ("bob", ["proposals", "show", "2"]),
    ("bob", ["proposals", "withdraw", "2", "--reason", "mine now"]),  # not the proposer
    ("alice", ["proposals", "withdraw", "2", "--reason", "never mind"]),
    ("alice", ["metrics", "delete", "revenue/arr", "--propose", "--reason", "gone"]),
    ("bob", ["proposals", "reject", "3", "--reason", "keep it"]),
    ("alice", ["metrics", "rollback", "revenue/mrr", "--to", "1", "--propose", "--reason", "undo"]),
    ("bob", ["proposals", "approve", "4", "--reason", "fine"]),
    ("alice", ["metrics", "update", "revenue/mrr", "--set", "unit=JPY", "--propose"]),  # no why
    ("bob", ["policy", "set", "approval=required", "--category", "revenue", "--reason", "sox"]),
    ("bob", ["policy", "show"]),
    ("bob", ["metrics", "update", "revenue/mrr", "--set", "unit=CHF", "--reason", "direct"]),
    ("alice", ["proposals", "list", "--state", "open"]),
    ("alice", ["proposals", "approve", "5", "--reason", "ok"]),
    ("bob", ["metrics", "certify", "operations/infrastructure_cost", "--note", "checked"]),
    ("alice", ["metrics", "show", "operations/infrastructure_cost"]),
    (
        "alice",
        [
            "metrics",
            "update",
            "operations/infrastructure_cost",
            "--set",
            "unit=EUR",
            "--reason",
            "euro",
        ],
    ),
    ("alice", ["metrics", "show", "operations/infrastructure_cost"]),
    ("alice", ["metrics", "history", "revenue/mrr"]),
    ("alice", ["audit", "verify"]),
]


def outcome(result: Any) -> tuple[int, Any, str]:
    try:
        shown: Any = json.loads(result.stdout)
    except ValueError:
        shown = result.stdout
    blanked = {k: "<volatile>" if _leaf(k) in WHEN else v for k, v in _flat(shown)}
    return result.exit_code, blanked, result.stderr


def _flat(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every leaf as (key path, value): times blanked by their own key, doors as one."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _flat(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for n, v in enumerate(value) for p in _flat(v, f"{path}[{n}]")]
    return [(path, blank({"door": value})["door"] if path.endswith("door") else value)]


def _leaf(path: str) -> str:
    """A key path's last key: `certification.at` -> `at`; `[2].recorded_at` -> `recorded_at`."""
    return path.rsplit(".", 1)[-1].split("]")[-1]


def run_steps(da: Run, folder: Path, env_of: dict[str, dict[str, str]]) -> list[Any]:
    outcomes = []
    for who, step in STEPS:
        args = ["--data-dir", str(folder), "--actor", who, *step, "--json"]
        outcomes.append(outcome(da(*args, env=env_of[who])))
    return outcomes


def test_governed_changes_alike_embedded_and_over_http(da: Run, data: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(data, twin)
    for folder in (data, twin):
        tokens = {who: make_token(folder, who) for who in ("alice", "bob")}
    embedded = run_steps(da, data, {"alice": {}, "bob": {}})
    with served(twin):
        remote = run_steps(da, twin, {who: {"DA_TOKEN": t} for who, t in tokens.items()})
    for (who, step), here, there in zip(STEPS, embedded, remote, strict=True):
        assert here == there, f"{who}: {' '.join(step)}"
    codes = [e[0] for e in embedded]
    words = [e[2] for e in embedded]
    assert codes[2] == 1 and "another admin must approve it (four eyes)" in words[2]
    assert codes[4] == 1 and "already approved" in words[4]
    assert codes[7] == 1 and "was at version 2 when proposed and is now at version 3" in words[7]
    assert codes[9] == 1 and "only its proposer, 'alice', may withdraw" in words[9]
    assert codes[15] == 1 and "reason: is required" in words[15]
    for n in (2, 4, 7, 9, 15):
        assert words[n].count("\n") == 1 and "Traceback" not in words[n]  # one line each
    assert codes[18] == 0 and embedded[18][1]["status"] == "proposed"
    assert embedded[18][1]["proposal.required"] is True
    assert codes[20] == 0 and embedded[20][1]["state"] == "approved"
    assert embedded[22][1]["certification.state"] == "certified"
    lapsed = embedded[24][1]
    assert (lapsed["certification.state"], lapsed["certification.version"]) == ("lapsed", 1)
    history = [v for k, v in embedded[25][1].items() if k.endswith(".approved_by")]
    assert history.count("bob") == 2 and history.count("alice") == 1
    assert embedded[26][1]["ok"] is True


def test_the_cli_words_for_proposals(da: Run) -> None:
    proposed = da(
        "metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--propose", "--reason", "euro"
    )
    assert proposed.exit_code == 0
    assert proposed.stdout.splitlines()[0] == (
        "proposed, not applied (for another admin's approval): proposal 1,"
        " update metric revenue/mrr"
    )
    shown = da("proposals", "show", "1").stdout
    assert "proposal 1: open" in shown and "    unit: 'USD' -> 'EUR'" in shown
    listed = da("proposals", "list").stdout.splitlines()
    assert listed[0].split()[:3] == ["NUMBER", "STATE", "CHANGE"]
    assert listed[1].split()[:5] == ["1", "open", "update", "metric", "revenue/mrr"]
    done = da("--actor", "bob", "proposals", "approve", "1", "--reason", "ok").stdout
    assert "approved by bob" in done and "applied metric revenue/mrr as version 2" in done
    certified = da("--actor", "bob", "metrics", "certify", "revenue/mrr", "--note", "checked")
    assert certified.stdout.startswith("certified revenue/mrr: v2 by bob at ")
    assert "certification: v2 by bob" in da("metrics", "show", "revenue/mrr").stdout
    row = next(line for line in da("metrics", "list").stdout.splitlines() if "revenue/mrr" in line)
    assert row.rstrip().endswith("v2")
    found = da("metrics", "search", "monthly recurring revenue").stdout.splitlines()
    assert found[0].split()[:4] == ["ID", "DISPLAY_NAME", "UNIT", "CERTIFIED"]
    assert found[1].split()[0] == "revenue/mrr" and " v2 " in found[1]
    da("metrics", "update", "revenue/mrr", "--set", "unit=GBP", "--reason", "pounds")
    assert (
        "certification: lapsed (given for v2 by bob" in da("metrics", "show", "revenue/mrr").stdout
    )
    bad = da("policy", "set", "approval=maybe")
    assert bad.exit_code == 1 and "approval: 'maybe' is not 'required' or 'optional'" in bad.stderr
    odd = da("policy", "set", "colour=red")
    assert odd.exit_code == 2 and "is not approval=required" in odd.stderr
    assert da("policy", "set", "approval=required").exit_code == 0
    assert da("policy", "show").stdout.startswith("approval: required (the whole registry)")
    imported = da("metrics", "import", str(_starter()))
    assert "proposed, not applied (approval is required): proposal 2" in imported.stdout


def _starter() -> Path:
    from starter_pack import __file__ as pack

    return Path(pack).parent / "metrics"


def test_over_http_an_analyst_proposes_but_cannot_approve(da: Run, data: Path) -> None:
    """Roles are the server's: an analyst's token proposes through the CLI, and its approval,
    rejection, certification or policy change is refused in one line."""
    analyst = {"DA_TOKEN": make_token(data, "ann", "analyst")}
    admin = {"DA_TOKEN": make_token(data, "root")}
    with served(data):
        proposed = da(
            "metrics",
            "propose",
            "revenue/mrr",
            "--set",
            "unit=EUR",
            "--reason",
            "euro",
            "--json",
            env=analyst,
        )
        assert proposed.exit_code == 0
        assert json.loads(proposed.stdout)["proposal"]["proposed_by"] == "ann"
        for step in (
            ["proposals", "approve", "1", "--reason", "mine"],
            ["proposals", "reject", "1", "--reason", "no"],
            ["metrics", "certify", "revenue/mrr", "--note", "me"],
            ["policy", "set", "approval=optional"],
        ):
            refused = da(*step, env=analyst)
            assert refused.exit_code == 1, step
            assert refused.stderr.startswith("error: role 'analyst' may not write")
            assert refused.stderr.count("\n") == 1
        assert da("proposals", "withdraw", "1", "--reason", "later", env=analyst).exit_code == 0
        shown = json.loads(da("proposals", "show", "1", "--json", env=admin).stdout)
        assert (shown["state"], shown["decided_by"]) == ("withdrawn", "ann")
