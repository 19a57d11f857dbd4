"""Many writers at once through a real `da serve` (issue 26): its group commit gives every
write its own true answer, and nothing acknowledged is lost, not even to kill -9."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import httpx

from tests.served import make_token, served, start

METRIC = "/api/admin/metrics/load/busy"


def _create(url: str, headers: dict[str, str]) -> None:
    made = httpx.post(
        f"{url}/api/admin/metrics",
        json={"name": "busy", "category": "load", "sql": "SELECT 1", "description": "start"},
        headers=headers,
        timeout=30,
    )
    assert made.status_code == 201, made.text


def _versions(url: str, headers: dict[str, str]) -> dict[int, str]:
    """Every version of the metric and its description, read back through the event feed."""
    described: dict[int, str] = {}
    after = 0
    while True:
        page = httpx.get(
            f"{url}/api/events", params={"after": after, "limit": 1000}, headers=headers, timeout=30
        ).json()
        for event in page["events"]:
            if event["stream_id"] == "load/busy" and event["stream_type"] == "metric":
                described[event["version"]] = event["payload"]["definition"]["description"]
        if page["next_after"] == after:
            return described
        after = page["next_after"]


def kind(i: int) -> str:
    """What the i-th write of each writer is: a plain update, or one of the three others."""
    if i % 7 == 3:
        return "stale"
    if i % 11 == 5:
        return "invalid"
    return "retried" if i % 13 == 6 else "plain"


def test_eight_writers_at_once_each_get_their_true_answer(tmp_path: Path) -> None:
    token = make_token(tmp_path, "root")
    headers = {"Authorization": f"Bearer {token}"}
    acknowledged: list[tuple[int, str, str]] = []  # version, description, ETag
    refused: list[tuple[int, str]] = []  # status, description
    replays: list[tuple[dict[str, Any], dict[str, Any]]] = []
    guard = threading.Lock()

    def writer(n: int, url: str) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            for i in range(200):
                text = f"writer {n} write {i}"
                body: dict[str, Any] = {"description": text}
                extra: dict[str, str] = {}
                if kind(i) == "stale":
                    extra["If-Match"] = '"v1"'  # stale once anyone has written
                elif kind(i) == "invalid":
                    body["sql"] = "DROP TABLE orders"  # refused: not a SELECT
                elif kind(i) == "retried":
                    extra["Idempotency-Key"] = f"key-{n}-{i}"
                answer = client.patch(METRIC, json=body, headers=extra)
                if "Idempotency-Key" in extra:  # the client retries, as after a lost answer
                    again = client.patch(METRIC, json=body, headers=extra)
                    with guard:
                        replays.append((answer.json(), again.json()))
                with guard:
                    if answer.status_code == 200:
                        shown = answer.json()
                        assert shown["description"] == text
                        acknowledged.append((shown["version"], text, answer.headers["ETag"]))
                    else:
                        refused.append((answer.status_code, text))

    with served(tmp_path) as url:
        _create(url, headers)
        threads = [threading.Thread(target=writer, args=(n, url)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        described = _versions(url, headers)
        verdict = httpx.get(f"{url}/api/audit/verify", headers=headers, timeout=60).json()
        current = httpx.get(f"{url}/api/metrics/load/busy", headers=headers, timeout=30).json()

    # Every acknowledged write is in the history at the version it was told, with its ETag.
    assert sorted(described) == list(range(1, len(described) + 1))
    for version, text, etag in acknowledged:
        assert described[version] == text and etag == f'"v{version}"'
    assert len(acknowledged) == len(described) - 1 == len({v for v, _, _ in acknowledged})
    # Every refused write wrote nothing; stale ones were 409s, bad SQL 422s.
    assert {status for status, _ in refused} <= {409, 422}
    kinds = [kind(i) for i in range(200)]
    assert sum(status == 422 for status, _ in refused) == 8 * kinds.count("invalid")
    assert not {text for _, text in refused} & set(described.values())
    # A retried request with its idempotency key got the first answer, written once.
    assert len(replays) == 8 * kinds.count("retried")
    for first, again in replays:
        assert first == again
    assert (
        current["version"] == max(described) and current["description"] == described[max(described)]
    )
    assert verdict["ok"] is True, verdict


def test_kill_9_during_a_burst_loses_nothing_acknowledged(tmp_path: Path) -> None:
    token = make_token(tmp_path, "root")
    headers = {"Authorization": f"Bearer {token}"}
    server, url = start(tmp_path)
    acknowledged: list[tuple[int, str]] = []
    guard = threading.Lock()
    enough = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            for i in range(10_000):
                text = f"writer {n} write {i}"
                try:
                    answer = client.patch(METRIC, json={"description": text})
                except httpx.TransportError:
                    return  # the server is gone: this write was not acknowledged
                if answer.status_code == 200:
                    with guard:
                        acknowledged.append((answer.json()["version"], text))
                        if len(acknowledged) >= 150:
                            enough.set()

    try:
        _create(url, headers)
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        assert enough.wait(timeout=120)
        server.send_signal(signal.SIGKILL)  # in the middle of the burst
        server.wait(timeout=30)
        for thread in threads:
            thread.join(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
        if server.stderr is not None:
            server.stderr.close()
    with served(tmp_path) as again:
        described = _versions(again, headers)
        verdict = httpx.get(f"{again}/api/audit/verify", headers=headers, timeout=60).json()
    assert len(acknowledged) >= 150
    for version, text in acknowledged:
        assert described[version] == text
    assert verdict["ok"] is True, verdict
