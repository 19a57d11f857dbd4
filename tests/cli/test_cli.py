"""Every `da` command through Typer's runner, its error paths, and the installed entry point."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from tests.cli.conftest import Run, held_open

README = Path(__file__).resolve().parents[2] / "README.md"


def as_json(result: object) -> object:
    return json.loads(result.stdout)  # type: ignore[attr-defined]


def test_version() -> None:
    result = CliRunner().invoke(app, ["version"])
    assert (result.exit_code, result.stdout.strip()) == (0, "0.1.0")


def all_commands() -> list[str]:
    names = [f"da {c.name}" for c in app.registered_commands]
    for group in app.registered_groups:
        names += [f"da {group.name} {c.name}" for c in group.typer_instance.registered_commands]
    return names


@pytest.mark.parametrize("command", all_commands())
def test_every_command_has_help_and_is_in_the_readme(command: str) -> None:
    result = CliRunner().invoke(app, [*command.split()[1:], "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout
    assert command in README.read_text(), f"`{command}` is not in README.md"


def test_demo_is_ready_and_idempotent(da: Run) -> None:
    again = da("demo")
    assert again.exit_code == 0
    assert "starter pack: 11 metrics in the registry (0 written now)" in again.stdout
    assert "validated against the demo database: 0 findings" in again.stdout


def test_tables_are_aligned_one_record_a_line(da: Run) -> None:
    lines = da("metrics", "list", "--category", "revenue").stdout.splitlines()
    header, rows = lines[0], lines[1:]
    assert header.split() == ["ID", "DISPLAY_NAME", "TYPE", "UNIT", "TABLE_NAME", "VERSION"]
    assert [r.split()[0] for r in rows] == [
        "revenue/arr",
        "revenue/churn_rate",
        "revenue/mrr",
        "revenue/total_revenue",
    ]
    unit = header.index("UNIT")
    assert {r[unit:].split()[0] for r in rows} == {"USD", "percentage"}  # one column, aligned


def test_list_show_search(da: Run) -> None:
    listed = da("metrics", "list", "--json")
    assert [m["id"] for m in as_json(listed)][:2] == [
        "operations/infrastructure_cost",
        "operations/support_resolution_time",
    ]  # type: ignore[index]
    assert "revenue/mrr" in da("metrics", "list", "--category", "revenue").stdout
    shown = as_json(da("metrics", "show", "revenue/mrr", "--json"))
    assert shown["table_name"] == "subscriptions" and shown["version"] == 1  # type: ignore[index]
    assert "SELECT billing_date AS month" in da("metrics", "show", "revenue/mrr").stdout
    assert [m["id"] for m in as_json(da("metrics", "search", "mau", "--json"))] == [
        "product_usage/active_users"
    ]  # type: ignore[index]


def test_missing_metric_is_one_line_and_exit_1(da: Run) -> None:
    result = da("metrics", "show", "revenue/nope")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: metric 'revenue/nope' does not exist"
    assert "Traceback" not in result.stderr + result.stdout


def test_create_update_delete_restore(da: Run, tmp_path: Path) -> None:
    file = tmp_path / "sales" / "win_rate.yml"
    file.parent.mkdir()
    file.write_text(
        "name: win_rate\ntype: ratio\nunit: percentage\ntable: opportunities\nsql: SELECT 1\n"
    )
    created = as_json(da("metrics", "create", "-f", str(file), "--reason", "new", "--json"))
    assert (created["id"], created["table_name"]) == ("sales/win_rate", "opportunities")  # type: ignore[index]
    updated = as_json(
        da(
            "metrics",
            "update",
            "sales/win_rate",
            "--set",
            "unit=percent",
            "--set",
            "synonyms=[wr, win]",
            "--json",
        )
    )
    assert (updated["unit"], updated["synonyms"], updated["version"]) == (
        "percent",
        ["wr", "win"],
        2,
    )  # type: ignore[index]
    assert (
        da("metrics", "delete", "sales/win_rate", "--reason", "gone").stdout.strip()
        == "deleted sales/win_rate (version 3)"
    )
    assert da("metrics", "restore", "sales/win_rate").exit_code == 0
    history = as_json(da("metrics", "history", "sales/win_rate", "--json"))
    assert [(h["event_type"], h["actor"]) for h in history] == [  # type: ignore[union-attr]
        ("MetricCreated", "alice"),
        ("MetricUpdated", "alice"),
        ("MetricDeleted", "alice"),
        ("MetricRestored", "alice"),
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("metrics", "update", "revenue/mrr", "--set", "colour=red"), 1, "colour: unknown field"),
        (
            ("metrics", "update", "revenue/mrr", "--set", "type=summ"),
            1,
            "type: 'summ' is not one of sum, count, avg, ratio",
        ),
        (("metrics", "update", "revenue/mrr", "--set", "nonsense"), 2, "is not field=value"),
        (("metrics", "rollback", "revenue/mrr", "--to", "1"), 2, "--reason"),
        (
            ("metrics", "rollback", "revenue/mrr", "--to", "7", "--reason", "x"),
            1,
            "has no version 7",
        ),
        (("metrics", "diff", "revenue/mrr", "--as-of", "2026-01-01"), 2, "give --as-of twice"),
        (("metrics", "list", "--as-of", "yesterday"), 2, "Invalid value for '--as-of'"),
        (("audit", "verify", "--anchor", "12"), 2, "POSITION:HASH"),
        (("metrics", "import", "/no/such/folder"), 2, "does not exist"),
    ],
)
def test_errors_are_one_sentence(da: Run, args: tuple[str, ...], code: int, message: str) -> None:
    result = da(*args)
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_create_from_a_bad_file_names_the_file_and_field(da: Run, tmp_path: Path) -> None:
    file = tmp_path / "revenue" / "bad.yml"
    file.parent.mkdir()
    file.write_text("name: bad\nsql: SELECT 1\nowner: bob\n")
    result = da("metrics", "create", "-f", str(file))
    assert result.exit_code == 1 and "owner: unknown field" in result.stderr
    broken = tmp_path / "revenue" / "broken.yml"
    broken.write_text("name: [\n")
    assert "broken YAML" in da("metrics", "create", "-f", str(broken)).stderr


def test_diff_rollback_and_as_of(da: Run) -> None:
    da("metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--reason", "try")
    diff = da("metrics", "diff", "revenue/mrr")
    assert "unit: 'USD' -> 'EUR'" in diff.stdout
    structured = as_json(da("metrics", "diff", "revenue/mrr", "1", "2", "--json"))
    assert structured["changes"] == [  # type: ignore[index]
        {"field": "unit", "old": "USD", "new": "EUR"},
        {"field": "source", "old": "yaml_import", "new": "manual"},
        {"field": "source_ref", "old": "starter_pack", "new": None},
    ]
    rolled = as_json(
        da("metrics", "rollback", "revenue/mrr", "--to", "1", "--reason", "undo", "--json")
    )
    assert (rolled["unit"], rolled["version"]) == ("USD", 3)  # type: ignore[index]
    # Version 1's definition is back, its writer and label too; the rollback itself is a hand
    # action of the CLI's, and history names its target.
    assert (rolled["source"], rolled["source_ref"]) == ("yaml_import", "starter_pack")  # type: ignore[index]
    history = as_json(da("metrics", "history", "revenue/mrr", "--json"))
    assert [(v["what"], v["door"], v["writer"]) for v in history] == [  # type: ignore[index]
        ("created", "cli", "yaml_import"),
        ("updated", "cli", "manual"),
        ("rolled back to v1", "cli", "manual"),
    ]
    shown = da("--wide", "metrics", "history", "revenue/mrr").stdout
    assert "rolled back to v1" in shown and "manual" in shown
    at_two = as_json(da("metrics", "list", "--at", "12", "--json"))
    assert next(m for m in at_two if m["id"] == "revenue/mrr")["unit"] == "EUR"  # type: ignore[union-attr, index]
    by_time = as_json(
        da(
            "metrics",
            "diff",
            "revenue/mrr",
            "--as-of",
            "2000-01-01",
            "--as-of",
            "2999-01-01",
            "--json",
        )
    )
    assert (by_time["from_version"], by_time["to_version"]) == (0, 3)  # type: ignore[index]


def test_sql_diff_is_shown(da: Run) -> None:
    da("metrics", "update", "revenue/arr", "--set", "sql=SELECT 12")
    assert "+SELECT 12" in da("metrics", "diff", "revenue/arr").stdout


def test_import_export_round_trip(da: Run, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert (
        da("metrics", "export", "--dir", str(out)).stdout.strip() == f"exported 11 metrics to {out}"
    )
    assert yaml.safe_load((out / "revenue" / "mrr.yml").read_text())["table"] == "subscriptions"
    assert da("metrics", "export", "--dir", str(out)).exit_code == 1  # not empty
    again = da("metrics", "import", str(out))
    assert again.stdout.strip().endswith("11 unchanged; wrote 0; 0 unreadable")
    (out / "revenue" / "arr.yml").unlink()
    (out / "revenue" / "bad.yml").write_text("name: bad\n")
    refused = da("metrics", "import", str(out), "--prune", "--source-ref", "starter_pack")
    assert refused.exit_code == 1 and "bad.yml" in refused.stderr
    (out / "revenue" / "bad.yml").unlink()
    dry = da(
        "metrics",
        "import",
        str(out),
        "--prune",
        "--source-ref",
        "starter_pack",
        "--dry-run",
        "--json",
    )
    assert as_json(dry)["deleted"] == ["revenue/arr"]  # type: ignore[index]
    assert da("metrics", "show", "revenue/arr").exit_code == 0
    one = da("metrics", "export", "--metric", "revenue/mrr@1")
    assert yaml.safe_load(one.stdout)["name"] == "mrr"


def test_validate_and_table_map(da: Run, data: Path) -> None:
    assert da("metrics", "validate").stdout.strip() == "all metrics validate clean"
    da("metrics", "update", "revenue/mrr", "--set", "time_column=billed_on")
    broken = da("metrics", "validate", "revenue/mrr", "--json")
    assert broken.exit_code == 1 and as_json(broken)[0]["field"] == "time_column"  # type: ignore[index]
    explicit = da(
        "metrics", "validate", "revenue/arr", "--db", str(data / "demo" / "analytics.duckdb")
    )
    assert explicit.exit_code == 0
    mapping = as_json(da("metrics", "table-map", "--json"))
    assert mapping["orders"] == ["new_customers", "total_revenue"]  # type: ignore[index]
    assert "orders: new_customers, total_revenue" in da("metrics", "table-map").stdout


def test_columns(da: Run, tmp_path: Path) -> None:
    made = as_json(
        da(
            "columns",
            "set",
            "orders",
            "total_amount",
            "--basetype",
            "NUMERIC",
            "--description",
            "Order total",
            "--json",
        )
    )
    assert (made["basetype"], made["confidence"]) == ("NUMERIC", "manual")  # type: ignore[index]
    da("columns", "set", "orders", "total_amount", "--confidence", "verified")
    shown = as_json(da("columns", "show", "orders", "total_amount", "--json"))
    assert (shown["description"], shown["confidence"]) == ("Order total", "verified")  # type: ignore[index]
    assert len(as_json(da("columns", "history", "orders", "total_amount", "--json"))) == 2  # type: ignore[arg-type]
    file = tmp_path / "columns.yml"
    file.write_text(
        yaml.safe_dump(
            [
                {"table_id": "orders", "column_name": "channel", "basetype": "STRING"},
                {"table_id": "orders", "column_name": "region", "basetype": "STRING"},
            ]
        )
    )
    assert da("columns", "import", str(file)).stdout.strip() == "2 columns written, 0 unchanged"
    assert [c["column_name"] for c in as_json(da("columns", "list", "orders", "--json"))] == [
        "channel",
        "region",
        "total_amount",
    ]  # type: ignore[union-attr, index]
    exported = yaml.safe_load(da("columns", "export", "--table", "orders").stdout)
    assert len(exported) == 3 and exported[0]["column_name"] == "channel"
    file.write_text(
        yaml.safe_dump([{"table_id": "orders"}, {"column_name": "x", "table_id": "bad id"}])
    )
    bad = da("columns", "import", str(file))
    assert (
        bad.exit_code == 1
        and "entry 1: column_name: is required" in bad.stderr
        and "entry 2: table_id" in bad.stderr
    )
    assert da("columns", "delete", "orders", "channel").stdout.startswith("deleted orders:channel")
    assert da("columns", "show", "orders", "channel").exit_code == 1


def test_audit_log_verify_head(da: Run, data: Path) -> None:
    da("metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--reason", "audit me")
    page = as_json(da("audit", "log", "--actor", "alice", "--json"))
    assert [(e["stream_id"], e["reason"]) for e in page["events"]] == [("revenue/mrr", "audit me")]  # type: ignore[index]
    assert "audit me" in da("audit", "log", "--metric", "revenue/mrr").stdout
    assert da("audit", "log", "--type", "MetricRolledBack", "--json").exit_code == 0
    every = as_json(da("audit", "log", "--all", "--json"))["events"]  # type: ignore[index]
    batch = every[-1]["batch_id"]  # the starter pack's import
    in_batch = as_json(da("audit", "log", "--batch", batch, "--all", "--json"))["events"]  # type: ignore[index]
    assert [e["position"] for e in in_batch] == [
        e["position"] for e in every if e["batch_id"] == batch
    ] and len(in_batch) > 1
    anchor = da("audit", "head").stdout.strip()
    assert anchor.startswith("12:")
    assert da("audit", "verify", "--anchor", anchor).stdout.startswith("ok: 12 events verified")
    import duckdb

    conn = duckdb.connect(str(data / "state" / "system.duckdb"))
    conn.execute("UPDATE event_log SET reason = 'forged' WHERE position = 12")
    conn.close()
    broken = da("audit", "verify")
    assert broken.exit_code == 1
    assert broken.stdout.startswith("FAILED: the log breaks at position 12: ")


def test_projections_check_and_rebuild(da: Run, data: Path) -> None:
    assert da("projections", "check").stdout.strip() == "in step: the tables match the event log"
    import duckdb

    conn = duckdb.connect(str(data / "state" / "system.duckdb"))
    conn.execute("UPDATE metric_definitions SET unit = 'JPY' WHERE id = 'revenue/mrr'")
    conn.close()
    check = da("projections", "check")
    assert check.exit_code == 1 and "unit is 'JPY', the log says 'USD'" in check.stdout
    assert da("projections", "rebuild").stdout.strip() == "rebuilt: 11 rows from the event log"
    assert da("projections", "check").exit_code == 0


def test_starter_pack_and_tokens(da: Run) -> None:
    assert "0 added, 0 updated, 11 unchanged" in da("starter-pack", "load").stdout
    token = da("tokens", "create", "--role", "auditor", "--name", "carol").stdout.strip()
    assert token.startswith("mr_")
    listed = as_json(da("tokens", "list", "--json"))
    assert [(t["name"], t["role"]) for t in listed] == [("carol", "auditor")]  # type: ignore[union-attr, index]
    assert da("tokens", "revoke", "carol").stdout.strip() == "revoked carol"
    assert da("tokens", "revoke", "carol").exit_code == 1
    assert da("tokens", "create", "--role", "boss", "--name", "x").exit_code == 1


def test_a_locked_database_with_no_server_is_one_sentence(da: Run, data: Path) -> None:
    with held_open(data / "state" / "system.duckdb"):
        result = da("metrics", "list")
        assert result.exit_code == 1
        assert "is in use by another process" in result.stderr and "Traceback" not in result.stderr


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
    assert "starter pack: 11 metrics in the registry (11 written now)" in done.stdout
    listed = subprocess.run(
        [str(da), "--data-dir", str(tmp_path), "metrics", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert len(json.loads(listed.stdout)) == 11

    # A reader that went away (`da ... | head -1`) ends the command quietly, as with cat:
    # the pipe's read end is closed before `da` starts, so its first write fails for sure.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        shown = subprocess.run(
            [str(da), "--data-dir", str(tmp_path), "metrics", "show", "revenue/mrr"],
            stdout=write_end,
            capture_output=False,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (shown.returncode, shown.stderr) == (141, "")


def test_import_of_many_new_metrics_into_a_non_empty_registry(da: Run, tmp_path: Path) -> None:
    """More metrics than the store's row-by-row threshold, after `da demo` wrote the pack."""
    folder = tmp_path / "many" / "bulk"
    folder.mkdir(parents=True)
    for i in range(17):
        (folder / f"m{i}.yml").write_text(f"name: m{i}\nsql: SELECT {i}\ntable: t\n")
    result = da("metrics", "import", str(folder.parent), "--json")
    assert result.exit_code == 0, result.stderr
    assert sorted(as_json(result)["added"]) == sorted(f"bulk/m{i}" for i in range(17))  # type: ignore[index]
    assert as_json(da("metrics", "show", "bulk/m16", "--json"))["sql"] == "SELECT 16"  # type: ignore[index]
    assert json.loads(da("audit", "verify", "--json").stdout)["ok"] is True


