"""Webhooks over HTTP (issue 24): the admin routes, and the app's deliverer at work."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.conftest import metric_fields
from tests.receiver import receiving


@pytest.fixture(autouse=True)
def local_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DA_HOOKS_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("DA_HOOKS_RETRY_BASE", "0.01")


def test_subscribe_list_test_deliveries_remove(api: Api) -> None:
    with receiving() as receiver:
        made = api.call("POST", "/api/admin/hooks", json={"url": receiver.url, "events": ["*"]})
        assert made.status_code == 201, made.text
        hook_id, secret = made.json()["hook"]["id"], made.json()["secret"]
        tested = api.call("POST", f"/api/admin/hooks/{hook_id}/test")
        assert tested.json()["delivered"] is True and tested.json()["status"] == 200
        assert receiver.verified(secret) == [{"type": "webhook.test", "hook": hook_id}]
    listed = api.call("GET", "/api/admin/hooks").json()["hooks"]
    assert [(h["id"], h["state"], h["events"]) for h in listed] == [(hook_id, "active", ["*"])]
    assert secret not in str(listed)
    attempts = api.call("GET", f"/api/admin/hooks/{hook_id}/deliveries").json()["deliveries"]
    assert [(a["position"], a["status"]) for a in attempts] == [(0, 200)]
    removed = api.call("DELETE", f"/api/admin/hooks/{hook_id}")
    assert removed.status_code == 200 and removed.json()["hook"]["state"] == "removed"
    again = api.call("DELETE", f"/api/admin/hooks/{hook_id}")
    assert again.status_code == 404 and "removed already" in again.json()["detail"]
    assert api.call("GET", "/api/admin/hooks/hook_000000000000/deliveries").status_code == 404
    assert api.call("POST", "/api/admin/hooks/nope/test").status_code == 404


def test_only_admins_and_only_good_bodies(api: Api) -> None:
    body = {"url": "https://example.com/x", "events": ["metric.*"]}
    for role in ("analyst", "auditor"):
        assert api.call("POST", "/api/admin/hooks", role, json=body).status_code == 403
        assert api.call("GET", "/api/admin/hooks", role).status_code == 403
    assert api.call("POST", "/api/admin/hooks", None, json=body).status_code == 401
    wrong = api.call("POST", "/api/admin/hooks", json={**body, "events": ["metrics.*"]})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["loc"] == "events"
    extra = api.call("POST", "/api/admin/hooks", json={**body, "secret": "mine"})
    assert extra.status_code == 422 and "secret" in extra.text
    inside = api.call("POST", "/api/admin/hooks", json={**body, "url": "http://127.0.0.1/x"})
    assert inside.status_code == 201  # allowed here (DA_HOOKS_ALLOW_PRIVATE=1, as for tests)
    assert api.call("GET", "/api/admin/hooks").json()["hooks"][0]["url"] == "http://127.0.0.1/x"


def test_the_app_delivers_writes_signed_in_order(api: Api) -> None:
    with receiving(fail_first=1) as receiver:
        made = api.call(
            "POST", "/api/admin/hooks", json={"url": receiver.url, "events": ["metric.*"]}
        ).json()
        for name in ("a", "b", "c"):
            created = api.call("POST", "/api/admin/metrics", json=metric_fields(name=name))
            assert created.status_code == 201, created.text
        receiver.wait_for(4)  # the first one twice
        bodies = receiver.verified(made["secret"])
    feed = api.get("/api/events", role="auditor", params={"limit": 1000}).json()["events"]
    metric_events = [e for e in feed if e["stream_type"] == "metric"]
    assert bodies == [metric_events[0], *metric_events]
