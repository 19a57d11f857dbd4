"""A real `da serve` on a free local port, for tests that talk to it over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

DA = str(Path(sys.executable).parent / "da")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str | None) -> dict[str, str] | None:
    return None if database_url is None else {**os.environ, "DA_DATABASE_URL": database_url}


def make_token(data: Path, name: str, role: str = "admin", database_url: str | None = None) -> str:
    made = subprocess.run(
        [DA, "--data-dir", str(data), "tokens", "create", "--role", role, "--name", name],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=_env(database_url),
    )
    return made.stdout.strip()


def start(data: Path, database_url: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start `da serve` on a data folder (the registry in it, or at `database_url`) and wait
    until it answers; the process and its URL."""
    port = free_port()
    server = subprocess.Popen(
        [DA, "--data-dir", str(data), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(database_url),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"da serve did not start: {server.communicate()[1]}")
        time.sleep(0.1)


@contextmanager
def served(data: Path, database_url: str | None = None) -> Iterator[str]:
    """Run `da serve` on a data folder until the block ends (SIGINT); yields its URL."""
    server, url = start(data, database_url)
    try:
        yield url
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()


def approve_at_once(urls: list[str], token: str, attempts: int = 5) -> None:
    """Two new admins approve the same proposal at the same moment, one through each URL
    (two replicas, or one server twice): exactly one applies it, the other gets a 409."""
    import threading

    root = {"Authorization": f"Bearer {token}"}
    made = [
        httpx.post(
            f"{urls[0]}/api/admin/tokens",
            json={"name": f"approver-{n}", "role": "admin"},
            headers=root,
        ).json()["token"]
        for n in (1, 2)
    ]
    metric = {"name": "raced", "category": "load", "sql": "SELECT 1"}
    httpx.post(f"{urls[0]}/api/admin/metrics", json=metric, headers=root).raise_for_status()
    for attempt in range(attempts):
        proposed = httpx.post(
            f"{urls[0]}/api/proposals",
            json={
                "action": "update",
                "metric": "load/raced",
                "fields": {"description": f"try {attempt}"},
                "reason": "race",
            },
            headers=root,
        )
        number = proposed.json()["proposal"]["number"]
        start = threading.Barrier(2)
        answers: list[httpx.Response] = []

        def approve(
            url: str,
            approver: str,
            number: int = number,
            start: threading.Barrier = start,
            answers: list[httpx.Response] = answers,
        ) -> None:
            start.wait()
            answers.append(
                httpx.post(
                    f"{url}/api/proposals/{number}/approve",
                    json={"reason": "mine"},
                    headers={"Authorization": f"Bearer {approver}"},
                    timeout=30,
                )
            )

        threads = [
            threading.Thread(target=approve, args=(u, t)) for u, t in zip(urls, made, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        history = httpx.get(f"{urls[-1]}/api/metrics/load/raced/history", headers=root).json()
        assert [v["proposal"] for v in history["versions"]].count(number) == 1
    assert httpx.get(f"{urls[-1]}/api/audit/verify", headers=root).json()["ok"] is True


def check_served_tree(url: str, key: str) -> int:
    """Read a server's transparency log as an outsider would (tlog-scales, no token): its
    checkpoint verifies with `key` and its tiles make the checkpoint's root; its size."""
    from tlog_scales.backend import HttpBackend
    from tlog_scales.reader import TilesReader
    from tlog_scales.signing import Vkey

    backend = HttpBackend(url + "/tlog")
    try:
        reader = TilesReader(backend)
        checkpoint = reader.get_checkpoint()
        checkpoint.verify(Vkey.from_string(key))
        assert reader.calculate_root_hash() == checkpoint.root_hash
        return checkpoint.size
    finally:
        backend.session.close()  # (its pooled sockets would be left to the garbage collector)
