"""`da hooks ...` embedded and through a real server; `da serve` delivers what is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Run
from tests.receiver import receiving
from tests.served import make_token, served


@pytest.fixture(autouse=True)
def local_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The receivers listen on 127.0.0.1 (the served server inherits this too).
    monkeypatch.setenv("DA_HOOKS_ALLOW_PRIVATE", "1")


def _commands_work(da: Run, env: dict[str, str] | None = None) -> str:
    """Every `da hooks` command through one door; the subscription's id."""
    with receiving() as receiver:
        added = da("hooks", "add", receiver.url, "--events", "metric.*", "--json", env=env)
        assert added.exit_code == 0, added.stderr
        made = json.loads(added.stdout)
        hook_id, secret = made["hook"]["id"], made["secret"]
        tested = da("hooks", "test", hook_id, env=env)
        assert tested.exit_code == 0 and tested.stdout.startswith("delivered: 200"), tested.stderr
        assert receiver.verified(secret) == [{"type": "webhook.test", "hook": hook_id}]
    listed = da("hooks", "list", env=env)
    assert hook_id in listed.stdout and "active" in listed.stdout and secret not in listed.stdout
    attempts = json.loads(da("hooks", "deliveries", hook_id, "--json", env=env).stdout)
    assert [(a["position"], a["status"]) for a in attempts] == [(0, 200)]
    # The receiver is gone now: a test says so and exits 1.
    failed = da("hooks", "test", hook_id, env=env)
    assert failed.exit_code == 1 and "not delivered: no answer" in failed.stdout
    assert da("hooks", "remove", hook_id, env=env).stdout.strip() == f"removed {hook_id}"
    again = da("hooks", "remove", hook_id, env=env)
    assert again.exit_code == 1 and again.stderr.strip() == (
        f"error: webhook {hook_id} is removed already"
    )
    return str(hook_id)


def test_every_hooks_command_embedded(da: Run) -> None:
    _commands_work(da)
    bad = da("hooks", "add", "ftp://example.com", "--events", "metric.*")
    assert bad.exit_code == 1 and bad.stderr.strip() == (
        "error: url: must be an http:// or https:// URL with a host"
    )
    wrong = da("hooks", "add", "https://example.com", "--events", "metrics.*")
    assert wrong.exit_code == 1 and "events: 'metrics.*' matches none of" in wrong.stderr


def test_every_hooks_command_through_a_server_which_delivers_each_write(
    da: Run, data: Path
) -> None:
    token = make_token(data, "alice")
    env = {"DA_TOKEN": token}
    with served(data), receiving() as receiver:
        _commands_work(da, env)
        added = da("hooks", "add", receiver.url, "--events", "metric.updated", "--json", env=env)
        secret = json.loads(added.stdout)["secret"]
        for n in range(3):
            changed = da(
                "metrics", "update", "revenue/mrr", "--set", f"description=v{n}",
                "--reason", "r", env=env,
            )  # fmt: skip
            assert changed.exit_code == 0, changed.stderr
        receiver.wait_for(3)
        bodies = receiver.verified(secret)
    assert [b["payload"]["definition"]["description"] for b in bodies] == ["v0", "v1", "v2"]
    assert {b["door"] for b in bodies} == {"api"} and {b["actor"] for b in bodies} == {"alice"}
