"""Proposals and certification in the console (issue 22): the diff beside the current
version, approve and reject forms only for an admin who did not propose, and the server
refusing the proposer anyway."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from registry import answers
from registry.access.tokens import create_token
from tests.console.conftest import Console, form_token, sign_in, text_of


def _second_admin(console: Console) -> TestClient:
    token = create_token(console.pool.conn, "second-admin", "admin")
    person = TestClient(console.app_client.app)
    assert sign_in(person, token).status_code == 303
    return person


def _propose(console: Console, role: str, **body: object) -> int:
    headers = {"Authorization": f"Bearer {console.tokens[role]}"}
    answer = console.app_client.post(
        "/api/proposals", json={"reason": "please", **body}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    number: int = answer.json()["proposal"]["number"]
    return number


def _post(client: TestClient, path: str, page: str, reason: str = "ok") -> object:
    return client.post(
        path, data={"csrf": form_token(page), "reason": reason}, follow_redirects=False
    )


def test_an_admin_approves_an_analysts_proposal_from_its_page(console: Console) -> None:
    number = _propose(
        console, "analyst", action="update", metric="revenue/mrr", fields={"unit": "EUR"}
    )
    listed = text_of(console["analyst"].get("/proposals").text)
    assert f"#{number} open update revenue/mrr analyst-person" in listed
    mine = console["analyst"].get(f"/proposals/{number}").text
    # the diff against the current version, beside it
    assert re.search(
        r'<th scope="row">unit</th><td class="old"[^>]*>USD</td><td class="new"[^>]*>EUR</td>',
        mine,
    )
    assert "/approve" not in mine and "You proposed this" in text_of(mine)
    page = console["admin"].get(f"/proposals/{number}").text
    assert 'action="/proposals/1/approve"' in page and 'action="/proposals/1/reject"' in page
    done = _post(console["admin"], f"/proposals/{number}/approve", page, "finance agrees")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert done.headers["location"] == f"/proposals/{number}?decided=true"  # type: ignore[attr-defined]
    after = text_of(console["admin"].get(f"/proposals/{number}?decided=true").text)
    assert "Done: the proposal is now approved" in after
    assert "Approved by admin-person" in after and "finance agrees" in after
    assert answers.metric(console.reg, "revenue/mrr")["unit"] == "EUR"
    timeline = text_of(console["admin"].get("/metrics/revenue/mrr").text)
    assert re.search(r"v2 diff updated analyst-person .* UTC please console manual", timeline)


def test_the_proposer_has_no_approve_form_and_the_server_refuses_it(console: Console) -> None:
    number = _propose(console, "admin", action="delete", metric="revenue/arr")
    page = console["admin"].get(f"/proposals/{number}").text
    assert "/approve" not in page and "/reject" not in page
    forged = _post(console["admin"], f"/proposals/{number}/approve", page)
    assert forged.status_code == 403  # type: ignore[attr-defined]
    assert "another admin must approve it (four eyes)" in text_of(forged.text)  # type: ignore[attr-defined]
    refused = _post(console["analyst"], f"/proposals/{number}/approve", page)
    assert refused.status_code in (403,)  # type: ignore[attr-defined]
    assert answers.metric(console.reg, "revenue/arr")["version"] == 1
    other = _second_admin(console)
    theirs = other.get(f"/proposals/{number}").text
    no_reason = _post(other, f"/proposals/{number}/reject", theirs, "")
    assert no_reason.status_code == 422  # type: ignore[attr-defined]
    rejected = _post(other, f"/proposals/{number}/reject", theirs, "keep it")
    assert rejected.status_code == 303  # type: ignore[attr-defined]
    assert answers.proposal(console.reg, number)["state"] == "rejected"
    assert answers.metric(console.reg, "revenue/arr")["version"] == 1
    assert answers.verify(console.reg)["ok"]


def test_a_stale_proposal_says_so_and_cannot_be_approved(console: Console) -> None:
    number = _propose(
        console, "analyst", action="update", metric="revenue/mrr", fields={"unit": "EUR"}
    )
    console.api("PATCH", "/api/admin/metrics/revenue/mrr", json={"description": "Moved."})
    page = console["admin"].get(f"/proposals/{number}").text
    words = text_of(page)
    assert "stale" in words and "was at version 1 when proposed and is now at version 2" in words
    assert "/approve" not in page and "/reject" in page
    forced = _post(console["admin"], f"/proposals/{number}/approve", page)
    assert forced.status_code == 409  # type: ignore[attr-defined]


def test_certify_from_the_metric_page_and_see_it_lapse(console: Console) -> None:
    page = console["admin"].get("/metrics/revenue/mrr").text
    assert "Certify this version" in page
    assert "Certify this version" not in console["analyst"].get("/metrics/revenue/mrr").text
    done = console["admin"].post(
        "/metrics/revenue/mrr/certify",
        data={"csrf": form_token(page), "expected_version": "1", "reason": "tied out"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = text_of(console["analyst"].get("/metrics/revenue/mrr").text)
    assert "certified v1" in shown and "Certified at v1 by admin-person" in shown
    assert "tied out" in shown
    assert "certified v1" in text_of(console["analyst"].get("/").text)
    console.api("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    lapsed = text_of(console["analyst"].get("/metrics/revenue/mrr").text)
    assert "certification lapsed (was v1)" in lapsed and "has lapsed" in lapsed
    # A certify form from a page that showed an older version is refused, not applied.
    stale = console["admin"].post(
        "/metrics/revenue/mrr/certify",
        data={"csrf": form_token(page), "expected_version": "1", "reason": "old page"},
        follow_redirects=False,
    )
    assert stale.status_code == 409
    assert answers.metric(console.reg, "revenue/mrr")["certification"]["state"] == "lapsed"


def test_with_approval_required_a_console_rollback_becomes_a_proposal(console: Console) -> None:
    console.api("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    console.api("PUT", "/api/admin/policy", json={"approval": "required"})
    assert "Approval is required for every change" in text_of(
        console["analyst"].get("/proposals").text
    )
    confirm = console["admin"].get("/metrics/revenue/mrr/rollback?to=1&expected=2").text
    done = console["admin"].post(
        "/metrics/revenue/mrr/rollback",
        data={"csrf": form_token(confirm), "to": "1", "expected_version": "2", "reason": "no"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/proposals/1"
    assert answers.metric(console.reg, "revenue/mrr")["unit"] == "EUR"
    page = text_of(console["admin"].get("/proposals/1").text)
    assert "Rollback to v1 metric revenue/mrr" in page and "approval is required" in page
