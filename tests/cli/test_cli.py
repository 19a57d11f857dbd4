"""The `da` command line through Typer's runner, and once through the installed entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def test_version_prints_the_installed_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output.strip() == "0.1.0"


def test_demo_runs_end_to_end_and_again(tmp_path: Path) -> None:
    first = runner.invoke(app, ["--data-dir", str(tmp_path), "demo"])
    assert first.exit_code == 0, first.output
    assert "-WHERE status = 'active'" in first.output
    assert "event log verified: True (3 events" in first.output
    assert "projection in step with the log: True" in first.output
    second = runner.invoke(app, ["--data-dir", str(tmp_path), "demo"])
    assert second.exit_code == 0, second.output
    assert "revenue/mrr: version 3 (unchanged)" in second.output
    assert "event log verified: True (5 events" in second.output


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for command in app.registered_commands:
        assert command.callback is not None and command.callback.__doc__, command.name
        assert f"da {command.name}" in readme, f"`da {command.name}` is not in README.md"


def test_installed_entry_point(tmp_path: Path) -> None:
    da = Path(sys.executable).parent / "da"
    assert da.exists(), f"the `da` script is not installed next to {sys.executable}"
    done = subprocess.run(
        [str(da), "--data-dir", str(tmp_path), "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "projection in step with the log: True" in done.stdout
    assert (tmp_path / "state" / "system.duckdb").exists()