def test_search_finds_the_metric_from_plain_words(da: Run) -> None:
    lines = da("metrics", "search", "setup fees").stdout.splitlines()
    assert lines[1].split()[0] == "revenue/mrr" and "setup in notes" in lines[1]
    assert "no metric matches" in da("metrics", "search", "zebra quantum").stdout
    ranked = json.loads(da("metrics", "search", "cloud spend by provider", "--json").stdout)
    assert ranked[0]["id"] == "operations/infrastructure_cost"


def test_run_prints_the_rows_of_the_canonical_sql(da: Run) -> None:
    shown = da(
        "metrics",
        "run",
        "operations/infrastructure_cost",
        "--variant",
        "by_provider",
        "--csv",
        "--limit",
        "2",
    )
    lines = shown.stdout.splitlines()
    assert lines[0] == "month,provider,infrastructure_cost" and len(lines) == 3
    as_json = json.loads(da("metrics", "run", "revenue/mrr", "--json").stdout)
    assert as_json["sql"].startswith("SELECT billing_date AS month") and as_json["version"] == 1
    missing = da("metrics", "run", "revenue/mrr", "--variant", "by_moon")
    assert missing.exit_code == 1 and "its variants: by_plan" in missing.stderr


def test_import_of_a_dbt_project(da: Run) -> None:
    project = Path(__file__).resolve().parents[1] / "registry" / "dbt_project"
    shown = da("metrics", "import", str(project), "--format", "dbt")
    assert shown.exit_code == 0, shown.stderr
    assert "added     sales/revenue" in shown.stdout
    assert "not imported cumulative_revenue: cumulative metrics (a running window" in shown.stdout
    strict = da("metrics", "import", str(project), "--format", "dbt", "--strict")
    assert strict.exit_code == 1 and "strict import refused" in strict.stderr
    bad = da("metrics", "import", str(project), "--format", "xml")
    assert bad.exit_code == 2 and "is not yaml, dbt or ossie" in bad.stderr


