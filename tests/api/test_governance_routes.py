"""Governed changes through the API (issue 22): proposals, four eyes, the policy, certification."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from registry.access.tokens import create_token
from tests.api.conftest import Api

MRR = "/api/metrics/revenue/mrr"


@pytest.fixture
def two_admins(loaded: Api) -> Api:
    loaded.tokens["admin2"] = create_token(loaded.pool.conn, "second-admin", "admin")
    return loaded


def _propose(api: Api, role: str, **body: Any) -> dict[str, Any]:
    answer = api.call("POST", "/api/proposals", role, json={"reason": "why not", **body})
    assert answer.status_code == 201, answer.text
    proposal: dict[str, Any] = answer.json()["proposal"]
    return proposal


def _decide(api: Api, number: int, decision: str, role: str) -> Any:
    return api.call("POST", f"/api/proposals/{number}/{decision}", role, json={"reason": "ok"})


def test_an_analyst_proposes_and_another_admin_approves(two_admins: Api) -> None:
    api = two_admins
    before = api.get(MRR).json()
    proposal = _propose(
        api, "analyst", action="update", metric="revenue/mrr", fields={"unit": "EUR"}
    )
    assert (proposal["state"], proposal["proposed_by"]) == ("open", "analyst-token")
    assert api.get(MRR).json()["unit"] == before["unit"]
    shown = api.get(f"/api/proposals/{proposal['number']}").json()
    # A hand edit (SPEC section 1) makes the writer `manual`, with no label: shown too.
    assert shown["changes"][0]["diff"] == [
        {"field": "source", "current": "yaml_import", "proposed": "manual"},
        {"field": "source_ref", "current": "starter_pack", "proposed": None},
        {"field": "unit", "current": before["unit"], "proposed": "EUR"},
    ]
    assert [p["number"] for p in api.get("/api/proposals?state=open").json()["proposals"]] == [
        proposal["number"]
    ]
    refused = _decide(api, proposal["number"], "approve", "analyst")
    assert refused.status_code == 403 and "may not write" in refused.json()["detail"]
    done = _decide(api, proposal["number"], "approve", "admin")
    assert done.status_code == 200 and done.json()["state"] == "approved"
    after = api.get(MRR).json()
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"unit", "source", "source_ref", "version", "updated_at"}
    last = api.get(f"{MRR}/history").json()["versions"][-1]
    assert (last["actor"], last["approved_by"], last["proposal"]) == (
        "analyst-token",
        "admin-token",
        proposal["number"],
    )
    assert api.get("/api/audit/verify", role="auditor").json()["ok"] is True


def test_the_proposer_never_decides_their_own(two_admins: Api) -> None:
    api = two_admins
    number = _propose(api, "admin", action="delete", metric="revenue/mrr")["number"]
    for decision in ("approve", "reject"):
        refused = _decide(api, number, decision, "admin")
        assert refused.status_code == 403
        assert "another admin must" in refused.json()["detail"]
    assert _decide(api, number, "withdraw", "admin2").status_code == 403
    assert api.get(MRR).status_code == 200
    assert _decide(api, number, "approve", "admin2").json()["state"] == "approved"
    assert api.get(MRR).status_code == 404


@pytest.mark.parametrize(("decision", "role"), [("reject", "admin2"), ("withdraw", "analyst")])
def test_rejected_or_withdrawn_changes_nothing(two_admins: Api, decision: str, role: str) -> None:
    api = two_admins
    before = api.get(MRR).json()
    number = _propose(
        api, "analyst", action="update", metric="revenue/mrr", fields={"unit": "EUR"}
    )["number"]
    events = api.events()
    answer = _decide(api, number, decision, role)
    assert answer.status_code == 200 and answer.json()["decided_by"] == f"{role}-token".replace(
        "admin2-token", "second-admin"
    )
    assert api.events() == events + 1  # the decision only
    assert api.get(MRR).json() == before
    again = _decide(api, number, "approve", "admin")
    assert again.status_code == 409 and "already" in again.json()["detail"]


def test_a_stale_proposal_is_refused_naming_both_versions(two_admins: Api) -> None:
    api = two_admins
    number = _propose(
        api, "analyst", action="update", metric="revenue/mrr", fields={"unit": "EUR"}
    )["number"]
    moved = api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"description": "Moved."})
    assert moved.status_code == 200
    refused = _decide(api, number, "approve", "admin")
    assert refused.status_code == 409
    assert "was at version 1 when proposed and is now at version 2" in refused.json()["detail"]
    assert api.get(f"/api/proposals/{number}").json()["state"] == "stale"


def test_a_proposal_needs_a_reason_and_a_known_action(loaded: Api) -> None:
    bad = loaded.call("POST", "/api/proposals", "analyst", json={"action": "update"})
    assert bad.status_code == 422 and "reason" in bad.text
    blank = loaded.call(
        "POST",
        "/api/proposals",
        "analyst",
        json={"action": "update", "metric": "revenue/mrr", "fields": {"unit": "X"}, "reason": " "},
    )
    assert blank.status_code == 422 and blank.json()["errors"][0]["loc"] == "reason"
    assert loaded.get("/api/proposals/77").status_code == 404


def test_with_approval_required_a_direct_write_becomes_a_proposal(two_admins: Api) -> None:
    api = two_admins
    refused = api.call("PUT", "/api/admin/policy", "analyst", json={"approval": "required"})
    assert refused.status_code == 403
    set_ = api.call("PUT", "/api/admin/policy", json={"approval": "required", "reason": "audit"})
    assert set_.json()["approval"] == "required"
    assert api.get("/api/policy").json()["set_by"] == "admin-token"
    before = api.get(MRR).json()
    write = api.call(
        "PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR", "reason": "euro"}
    )
    assert write.status_code == 202
    assert write.json()["status"] == "proposed" and write.json()["proposal"]["required"] is True
    assert api.get(MRR).json() == before
    deleted = api.call("DELETE", "/api/admin/metrics/revenue/mrr", params={"reason": "old"})
    assert deleted.status_code == 202 and api.get(MRR).status_code == 200
    # A proposal says why: a direct write that becomes one needs a reason too.
    column = api.call("PUT", "/api/admin/columns/orders/id", json={"description": "Key."})
    assert column.status_code == 422 and column.json()["errors"][0]["loc"] == "reason"
    column = api.call(
        "PUT", "/api/admin/columns/orders/id", json={"description": "Key.", "reason": "doc"}
    )
    assert column.status_code == 202
    # An upload of 20 changed files is one proposal; its approval writes all 20 at once.
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as z:
        for n in range(20):
            z.writestr(f"bulk/m{n}.yml", f"name: m{n}\nsql: SELECT {n}\n")
    upload = api.call(
        "POST",
        "/api/admin/metrics/import",
        content=body.getvalue(),
        headers={"content-type": "application/zip"},
    )
    assert upload.status_code == 202, upload.text
    report = upload.json()
    assert report["written"] == [] and len(report["proposal"]["changes"]) == 20
    assert api.get("/api/metrics?category=bulk").json()["count"] == 0
    done = _decide(api, report["proposal"]["number"], "approve", "admin2").json()
    assert len(done["applied"]) == 20
    assert api.get("/api/metrics?category=bulk").json()["count"] == 20
    # Switching approval off is itself a proposal: no admin does it alone, nor without a why.
    silent = api.call("PUT", "/api/admin/policy", json={"approval": "optional"})
    assert silent.status_code == 422 and silent.json()["errors"][0]["loc"] == "reason"
    loosen = api.call("PUT", "/api/admin/policy", json={"approval": "optional", "reason": "x"})
    assert loosen.status_code == 202 and loosen.json()["approval"] == "required"
    assert loosen.json()["proposal"]["changes"][0]["action"] == "loosen"
    batches = {
        e["batch_id"]
        for e in api.get("/api/events", role="auditor").json()["events"]
        if e["stream_id"].startswith("bulk/")
    }
    assert len(batches) == 1


def test_certification_lapses_on_the_next_change(loaded: Api) -> None:
    api = loaded
    url = "/api/admin/metrics/revenue/mrr/certification"
    assert api.call("POST", url, "analyst", json={"note": "me"}).status_code == 403
    given = api.call("POST", url, json={"note": "finance signed off"})
    assert given.status_code == 200 and given.json()["state"] == "certified"
    shown = api.get(MRR).json()["certification"]
    assert (shown["state"], shown["version"], shown["by"]) == ("certified", 1, "admin-token")
    listed = {m["id"]: m["certification"] for m in api.get("/api/metrics").json()["metrics"]}
    assert listed["revenue/mrr"]["state"] == "certified" and listed["revenue/arr"] is None
    api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    lapsed = api.get(MRR).json()["certification"]
    assert (lapsed["state"], lapsed["version"]) == ("lapsed", 1)
    found = api.get("/api/metrics/search", params={"q": "monthly recurring revenue"}).json()
    assert found["metrics"][0]["certification"]["state"] == "lapsed"
