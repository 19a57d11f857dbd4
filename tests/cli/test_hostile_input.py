"""Bad input and broken surroundings: one line naming the file, line or field; exit 1; nothing
written (issue: hostile input, full disks and heavy readers)."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli.conftest import Run

BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "name: boom\nsql: SELECT 1\n"
)


def log_size(data: Path) -> int:
    conn = duckdb.connect(str(data / "state" / "system.duckdb"))
    try:
        return int(conn.execute("SELECT count(*) FROM event_log").fetchall()[0][0])
    finally:
        conn.close()


def one_line_error(result: object) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return str(lines[0])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe\x00binary\x00", "is not UTF-8 text"),
        (
            b"? [1, 2]\n: x\nname: a\nsql: SELECT 1\n",
            ":1: broken YAML: a key must be a plain value",
        ),
        (
            b"name: a\nsql: SELECT 1\nname: b\n",
            ":3: broken YAML: key 'name' is given twice (also on line 1)",
        ),
        (b"name: a\nsql: SELECT 1\nnotes: &n [*n]\n", "recursive alias"),
        (BOMB.encode(), "expands to more than"),
        (
            b"name: a\nsql: SELECT 1\n" + b"# " + b"x" * (2 * 1024 * 1024) + b"\n",
            "larger than 1024 KiB",
        ),
    ],
)
def test_metrics_create_refuses_a_bad_file_in_one_line(
    da: Run, data: Path, tmp_path: Path, content: bytes, expected: str
) -> None:
    before = log_size(data)
    path = tmp_path / "revenue" / "bad.yml"
    path.parent.mkdir()
    path.write_bytes(content)
    started = time.monotonic()
    line = one_line_error(da("metrics", "create", "-f", str(path)))
    assert time.monotonic() - started < 5
    assert str(path) in line and expected in line
    assert log_size(data) == before


HUGE = "9" * 5000  # past Python's 4,300-digit conversion limit


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f"name: a\nsql: SELECT 1\nvalidation:\n  x: {HUGE}\n", ":4: broken YAML: 99999"),
        ("name: a\nsql: SELECT 1\nvalidation:\n  x: 9223372036854775808\n", "larger than 64 bits"),
        (
            "name: a\nsql: SELECT 1\nvalidation:\n  x: .nan\n",
            ":4: broken YAML: nan is not a finite",
        ),
        ("name: a\nsql: SELECT 1\nvalidation:\n  x: -.inf\n", "-inf is not a finite number"),
    ],
)
def test_numbers_the_registry_cannot_hold_are_refused_at_every_cli_door(
    da: Run, data: Path, tmp_path: Path, content: str, expected: str
) -> None:
    """Through create, import, columns import and --set: one line, nothing written."""
    before = log_size(data)
    path = tmp_path / "revenue" / "a.yml"
    path.parent.mkdir()
    path.write_text(content)
    assert expected in one_line_error(da("metrics", "create", "-f", str(path)))
    imported = da("metrics", "import", str(tmp_path))
    assert imported.exit_code == 1 and expected in imported.stdout
    value = content.split("x: ")[1].strip()
    columns = tmp_path / "cols.yml"
    columns.write_text(f"- table_id: orders\n  column_name: a\n  description: {value}\n")
    assert "broken YAML" in one_line_error(da("columns", "import", str(columns)))
    settings = da("metrics", "update", "revenue/mrr", "--set", f"validation={{x: {value}}}")
    assert settings.exit_code == 2 and "Traceback" not in settings.stderr
    assert "--set" in settings.stderr and expected.split(": ")[-1][:12] in settings.stderr
    assert log_size(data) == before


def test_dbt_files_go_through_the_bounded_loader(da: Run, data: Path, tmp_path: Path) -> None:
    """dbt_project.yml and manifests: aliases, encodings, depth and size are bounded."""
    before = log_size(data)
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    (bomb / "dbt_project.yml").write_text(BOMB)
    started = time.monotonic()
    line = one_line_error(da("metrics", "import", "--format", "dbt", str(bomb)))
    assert time.monotonic() - started < 5 and "dbt_project.yml" in line and "expands to" in line
    latin = tmp_path / "latin"
    latin.mkdir()
    (latin / "dbt_project.yml").write_bytes("name: café\n".encode("latin-1"))
    assert "is not UTF-8 text" in one_line_error(
        da("metrics", "import", "--format", "dbt", str(latin))
    )
    deep = tmp_path / "deep"
    (deep / "target").mkdir(parents=True)
    (deep / "dbt_project.yml").write_text("name: deep\n")
    (deep / "target" / "semantic_manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    nested = da("metrics", "import", "--format", "dbt", str(deep))
    assert "nests deeper than 64 levels" in nested.stdout and "Traceback" not in nested.stderr
    huge = tmp_path / "huge"
    (huge / "target").mkdir(parents=True)
    (huge / "dbt_project.yml").write_text("name: huge\n")
    with (huge / "target" / "semantic_manifest.json").open("w") as out:
        out.write('{"metrics": [' + " " * (33 * 1024 * 1024) + "]}")
    too_big = da("metrics", "import", "--format", "dbt", str(huge))
    assert "larger than 32768 KiB" in too_big.stdout and "Traceback" not in too_big.stderr
    assert log_size(data) == before


def test_columns_import_refuses_binary_and_broken_files(
    da: Run, data: Path, tmp_path: Path
) -> None:
    before = log_size(data)
    binary = tmp_path / "cols.yml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert "is not UTF-8 text" in one_line_error(da("columns", "import", str(binary)))
    twice = tmp_path / "twice.yml"
    twice.write_text("- table_id: orders\n  column_name: a\n  column_name: b\n")
    assert f"{twice}:3: broken YAML" in one_line_error(da("columns", "import", str(twice)))
    assert log_size(data) == before


def test_a_category_key_must_name_its_folder(da: Run, tmp_path: Path) -> None:
    folder = tmp_path / "source" / "revenue"
    folder.mkdir(parents=True)
    (folder / "mrr.yml").write_text("name: mrr2\ncategory: sales\nsql: SELECT 1\n")
    (folder / "ok.yml").write_text("name: fine\nsql: SELECT 1\n")
    result = da("metrics", "import", str(tmp_path / "source"))
    assert result.exit_code == 1
    assert "revenue/mrr.yml:2: category: 'sales' is not its folder 'revenue'" in result.stdout
    assert "1 file could not be read" in result.stderr
    assert json.loads(da("metrics", "show", "revenue/fine", "--json").stdout)["sql"] == "SELECT 1"


def test_a_corrupt_registry_file_is_named_with_what_to_do(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "system.duckdb").write_bytes(b"not a database" * 100)
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "metrics", "list"])
    line = one_line_error(result)
    assert str(state / "system.duckdb") in line and "restore a backup" in line


def test_reading_where_there_is_no_registry_says_so_and_creates_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    reads = (
        ["metrics", "list"],
        ["audit", "verify"],
        ["columns", "list", "orders"],
        ["columns", "export"],
        ["tokens", "list"],
        ["db", "info"],
    )
    for command in reads:
        result = CliRunner().invoke(app, ["--data-dir", str(empty), *command])
        assert f"no registry at {empty}" in one_line_error(result)
    assert not empty.exists()


def test_positions_and_versions_that_do_not_exist_are_errors(da: Run) -> None:
    assert "at_position: 999 is past the log's head" in one_line_error(
        da("metrics", "list", "--at", "999")
    )
    wrong = da("metrics", "export", "--metric", "revenue/mrr@x")
    assert wrong.exit_code == 2 and "ID@VERSION" in wrong.stderr


def test_times_with_a_zone_are_read_as_utc(da: Run) -> None:
    assert da("metrics", "list", "--as-of", "2000-01-01T00:00:00Z", "--json").stdout.strip() == "[]"
    plus = da("metrics", "list", "--as-of", "2999-01-01T02:00:00+02:00", "--json")
    assert len(json.loads(plus.stdout)) == 11
    bad = da("metrics", "list", "--as-of", "0.5")
    assert bad.exit_code == 2 and "'0.5' is not a time" in bad.stderr


def test_a_full_disk_is_refused_with_no_space_left(
    da: Run, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.duckdb import DuckDBEventStore

    def full(self: DuckDBEventStore, rows: object) -> None:
        raise duckdb.IOException("Could not write file: No space left on device")

    before = log_size(data)
    monkeypatch.setattr(DuckDBEventStore, "_insert", full)
    line = one_line_error(da("metrics", "update", "revenue/mrr", "--set", "unit=EUR"))
    assert "No space left on device" in line and "nothing was written" in line
    monkeypatch.undo()
    assert log_size(data) == before


def test_registry_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "starter-pack", "load"])
    assert result.exit_code == 0
    state = tmp_path / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "system.duckdb").stat().st_mode) == 0o600


def test_a_name_too_long_for_a_file_is_refused_by_create_and_import(
    da: Run, data: Path, tmp_path: Path
) -> None:
    before = log_size(data)
    path = tmp_path / "revenue" / "long.yml"
    path.parent.mkdir()
    path.write_text(f"name: {'n' * 5000}\nsql: SELECT 1\n")
    line = one_line_error(da("metrics", "create", "-f", str(path)))
    assert "name" in line and "at most 100 characters" in line
    imported = da("metrics", "import", str(tmp_path))
    assert imported.exit_code == 1 and "at most 100 characters" in imported.stdout
    assert log_size(data) == before


def test_audit_verify_reports_a_token_raised_to_admin(da: Run, data: Path) -> None:
    assert da("tokens", "create", "--role", "analyst", "--name", "bi-tool").exit_code == 0
    assert da("audit", "verify").exit_code == 0
    conn = duckdb.connect(str(data / "state" / "system.duckdb"))
    conn.execute("UPDATE api_tokens SET role = 'admin' WHERE name = 'bi-tool'")
    conn.close()
    result = da("audit", "verify")
    assert result.exit_code == 1
    assert "TOKENS DIFFER from the log (1 differences):" in result.stdout
    assert "api_tokens bi-tool: role is 'admin', the log says 'analyst'" in result.stdout