def test_export_as_dbt_and_import_it_back_unchanged(da: Run, tmp_path: Path) -> None:
    folder = tmp_path / "dbt"
    exported = da("metrics", "export", "--format", "dbt", "--dir", str(folder))
    assert exported.exit_code == 0 and "files of a dbt project" in exported.stdout
    assert (folder / "models" / "subscriptions.yml").is_file()
    again = json.loads(da("metrics", "import", str(folder), "--format", "dbt", "--json").stdout)
    assert len(again["unchanged"]) == 11 and again["written"] == [] and again["skipped"] == {}


def test_a_deleted_metric_says_when_by_whom_and_how_to_bring_it_back(da: Run) -> None:
    """show, update and delete of a deleted metric: not "does not exist", but its deletion
    and the command that restores it."""
    assert da("metrics", "delete", "revenue/mrr", "--reason", "retired").exit_code == 0
    for command in (
        ("metrics", "show", "revenue/mrr"),
        ("metrics", "update", "revenue/mrr", "--set", "unit=EUR"),
        ("metrics", "delete", "revenue/mrr"),
    ):
        result = da(*command)
        [line] = result.stderr.strip().splitlines()
        assert result.exit_code == 1 and line.startswith(
            "error: metric 'revenue/mrr' was deleted at version 2 by "
        )
        assert line.endswith("; restore it with `da metrics restore revenue/mrr`"), line
    assert da("metrics", "restore", "revenue/mrr").exit_code == 0
    assert json.loads(da("metrics", "show", "revenue/mrr", "--json").stdout)["version"] == 3


