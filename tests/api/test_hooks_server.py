"""Webhooks from a real `da serve` (issue 24): kill -9 in the middle of deliveries loses
none, and of two PostgreSQL replicas one delivers, the other once the first is gone."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.postgres import fresh_schema
from tests.receiver import Receiver, receiving
from tests.served import make_token, served, start


@pytest.fixture(autouse=True)
def local_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DA_HOOKS_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("DA_HOOKS_RETRY_BASE", "0.05")


WRITES = 30


def _subscribe(url: str, headers: dict[str, str], receiver: Receiver) -> str:
    made = httpx.post(
        f"{url}/api/admin/hooks",
        json={"url": receiver.url, "events": ["metric.*"]},
        headers=headers,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["secret"])


def _write(url: str, headers: dict[str, str], count: int, start: int = 0) -> list[int]:
    """Create metrics; the positions of their events."""
    positions = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for n in range(start, start + count):
            made = http.post(
                "/api/admin/metrics",
                json={"name": f"m{n}", "category": "load", "sql": "SELECT 1"},
            )
            assert made.status_code == 201, made.text
            history = http.get(f"/api/metrics/load/m{n}/history").json()
            positions.append(history["versions"][0]["position"])
    return positions


def _kill(server: subprocess.Popen[str]) -> None:
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=30)
    if server.stderr is not None:
        server.stderr.close()


def _delivered(receiver: Receiver, secret: str) -> Counter[int]:
    """How many times each position arrived, every arrival verified."""
    return Counter(body["position"] for body in receiver.verified(secret))


def test_kill_9_mid_delivery_then_restart_delivers_every_event(tmp_path: Path) -> None:
    token = make_token(tmp_path, "root")
    headers = {"Authorization": f"Bearer {token}"}
    with receiving(delay=0.05) as receiver:
        server, url = start(tmp_path)
        try:
            secret = _subscribe(url, headers, receiver)
            positions = _write(url, headers, WRITES)
            receiver.wait_for(5)
        finally:
            _kill(server)  # deliveries are behind the writes: some are in flight
        assert len(receiver.got) < WRITES
        with served(tmp_path):
            receiver.wait_for_ids(WRITES)
            delivered = _delivered(receiver, secret)
    assert sorted(delivered) == positions  # every event, none skipped
    assert sum(delivered.values()) - WRITES <= 1  # at most the one in flight, again
    ids = [r.headers["webhook-id"] for r in receiver.got]
    assert len(set(ids)) == WRITES  # a repeat keeps its webhook-id


def test_of_two_replicas_one_delivers_and_the_other_takes_over(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path_factory.mktemp("keys")
    monkeypatch.setenv("DA_HOOKS_KEY", str(keys / "hooks.key"))  # replicas share the key
    monkeypatch.setenv("DA_TLOG_KEY", str(keys / "tlog.key"))
    first, second = (tmp_path_factory.mktemp(n) for n in ("one", "two"))
    with fresh_schema() as database, receiving(delay=0.2) as receiver:
        token = make_token(first, "root", database_url=database)
        headers = {"Authorization": f"Bearer {token}"}
        server, a = start(first, database)
        try:
            secret = _subscribe(a, headers, receiver)
            positions = _write(a, headers, 10)
            receiver.wait_for(3)  # the first replica is the one delivering
            with served(second, database) as b:
                positions += _write(b, headers, 10, start=10)
                _kill(server)
                assert len(receiver.got) < 20  # the rest is the second replica's to send
                receiver.wait_for_ids(20)
                delivered = _delivered(receiver, secret)
        finally:
            if server.poll() is None:
                _kill(server)
    assert sorted(delivered) == positions
    assert sum(delivered.values()) - 20 <= 1  # never both at once: one repeat at most
