"""PostgreSQL restarts under load: two replicas, eight writers. While the database is away
every answer is a 503 with Retry-After (never a 500), the replicas recover by themselves
once it is back, and every acknowledged write is in the history at the version it was told.

The test runs its own PostgreSQL (from the pgserver wheel), since it stops and starts it.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.served import make_token, served

WRITERS = 8


@pytest.fixture
def own_postgresql() -> Iterator[Any]:
    import pgserver

    server = pgserver.get_server(tempfile.mkdtemp(prefix="da-pg-restart-"), cleanup_mode="stop")
    try:
        yield server
    finally:
        # pgserver stops the postmaster it started; the test restarted it, so stop that one
        with contextlib.suppress(Exception):
            _pg_ctl(server, "-m", "fast", "stop")
        server.cleanup()


def _pg_ctl(server: Any, *args: str) -> None:
    import pgserver

    owner = getattr(server, "system_user", None)
    pgserver.pg_ctl(["-w", *args], pgdata=server.pgdata, **({"user": owner} if owner else {}))


def restart(server: Any, away: float, meanwhile: Any = None) -> None:
    """Stop the server (fast: sessions are cut), keep it down `away` seconds (calling
    `meanwhile()` first, if given), start it."""
    _pg_ctl(server, "-m", "fast", "stop")
    started = time.monotonic()
    if meanwhile is not None:
        meanwhile()
    time.sleep(max(0.0, away - (time.monotonic() - started)))
    socket = server.pgdata  # pgserver listens on a socket in its data folder, nowhere else
    _pg_ctl(server, "-o", '-h ""', "-o", f"-k {socket}", "-l", str(server.log), "start")


def test_a_restart_under_load_is_503_then_recovery_and_loses_nothing(
    own_postgresql: Any, tmp_path: Path
) -> None:
    url = own_postgresql.get_uri()
    first, second = tmp_path / "one", tmp_path / "two"
    token = make_token(first, "admin", database_url=url)
    headers = {"Authorization": f"Bearer {token}"}
    acknowledged: dict[str, dict[int, str]] = {}  # metric -> {version: unit}
    statuses: list[int] = []
    answered_at: list[float] = []  # when each status came
    unanswered_503: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with served(first, url) as a, served(second, url) as b:

        def writer(n: int) -> None:
            metric = f"load/own_{n}"
            mine: dict[int, str] = {}
            with httpx.Client(base_url=(a, b)[n % 2], headers=headers, timeout=30) as http:
                body = {"name": f"own_{n}", "category": "load", "sql": "SELECT 1", "unit": "u0"}
                made = http.post("/api/admin/metrics", json=body)
                assert made.status_code == 201, made.text
                mine[1] = "u0"
                version, i = 1, 0
                while not stop.is_set():
                    i += 1
                    unit = f"u{i}"
                    answer = http.patch(
                        f"/api/admin/metrics/{metric}",
                        json={"unit": unit},
                        headers={"If-Match": f'"v{version}"'},
                    )
                    with lock:
                        statuses.append(answer.status_code)
                        answered_at.append(time.monotonic())
                    if answer.status_code == 200:
                        version = answer.json()["version"]
                        mine[version] = unit
                    elif answer.status_code == 503:
                        if answer.headers.get("Retry-After") != "1":
                            unanswered_503.append(answer.text)
                        time.sleep(0.1)
                    elif answer.status_code == 409:  # a 503'd write may have committed
                        version = answer.json()["current_version"]
            with lock:
                acknowledged[metric] = mine

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        probes: list[httpx.Response] = []

        def probe() -> None:
            # A write while the database is surely away, whatever the writers were doing
            # when it stopped (on a loaded machine they may all be between requests).
            probes.extend(
                httpx.patch(
                    f"{u}/api/admin/metrics/load/own_0",
                    json={"unit": "probe"},
                    headers=headers,
                    timeout=30,
                )
                for u in (a, b)
            )

        restart(own_postgresql, away=1.5, meanwhile=probe)
        back = time.monotonic()
        deadline = back + 60  # the replicas find the database again by themselves
        while time.monotonic() < deadline:
            with lock:
                written_since = sum(
                    1 for s, t in zip(statuses, answered_at, strict=True) if s == 200 and t > back
                )
            if written_since >= WRITERS:
                break
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join()
        served_after = [httpx.get(f"{u}/api/metrics/load/own_0", headers=headers) for u in (a, b)]
        logged = {
            metric: httpx.get(
                f"{a}/api/events",
                params={"stream": metric, "limit": 1000},
                headers=headers,
                timeout=30,
            ).json()["events"]
            for metric in acknowledged
        }
        verified = httpx.get(f"{b}/api/audit/verify", headers=headers, timeout=60).json()
    assert len(acknowledged) == WRITERS
    assert {s for s in statuses if s >= 500} <= {503}, sorted(set(statuses))
    # the restart was seen, and answered as a wait
    assert [(p.status_code, p.headers.get("Retry-After")) for p in probes] == [(503, "1")] * 2
    assert written_since >= WRITERS  # and writing went on after it
    assert unanswered_503 == []
    assert [r.status_code for r in served_after] == [200, 200]
    for metric, mine in acknowledged.items():
        units = {e["version"]: e["payload"]["definition"]["unit"] for e in logged[metric]}
        assert list(units) == list(range(1, len(units) + 1))  # contiguous
        for version, unit in mine.items():  # every acknowledged write, at the version told
            assert units.get(version) == unit, (metric, version, unit)
    assert verified["ok"] is True
