"""One real `da serve` on a free local port, spoken to over HTTP."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_da_serve_over_http(tmp_path: Path) -> None:
    da = str(Path(sys.executable).parent / "da")
    made = subprocess.run(
        [da, "--data-dir", str(tmp_path), "tokens", "create", "--role", "admin", "--name", "ci"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    token = made.stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [da, "--data-dir", str(tmp_path), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (
                server.stderr.read() if server.poll() is not None else "no answer"
            )
            time.sleep(0.1)
        discovery = json.loads((tmp_path / "state" / "server.json").read_text())
        assert discovery["url"] == base and discovery["pid"] == server.pid
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{base}/api/admin/metrics",
            headers=headers,
            timeout=10,
            json={"name": "mrr", "category": "revenue", "sql": "SELECT 1"},
        )
        assert created.status_code == 201
        listed = httpx.get(f"{base}/api/metrics", headers=headers, timeout=10).json()
        assert listed["count"] == 1 and listed["metrics"][0]["id"] == "revenue/mrr"
        history = httpx.get(
            f"{base}/api/metrics/revenue/mrr/history", headers=headers, timeout=10
        ).json()
        assert history["versions"][0]["actor"] == "ci"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert not (tmp_path / "state" / "server.json").exists()
