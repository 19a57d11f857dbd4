"""A data folder with the demo database and the starter pack, copied fresh for each test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

Run = Callable[..., "Result"]


class Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    result = CliRunner().invoke(app, ["--data-dir", str(folder), "--actor", "setup", "demo"])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def data(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(template, target)
    return target


@pytest.fixture
def da(data: Path) -> Run:
    """Run `da` on the copied data folder (as actor alice); returns exit code, stdout, stderr."""

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(
            app, ["--data-dir", str(data), "--actor", "alice", *args], env=env
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


@contextmanager
def held_open(database: Path) -> Iterator[None]:
    """Another process holding a DuckDB file open (and so locked) while the block runs."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]);"
            " print('ready', flush=True); sys.stdin.read()",
            str(database),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield
    finally:
        holder.kill()
        holder.wait()
