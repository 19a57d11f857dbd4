"""Parity: one scenario run embedded and over a real `da serve` gives the same answers.

Two copies of the same data folder; the scenario runs on one through the embedded registry
and on the other through the server (found via server.json, or named with --api-url). Each
command's exit code, `--json` output and error line must be equal, once the values that two
separate runs cannot share (times, batch ids, hashes) are blanked.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.conftest import Run
from tests.served import make_token, served

VOLATILE = {"recorded_at", "created_at", "updated_at", "batch_id", "hash", "prev_hash"}
VOLATILE |= {"payload_hash", "head", "since", "until", "verified_at"}
VOLATILE |= {"token_sha256"}  # each twin made its own token

NEW_METRIC = """\
name: nps
category: ops
display_name: Net Promoter Score
type: avg
unit: points
table: surveys
sql: SELECT AVG(score) FROM surveys
sql_weekly: SELECT date_trunc('week', answered_at), AVG(score) FROM surveys GROUP BY 1
notes:
  - promoters minus detractors
"""
ODD_COLUMNS = ["net amount?", "50% #1", "café ünïcode", "a&b=c"]


def scenario(files: Path) -> list[list[str]]:
    """The commands, in order; each is run with --json where it has one."""
    steps = [
        ["metrics", "create", "-f", str(files / "ops" / "nps.yml"), "--reason", "new"],
        ["metrics", "create", "-f", str(files / "bad" / "broken.yml")],
        ["metrics", "update", "ops/nps", "--set", "unit=score", "--reason", "renamed unit"],
        ["metrics", "update", "ops/nps", "--set", "name=other"],
        ["metrics", "update", "ops/nps", "--set", "type=summ"],
        ["metrics", "update", "ops/nps", "--set", "colour=red"],
        ["metrics", "update", "ops/nps", "--set", "unit=x", "--expected-version", "1"],
        ["metrics", "show", "ops/nps"],
        ["metrics", "show", "ops/nps", "--version", "1"],
        ["metrics", "history", "ops/nps"],
        ["metrics", "diff", "ops/nps"],
        ["metrics", "diff", "ops/nps", "1", "2"],
        ["metrics", "rollback", "ops/nps", "--to", "1", "--reason", "undo"],
        ["metrics", "rollback", "ops/nps", "--to", "9", "--reason", "too far"],
        ["metrics", "delete", "ops/nps", "--reason", "gone", "--expected-version", "3"],
        ["metrics", "show", "ops/nps"],
        ["metrics", "restore", "ops/nps", "--reason", "back"],
        ["metrics", "restore", "ops/nps"],
        ["metrics", "import", str(files / "source")],
        ["metrics", "import", str(files / "source"), "--prune", "--source-ref", "x"],
        ["metrics", "import", str(files / "source" / "sales" / "ok.yml"), "--dry-run"],
        ["metrics", "import", "--format", "ossie", str(files / "ossie" / "retail.yaml")],
        ["metrics", "import", "--format", "ossie", str(files / "ossie" / "broken.yaml")],
        ["metrics", "export", "--format", "ossie", "--dir", str(files / "out"), "--overwrite"],
        ["metrics", "import", "--format", "ossie", str(files / "out")],
        ["metrics", "list"],
        ["metrics", "list", "--category", "ops"],
        ["metrics", "list", "--at", "12"],
        ["metrics", "search", "recurring"],
        ["metrics", "table-map"],
        ["metrics", "show", "revenue/nope"],
    ]
    for column in ODD_COLUMNS:
        steps.append(["columns", "set", "orders", column, "--description", f"about {column}"])
    steps += [
        ["columns", "set", "orders", ODD_COLUMNS[0], "--basetype", "NUMERIC"],
        ["columns", "set", "orders", "a/b", "--description", "slash"],
        ["columns", "show", "orders", ODD_COLUMNS[1]],
        ["columns", "history", "orders", ODD_COLUMNS[0]],
        ["columns", "delete", "orders", ODD_COLUMNS[2], "--reason", "typo"],
        ["columns", "show", "orders", ODD_COLUMNS[2]],
        ["columns", "restore", "orders", ODD_COLUMNS[2], "--reason", "back"],
        ["columns", "restore", "orders", ODD_COLUMNS[1]],
        ["columns", "diff", "orders", ODD_COLUMNS[0]],
        ["columns", "diff", "orders", ODD_COLUMNS[0], "1", "2"],
        ["columns", "diff", "orders", ODD_COLUMNS[0], "1", "9"],
        ["columns", "rollback", "orders", ODD_COLUMNS[0], "--to", "1", "--reason", "undo"],
        ["columns", "rollback", "orders", ODD_COLUMNS[0], "--to", "9", "--reason", "too far"],
        ["columns", "show", "orders", ODD_COLUMNS[0]],
        ["columns", "list", "orders"],
        ["audit", "log", "--limit", "1000"],
        ["audit", "log", "--batch", "no-such-batch"],
        ["audit", "verify"],
    ]
    return steps


def write_files(folder: Path) -> None:
    (folder / "ops").mkdir(parents=True)
    (folder / "ops" / "nps.yml").write_text(NEW_METRIC)
    (folder / "bad").mkdir()
    (folder / "bad" / "broken.yml").write_text("name: broken\ntype: summ\nsql: SELECT 1\n")
    sales = folder / "source" / "sales"
    sales.mkdir(parents=True)
    (sales / "ok.yml").write_text("name: ok\nsql: SELECT 1\ntable: orders\nsql_by_region: x\n")
    (sales / "broken.yml").write_text("name: [\n")
    (folder / "ossie").mkdir()
    retail = Path(__file__).parent.parent / "registry" / "ossie" / "retail.yaml"
    (folder / "ossie" / "retail.yaml").write_text(retail.read_text())
    (folder / "ossie" / "broken.yaml").write_text("version: '0.1'\nsemantic_model: []\n")


# The door each twin's writes came through: the CLI's own, or the API the CLI called.
DOORS = {"cli": "<door>", "api": "<door>"}


def blank(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "<volatile>" if k in VOLATILE else DOORS.get(v, v) if k == "door" else blank(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [blank(v) for v in value]
    return value


# A time in words (a deletion's, say) differs between the twins by when each ran.
WORDED_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


def outcome(result: Any) -> tuple[int, Any, str]:
    try:
        shown: Any = blank(json.loads(result.stdout))
    except ValueError:
        shown = result.stdout
    return result.exit_code, shown, WORDED_TIME.sub("<time>", result.stderr)


def with_json(step: list[str]) -> list[str]:
    return [*step, "--json"] if step[0] in ("metrics", "columns", "audit") else step


@pytest.fixture
def twin(data: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "twin"
    shutil.copytree(data, copy)
    return copy


def test_every_command_answers_alike_embedded_and_over_http(
    da: Run, data: Path, twin: Path, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    write_files(files)
    steps = [with_json(step) for step in scenario(files)]
    make_token(data, "alice")  # both logs hold the same token event
    embedded = [outcome(da(*step)) for step in steps]
    token = make_token(twin, "alice")  # the embedded runs act as alice too
    with served(twin):
        env = {"DA_TOKEN": token}
        remote = [outcome(da("--data-dir", str(twin), *step, env=env)) for step in steps]
    for step, here, there in zip(steps, embedded, remote, strict=True):
        assert here == there, " ".join(step)
    codes = {" ".join(s[:3]): e[0] for s, e in zip(steps, embedded, strict=True)}
    assert codes["metrics show revenue/nope"] == 1 and codes["metrics list --json"] == 0
    assert [e[0] for e in embedded].count(1) >= 10  # the error paths were really taken


def test_remote_specifics(da: Run, data: Path, tmp_path: Path) -> None:
    """What only the remote path has: server discovery, --api-url, tokens, local-only upkeep."""
    local_show = da("metrics", "show", "revenue/mrr").stdout
    token = make_token(data, "remote-admin")
    with served(data) as url:
        env = {"DA_TOKEN": token}
        assert da("metrics", "show", "revenue/mrr", env=env).stdout == local_show
        no_token = da("metrics", "list")
        assert no_token.exit_code == 1 and "pass --token or set DA_TOKEN" in no_token.stderr
        explicit = ["--api-url", url, "--token", token]
        update = ["metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--reason", "remote"]
        updated = json.loads(da(*explicit, *update, "--json").stdout)
        assert (updated["unit"], updated["version"]) == ("EUR", 2)
        history = json.loads(da("metrics", "history", "revenue/mrr", "--json", env=env).stdout)
        assert (history[-1]["actor"], history[-1]["reason"]) == ("remote-admin", "remote")
        # Over HTTP the server records the door it saw: the API, as a hand edit.
        assert (history[-1]["door"], history[-1]["writer"]) == ("api", "manual")
        out = tmp_path / "export"
        assert da("metrics", "export", "--dir", str(out), env=env).exit_code == 0
        assert yaml.safe_load((out / "revenue" / "mrr.yml").read_text())["unit"] == "EUR"
        assert da("metrics", "validate", env=env).stdout.strip() == "all metrics validate clean"
        upkeep = da("projections", "check", env=env)
        assert upkeep.exit_code == 1 and "embedded database only" in upkeep.stderr
        # tokens go through the server too, as its admin, while it holds the database
        made = da("tokens", "create", "--role", "analyst", "--name", "bi-tool", env=env)
        assert made.exit_code == 0 and made.stdout.startswith("mr_")
        listed = json.loads(da("tokens", "list", "--json", env=env).stdout)
        assert {t["name"]: t["role"] for t in listed}["bi-tool"] == "analyst"
        assert da("tokens", "revoke", "bi-tool", env=env).stdout.strip() == "revoked bi-tool"
        analyst = {"DA_TOKEN": made.stdout.strip()}
        refused = da("metrics", "list", env=analyst)
        assert refused.exit_code == 1 and "a valid token is required" in refused.stderr
    assert not (data / "state" / "server.json").exists()
    assert da("metrics", "show", "revenue/mrr", "--json").exit_code == 0  # embedded again


def keyed_writes(da: Run, files: Path, env: dict[str, str] | None = None) -> list[Any]:
    """Each keyed write twice (the retry gets the first answer and writes nothing more), then
    its key for another change (refused)."""
    clean = files / "clean" / "sales"
    clean.mkdir(parents=True, exist_ok=True)
    (clean / "keyed.yml").write_text("name: keyed\nsql: SELECT 1\n")
    steps = [
        ["metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--idempotency-key", "u-1"],
        ["metrics", "delete", "revenue/arr", "--idempotency-key", "d-1"],
        ["metrics", "restore", "revenue/arr", "--idempotency-key", "r-1"],
        [
            "metrics",
            "rollback",
            "revenue/mrr",
            "--to",
            "1",
            "--reason",
            "undo",
            "--idempotency-key",
            "b-1",
        ],
        ["metrics", "create", "-f", str(files / "ops" / "nps.yml"), "--idempotency-key", "c-1"],
        ["columns", "set", "orders", "k", "--description", "once", "--idempotency-key", "s-1"],
        ["metrics", "import", str(files / "clean"), "--idempotency-key", "i-1"],
    ]
    outcomes = []
    for step in steps:
        first, again = (outcome(da(*with_json(step), env=env)) for _ in range(2))
        assert first[0] == 0 and again == first, step
        outcomes.append(first)
    other = ["metrics", "update", "revenue/mrr", "--set", "unit=GBP", "--idempotency-key", "u-1"]
    refused = da(*other, env=env)
    assert refused.exit_code == 1 and "idempotency key 'u-1'" in refused.stderr
    outcomes.append(refused.stderr)
    history = json.loads(da("metrics", "history", "revenue/mrr", "--json", env=env).stdout)
    outcomes.append([v["version"] for v in history])  # 1 (load), 2 (EUR), 3 (rollback)
    return outcomes


def test_idempotency_keys_on_every_cli_write_embedded_and_over_http(
    da: Run, data: Path, twin: Path, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    write_files(files)
    make_token(data, "alice")
    embedded = keyed_writes(da, files)
    token = make_token(twin, "alice")

    def at_twin(*args: str, env: dict[str, str] | None = None) -> Any:
        return da("--data-dir", str(twin), *args, env=env)

    with served(twin):
        remote = keyed_writes(at_twin, files, {"DA_TOKEN": token})
    assert embedded == remote
    assert embedded[-1] == [1, 2, 3]
