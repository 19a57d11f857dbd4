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
