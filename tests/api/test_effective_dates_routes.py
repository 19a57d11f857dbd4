"""Effective dates through the API: writes carry `effective_from`, reads take `valid_at`
(with `as_of`), ranges answer piecewise, and a real server brings a change in on time."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from freezegun import freeze_time

from tests.api.conftest import Api
from tests.served import make_token, served

CHURN = {"category": "sales", "name": "churn", "sql": "SELECT 1 AS churn", "unit": "percentage"}


def _history(api: Api) -> list[dict[str, object]]:
    found: list[dict[str, object]] = api.get("/api/metrics/sales/churn/history").json()["versions"]
    return found


def _write_dated_history(api: Api) -> None:
    """v1 created 2026-01-01; v2 a change from 2026-07-01 recorded 2026-03-01 (scheduled);
    v3 a correction of Q4 2025 recorded 2026-03-02 (superseded from 2026-01-01 on)."""
    with freeze_time("2026-01-01"):
        assert api.call("POST", "/api/admin/metrics", json=CHURN).status_code == 201
    with freeze_time("2026-03-01"):
        later = {"sql": "SELECT 2 AS churn", "effective_from": "2026-07-01", "reason": "new rule"}
        answer = api.call("PATCH", "/api/admin/metrics/sales/churn", json=later)
        assert answer.status_code == 200
        assert answer.json()["sql"] == "SELECT 1 AS churn"  # not in force yet
        assert answer.json()["version"] == 2
    with freeze_time("2026-03-02"):
        fixed = {
            "category": "sales",
            "name": "churn",
            "sql": "SELECT 0 AS churn",
            "unit": "percentage",
            "effective_from": "2025-10-01",
            "reason": "Q4 2025 was counted another way",
        }
        assert api.call("POST", "/api/admin/metrics", json=fixed).status_code == 201


def test_reads_on_both_axes(api: Api) -> None:
    _write_dated_history(api)
    with freeze_time("2026-03-03"):
        assert api.get("/api/metrics/sales/churn").json()["sql"] == "SELECT 1 AS churn"
        q3 = api.get("/api/metrics/sales/churn?valid_at=2025-11-15").json()
        assert (q3["sql"], q3["version"], q3["effective_from"]) == (
            "SELECT 0 AS churn",
            3,
            "2025-10-01T00:00:00",
        )
        # As recorded before the correction, nothing was in force in November 2025.
        before = api.get("/api/metrics/sales/churn?valid_at=2025-11-15&as_of=2026-03-01T12:00:00Z")
        assert before.status_code == 404
        assert "was not in force at 2025-11-15" in before.json()["detail"]
        summer = api.get("/api/metrics/sales/churn?valid_at=2026-08-01").json()
        assert (summer["sql"], summer["version"]) == ("SELECT 2 AS churn", 2)

        listed = api.get("/api/metrics?valid_at=2025-11-15").json()["metrics"]
        assert [(m["id"], m["version"]) for m in listed] == [("sales/churn", 3)]
        assert api.get("/api/metrics?valid_at=2025-01-01").json()["metrics"] == []

        spans = api.get(
            "/api/metrics/sales/churn/periods?valid_from=2025-07-01&valid_to=2026-12-31"
        ).json()["periods"]
        assert [(p["valid_from"], p["valid_to"], p["version"]) for p in spans] == [
            ("2025-07-01T00:00:00", "2025-10-01T00:00:00", None),
            ("2025-10-01T00:00:00", "2026-01-01T00:00:00", 3),
            ("2026-01-01T00:00:00", "2026-07-01T00:00:00", 1),
            ("2026-07-01T00:00:00", "2026-12-31T00:00:00", 2),
        ]
        assert spans[1]["definition"]["sql"] == "SELECT 0 AS churn"

        axes = api.get("/api/metrics/sales/churn/timeline").json()["versions"]
        assert [(a["version"], a["status"]) for a in axes] == [
            (1, "in force"),
            (2, "scheduled"),
            (3, "past"),
        ]
        assert axes[2]["recorded_at"] == "2026-03-02T00:00:00Z"
        assert axes[2]["effective_from"] == "2025-10-01T00:00:00Z"

        entries = _history(api)
        assert [(e["what"], e["effective_from"]) for e in entries] == [
            ("created", None),
            ("updated, scheduled", "2026-07-01T00:00:00"),
            ("created, scheduled", "2025-10-01T00:00:00"),
        ]
        feed = api.get("/api/events?limit=100", role="auditor").json()["events"]
        dated = [e for e in feed if e["stream_id"] == "sales/churn"]
        assert [e["effective_from"] for e in dated] == [
            None,
            "2026-07-01T00:00:00",
            "2025-10-01T00:00:00",
        ]


def test_export_and_run_at_a_business_date(api: Api) -> None:
    _write_dated_history(api)
    with freeze_time("2026-03-03"):
        body = api.get("/api/export?valid_at=2025-11-15").content
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            exported = yaml.safe_load(archive.read("sales/churn.yml"))
        assert exported["sql"].strip() == "SELECT 0 AS churn"
        ran = api.get("/api/metrics/sales/churn/run?valid_at=2026-08-01").json()
        assert (ran["sql"], ran["version"], ran["rows"]) == ("SELECT 2 AS churn", 2, [[2]])
        assert ran["valid_at"] == "2026-08-01T00:00:00Z"


def test_a_scheduled_deletion_and_bad_dates(api: Api) -> None:
    with freeze_time("2026-01-01"):
        api.call("POST", "/api/admin/metrics", json=CHURN)
        gone = api.call(
            "DELETE", "/api/admin/metrics/sales/churn?effective_from=2026-02-01&reason=retired"
        )
        assert gone.status_code == 200
        assert api.get("/api/metrics/sales/churn").status_code == 200  # until February
        assert api.get("/api/metrics/sales/churn?valid_at=2026-02-02").status_code == 404
        bad = api.call(
            "PATCH",
            "/api/admin/metrics/sales/churn",
            json={"sql": "SELECT 3", "effective_from": "soon"},
        )
        assert bad.status_code == 422
        assert "effective_from" in bad.text and "'soon' is not a time" in bad.text
        odd = api.call(
            "PATCH", "/api/admin/metrics/sales/churn", json={"sql": "SELECT 3", "effective_from": 7}
        )
        assert odd.status_code == 422 and "effective_from" in odd.text
        no_range = api.get("/api/metrics/sales/churn/periods?valid_from=2026-02-01")
        assert no_range.status_code == 422
        backwards = api.get(
            "/api/metrics/sales/churn/periods?valid_from=2026-02-01&valid_to=2026-01-01"
        )
        assert backwards.status_code == 422 and "valid_to" in backwards.text
    assert len(_history(api)) == 2  # the refused writes wrote nothing


def test_a_real_server_brings_a_change_in_when_its_date_comes(tmp_path: Path) -> None:
    token = make_token(tmp_path, "boss")
    headers = {"Authorization": f"Bearer {token}"}
    with served(tmp_path) as base:
        assert httpx.post(f"{base}/api/admin/metrics", json=CHURN, headers=headers).is_success
        soon = datetime.now(UTC) + timedelta(seconds=2)
        later = {"sql": "SELECT 2 AS churn", "effective_from": soon.isoformat()}
        url = f"{base}/api/metrics/sales/churn"
        written = httpx.patch(url.replace("/api/", "/api/admin/"), json=later, headers=headers)
        assert written.json()["sql"] == "SELECT 1 AS churn"
        deadline = time.monotonic() + 15
        while httpx.get(url, headers=headers).json()["sql"] != "SELECT 2 AS churn":
            assert time.monotonic() < deadline, "the change did not come into force"
            time.sleep(0.2)
        entries = httpx.get(f"{url}/history", headers=headers).json()["versions"]
        assert [(e["what"], e["door"], e["actor"]) for e in entries][-1] == (
            "v2 took effect",
            "api",
            "registry",
        )
        verdict = httpx.get(f"{base}/api/audit/verify", headers=headers).json()
        assert verdict["ok"] is True
