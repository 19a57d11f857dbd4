"""A full disk is said to be a full disk: 507 from the API, exit 1 and one line from the CLI,
nothing written, and writes work again once there is room.

On a machine where the test may mount a filesystem (root, as CI runs), the registry lives on
a real 24 MB tmpfs that the test fills. Elsewhere the commit fails exactly as DuckDB's does on
a full disk (the same exception and words), injected at the store's commit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.served import DA, make_token, served

MOUNT, UMOUNT = shutil.which("mount"), shutil.which("umount")


def _mount(folder: Path) -> bool:
    folder.mkdir(parents=True)
    if MOUNT is None:
        return False
    done = subprocess.run(
        [MOUNT, "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 24 MB filesystem holding a demo registry (None where none can be mounted)."""
    disk = tmp_path / "disk"
    mounted = _mount(disk)
    try:
        data = disk / "data"
        subprocess.run([DA, "--data-dir", str(data), "demo"], check=True, capture_output=True)
        yield disk if mounted else None
    finally:
        if mounted and UMOUNT is not None:
            subprocess.run([UMOUNT, "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def history(data: Path) -> list[dict[str, object]]:
    listed = subprocess.run(
        [DA, "--data-dir", str(data), "metrics", "history", "revenue/mrr", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(listed.stdout))


def test_a_full_disk_is_a_507_through_the_api_and_exit_1_from_the_cli(
    small_disk: Path | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if small_disk is None:
        _injected_full_disk(tmp_path / "disk" / "data", monkeypatch)
        return
    data = small_disk / "data"
    token = make_token(data, "ops")
    change = {"description": "Recurring revenue, counted monthly. " * 40}
    with served(data) as url:
        headers = {"Authorization": f"Bearer {token}"}
        filler = fill(small_disk)
        refused = [
            httpx.patch(f"{url}/api/admin/metrics/revenue/mrr", json=change, headers=headers)
            for _ in range(3)
        ]
        assert [r.status_code for r in refused] == [507, 507, 507]
        assert all("disk full" in r.json()["detail"] for r in refused)
        assert all("nothing was written" in r.json()["detail"] for r in refused)
        filler.unlink()
        again = httpx.patch(f"{url}/api/admin/metrics/revenue/mrr", json=change, headers=headers)
        assert again.status_code == 200 and again.json()["version"] == 2
    filler = fill(small_disk)
    result = subprocess.run(
        [DA, "--data-dir", str(data), "metrics", "update", "revenue/mrr", "--set", "unit=EUR"],
        capture_output=True,
        text=True,
    )
    filler.unlink()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "disk full" in line and "nothing was written" in line
    assert [v["version"] for v in history(data)] == [1, 2]  # the refused ones wrote nothing


def _injected_full_disk(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where nothing can be mounted: DuckDB's own full-disk failure, raised at the commit."""
    import duckdb

    from storage.duckdb import DuckDBEventStore

    def full(self: DuckDBEventStore) -> None:
        raise duckdb.TransactionException(
            'TransactionContext Error: Failed to commit: Could not write file "system.duckdb.wal":'
            " No space left on device"
        )

    monkeypatch.setattr(DuckDBEventStore, "_commit", full)
    result = CliRunner().invoke(
        app, ["--data-dir", str(data), "metrics", "update", "revenue/mrr", "--set", "unit=EUR"]
    )
    [line] = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and "disk full" in line and "nothing was written" in line
    monkeypatch.undo()
    assert [v["version"] for v in history(data)] == [1]
