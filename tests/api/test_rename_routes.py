"""Renaming a metric through the API: its history goes with it, its old id redirects (308)
and refuses writes naming the new id, and exports and imports know it by its identity."""

from __future__ import annotations

import io
import zipfile

import yaml

from tests.api.conftest import Api

OLD, NEW = "/api/metrics/revenue/mrr", "/api/metrics/revenue/mrr_v2"


def _rename(loaded: Api, to: str = "revenue/mrr_v2", **extra: object) -> dict[str, object]:
    body = {"to": to, "reason": "a clearer name", **extra}
    answer = loaded.call("POST", "/api/admin/metrics/revenue/mrr/rename", json=body)
    assert answer.status_code == 200, answer.text
    found: dict[str, object] = answer.json()
    return found


def test_a_rename_keeps_the_history_and_the_old_id_resolves(loaded: Api) -> None:
    assert loaded.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"}).is_success
    certified = loaded.call(
        "POST", "/api/admin/metrics/revenue/mrr/certification", json={"note": "checked by finance"}
    )
    assert certified.status_code == 200, certified.text
    renamed = _rename(loaded)
    # The certification goes with the metric (kept by its identity); the rename lapses it.
    assert renamed["certification"]["state"] == "lapsed"
    assert renamed["certification"]["version"] == 2
    again = loaded.call(
        "POST", "/api/admin/metrics/revenue/mrr_v2/certification", json={"note": "checked again"}
    )
    assert again.json()["state"] == "certified" and again.json()["version"] == 3
    listed_now = loaded.get("/api/metrics?category=revenue").json()["metrics"]
    mrr = next(m for m in listed_now if m["id"] == "revenue/mrr_v2")
    assert mrr["certification"]["state"] == "certified"
    assert (renamed["id"], renamed["name"], renamed["version"]) == ("revenue/mrr_v2", "mrr_v2", 3)
    assert loaded.call("GET", NEW, "analyst").headers["ETag"] == '"v3"'
    for suffix in ("", "/history", "/versions/1", "/diff?from=1&to=3", "/timeline", "/run"):
        moved = loaded.get(OLD + suffix, follow_redirects=False)
        assert moved.status_code == 308, suffix
        assert moved.headers["location"] == NEW + suffix
    history = loaded.get(OLD + "/history").json()  # followed: the new id's whole history
    assert history["id"] == "revenue/mrr_v2"
    assert [v["what"] for v in history["versions"]] == [
        "created",
        "updated",
        "renamed from revenue/mrr to revenue/mrr_v2",
    ]
    first = loaded.get(NEW + "/versions/1").json()
    assert (first["id"], first["name"]) == ("revenue/mrr", "mrr")  # as it was then
    listed = {m["id"]: m["version"] for m in loaded.get("/api/metrics").json()["metrics"]}
    assert listed["revenue/mrr_v2"] == 3 and "revenue/mrr" not in listed
    before = loaded.get("/api/metrics/revenue/mrr_v2/history").json()["versions"][1]
    then = loaded.get("/api/metrics", params={"as_of": before["recorded_at"]}).json()
    versions_then = {m["id"]: m["version"] for m in then["metrics"]}
    assert versions_then["revenue/mrr"] == 2 and "revenue/mrr_v2" not in versions_then
    diff = loaded.get(NEW + "/diff?from=2&to=3").json()
    assert {c["field"] for c in diff["changes"]} == {"name"}

    refused = loaded.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "USD"})
    assert refused.status_code == 409
    assert "renamed to 'revenue/mrr_v2'" in refused.json()["detail"]
    again = {"category": "revenue", "name": "mrr", "sql": "SELECT 1"}
    assert loaded.call("POST", "/api/admin/metrics", json=again).status_code == 409

    # A rollback to a version from before the rename keeps the id it has now.
    back = loaded.call(
        "POST", "/api/admin/metrics/revenue/mrr_v2/rollback", json={"to_version": 1, "reason": "x"}
    )
    assert back.status_code == 200 and back.json()["id"] == "revenue/mrr_v2"
    assert back.json()["unit"] == "USD"
    feed = loaded.get("/api/events?limit=1000", role="auditor").json()["events"]
    renames = [e for e in feed if e["event_type"] == "MetricRenamed"]
    assert [(e["stream_id"], e["metric_id"]) for e in renames] == [
        ("revenue/mrr", "revenue/mrr_v2")
    ]
    assert loaded.get("/api/audit/verify", role="auditor").json()["ok"] is True


