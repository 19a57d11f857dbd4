"""Governed changes (issue 22): proposals no one approves alone, the approval policy, and
certification that lapses on change; through the registry's functions, on every engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry import ColumnMetadataRepository, MetricRepository, answers
from registry.commands import WriteContext
from registry.errors import (
    ConflictError,
    InvalidDefinitionError,
    NotAllowedError,
    NotFoundError,
    ProposedError,
)
from registry.interchange.imports import ImportOptions, reconcile
from tests.conftest import metric_fields


def _ctx(actor: str, reason: str | None = "because", **more: Any) -> WriteContext:
    return WriteContext(actor=actor, door="python", reason=reason, **more)


def _events(repo: MetricRepository) -> int:
    return int(repo.registry.store.head().position)


@pytest.fixture
def mrr(repo: MetricRepository) -> MetricRepository:
    answers.create_metric(repo.registry, metric_fields(), _ctx("ana", "first"))
    return repo


def test_an_approved_proposal_applies_exactly_its_change(mrr: MetricRepository) -> None:
    reg = mrr.registry
    asked = answers.propose(reg, "update", "revenue/mrr", {"unit": "EUR"}, None, _ctx("bo"))
    assert asked["status"] == "proposed"
    number = asked["proposal"]["number"]
    assert mrr.get("revenue/mrr")["unit"] == "USD"  # type: ignore[index]  # nothing applied yet
    shown = answers.proposal(reg, number)
    assert shown["state"] == "open" and shown["proposed_by"] == "bo"
    assert shown["changes"][0]["diff"] == [{"field": "unit", "current": "USD", "proposed": "EUR"}]
    before = mrr.get("revenue/mrr")
    done = answers.decided_proposal(reg, number, "approve", _ctx("cy", "looks right"))
    assert (done["state"], done["decided_by"], done["decision_reason"]) == (
        "approved",
        "cy",
        "looks right",
    )
    after = mrr.get("revenue/mrr")
    assert after is not None and before is not None
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"unit", "updated_at"}  # exactly the proposed change, nothing else
    last = answers.metric_history(reg, "revenue/mrr")["versions"][-1]
    assert (last["actor"], last["reason"], last["changed"]) == ("bo", "because", ["unit"])
    assert (last["proposal"], last["approved_by"]) == (number, "cy")
    assert done["applied"] == [
        {"subject": "metric", "id": "revenue/mrr", "version": 2, "position": last["position"]}
    ]
    assert answers.verify(reg)["ok"]


def test_no_one_decides_their_own_proposal_admins_included(mrr: MetricRepository) -> None:
    reg = mrr.registry
    number = answers.propose(reg, "delete", "revenue/mrr", {}, None, _ctx("ana"))["proposal"][
        "number"
    ]
    for decision in ("approve", "reject"):
        with pytest.raises(NotAllowedError, match="another admin must"):
            answers.decided_proposal(reg, number, decision, _ctx("ana"))
    with pytest.raises(NotAllowedError, match="only its proposer, 'ana', may withdraw"):
        answers.decided_proposal(reg, number, "withdraw", _ctx("bo"))
    with pytest.raises(InvalidDefinitionError, match="reason: is required"):
        answers.decided_proposal(reg, number, "approve", _ctx("bo", None))
    assert answers.proposal(reg, number)["state"] == "open"
    assert mrr.get("revenue/mrr") is not None


@pytest.mark.parametrize("decision", ["reject", "withdraw"])
def test_a_rejected_or_withdrawn_proposal_changes_nothing(
    mrr: MetricRepository, decision: str
) -> None:
    reg = mrr.registry
    number = answers.propose(reg, "update", "revenue/mrr", {"unit": "EUR"}, None, _ctx("ana"))[
        "proposal"
    ]["number"]
    before = mrr.get("revenue/mrr")
    decider = "ana" if decision == "withdraw" else "bo"
    done = answers.decided_proposal(reg, number, decision, _ctx(decider, "not now"))
    assert done["state"] == {"reject": "rejected", "withdraw": "withdrawn"}[decision]
    assert mrr.get("revenue/mrr") == before
    assert len(answers.metric_history(reg, "revenue/mrr")["versions"]) == 1
    with pytest.raises(ConflictError, match=f"already {done['state']}"):
        answers.decided_proposal(reg, number, "approve", _ctx("cy"))
    assert answers.verify(reg)["ok"]


def test_a_stale_proposal_cannot_be_approved(mrr: MetricRepository) -> None:
    reg = mrr.registry
    number = answers.propose(reg, "update", "revenue/mrr", {"unit": "EUR"}, None, _ctx("ana"))[
        "proposal"
    ]["number"]
    answers.update_metric(reg, "revenue/mrr", {"description": "Moved on."}, _ctx("bo"))
    shown = answers.proposal(reg, number)
    assert shown["state"] == "stale"
    assert shown["stale"] == [{"subject": "metric", "id": "revenue/mrr", "base": 1, "current": 2}]
    with pytest.raises(ConflictError, match="was at version 1 when proposed and is now at"):
        answers.decided_proposal(reg, number, "approve", _ctx("bo"))
    assert mrr.get("revenue/mrr")["unit"] == "USD"  # type: ignore[index]
    assert answers.proposal_list(reg, "stale")["count"] == 1
    # A stale proposal can still be turned down.
    assert answers.decided_proposal(reg, number, "reject", _ctx("bo"))["state"] == "rejected"


def test_every_kind_of_change_can_be_proposed(mrr: MetricRepository) -> None:
    reg = mrr.registry
    answers.update_metric(reg, "revenue/mrr", {"unit": "EUR"}, _ctx("ana"))
    steps = [
        ("rollback", "revenue/mrr", {}, 1, lambda m: m["unit"] == "USD"),
        ("delete", "revenue/mrr", {}, None, lambda m: m is None),
        ("restore", "revenue/mrr", {}, None, lambda m: m is not None),
        ("create", None, metric_fields(name="arr"), None, lambda m: m is not None),
    ]
    for action, metric_id, fields, to_version, holds in steps:
        asked = answers.propose(reg, action, metric_id, fields, to_version, _ctx("an.analyst"))
        answers.decided_proposal(reg, asked["proposal"]["number"], "approve", _ctx("admin"))
        assert holds(mrr.get(metric_id or "revenue/arr")), action
    what = [v["what"] for v in answers.metric_history(reg, "revenue/mrr")["versions"]]
    assert what[2:] == ["rolled back to v1", "deleted", "restored"]
    with pytest.raises(InvalidDefinitionError, match="reason: is required"):
        answers.propose(reg, "update", "revenue/mrr", {"unit": "GBP"}, None, _ctx("x", None))
    with pytest.raises(InvalidDefinitionError, match="to_version: names the version"):
        answers.propose(reg, "rollback", "revenue/mrr", {}, None, _ctx("x"))
    with pytest.raises(NotFoundError):
        answers.propose(reg, "update", "revenue/none", {"unit": "GBP"}, None, _ctx("x"))
    with pytest.raises(NotFoundError, match="there is no proposal 99"):
        answers.proposal(reg, 99)


def test_the_policy_turns_every_direct_write_into_a_proposal(mrr: MetricRepository) -> None:
    reg = mrr.registry
    policy = answers.set_approval_policy(reg, "required", "revenue", _ctx("boss"))
    assert (policy["approval"], policy["categories"]) == ("optional", {"revenue": "required"})
    head = _events(mrr)
    answer = answers.update_metric(reg, "revenue/mrr", {"unit": "EUR"}, _ctx("ana"))
    assert answer["status"] == "proposed" and answer["proposal"]["required"] is True
    assert _events(mrr) == head + 1  # the proposal only
    assert mrr.get("revenue/mrr")["unit"] == "USD"  # type: ignore[index]
    # Another category is not governed; the whole registry can be.
    assert answers.create_metric(reg, metric_fields(category="ops"), _ctx("ana"))["version"] == 1
    answers.set_approval_policy(reg, "required", None, _ctx("boss"))
    assert answers.delete_metric(reg, "ops/mrr", _ctx("ana"))["status"] == "proposed"
    assert (
        answers.set_column(reg, "orders", "id", {"description": "Key."}, _ctx("ana"))["status"]
        == "proposed"
    )
    shown = answers.approval_policy(reg)
    assert (shown["approval"], shown["set_by"], shown["version"]) == ("required", "boss", 2)
    with pytest.raises(InvalidDefinitionError, match="approval: 'maybe' is not"):
        answers.set_approval_policy(reg, "maybe", None, _ctx("boss"))
    with pytest.raises(InvalidDefinitionError, match="category: 'no such' is not"):
        answers.set_approval_policy(reg, "optional", "no such", _ctx("boss"))
    # Setting the rule it already has appends nothing.
    head = _events(mrr)
    answers.set_approval_policy(reg, "required", None, _ctx("boss"))
    assert _events(mrr) == head


def test_an_import_under_the_policy_is_one_proposal_applied_as_one_batch(
    repo: MetricRepository, tmp_path: Path
) -> None:
    reg = repo.registry
    source = tmp_path / "metrics"
    folder = source / "finance"
    folder.mkdir(parents=True)

    def write(unit: str) -> None:
        for n in range(20):
            (folder / f"m{n}.yml").write_text(f"name: m{n}\nunit: {unit}\nsql: SELECT {n}\n")

    write("USD")
    reconcile(reg, source, ImportOptions(actor="bot"))
    assert len(repo.list()) == 20
    answers.set_approval_policy(reg, "required", None, _ctx("boss"))
    write("EUR")
    report = reconcile(reg, source, ImportOptions(actor="bot", reason="to euros"))
    assert report.written == [] and report.proposal is not None
    assert len(report.proposal["changes"]) == 20
    assert all(m["unit"] == "USD" for m in repo.list())
    done = answers.decided_proposal(reg, report.proposal["number"], "approve", _ctx("boss"))
    assert len(done["applied"]) == 20
    assert all(m["unit"] == "EUR" for m in repo.list())
    batches = {
        e.batch_id for e in reg.store.read(stream_type="metric") if e.payload.get("proposal")
    }
    assert len(batches) == 1  # one atomic batch
    writers = {e.source for e in reg.store.read(stream_type="metric")}
    assert writers == {"yaml_import"}  # the import stays the writer
    assert answers.verify(reg)["ok"]


def test_certification_lapses_on_the_next_change(mrr: MetricRepository) -> None:
    reg = mrr.registry
    given = answers.certified_metric(reg, "revenue/mrr", _ctx("boss", "finance signed off"))
    assert (given["state"], given["version"], given["by"], given["note"]) == (
        "certified",
        1,
        "boss",
        "finance signed off",
    )
    assert answers.metric(reg, "revenue/mrr")["certification"]["state"] == "certified"
    assert answers.metric_list(reg)["metrics"][0]["certification"]["version"] == 1
    hit = answers.metric_search(reg, "recurring revenue")["metrics"][0]
    assert hit["certification"]["state"] == "certified"
    answers.update_metric(reg, "revenue/mrr", {"unit": "EUR"}, _ctx("ana"))
    lapsed = answers.metric(reg, "revenue/mrr")["certification"]
    assert (lapsed["state"], lapsed["version"]) == ("lapsed", 1)
    assert answers.metric_list(reg)["metrics"][0]["certification"]["state"] == "lapsed"
    assert answers.certified_metric(reg, "revenue/mrr", _ctx("boss", "again"))["version"] == 2
    with pytest.raises(InvalidDefinitionError, match="reason: is required"):
        answers.certified_metric(reg, "revenue/mrr", _ctx("boss", None))
    with pytest.raises(NotFoundError):
        answers.certified_metric(reg, "revenue/none", _ctx("boss"))


def test_proposal_events_are_in_the_feed_like_any_other(mrr: MetricRepository) -> None:
    reg = mrr.registry
    number = answers.propose(reg, "update", "revenue/mrr", {"unit": "EUR"}, None, _ctx("ana"))[
        "proposal"
    ]["number"]
    answers.decided_proposal(reg, number, "approve", _ctx("bo", "ok"))
    feed = answers.recent_events(reg, None, 10)["events"]
    types = [e["event_type"] for e in feed]
    assert "ProposalOpened" in types and "ProposalApproved" in types


def test_nothing_bypasses_the_policy_the_python_door_and_the_profiler_included(
    mrr: MetricRepository, columns: ColumnMetadataRepository, demo_db: Path
) -> None:
    """The facade of SPEC section 4 answers with what it wrote: a write that became a
    proposal raises ProposedError naming it, and nothing is written. The profiler's
    basetypes become one proposal too."""
    from registry.analytics.profiler import knowledge_from_registry

    reg = mrr.registry
    answers.set_approval_policy(reg, "required", None, _ctx("boss"))
    with pytest.raises(ProposedError, match="approval is required: the change is proposal 1"):
        mrr.update("revenue/mrr", unit="EUR", reason="euro")
    with pytest.raises(ProposedError, match="proposal 2"):
        columns.save("orders", "id", description="Key.", reason="doc")
    assert mrr.get("revenue/mrr")["unit"] == "USD"  # type: ignore[index]
    assert columns.get("orders", "id") is None
    found = answers.table_profiles(demo_db, "orders", lambda _: knowledge_from_registry(reg))
    recorded = answers.recorded_basetypes(reg, found["tables"], "profiler-run")
    assert recorded["recorded"] == 0 and recorded["proposal"]["number"] == 3
    assert recorded["proposal"]["writer"] == "profiler"
    assert answers.column_list(reg, "orders")["columns"] == []


def test_loosening_the_policy_needs_another_admin_too(mrr: MetricRepository) -> None:
    """Otherwise one admin could switch approval off, write alone and switch it on again."""
    reg = mrr.registry
    answers.set_approval_policy(reg, "required", None, _ctx("boss"))
    asked = answers.set_approval_policy(reg, "optional", None, _ctx("boss", "too slow"))
    assert asked["approval"] == "required" and asked["proposal"]["number"] == 1
    shown = answers.proposal(reg, 1)
    assert shown["changes"][0]["action"] == "loosen"
    assert shown["changes"][0]["diff"] == [
        {"field": "rules", "current": {"*": "required"}, "proposed": {"*": "optional"}}
    ]
    with pytest.raises(NotAllowedError):
        answers.decided_proposal(reg, 1, "approve", _ctx("boss"))
    assert answers.update_metric(reg, "revenue/mrr", {"unit": "EUR"}, _ctx("ana"))["status"] == (
        "proposed"
    )
    done = answers.decided_proposal(reg, 1, "approve", _ctx("cy", "agreed"))
    assert done["applied"][0]["subject"] == "policy"
    after = answers.approval_policy(reg)
    assert (after["approval"], after["set_by"]) == ("optional", "boss")
    assert answers.update_metric(reg, "revenue/mrr", {"unit": "GBP"}, _ctx("ana"))["unit"] == "GBP"
    # Exempting one category from a registry that requires approval is loosening too;
    # tightening is not, and moves the policy on: the exemption's proposal is stale then.
    answers.set_approval_policy(reg, "required", None, _ctx("boss"))
    exempt = answers.set_approval_policy(reg, "optional", "scratch", _ctx("boss", "drafts"))
    tighter = answers.set_approval_policy(reg, "required", "finance", _ctx("boss"))
    assert "proposal" not in tighter and tighter["categories"] == {"finance": "required"}
    assert answers.proposal(reg, exempt["proposal"]["number"])["state"] == "stale"
    assert answers.verify(reg)["ok"]


def test_every_reason_is_bounded_text(mrr: MetricRepository) -> None:
    """Decisions, notes and policy changes take the same reasons as every write: Unicode
    text of at most 2,000 characters (the CLI and MCP pass them unchecked by a schema)."""
    reg = mrr.registry
    number = answers.propose(reg, "update", "revenue/mrr", {"unit": "EUR"}, None, _ctx("ana"))[
        "proposal"
    ]["number"]
    for long in ("x" * 2001, "bad \ud800 surrogate"):
        with pytest.raises(InvalidDefinitionError, match="reason: must be Unicode text"):
            answers.decided_proposal(reg, number, "approve", _ctx("bo", long))
        with pytest.raises(InvalidDefinitionError, match="reason: must be Unicode text"):
            answers.certified_metric(reg, "revenue/mrr", _ctx("bo", long))
        with pytest.raises(InvalidDefinitionError, match="reason: must be Unicode text"):
            answers.set_approval_policy(reg, "required", None, _ctx("bo", long))
        with pytest.raises(InvalidDefinitionError, match="reason: must be Unicode text"):
            answers.propose(reg, "update", "revenue/mrr", {"unit": "GBP"}, None, _ctx("bo", long))
    assert answers.proposal(reg, number)["state"] == "open"
