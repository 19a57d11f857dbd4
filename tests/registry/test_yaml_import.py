"""YAML import and reconcile (SPEC 2 and 2.1) through the facade and the registry functions."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
import yaml

from registry import MetricRepository, RefusedError
from registry.interchange.imports import ImportOptions, reconcile

MRR = """\
name: mrr
display_name: MRR
table: subscriptions
tables: [plans]
sql: SELECT SUM(mrr_amount) FROM subscriptions
sql_by_plan: SELECT plan_type, SUM(mrr_amount) FROM subscriptions GROUP BY 1
"""
ARR = "name: arr\nsql: SELECT 12\n"


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text))
    return path


def log_size(repo: MetricRepository) -> int:
    row = repo.registry.conn.execute("SELECT count(*) FROM event_log").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "metrics"
    write(root, "metrics.yml", "categories: [revenue]\n")  # an index, not a metric
    write(root, "revenue/mrr.yml", MRR)
    write(root, "revenue/arr.yaml", ARR)
    return root


def test_import_maps_keys_and_defaults_category_from_the_folder(
    repo: MetricRepository, source: Path
) -> None:
    assert repo.import_from_yaml(source) == 2
    mrr = repo.get("revenue/mrr")
    assert mrr is not None
    assert (mrr["table_name"], mrr["tables"], mrr["category"]) == (
        "subscriptions",
        ["plans"],
        "revenue",
    )
    assert mrr["sql_variants"] == {
        "by_plan": "SELECT plan_type, SUM(mrr_amount) FROM subscriptions GROUP BY 1"
    }
    assert (mrr["source"], mrr["source_ref"]) == ("yaml_import", None)


def test_one_import_is_one_batch_and_a_second_appends_nothing(
    repo: MetricRepository, source: Path
) -> None:
    repo.import_from_yaml(source)
    batches = repo.registry.conn.execute(
        "SELECT DISTINCT batch_id, source FROM event_log"
    ).fetchall()
    assert len(batches) == 1 and batches[0][1] == "yaml_import"
    before = log_size(repo)
    report = repo.reconcile_from_yaml(source)
    assert report["unchanged"] == ["revenue/arr", "revenue/mrr"] and report["written"] == []
    assert log_size(repo) == before


def test_a_file_holding_a_list_of_metrics(repo: MetricRepository, tmp_path: Path) -> None:
    path = write(
        tmp_path, "sales/many.yml", "- name: a\n  sql: SELECT 1\n- name: b\n  sql: SELECT 2\n"
    )
    assert repo.import_from_yaml(path) == 2
    assert [m["id"] for m in repo.list()] == ["sales/a", "sales/b"]


BAD_FILES = [
    ("broken.yml", "name: x\nsql: [unclosed\n", "broken.yml:3: broken YAML"),
    ("empty.yml", "", "empty.yml: is empty"),
    ("scalar.yml", "just text\n", "scalar.yml: is not a mapping or a list of mappings"),
    ("nosql.yml", "name: nosql\n", "nosql.yml:1: sql: is required"),
    (
        "typo.yml",
        "name: typo\nsql: SELECT 1\n\ntype: summ\n",
        "typo.yml:4: type: 'summ' is not one of sum, count, avg, ratio",
    ),
    (
        "unknown.yml",
        "name: unknown\nsql: SELECT 1\nowner: bob\n",
        "unknown.yml:3: owner: unknown field",
    ),
    (
        "badlist.yml",
        "name: badlist\nsql: SELECT 1\ndimensions:\n  - a\n  - [b]\n",
        "badlist.yml:5: dimensions.1: ['b'] is not a string",
    ),
    (
        "badtable.yml",
        "name: badtable\nsql: SELECT 1\ntable: [a]\n",
        "badtable.yml:3: table: ['a'] is not a string",
    ),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_unreadable_files_are_skipped_and_reported_with_file_line_and_field(
    repo: MetricRepository, source: Path, name: str, text: str, message: str
) -> None:
    bad = write(source, f"revenue/{name}", text)
    report = reconcile(repo.registry, source, ImportOptions(actor="a"))
    assert report.unreadable == [str(bad)]
    assert any(message in str(p) for p in report.problems[str(bad)]), report.problems
    assert sorted(report.added) == ["revenue/arr", "revenue/mrr"]  # the readable ones are written


def test_every_problem_of_a_file_is_reported_at_once(
    repo: MetricRepository, tmp_path: Path
) -> None:
    path = write(tmp_path, "revenue/bad.yml", "name: Bad\nsql: ''\ntype: mean\ncolour: red\n")
    report = reconcile(repo.registry, path, ImportOptions(actor="a"))
    assert len(report.problems[str(path)]) == 4


def test_the_same_id_twice_in_one_source_is_reported(repo: MetricRepository, source: Path) -> None:
    write(source, "revenue/copy.yml", MRR)
    report = reconcile(repo.registry, source, ImportOptions(actor="a"))
    assert report.unreadable == [str(source / "revenue/mrr.yml")]
    assert "defines revenue/mrr again" in str(report.problems[str(source / "revenue/mrr.yml")][0])


def test_reconcile_reports_added_updated_adopted_unchanged(
    repo: MetricRepository, source: Path
) -> None:
    repo.create(name="arr", category="revenue", sql="SELECT 12")  # hand-made, identical SQL
    first = repo.reconcile_from_yaml(source, source_ref="finance")
    assert (first["added"], first["adopted"]) == (["revenue/mrr"], ["revenue/arr"])
    write(source, "revenue/mrr.yml", MRR.replace("display_name: MRR", "display_name: Monthly RR"))
    second = repo.reconcile_from_yaml(source, source_ref="finance")
    assert (second["updated"], second["unchanged"], second["written"]) == (
        ["revenue/mrr"],
        ["revenue/arr"],
        ["revenue/mrr"],
    )
    assert repo.get("revenue/arr")["source_ref"] == "finance"  # type: ignore[index]


def test_dry_run_reports_and_writes_nothing(repo: MetricRepository, source: Path) -> None:
    report = repo.reconcile_from_yaml(source, dry_run=True)
    assert report["added"] == ["revenue/arr", "revenue/mrr"] and report["written"] == []
    assert log_size(repo) == 0 and repo.list() == []


def test_prune_deletes_only_this_writers_and_labels_metrics(
    repo: MetricRepository, source: Path, tmp_path: Path
) -> None:
    repo.reconcile_from_yaml(source, source_ref="finance")
    other = write(
        tmp_path / "other", "revenue/kept.yml", "name: kept\nsql: SELECT 1\n"
    ).parent.parent
    repo.reconcile_from_yaml(other, source_ref="marketing")
    repo.create(name="manual", category="revenue", sql="SELECT 1")
    (source / "revenue/arr.yaml").unlink()
    report = reconcile(
        repo.registry, source, ImportOptions(actor="auditor", label="finance", prune=True)
    )
    assert report.deleted == ["revenue/arr"] and "revenue/arr" in report.written
    assert sorted(m["id"] for m in repo.list()) == ["revenue/kept", "revenue/manual", "revenue/mrr"]
    tombstone = repo.registry.conn.execute(
        "SELECT event_type, batch_id, source, source_ref FROM event_log WHERE stream_id = 'revenue/arr'"
        " ORDER BY version DESC LIMIT 1"
    ).fetchone()
    assert tombstone == ("MetricDeleted", report.batch_id, "yaml_import", "finance")


def test_prune_without_label_is_its_own_partition(
    repo: MetricRepository, source: Path, tmp_path: Path
) -> None:
    labelled = write(
        tmp_path / "l", "revenue/labelled.yml", "name: labelled\nsql: SELECT 1\n"
    ).parent.parent
    repo.reconcile_from_yaml(labelled, source_ref="finance")
    repo.reconcile_from_yaml(source)
    report = repo.reconcile_from_yaml(
        tmp_path / "l", prune=True
    )  # no label: does not see 'finance'
    assert report["deleted"] == ["revenue/arr", "revenue/mrr"]
    assert [m["id"] for m in repo.list()] == ["revenue/labelled"]


def test_prune_refusals_name_the_files_and_write_nothing(
    repo: MetricRepository, source: Path, tmp_path: Path
) -> None:
    repo.reconcile_from_yaml(source)
    before = log_size(repo)
    with pytest.raises(RefusedError, match="is a single file"):
        repo.reconcile_from_yaml(source / "revenue/mrr.yml", prune=True)
    (tmp_path / "empty" / "revenue").mkdir(parents=True)
    with pytest.raises(RefusedError, match="holds no metrics"):
        repo.reconcile_from_yaml(tmp_path / "empty", prune=True)
    write(source, "revenue/bad.yml", "name: [\n")
    with pytest.raises(RefusedError) as refused:
        repo.reconcile_from_yaml(source, prune=True)
    message = str(refused.value)
    assert "1 file could not be read (revenue/bad.yml)" in message
    assert message.count("bad.yml") == 1 and str(source) not in message
    assert log_size(repo) == before
    assert isinstance(RefusedError("x"), ValueError)


def test_a_run_is_all_or_nothing(
    repo: MetricRepository, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure while projecting the batch leaves neither events nor rows behind."""

    def broken(events: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(repo.registry.projector, "apply", broken)
    with pytest.raises(RuntimeError):
        repo.import_from_yaml(source)
    monkeypatch.undo()
    assert log_size(repo) == 0 and repo.list() == []


def test_missing_path_is_an_error(repo: MetricRepository, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        repo.import_from_yaml(tmp_path / "nope")


def test_a_changed_file_is_read_again_not_served_from_the_parse_cache(
    repo: MetricRepository, source: Path
) -> None:
    repo.import_from_yaml(source)
    write(source, "revenue/mrr.yml", MRR.replace("display_name: MRR", "display_name: Monthly RR"))
    assert repo.reconcile_from_yaml(source)["updated"] == ["revenue/mrr"]
    assert repo.get("revenue/mrr")["display_name"] == "Monthly RR"  # type: ignore[index]
    write(source, "revenue/mrr.yml", "name: mrr\n")  # now unreadable: reported on every run
    for _ in range(2):
        assert repo.reconcile_from_yaml(source)["unreadable"] == [str(source / "revenue/mrr.yml")]
    write(source, "revenue/mrr.yml", MRR)  # back to a content seen before: a cache hit
    assert repo.reconcile_from_yaml(source)["updated"] == ["revenue/mrr"]
    assert repo.get("revenue/mrr")["display_name"] == "MRR"  # type: ignore[index]


def test_new_parsing_rules_never_reuse_parses_made_under_the_old_ones(
    repo: MetricRepository, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.interchange import parse_cache, yaml_io

    parsed: list[Path] = []
    read_file = yaml_io.read_file
    monkeypatch.setattr(yaml_io, "read_file", lambda f, *a: parsed.append(f) or read_file(f, *a))
    repo.import_from_yaml(source)
    first = len(parsed)
    repo.import_from_yaml(source)
    assert first > 0 and len(parsed) == first  # the same rules: served from the cache

    # Another models.py, yaml_io.py or loading.py (a stricter validator, say): other rules.
    monkeypatch.setattr(parse_cache, "_rules_digest", lambda: "the rules of a newer release")
    repo.import_from_yaml(source)
    assert len(parsed) == 2 * first


@pytest.mark.parametrize(
    "text",
    [
        "name: mrr\nsql: |\n  SELECT 1\n  FROM t\nvalidation: {min: 0, max: 1.5, strict: yes, note: null}\n",
        "- name: a\n  dimensions: [x, 'y', \"z\"]\n- name: b\n  when: 2024-01-01\n  n: 0x1f\n",
        "base: &base {unit: USD, grain: monthly}\nmetric:\n  <<: *base\n  name: arr\n",
        "anchored: &a [1, 2]\nagain: *a\nempty: ~\nflag: off\n",
        "just a string\n",
        "",
    ],
)
def test_the_fast_yaml_loader_reads_what_safe_load_reads(text: str) -> None:
    from registry.interchange.loading import load_yaml

    assert load_yaml(text) == yaml.safe_load(text)


def test_a_run_reports_its_progress_file_by_file(repo: MetricRepository, source: Path) -> None:
    seen: list[tuple[int, int]] = []
    reconcile(
        repo.registry,
        source,
        ImportOptions(actor="a"),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 2), (2, 2)]
