"""The README's guided tour runs as written, and its two set-up commands are the real ones."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def tour() -> list[list[str]]:
    block = README.split("<!-- tour:start -->")[1].split("<!-- tour:end -->")[0]
    lines = [line for line in block.splitlines() if line.startswith("da ")]
    return [shlex.split(line)[1:] for line in lines]


def test_the_guided_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    steps = tour()
    assert len(steps) >= 8
    outputs = []
    for args in steps:
        result = CliRunner().invoke(
            app, ["--data-dir", str(tmp_path / "data"), "--actor", "tourist", *args]
        )
        assert result.exit_code == 0, (args, result.output)
        outputs.append(result.stdout)
    assert "unit: 'USD' -> 'EUR'" in "".join(outputs)
    assert (tmp_path / "data" / "tour-export" / "revenue" / "mrr.yml").exists()
    assert outputs[-1].startswith("ok: 13 events verified")


def test_the_readme_opens_with_its_two_commands_and_ci_runs_the_second() -> None:
    commands = re.findall(r"```bash\n(.+?)\n```", README)[:2]
    assert commands[0].endswith("pip install -e . && da demo")
    tail = "&& ruff check . && ruff format --check . && mypy && pytest && pytest -m slow"
    assert commands[1].endswith(tail)
    assert "pip install -e '.[test]' &&" in commands[1]
    # The browser tests need Chromium: the command installs it when it is missing.
    assert "command -v chromium >/dev/null ||" in commands[1]
    assert "apt-get install -y chromium" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