def test_columns_import_takes_an_idempotency_key(da: Run, tmp_path: Path) -> None:
    first = tmp_path / "first.yml"
    first.write_text("- table_id: orders\n  column_name: k\n  description: once\n")
    runs = [da("columns", "import", str(first), "--idempotency-key", "cols-1") for _ in range(2)]
    assert [r.stdout for r in runs] == ["1 columns written, 0 unchanged\n"] * 2
    history = json.loads(da("columns", "history", "orders", "k", "--json").stdout)
    assert [v["version"] for v in history] == [1]
    other = tmp_path / "other.yml"
    other.write_text("- table_id: orders\n  column_name: k\n  description: twice\n")
    refused = da("columns", "import", str(other), "--idempotency-key", "cols-1")
    assert refused.exit_code == 1 and "idempotency key 'cols-1'" in refused.stderr


def test_refusals_name_the_flag_and_the_whole_path(da: Run, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    (busy / "x").mkdir(parents=True)
    refused = da("metrics", "export", "--dir", str(busy))
    assert refused.exit_code == 1 and f"{busy} is not empty" in refused.stderr
    assert "pass --overwrite" in refused.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    pruned = da("metrics", "import", str(empty), "--prune")
    assert pruned.exit_code == 1
    assert f"prune refused: {empty} holds no metrics" in pruned.stderr


def test_ossie_export_and_import(da: Run, tmp_path: Path) -> None:
    out = tmp_path / "ossie"
    shown = da("metrics", "export", "--format", "ossie", "--dir", str(out))
    assert shown.exit_code == 0
    assert shown.stdout.splitlines()[0] == (
        f"exported 4 Apache Ossie documents to {out}: 8 metrics with an ANSI_SQL expression"
    )
    assert (
        "no Ossie expression (kept as metadata in its model): revenue/churn_rate:"
        " the SQL has a WITH clause" in shown.stdout
    )
    assert (
        da("metrics", "import", "--format", "ossie", str(out))
        .stdout.strip()
        .endswith("11 unchanged; wrote 0; 0 unreadable")
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: '0.2.0.dev0'\nsemantic_model:\n  - name: x\n    datasets: []\n")
    refused = da("metrics", "import", "--format", "ossie", str(bad))
    assert refused.exit_code == 1 and "Traceback" not in refused.stderr
    assert "bad.yaml: semantic_model.0.datasets: List should have at least 1 item" in (
        refused.stdout
    )
    assert (
        refused.stderr.strip()
        == "error: 1 file could not be read (the readable ones were imported)"
    )
    wrong = da("metrics", "import", "--format", "ossi", str(bad))
    assert wrong.exit_code != 0 and "'ossi' is not yaml, dbt or ossie" in wrong.stderr


def test_tables_fit_an_80_column_terminal_and_wide_shows_everything(da: Run) -> None:
    da("metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--reason", "x " * 60)
    narrow = {"COLUMNS": "80"}
    for command in (
        ("metrics", "list"),
        ("metrics", "history", "revenue/mrr"),
        ("audit", "log", "--limit", "5"),
        ("metrics", "search", "revenue"),
        ("profile", "--table", "subscriptions"),
    ):
        shown = da(*command, env=narrow).stdout.splitlines()
        assert max(len(line) for line in shown) <= 80, command
        # Ids are never cut: they wrap, whole, if they must.
    listed = da("metrics", "list", env=narrow).stdout
    assert "operations/infrastructure_cost" in listed and "…" in listed
    history = da("metrics", "history", "revenue/mrr", env=narrow).stdout
    assert "x x x" in history and len(history.splitlines()) > 3  # the reason wraps
    wide = da("--wide", "metrics", "list", env=narrow).stdout
    assert "Infrastructure Cost" in wide and "…" not in wide
    assert max(len(line) for line in wide.splitlines()) > 80
    # A list in `show` is one item per line, never joined with ", ".
    shown = da("metrics", "show", "revenue/mrr").stdout
    assert "notes:\n  - Counts active subscriptions only.\n  - Excludes" in shown


def test_sql_that_is_not_one_select_is_refused_when_written(da: Run, tmp_path: Path) -> None:
    refused = da("metrics", "update", "revenue/mrr", "--set", "sql=0")
    assert refused.exit_code == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: revenue/mrr: sql: must be one SELECT query; DuckDB's parser")
    variant = da("metrics", "update", "revenue/mrr", "--set", "sql_variants={by_x: DROP TABLE t}")
    assert variant.exit_code == 1 and "variant by_x must be one SELECT query" in variant.stderr
    assert as_json(da("metrics", "show", "revenue/mrr", "--json"))["version"] == 1  # type: ignore[index]


def test_a_deleted_column_says_how_to_bring_it_back(da: Run) -> None:
    da("columns", "set", "orders", "net amount", "--description", "After discounts")
    da("columns", "delete", "orders", "net amount", "--reason", "typo")
    shown = da("columns", "show", "orders", "net amount")
    assert shown.exit_code == 1
    assert re.fullmatch(
        r"error: column 'orders.net amount' was deleted at version 2 by alice on"
        r" \d{4}-\d\d-\d\d \d\d:\d\d UTC; restore it with"
        r" `da columns restore orders 'net amount'`\n",
        shown.stderr,
    )
    assert da("columns", "restore", "orders", "net amount", "--reason", "back").exit_code == 0
    never = da("columns", "show", "orders", "nothing")
    assert never.stderr == "error: column orders.nothing has no metadata\n"


def test_edit_opens_the_yaml_and_writes_what_changed(da: Run, data: Path, tmp_path: Path) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import pathlib, sys\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('unit: USD', 'unit: EUR'))\n"
    )
    env = {"EDITOR": f"{sys.executable} {editor}"}
    edited = da("metrics", "edit", "revenue/mrr", "--reason", "euro", "--json", env=env)
    assert edited.exit_code == 0, edited.stderr
    assert (as_json(edited)["unit"], as_json(edited)["version"]) == ("EUR", 2)  # type: ignore[index]
    history = as_json(da("metrics", "history", "revenue/mrr", "--json"))
    assert history[-1]["changed"] == ["unit", "source", "source_ref"]  # type: ignore[index]
    assert history[-1]["reason"] == "euro"  # type: ignore[index]
    unchanged = da("metrics", "edit", "revenue/mrr", "--reason", "again", env=env)
    assert unchanged.stdout == "no change to revenue/mrr: nothing written\n"
    # The metric moves while the editor is open (the database is not held meanwhile):
    # the edit is refused and writes nothing.
    racer = tmp_path / "racer.py"
    racer.write_text(
        "import pathlib, subprocess, sys\n"
        f"subprocess.run([{shutil.which('da')!r}, '--data-dir', {str(data)!r}, 'metrics',"
        " 'update', 'revenue/mrr', '--set', 'unit=GBP'], check=True)\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('grain: monthly', 'grain: weekly'))\n"
    )
    raced = da(
        "metrics",
        "edit",
        "revenue/mrr",
        "--reason",
        "x",
        env={"EDITOR": f"{sys.executable} {racer}"},
    )
    assert raced.exit_code == 1 and "is at version 3, not version 2" in raced.stderr
    assert as_json(da("metrics", "show", "revenue/mrr", "--json"))["grain"] == "monthly"  # type: ignore[index]
    broken = tmp_path / "broken.py"
    broken.write_text("import pathlib, sys\npathlib.Path(sys.argv[1]).write_text('name: [\\n')\n")
    bad = da(
        "metrics",
        "edit",
        "revenue/mrr",
        "--reason",
        "x",
        env={"EDITOR": f"{sys.executable} {broken}"},
    )
    assert bad.exit_code == 1 and "revenue/mrr.yml:" in bad.stderr, bad.stderr
    failed = da("metrics", "edit", "revenue/mrr", "--reason", "x", env={"EDITOR": "false"})
    assert failed.stderr == "error: the editor exited with 1: nothing written\n"


def test_shell_completion_is_offered(da: Run, tmp_path: Path) -> None:
    shown = da("--show-completion", "bash")
    assert shown.exit_code == 0 and "_da_completion" in shown.stdout
    installed = da("--install-completion", "bash", env={"HOME": str(tmp_path)})
    assert installed.exit_code == 0
    assert "da" in (tmp_path / ".bashrc").read_text()
