"""Table grants over HTTP (issue 24): an analyst limited to `orders` sees the metrics that
read only it (total_revenue, new_customers) and never MRR: not its definition, history, SQL,
diff, run, search hit, table, export or events, and not its existence (a 404 worded as for
an id the registry never held). Counts and pages are made after the filter."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx
import pytest

from registry.access.tokens import create_token
from tests.api.conftest import Api

SEEN = ["revenue/total_revenue", "sales/new_customers"]


@pytest.fixture
def limited(loaded: Api) -> dict[str, str]:
    """Bearer headers of an analyst and an auditor limited to `orders`."""
    conn = loaded.pool.conn
    return {
        role: f"Bearer {create_token(conn, f'orders-{role}', role, tables=['orders'])}"
        for role in ("analyst", "auditor")
    }


def _get(api: Api, auth: str, path: str, **params: Any) -> httpx.Response:
    return api.client.get(path, headers={"Authorization": auth}, params=params)


def _alike(
    hidden: httpx.Response, missing: httpx.Response, hidden_id: str, missing_id: str
) -> None:
    """The answer about a hidden metric is the answer about one that never was."""
    assert hidden.status_code == missing.status_code == 404, hidden.text
    assert hidden.text == missing.text.replace(missing_id, hidden_id)


def test_an_analyst_limited_to_orders_sees_only_what_reads_orders(
    loaded: Api, limited: dict[str, str]
) -> None:
    analyst = limited["analyst"]
    listed = _get(loaded, analyst, "/api/metrics").json()
    assert [m["id"] for m in listed["metrics"]] == SEEN and listed["count"] == 2
    # Pages after the filter: one per page, then none.
    first = _get(loaded, analyst, "/api/metrics", limit=1).json()
    second = _get(loaded, analyst, "/api/metrics", limit=1, after=first["next"]).json()
    assert [m["id"] for m in first["metrics"] + second["metrics"]] == SEEN
    assert second["next"] is None
    # An unlimited analyst still sees everything.
    everyone = loaded.get("/api/metrics").json()
    assert "revenue/mrr" in [m["id"] for m in everyone["metrics"]] and everyone["count"] > 2
    for tail in ("", "/history", "/versions/1", "/diff", "/run", "/validate"):
        _alike(
            _get(loaded, analyst, f"/api/metrics/revenue/mrr{tail}"),
            _get(loaded, analyst, f"/api/metrics/revenue/never{tail}"),
            "revenue/mrr",
            "revenue/never",
        )
    assert _get(loaded, analyst, "/api/metrics/revenue/total_revenue").status_code == 200
    found = _get(loaded, analyst, "/api/metrics/search", q="monthly recurring revenue").json()
    assert "revenue/mrr" not in [m["id"] for m in found["metrics"]]
    assert set(_get(loaded, analyst, "/api/table-map").json()) == {"orders"}
    table = _get(loaded, analyst, "/api/tables/subscriptions").json()
    assert table == _get(loaded, analyst, "/api/tables/never_heard_of").json() | {
        "table_id": "subscriptions"
    }
    assert table["metrics"] == [] and table["columns"] == []


@pytest.mark.parametrize("format", ["yaml", "dbt", "ossie"])
def test_exports_hold_only_what_the_caller_sees(
    loaded: Api, limited: dict[str, str], format: str
) -> None:
    answer = _get(loaded, limited["analyst"], "/api/export", format=format)
    assert answer.status_code == 200, answer.text
    text = "".join(
        zipfile.ZipFile(io.BytesIO(answer.content)).read(n).decode()
        for n in zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    )
    assert "total_revenue" in text
    assert "mrr" not in text.replace("mrr_", "") and "subscriptions" not in text


def test_the_feed_and_proposals_hide_it_too(loaded: Api, limited: dict[str, str]) -> None:
    changed = loaded.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    assert changed.status_code == 200
    feed = _get(loaded, limited["auditor"], "/api/events", limit=1000).json()["events"]
    ids = {e["stream_id"] for e in feed if e["stream_type"] == "metric"}
    assert ids == set(SEEN)
    # Paged, the same events.
    paged: list[int] = []
    after = 0
    while True:
        page = _get(loaded, limited["auditor"], "/api/events", after=after, limit=2).json()
        paged += [e["position"] for e in page["events"]]
        if not page["events"]:
            break
        after = page["next_after"]
    assert paged == [e["position"] for e in feed]
    recent = _get(loaded, limited["auditor"], "/api/audit/log").json()["events"]
    assert "revenue/mrr" not in {e["stream_id"] for e in recent}
    # A proposal about it is refused as for a metric that never was.
    body = {"action": "update", "fields": {"unit": "GBP"}, "reason": "r"}
    hidden = loaded.client.post(
        "/api/proposals",
        json={**body, "metric": "revenue/mrr"},
        headers={"Authorization": limited["analyst"]},
    )
    missing = loaded.client.post(
        "/api/proposals",
        json={**body, "metric": "revenue/never"},
        headers={"Authorization": limited["analyst"]},
    )
    _alike(hidden, missing, "revenue/mrr", "revenue/never")
    # An admin's proposals about it, or about a new metric reading what the analyst may not
    # see, are not in the analyst's list, nor in its feed.
    loaded.call("POST", "/api/proposals", json={**body, "metric": "revenue/mrr"})
    secret = {
        "name": "secret",
        "category": "revenue",
        "sql": "SELECT 1",
        "table_name": "subscriptions",
    }
    made = loaded.call(
        "POST", "/api/proposals", json={"action": "create", "fields": secret, "reason": "r"}
    )
    number = made.json()["proposal"]["number"]
    shown = _get(loaded, limited["analyst"], "/api/proposals").json()
    assert shown["count"] == 0 and loaded.get("/api/proposals").json()["count"] == 2
    hidden_one = _get(loaded, limited["analyst"], f"/api/proposals/{number}")
    assert hidden_one.status_code == 404
    assert hidden_one.json()["detail"] == f"there is no proposal {number}"
    feed = _get(loaded, limited["auditor"], "/api/events", limit=1000).json()["events"]
    assert not [e for e in feed if e["stream_type"] == "proposal"]
    # Its own proposal of a metric on `orders` it sees.
    own = {"name": "own", "category": "sales", "sql": "SELECT 1", "table_name": "orders"}
    mine = loaded.client.post(
        "/api/proposals",
        json={"action": "create", "fields": own, "reason": "r"},
        headers={"Authorization": limited["analyst"]},
    )
    assert mine.status_code == 201, mine.text
    assert _get(loaded, limited["analyst"], "/api/proposals").json()["count"] == 1
    elsewhere = loaded.client.post(
        "/api/proposals",
        json={"action": "create", "fields": {**own, "table_name": "subscriptions"}, "reason": "r"},
        headers={"Authorization": limited["analyst"]},
    )
    assert elsewhere.status_code == 422 and "may not see" in elsewhere.text


def test_grants_are_events_and_take_effect_at_once(loaded: Api, limited: dict[str, str]) -> None:
    analyst = limited["analyst"]
    assert _get(loaded, analyst, "/api/metrics/revenue/mrr").status_code == 404
    widened = loaded.call(
        "PUT",
        "/api/admin/tokens/orders-analyst/tables",
        json={"tables": ["orders", "subscriptions"], "reason": "joins revenue"},
    )
    assert widened.status_code == 200 and widened.json()["tables"] == ["orders", "subscriptions"]
    assert _get(loaded, analyst, "/api/metrics/revenue/mrr").status_code == 200
    lifted = loaded.call("PUT", "/api/admin/tokens/orders-analyst/tables", json={"tables": None})
    assert lifted.json()["tables"] is None
    assert _get(loaded, analyst, "/api/metrics").json()["count"] > 3
    events = loaded.get("/api/events", role="auditor", params={"limit": 1000}).json()["events"]
    granted = [
        (e["event_type"], e["payload"]["tables"], e["actor"], e["reason"])
        for e in events
        if e["stream_id"] == "orders-analyst"
    ]
    assert granted == [
        ("TokenCreated", ["orders"], "setup", None),
        ("TokenGranted", ["orders", "subscriptions"], "admin-token", "joins revenue"),
        ("TokenGranted", None, "admin-token", None),
    ]
    assert loaded.get("/api/audit/verify", role="auditor").json()["ok"] is True
    # A grant edited in the table, not through an event, is what verify finds.
    loaded.pool.conn.execute(
        "UPDATE api_tokens SET tables = '[\"*\"]' WHERE name = 'orders-analyst'"
    )
    verdict = loaded.get("/api/audit/verify", role="auditor").json()
    assert verdict["ok"] is False
    assert any("orders-analyst: tables" in d for d in verdict["tokens"]["differences"])


def test_grants_are_for_auditors_and_analysts(loaded: Api) -> None:
    admin = loaded.call(
        "POST", "/api/admin/tokens", json={"name": "a2", "role": "admin", "tables": ["x"]}
    )
    assert admin.status_code == 422 and "an admin sees every table" in admin.text
    bad = loaded.call(
        "POST", "/api/admin/tokens", json={"name": "a3", "role": "analyst", "tables": ["a b"]}
    )
    assert bad.status_code == 422 and "is not a table pattern" in bad.text
    made = loaded.call(
        "POST", "/api/admin/tokens", json={"name": "a4", "role": "analyst", "tables": ["fin_*"]}
    )
    assert made.status_code == 201 and made.json()["tables"] == ["fin_*"]
    listed = {
        t["name"]: t["tables"] for t in loaded.call("GET", "/api/admin/tokens").json()["tokens"]
    }
    assert listed["a4"] == ["fin_*"] and listed["admin-token"] is None


def test_verify_tells_a_limited_auditor_the_truth_without_naming_what_it_may_not_see(
    loaded: Api, limited: dict[str, str]
) -> None:
    loaded.pool.conn.execute(
        "UPDATE metric_definitions SET unit = 'JPY' WHERE id IN ('revenue/mrr', 'sales/new_customers')"
    )
    seen = _get(loaded, limited["auditor"], "/api/audit/verify").json()
    everything = loaded.get("/api/audit/verify", role="auditor").json()
    assert seen["ok"] is everything["ok"] is False
    assert everything["projections"]["count"] == 2 and everything["projections"]["hidden"] == 0
    assert seen["projections"]["count"] == 1 and seen["projections"]["hidden"] == 1
    assert "sales/new_customers" in seen["projections"]["differences"][0]
    assert "revenue/mrr" not in str(seen)
