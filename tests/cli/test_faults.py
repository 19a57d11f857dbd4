"""Faults and signals: an edited projection is caught, a server's discovery file never
outlives it, and a stale one does not send the CLI to a dead URL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import duckdb
import httpx

from registry import load_settings
from tests.cli.conftest import Run
from tests.served import DA, make_token, served, start


def edit_projection(data: Path) -> None:
    conn = duckdb.connect(str(data / "state" / "system.duckdb"))
    conn.execute("UPDATE metric_definitions SET sql = 'SELECT 666' WHERE id = 'revenue/mrr'")
    conn.close()


def test_verify_catches_an_edited_projection(da: Run, data: Path) -> None:
    assert da("audit", "verify").exit_code == 0
    edit_projection(data)
    result = da("audit", "verify")
    assert result.exit_code == 1
    # one verdict first: failed, and why (the chain itself is intact)
    assert result.stdout.splitlines()[0] == "FAILED: the projections differ from the log (1)"
    assert "PROJECTIONS DIFFER from the log (1 differences)" in result.stdout
    assert "metric_definitions revenue/mrr: sql is 'SELECT 666'" in result.stdout
    report = json.loads(da("audit", "verify", "--json").stdout)
    assert (report["ok"], report["chain_ok"], report["projections"]["count"]) == (False, True, 1)
    assert da("audit", "head").exit_code == 0  # the anchor is about the chain


def test_sigterm_removes_the_discovery_file(data: Path) -> None:
    server, _ = start(data)
    discovery = data / "state" / "server.json"
    try:
        assert discovery.exists()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert not discovery.exists()


def test_a_stale_discovery_file_is_ignored(da: Run, data: Path) -> None:
    """A file naming a pid that is now another program (here: this test) is not followed."""
    settings = load_settings({}, data_dir=data)
    settings.server_file.write_text(
        json.dumps({"url": "http://127.0.0.1:9", "pid": os.getpid(), "process": "1"})
    )
    shown = da("metrics", "show", "revenue/mrr", "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == "revenue/mrr"


def test_audit_log_shows_the_newest_first_and_says_when_there_is_more(da: Run) -> None:
    for unit in ("EUR", "GBP", "JPY"):
        da("metrics", "update", "revenue/mrr", "--set", f"unit={unit}")
    lines = da("audit", "log", "--limit", "2").stdout.splitlines()
    assert [line.split()[0] for line in lines[1:3]] == ["14", "13"]
    assert lines[-1] == "... older events: da audit log --before 13 (or --limit N, or --all)"
    older = json.loads(da("audit", "log", "--before", "13", "--limit", "5", "--json").stdout)
    assert [e["position"] for e in older["events"]] == [12, 11, 10, 9, 8]
    everything = json.loads(da("audit", "log", "--all", "--json").stdout)
    assert [e["position"] for e in everything["events"]] == list(range(14, 0, -1))
    assert everything["next_before"] is None
    assert "older events" not in da("audit", "log", "--all").stdout


def test_the_registry_files_stay_private_in_a_folder_made_loose_beforehand(tmp_path: Path) -> None:
    """A state folder that already existed with group and world access is made private, so
    the write-ahead log DuckDB creates on the next write (with the process's umask) is too."""
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    subprocess.run([DA, "--data-dir", str(tmp_path), "demo"], check=True, capture_output=True)
    token = make_token(tmp_path, "ops")
    with served(tmp_path) as url:
        changed = httpx.patch(
            f"{url}/api/admin/metrics/revenue/mrr",
            json={"unit": "EUR"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert changed.status_code == 200
        files = sorted(state.iterdir())
        assert any(f.name.endswith(".wal") for f in files), files  # written, not yet folded in
        modes = {f.name: f.stat().st_mode & 0o777 for f in [state, *files]}
    assert all(mode & 0o077 == 0 for mode in modes.values()), {k: oct(v) for k, v in modes.items()}
