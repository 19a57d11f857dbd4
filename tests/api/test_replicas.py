"""Two `da serve` replicas on one PostgreSQL database, written to by eight clients at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.postgres import fresh_schema
from tests.served import approve_at_once, check_served_tree, make_token, served

CLIENTS = 8
WRITES = 12


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], str]]:
    with fresh_schema() as url, pytest.MonkeyPatch.context() as env:
        first, second = (tmp_path_factory.mktemp(n) for n in ("one", "two"))
        # Replicas sign checkpoints with one key (README: one key file for every replica).
        env.setenv("DA_TLOG_KEY", str(tmp_path_factory.mktemp("key") / "tlog.key"))
        token = make_token(first, "admin", database_url=url)
        with served(first, url) as a, served(second, url) as b:
            yield [a, b], token


def _mrr(n: int) -> dict[str, Any]:
    return {
        "name": f"own_{n}",
        "category": "load",
        "sql": "SELECT 1",
        "description": "v0",
    }


def test_eight_clients_through_two_replicas_lose_nothing(replicas: tuple[list[str], str]) -> None:
    urls, token = replicas
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=urls[0], headers=headers) as setup:
        assert (
            setup.post("/api/admin/metrics", json={**_mrr(0), "name": "shared"}).status_code == 201
        )
    acknowledged: list[tuple[str, int, str]] = []  # (metric, version, description)
    stale: list[int] = []
    failures: list[str] = []
    feed: list[int] = []
    done = threading.Event()
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=urls[n % 2], headers=headers, timeout=30) as http:
            made = http.post("/api/admin/metrics", json=_mrr(n))
            if made.status_code != 201:
                failures.append(made.text)
                return
            with lock:
                acknowledged.append((f"load/own_{n}", 1, "v0"))
            for i in range(WRITES):
                metric, guarded = ("load/shared", i % 2 == 0) if i % 3 else (f"load/own_{n}", False)
                text = f"client {n} write {i}"
                headers_ = {}
                if guarded:
                    seen = http.get(f"/api/metrics/{metric}").json()["version"]
                    headers_["If-Match"] = f'"v{seen}"'
                answer = http.patch(
                    f"/api/admin/metrics/{metric}", json={"description": text}, headers=headers_
                )
                if answer.status_code == 409:
                    with lock:
                        stale.append(n)
                    continue
                if answer.status_code != 200:
                    failures.append(answer.text)
                    continue
                body = answer.json()
                assert body["description"] == text
                with lock:
                    acknowledged.append((metric, body["version"], text))

    def follower() -> None:
        """Reads the feed with next_after while the writes go on, through the other replica."""
        after = 0
        with httpx.Client(base_url=urls[1], headers=headers, timeout=30) as http:
            while True:
                finished = done.is_set()
                page = http.get("/api/events", params={"after": after, "limit": 50}).json()
                feed.extend(e["position"] for e in page["events"])
                after = page["next_after"]
                if finished and not page["events"]:
                    return
                time.sleep(0.01)

    reader = threading.Thread(target=follower)
    reader.start()
    writers = [threading.Thread(target=client, args=(n,)) for n in range(1, CLIENTS + 1)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()
    assert failures == []

    with httpx.Client(base_url=urls[0], headers=headers) as http:
        events = http.get("/api/events", params={"limit": 1000}).json()["events"]
        positions = [e["position"] for e in events]
        assert positions == list(range(1, len(events) + 1))  # gapless
        assert feed == positions  # the follower saw every event, once, in order
        by_stream: dict[str, list[int]] = {}
        for e in events:
            by_stream.setdefault(e["stream_id"], []).append(e["version"])
        assert all(v == list(range(1, len(v) + 1)) for v in by_stream.values())  # contiguous
        # Every acknowledged write is in the history, as that version, with its value.
        for metric, version, text in acknowledged:
            kept = http.get(f"/api/metrics/{metric}/versions/{version}").json()
            assert kept["description"] == text, (metric, version)
        # Every metric event but the setup's was acknowledged to a client (the first event
        # is the admin token's creation).
        assert len(acknowledged) == len([e for e in events if e["stream_type"] == "metric"]) - 1
        # A stale If-Match is refused with 409, whichever replica is asked.
        for url in urls:
            answer = httpx.patch(
                f"{url}/api/admin/metrics/load/shared",
                json={"unit": "x"},
                headers={**headers, "If-Match": '"v1"'},
            )
            assert answer.status_code == 409
        report = http.get("/api/audit/verify").json()
        assert report["ok"] and report["projections"]["in_step"]
    assert stale, "no guarded write met a concurrent one: the test did not race"


def test_a_replica_serves_what_the_other_just_wrote(replicas: tuple[list[str], str]) -> None:
    urls, token = replicas
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers) as http:
        http.post(f"{urls[0]}/api/admin/metrics", json={**_mrr(99), "name": "seen"})
        for n in range(5):
            assert http.get(f"{urls[1]}/api/metrics/load/seen").status_code == 200  # cached
            wrote = http.patch(f"{urls[0]}/api/admin/metrics/load/seen", json={"unit": f"u{n}"})
            version = wrote.json()["version"]
            deadline = time.monotonic() + 2
            while http.get(f"{urls[1]}/api/metrics/load/seen").json()["version"] != version:
                assert time.monotonic() < deadline, "the other replica kept a stale answer"
                time.sleep(0.005)
        # A token revoked through one replica stops working on the other.
        made = http.post(f"{urls[0]}/api/admin/tokens", json={"name": "temp", "role": "analyst"})
        temp = {"Authorization": f"Bearer {made.json()['token']}"}
        assert http.get(f"{urls[1]}/api/metrics", headers=temp).status_code == 200
        assert http.delete(f"{urls[0]}/api/admin/tokens/temp").status_code == 200
        deadline = time.monotonic() + 2
        while http.get(f"{urls[1]}/api/metrics", headers=temp).status_code != 401:
            assert time.monotonic() < deadline, "the other replica still accepts a revoked token"
            time.sleep(0.005)


def test_two_admins_approving_at_once_apply_it_once(replicas: tuple[list[str], str]) -> None:
    """Issue 22: two admins approve the same proposal at the same moment, each through its
    own replica: exactly one applies it, the other is told it is approved already."""
    urls, token = replicas
    approve_at_once(urls, token)


def test_both_replicas_publish_one_tree_with_one_key(replicas: tuple[list[str], str]) -> None:
    """Issue 25: writes through both replicas grow one Merkle tree; each replica serves the
    same signed checkpoint, and an outsider reading either checks it with the one key."""
    urls, token = replicas
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers) as http:
        for n in range(3):
            http.post(f"{urls[n % 2]}/api/admin/metrics", json={**_mrr(200 + n), "name": f"t{n}"})
        key = http.get(f"{urls[1]}/api/audit/key").json()["verifier_key"]
        assert http.get(f"{urls[0]}/api/audit/key").json()["verifier_key"] == key
        # (a replica signs once per commit it has seen: the other's follow within moments)
        deadline = time.monotonic() + 2
        while len({http.get(f"{url}/tlog/checkpoint").text for url in urls}) != 1:
            assert time.monotonic() < deadline, "the replicas serve different checkpoints"
            time.sleep(0.005)
        assert http.get(f"{urls[0]}/api/audit/verify").json()["ok"]
    sizes = {check_served_tree(url, key) for url in urls}
    assert len(sizes) == 1