def test_renames_that_are_refused(loaded: Api) -> None:
    taken = loaded.call(
        "POST",
        "/api/admin/metrics/revenue/mrr/rename",
        json={"to": "revenue/arr", "reason": "clash"},
    )
    assert taken.status_code == 409 and "'revenue/arr' exists" in taken.json()["detail"]
    no_reason = loaded.call(
        "POST", "/api/admin/metrics/revenue/mrr/rename", json={"to": "revenue/x"}
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    bad = loaded.call(
        "POST", "/api/admin/metrics/revenue/mrr/rename", json={"to": "Revenue/X", "reason": "r"}
    )
    assert bad.status_code == 422
    missing = loaded.call(
        "POST", "/api/admin/metrics/revenue/nope/rename", json={"to": "revenue/x", "reason": "r"}
    )
    assert missing.status_code == 404
    _rename(loaded)
    old_again = loaded.call(
        "POST",
        "/api/admin/metrics/revenue/arr/rename",
        json={"to": "revenue/mrr", "reason": "take the old name"},
    )
    assert old_again.status_code == 409 and "was another metric's id" in old_again.text
    # Renaming back to its own old id is allowed.
    home = loaded.call(
        "POST",
        "/api/admin/metrics/revenue/mrr_v2/rename",
        json={"to": "revenue/mrr", "reason": "the old name was better"},
    )
    assert home.status_code == 200 and home.json()["id"] == "revenue/mrr"
    assert loaded.get(NEW, follow_redirects=False).headers["location"] == OLD


def _export(loaded: Api, format: str) -> dict[str, str]:
    body = loaded.get(f"/api/export?format={format}").content
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {n: archive.read(n).decode() for n in archive.namelist()}


def test_exports_carry_the_identity_and_an_import_records_a_rename(loaded: Api) -> None:
    _rename(loaded)
    files = _export(loaded, "yaml")
    assert "revenue/mrr.yml" not in files
    assert yaml.safe_load(files["revenue/mrr_v2.yml"])["identity"] == "revenue/mrr"
    assert "identity" not in yaml.safe_load(files["revenue/arr.yml"])  # its own id
    assert any("identity: revenue/mrr" in text for text in _export(loaded, "dbt").values())
    assert any('"identity": "revenue/mrr"' in t for t in _export(loaded, "ossie").values())

    # Somebody renames it again in the file: the import records a rename, not a new metric.
    edited = yaml.safe_load(files["revenue/mrr_v2.yml"])
    edited["name"] = "monthly_recurring_revenue"
    upload = yaml.safe_dump(edited).encode()
    done = loaded.call(
        "POST",
        "/api/admin/metrics/import?category=revenue&filename=monthly_recurring_revenue.yml",
        content=upload,
        headers={"Content-Type": "application/yaml"},
    )
    assert done.status_code == 200, done.text
    report = done.json()
    assert report["renamed"] == ["revenue/mrr_v2 -> revenue/monthly_recurring_revenue"]
    assert report["added"] == [] and report["written"] == ["revenue/monthly_recurring_revenue"]
    history = loaded.get("/api/metrics/revenue/monthly_recurring_revenue/history").json()
    assert len(history["versions"]) == 3
    assert loaded.get(OLD, follow_redirects=False).headers["location"] == (
        "/api/metrics/revenue/monthly_recurring_revenue"
    )
