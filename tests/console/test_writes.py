"""Rolling back and restoring from the console: the admins' only writes, guarded by role,
form token, origin, a required reason and the version the page showed."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from registry import answers
from tests.console.conftest import Console, form_token, text_of


def _patch(console: Console, **fields: object) -> None:
    answer = console.api("PATCH", "/api/admin/metrics/revenue/mrr", json=fields)
    assert answer.status_code == 200, answer.text


def _confirm_page(client: TestClient, to: int, expected: int) -> str:
    answer = client.get(f"/metrics/revenue/mrr/rollback?to={to}&expected={expected}")
    assert answer.status_code == 200, answer.text
    return answer.text


def test_an_admin_rolls_back_from_the_timeline(console: Console) -> None:
    _patch(console, unit="EUR", reason="finance asked")
    timeline = console["admin"].get("/metrics/revenue/mrr").text
    link = re.search(r'href="(/metrics/revenue/mrr/rollback\?to=1&amp;expected=2)"', timeline)
    assert link, "the timeline offers a roll back to v1"
    confirm = console["admin"].get(link.group(1).replace("&amp;", "&")).text
    assert "Roll back revenue/mrr to version 1?" in text_of(confirm)
    assert re.search(
        r'<th scope="row">unit</th><td class="old"[^>]*>EUR</td><td class="new"[^>]*>USD</td>',
        confirm,
    )
    done = console["admin"].post(
        "/metrics/revenue/mrr/rollback",
        data={
            "csrf": form_token(confirm),
            "to": "1",
            "expected_version": "2",
            "reason": "bad unit",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/metrics/revenue/mrr?written=3"
    page = text_of(console["admin"].get(done.headers["location"]).text)
    assert "Written: the metric is now at version 3" in page
    # The console's door, a hand action, and the rollback's target in words.
    assert re.search(r"v3 diff rolled back to v1 admin-person .* UTC bad unit console manual", page)
    assert answers.metric(console.reg, "revenue/mrr")["unit"] == "USD"
    last = answers.recent_events(console.reg, None, 1)["events"][0]
    assert (last["event_type"], last["actor"], last["reason"], last["to_version"]) == (
        "MetricRolledBack",
        "admin-person",
        "bad unit",
        1,
    )
    assert (last["door"], last["writer"], last["what"]) == (
        "console",
        "manual",
        "rolled back to v1",
    )


def test_a_rollback_without_a_reason_is_refused_and_writes_nothing(console: Console) -> None:
    _patch(console, unit="EUR")
    confirm = _confirm_page(console["admin"], 1, 2)
    before = console.events()
    for reason in ("", "   "):
        answer = console["admin"].post(
            "/metrics/revenue/mrr/rollback",
            data={
                "csrf": form_token(confirm),
                "to": "1",
                "expected_version": "2",
                "reason": reason,
            },
        )
        assert answer.status_code == 422
        assert "reason: is required" in text_of(answer.text)
    assert console.events() == before


def test_a_change_made_meanwhile_is_not_overwritten(console: Console) -> None:
    _patch(console, unit="EUR")
    confirm = _confirm_page(console["admin"], 1, 2)  # the page shows version 2
    _patch(console, unit="GBP", reason="someone else")  # version 3, meanwhile
    before = console.events()
    answer = console["admin"].post(
        "/metrics/revenue/mrr/rollback",
        data={"csrf": form_token(confirm), "to": "1", "expected_version": "2", "reason": "r"},
    )
    assert answer.status_code == 409
    page = text_of(answer.text)
    assert "This changed since you loaded it" in page and "Load the current version" in page
    assert 'href="/metrics/revenue/mrr"' in answer.text
    assert console.events() == before
    assert answers.metric(console.reg, "revenue/mrr")["unit"] == "GBP"


def test_a_forged_post_without_the_form_token_writes_nothing(console: Console) -> None:
    _patch(console, unit="EUR")
    before = console.events()
    for data in (
        {"to": "1", "expected_version": "2", "reason": "forged"},
        {"csrf": "0" * 64, "to": "1", "expected_version": "2", "reason": "forged"},
    ):
        answer = console["admin"].post("/metrics/revenue/mrr/rollback", data=data)
        assert answer.status_code == 403
        assert "security token is missing or stale" in text_of(answer.text)
    assert console.events() == before


def test_a_form_from_another_site_is_refused(console: Console) -> None:
    _patch(console, unit="EUR")
    confirm = _confirm_page(console["admin"], 1, 2)
    before = console.events()
    answer = console["admin"].post(
        "/metrics/revenue/mrr/rollback",
        data={"csrf": form_token(confirm), "to": "1", "expected_version": "2", "reason": "r"},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403 and "https://evil.example" in text_of(answer.text)
    assert console.events() == before


def test_an_analysts_forged_rollback_is_refused_and_writes_nothing(console: Console) -> None:
    _patch(console, unit="EUR")
    page = console["analyst"].get("/metrics/revenue/mrr").text
    assert "Roll back" not in page  # no control shown ...
    # ... and a hand-made form with the analyst's own valid form token is refused too.
    own_token = form_token(console["analyst"].get("/signout").text)
    before = console.events()
    for role in ("analyst", "auditor"):
        answer = console[role].post(
            "/metrics/revenue/mrr/rollback",
            data={"csrf": own_token, "to": "1", "expected_version": "2", "reason": "forged"},
        )
        assert answer.status_code == 403
        assert f"role '{role}' may not roll back or restore" in text_of(answer.text)
        assert console[role].get("/metrics/revenue/mrr/rollback?to=1&expected=2").status_code == 403
    assert console.events() == before


def test_an_admin_restores_a_deleted_metric(console: Console) -> None:
    assert console.api("DELETE", "/api/admin/metrics/revenue/arr").status_code == 200
    page = console["admin"].get("/metrics/revenue/arr").text
    assert 'name="expected_version" value="2"' in page
    answer = console["admin"].post(
        "/metrics/revenue/arr/restore",
        data={"csrf": form_token(page), "expected_version": "2", "reason": "deleted by mistake"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/metrics/revenue/arr?written=3"
    restored = text_of(console["admin"].get("/metrics/revenue/arr").text)
    assert re.search(
        r"v3 diff restored admin-person .* UTC deleted by mistake console manual", restored
    )
    # A restore brings back the last live version as it was: no field differs from it.
    [entry] = [
        v
        for v in answers.metric_history(console.reg, "revenue/arr")["versions"]
        if v["version"] == 3
    ]
    assert (entry["changed"], entry["door"], entry["what"]) == ([], "console", "restored")
    assert answers.metric(console.reg, "revenue/arr")["version"] == 3


def test_odd_form_input_gets_a_page_not_a_crash(console: Console) -> None:
    confirm = _confirm_page(console["admin"], 1, 1)
    token = form_token(confirm)
    before = console.events()
    cases = [
        (
            {"csrf": token, "to": "x", "expected_version": "1", "reason": "r"},
            422,
            "to: must be a version number",
        ),
        ({"csrf": token, "to": "9", "expected_version": "1", "reason": "r"}, 404, "no version 9"),
        (
            {"csrf": token, "to": "1", "expected_version": "", "reason": "r"},
            422,
            "expected_version",
        ),
        ({"csrf": token, "to": "1", "expected_version": "1", "reason": "r" * 5000}, 422, "reason"),
    ]
    for data, status, words in cases:
        answer = console["admin"].post("/metrics/revenue/mrr/rollback", data=data)
        assert answer.status_code == status, (data, answer.text)
        assert words in text_of(answer.text), data
    raw = console["admin"].post(
        "/metrics/revenue/mrr/rollback",
        content=b"\xff\xfe=\x00",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert raw.status_code in (400, 403)
    assert console.events() == before


def test_an_admin_compares_rolls_back_and_restores_a_column(console: Console) -> None:
    """Column metadata has the metric's controls: diff, roll back, restore (issue 27)."""
    column = "/api/admin/columns/orders/net amount"
    for description in ("Before discounts", "After discounts"):
        answer = console.api("PUT", column, json={"description": description, "reason": "doc"})
        assert answer.status_code == 200, answer.text
    page = console["admin"].get("/columns/orders").text
    assert 'href="/columns/orders/net%20amount/diff?from=1&amp;to=2"' in page
    diff = console["analyst"].get("/columns/orders/net%20amount/diff?from=1&to=2").text
    assert re.search(r"description\s+Before discounts\s+After discounts", text_of(diff))
    # Analysts see no control, and the server refuses their forged one.
    assert "Roll back to v1" not in console["analyst"].get("/columns/orders").text
    forged = console["analyst"].post(
        "/columns/orders/net%20amount/rollback",
        data={"csrf": "x", "to": "1", "expected_version": "2", "reason": "mine"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    # An admin rolls back to v1 with a reason; a stale page is refused.
    done = console["admin"].post(
        "/columns/orders/net%20amount/rollback",
        data={"csrf": form_token(page), "to": "1", "expected_version": "2", "reason": "undo"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/columns/orders"
    now = answers.column(console.reg, "orders", "net amount")
    assert (now["description"], now["version"]) == ("Before discounts", 3)
    last = answers.column_history(console.reg, "orders", "net amount")["versions"][-1]
    assert (last["what"], last["door"], last["reason"]) == ("rolled back to v1", "console", "undo")
    stale = console["admin"].post(
        "/columns/orders/net%20amount/rollback",
        data={"csrf": form_token(page), "to": "1", "expected_version": "2", "reason": "again"},
        follow_redirects=False,
    )
    assert stale.status_code == 409
    # Deleted, it is listed with a restore form; restored, it is back as it was.
    assert console.api("DELETE", column, params={"reason": "typo"}).status_code == 200
    listed = console["admin"].get("/columns/orders").text
    assert "net amount</code>: deleted at v4 by admin-person" in listed
    restored = console["admin"].post(
        "/columns/orders/net%20amount/restore",
        data={"csrf": form_token(listed), "expected_version": "4", "reason": "needed"},
        follow_redirects=False,
    )
    assert restored.status_code == 303
    back = answers.column(console.reg, "orders", "net amount")
    assert (back["description"], back["version"]) == ("Before discounts", 5)
    assert "Deleted columns" not in console["admin"].get("/columns/orders").text


def test_an_admin_renames_a_metric_and_its_old_page_follows(console: Console) -> None:
    page = console["admin"].get("/metrics/revenue/mrr").text
    assert 'action="/metrics/revenue/mrr/rename"' in page
    assert (
        'action="/metrics/revenue/mrr/rename"'
        not in console["analyst"].get("/metrics/revenue/mrr").text
    )  # admins only
    done = console["admin"].post(
        "/metrics/revenue/mrr/rename",
        data={
            "csrf": form_token(page),
            "to": "revenue/mrr_v2",
            "expected_version": "1",
            "reason": "a clearer name",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/metrics/revenue/mrr_v2?written=2"
    old = console["analyst"].get("/metrics/revenue/mrr?valid_at=2030-01-01", follow_redirects=False)
    assert old.status_code == 308
    assert old.headers["location"] == "/metrics/revenue/mrr_v2?valid_at=2030-01-01"
    shown = text_of(console["analyst"].get("/metrics/revenue/mrr_v2").text)
    assert "renamed from revenue/mrr to revenue/mrr_v2" in shown
    assert answers.metric(console.reg, "revenue/mrr")["id"] == "revenue/mrr_v2"
    stale = console["admin"].post(
        "/metrics/revenue/mrr_v2/rename",
        data={
            "csrf": form_token(page),
            "to": "revenue/mrr_v3",
            "expected_version": "1",
            "reason": "again",
        },
    )
    assert stale.status_code == 409  # the page showed version 1; it is at 2 now
