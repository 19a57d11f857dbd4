"""With a server holding the database, the same commands go over HTTP and print the same."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tests.cli.conftest import Run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_same_output_over_http(da: Run, data: Path, tmp_path: Path) -> None:
    local_list = da("metrics", "list", "--json").stdout
    local_show = da("metrics", "show", "revenue/mrr").stdout
    local_map = da("metrics", "table-map", "--json").stdout
    token = da("tokens", "create", "--role", "admin", "--name", "remote-admin").stdout.strip()
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "da"),
            "--data-dir",
            str(data),
            "serve",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        env = {"DA_TOKEN": token}
        assert (
            da("metrics", "list", "--json", env=env).stdout == local_list
        )  # found via server.json
        assert da("metrics", "show", "revenue/mrr", env=env).stdout == local_show
        assert da("metrics", "table-map", "--json", env=env).stdout == local_map
        no_token = da("metrics", "list")
        assert no_token.exit_code == 1 and "pass --token or set DA_TOKEN" in no_token.stderr
        explicit = ["--api-url", url, "--token", token]
        updated = json.loads(
            da(
                *explicit,
                "metrics",
                "update",
                "revenue/mrr",
                "--set",
                "unit=EUR",
                "--reason",
                "remote",
                "--json",
            ).stdout
        )
        assert (updated["unit"], updated["version"]) == ("EUR", 2)
        history = json.loads(da("metrics", "history", "revenue/mrr", "--json", env=env).stdout)
        assert (history[-1]["actor"], history[-1]["reason"]) == ("remote-admin", "remote")
        assert "unit: 'USD' -> 'EUR'" in da("metrics", "diff", "revenue/mrr", env=env).stdout
        assert (
            da(
                "metrics", "rollback", "revenue/mrr", "--to", "1", "--reason", "undo", env=env
            ).exit_code
            == 0
        )
        out = tmp_path / "export"
        assert da("metrics", "export", "--dir", str(out), env=env).exit_code == 0
        assert yaml.safe_load((out / "revenue" / "mrr.yml").read_text())["unit"] == "USD"
        imported = json.loads(da("metrics", "import", str(out), "--json", env=env).stdout)
        assert len(imported["unchanged"]) == 11 and imported["written"] == []
        assert da("metrics", "validate", env=env).stdout.strip() == "all metrics validate clean"
        assert (
            da("columns", "set", "orders", "region", "--basetype", "STRING", env=env).exit_code == 0
        )
        assert (
            json.loads(da("columns", "show", "orders", "region", "--json", env=env).stdout)[
                "basetype"
            ]
            == "STRING"
        )
        assert da("audit", "verify", env=env).stdout.startswith("ok: 14 events verified")
        missing = da("metrics", "show", "revenue/nope", env=env)
        assert (missing.exit_code, missing.stderr) == (
            1,
            "error: metric 'revenue/nope' does not exist\n",
        )
        upkeep = da("projections", "check", env=env)
        assert upkeep.exit_code == 1 and "embedded database only" in upkeep.stderr
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert not (data / "state" / "server.json").exists()
    assert da("metrics", "show", "revenue/mrr", "--json").exit_code == 0  # embedded again
