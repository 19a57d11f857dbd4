"""Column metadata routes, the audit feed and verification."""

from __future__ import annotations

from freezegun import freeze_time

from tests.api.conftest import FIXTURE_EVENTS, Api


def test_column_metadata_lifecycle(api: Api) -> None:
    with freeze_time("2026-01-01"):
        put = api.call(
            "PUT",
            "/api/admin/columns/in.c-sales.orders/amount",
            json={"basetype": "NUMERIC", "description": "Order total", "reason": "doc"},
        )
    assert put.status_code == 200 and put.json()["version"] == 1 and put.headers["ETag"] == '"v1"'
    with freeze_time("2026-02-01"):
        api.call(
            "PUT",
            "/api/admin/columns/in.c-sales.orders/amount",
            json={"basetype": "NUMERIC", "description": "Gross total"},
        )
    api.call("PUT", "/api/admin/columns/in.c-sales.orders/id", json={"basetype": "INTEGER"})
    listed = api.get("/api/columns/in.c-sales.orders").json()
    assert [c["column_name"] for c in listed["columns"]] == ["amount", "id"]
    assert listed["columns"][0]["version"] == 2
    january = api.get(
        "/api/columns/in.c-sales.orders", params={"as_of": "2026-01-15T00:00:00"}
    ).json()
    assert [(c["column_name"], c["description"]) for c in january["columns"]] == [
        ("amount", "Order total")
    ]
    one = api.get("/api/columns/in.c-sales.orders/amount").json()
    assert (one["description"], one["confidence"], one["source"]) == (
        "Gross total",
        "manual",
        "manual",
    )
    history = api.get("/api/columns/in.c-sales.orders/amount/history").json()["versions"]
    assert [h["version"] for h in history] == [1, 2] and history[0]["reason"] == "doc"
    stale = api.call(
        "PUT",
        "/api/admin/columns/in.c-sales.orders/amount",
        json={"basetype": "X"},
        headers={"If-Match": '"v1"'},
    )
    assert stale.status_code == 409
    deleted = api.call("DELETE", "/api/admin/columns/in.c-sales.orders/amount")
    assert deleted.json()["status"] == "deleted"
    gone = api.get("/api/columns/in.c-sales.orders/amount")
    assert gone.status_code == 404 and gone.json()["detail"].endswith(
        "restore it with `da columns restore in.c-sales.orders amount`"
    )
    assert api.call("DELETE", "/api/admin/columns/in.c-sales.orders/amount").status_code == 404
    changed = api.get("/api/columns/in.c-sales.orders/amount/diff", params={"from": 1, "to": 2})
    assert changed.json()["changes"] == [
        {"field": "description", "old": "Order total", "new": "Gross total"}
    ]
    restored = api.call(
        "POST", "/api/admin/columns/in.c-sales.orders/amount/restore", json={"reason": "kept"}
    )
    assert restored.status_code == 200 and restored.json()["version"] == 4
    assert restored.headers["ETag"] == '"v4"'
    back = api.call(
        "POST",
        "/api/admin/columns/in.c-sales.orders/amount/rollback",
        json={"to_version": 1, "reason": "the first words were right"},
    )
    assert (back.json()["description"], back.json()["version"]) == ("Order total", 5)
    assert api.get("/api/columns/in.c-sales.orders/amount").json()["description"] == "Order total"
    again = api.call("POST", "/api/admin/columns/in.c-sales.orders/amount/restore")
    assert again.status_code == 409 and "is not deleted" in again.json()["detail"]
    assert api.call("PUT", "/api/admin/columns/bad table/x", json={}).status_code == 422
    assert api.call("PUT", "/api/admin/columns/t/c", json={"colour": "red"}).status_code == 422


def test_the_event_feed_pages_without_gaps(loaded: Api) -> None:
    seen: list[int] = []
    after = 0
    while True:
        page = loaded.get("/api/events", role="auditor", params={"after": after, "limit": 4}).json()
        seen += [e["position"] for e in page["events"]]
        if not page["events"]:
            break
        after = page["next_after"]
    assert seen == list(range(1, 12 + FIXTURE_EVENTS))
    first = loaded.get("/api/events?limit=1", role="auditor").json()["events"][0]
    assert set(first) >= {
        "position",
        "stream_id",
        "version",
        "event_type",
        "payload",
        "actor",
        "hash",
        "prev_hash",
    }


def test_the_event_feed_filters(loaded: Api) -> None:
    loaded.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    by_actor = loaded.get("/api/events?actor=admin-token", role="admin").json()["events"]
    assert [(e["stream_id"], e["event_type"]) for e in by_actor] == [
        ("revenue/mrr", "MetricUpdated")
    ]
    by_stream = loaded.get("/api/events?stream=revenue/mrr", role="admin").json()["events"]
    assert [e["version"] for e in by_stream] == [1, 2]
    by_type = loaded.get("/api/events?type=MetricUpdated", role="admin").json()["events"]
    assert len(by_type) == 1
    every = loaded.get("/api/events", role="admin").json()["events"]
    batch = next(e["batch_id"] for e in every if e["batch_id"])
    assert batch is not None  # the starter pack's import
    for path in ("/api/events", "/api/audit/log"):
        in_batch = loaded.get(path, role="admin", params={"batch": batch}).json()["events"]
        assert sorted(e["position"] for e in in_batch) == [
            e["position"] for e in every if e["batch_id"] == batch
        ]
        assert loaded.get(path, role="admin", params={"batch": "nope"}).json()["events"] == []
    assert (
        loaded.get("/api/events", role="admin", params={"since": "2999-01-01T00:00:00"}).json()[
            "events"
        ]
        == []
    )
    assert loaded.get("/api/events?limit=0", role="admin").status_code == 422


def test_only_auditors_and_admins_read_the_log(loaded: Api) -> None:
    for path in ("/api/events", "/api/audit/verify"):
        assert loaded.get(path, role="analyst").status_code == 403
        assert loaded.get(path, role="auditor").status_code == 200
        assert loaded.get(path, role=None).status_code == 401


def test_verify_with_and_without_an_anchor(loaded: Api) -> None:
    report = loaded.get("/api/audit/verify", role="auditor").json()
    assert report["ok"] and report["checked"] == 11 + FIXTURE_EVENTS
    anchor = report["head"]
    assert loaded.get("/api/audit/verify", role="auditor", params={"anchor": anchor}).json()["ok"]
    assert (
        loaded.get("/api/audit/verify", role="auditor", params={"anchor": "nope"}).status_code
        == 422
    )
    loaded.pool.conn.execute("UPDATE event_log SET actor = 'mallory' WHERE position = 3")
    broken = loaded.get("/api/audit/verify", role="auditor").json()
    assert (broken["ok"], broken["broken_at"]) == (False, 3)
