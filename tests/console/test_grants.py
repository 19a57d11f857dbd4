"""Table grants in the console (issue 24): a person whose token is limited to `orders`
finds total_revenue and never MRR, on any page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from registry.access.tokens import create_token
from tests.console.conftest import Console, sign_in, text_of


def _person(console: Console, role: str) -> TestClient:
    token = create_token(console.pool.conn, f"orders-{role}", role, tables=["orders"])
    person = TestClient(console.app_client.app)
    assert sign_in(person, token).status_code == 303
    return person


def test_a_person_limited_to_orders_never_meets_mrr(console: Console) -> None:
    console.api("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    analyst = _person(console, "analyst")
    registry = text_of(analyst.get("/").text)
    assert "total_revenue" in registry and "new_customers" in registry
    assert "mrr" not in registry.replace("mrr_", "") and "churn_rate" not in registry
    assert "operations" not in registry  # not even the categories of what it may not see
    hidden = analyst.get("/metrics/revenue/mrr")
    missing = analyst.get("/metrics/revenue/never")
    assert hidden.status_code == missing.status_code == 404
    assert text_of(hidden.text) == text_of(missing.text).replace("revenue/never", "revenue/mrr")
    assert analyst.get("/metrics/revenue/mrr/diff?from=1&to=2").status_code == 404
    assert "subscriptions" not in text_of(analyst.get("/columns").text)
    auditor = _person(console, "auditor")
    feed = text_of(auditor.get("/audit").text)
    assert "revenue/total_revenue" in feed and "revenue/mrr" not in feed
    # Everyone else still sees it.
    assert "revenue/mrr" in text_of(console["auditor"].get("/audit").text)
