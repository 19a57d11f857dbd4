"""Every event says truly which door and which writer made it (issue 19, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from events import NewEvent
from registry import MetricRepository, answers
from registry.commands import WriteContext, create_metric, update_metric, write_request
from registry.errors import InvalidDefinitionError
from registry.interchange.imports import ImportOptions, reconcile
from registry.models import MetricDefinition, build


def _history(repo: MetricRepository, metric_id: str) -> list[tuple[str, str, str]]:
    return [(v["what"], v["door"], v["writer"]) for v in repo.history(metric_id)]


def _write_folder(root: Path, unit: str) -> Path:
    folder = root / "finance" / "revenue"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mrr.yml").write_text(f"name: mrr\nunit: {unit}\nsql: SELECT 1\n")
    (folder / "arr.yml").write_text("name: arr\nsql: SELECT 12\n")
    return root / "finance"


def test_a_hand_edit_leaves_the_prune_scope_of_its_import(
    repo: MetricRepository, tmp_path: Path
) -> None:
    source = _write_folder(tmp_path, "USD")
    options = ImportOptions(actor="bot", door="cli", label="finance")
    reconcile(repo.registry, source, options)
    repo.update("revenue/mrr", unit="EUR", reason="by hand")
    mrr = repo.get("revenue/mrr")
    assert mrr is not None and (mrr["source"], mrr["source_ref"]) == ("manual", None)
    assert _history(repo, "revenue/mrr") == [
        ("created", "cli", "yaml_import"),
        ("updated", "python", "manual"),
    ]
    # Both files leave the folder; a prune deletes only what the import still owns.
    (source / "revenue" / "mrr.yml").unlink()
    (source / "revenue" / "arr.yml").unlink()
    (source / "revenue" / "other.yml").write_text("name: other\nsql: SELECT 2\n")
    report = reconcile(
        repo.registry, source, ImportOptions(actor="bot", label="finance", prune=True)
    )
    assert report.deleted == ["revenue/arr"]
    assert repo.get("revenue/mrr") is not None
    # A plain re-import of the file brings it back under the import (the file wins).
    _write_folder(tmp_path, "USD")
    again = reconcile(repo.registry, source, ImportOptions(actor="bot", label="finance"))
    assert again.adopted == ["revenue/mrr"]
    back = repo.get("revenue/mrr")
    assert back is not None and (back["unit"], back["source"], back["source_ref"]) == (
        "USD",
        "yaml_import",
        "finance",
    )


def test_an_update_that_changes_only_the_writer_appends_nothing(starter: MetricRepository) -> None:
    before = len(starter.history("revenue/mrr"))
    starter.update("revenue/mrr", unit="USD")  # already USD: nothing to say
    assert len(starter.history("revenue/mrr")) == before
    # Naming the writer on purpose takes the metric out of its import's hands.
    starter.update("revenue/mrr", source="manual")
    assert starter.history("revenue/mrr")[-1]["changed"] == ["source", "source_ref"]


def test_a_hand_write_cannot_claim_another_writer(starter: MetricRepository) -> None:
    ctx = write_request("alice", door="python")[1]
    with pytest.raises(InvalidDefinitionError, match="source: is the writer"):
        update_metric(starter.registry, "revenue/mrr", {"source": "yaml_import"}, ctx)
    with pytest.raises(InvalidDefinitionError, match="source_ref: labels an import"):
        update_metric(starter.registry, "revenue/mrr", {"source_ref": "finance"}, ctx)
    assert starter.history("revenue/mrr")[-1]["version"] == 1  # nothing written


def test_restore_changes_nothing_and_rollback_names_its_target(starter: MetricRepository) -> None:
    starter.update("revenue/arr", unit="EUR")
    starter.delete("revenue/arr", reason="oops")
    answers.restore_metric(starter.registry, "revenue/arr", write_request("bob", door="python")[1])
    starter.rollback("revenue/arr", 1, reason="back")
    versions = starter.history("revenue/arr")
    assert [(v["what"], v["changed"]) for v in versions[2:]] == [
        ("deleted", []),
        ("restored", []),
        ("rolled back to v1", ["source", "source_ref", "unit"]),
    ]
    assert versions[-1]["to_version"] == 1
    feed = answers.recent_events(starter.registry, None, 1)["events"][0]
    assert (feed["what"], feed["door"], feed["writer"], feed["to_version"]) == (
        "rolled back to v1",
        "python",
        "manual",
        1,
    )


def test_events_written_before_doors_read_as_unrecorded(repo: MetricRepository) -> None:
    """An event of the earlier code (no `door`, writer taken from the definition) reads on."""
    fields = {"name": "old", "category": "ops", "sql": "SELECT 1", "source": "yaml_import"}
    definition = build(MetricDefinition, fields).to_definition()
    old = NewEvent(
        stream_type="metric",
        stream_id="ops/old",
        event_type="MetricCreated",
        event_schema=2,
        payload={"definition": definition, "changed": ["name", "category", "sql"]},
        actor="earlier",
        source="yaml_import",
    )
    reg = repo.registry
    with reg.store.transaction():
        reg.projector.apply(reg.store.append([old], expected_versions={("metric", "ops/old"): 0}))
    assert _history(repo, "ops/old") == [("created", "unrecorded", "yaml_import")]
    update_metric(reg, "ops/old", {"sql": "SELECT 2"}, WriteContext(actor="a", door="api"))
    assert _history(repo, "ops/old")[-1] == ("updated", "api", "manual")
    raw = reg.conn.execute(
        "SELECT payload FROM event_log WHERE stream_id = 'ops/old' ORDER BY version"
    ).fetchall()
    assert "door" not in json.loads(raw[0][0]) and json.loads(raw[1][0])["door"] == "api"


def test_an_import_records_its_door_and_writer(repo: MetricRepository, tmp_path: Path) -> None:
    source = _write_folder(tmp_path, "USD")
    reconcile(repo.registry, source, ImportOptions(actor="ci", door="api", writer="web_upload"))
    create_metric(
        repo.registry,
        {"name": "nps", "category": "ops", "sql": "SELECT 9"},
        WriteContext(actor="carol", door="console"),
    )
    events = answers.recent_events(repo.registry, None, None)["events"]
    told = {(e["stream_id"], e["door"], e["writer"]) for e in events}
    assert told == {
        ("revenue/mrr", "api", "web_upload"),
        ("revenue/arr", "api", "web_upload"),
        ("ops/nps", "console", "manual"),
    }
