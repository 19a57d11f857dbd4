"""Reading routes: every one, for every role, and their error paths."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import pytest
import yaml
from freezegun import freeze_time

from tests.api.conftest import FIXTURE_EVENTS, Api

READ_PATHS = [
    "/api/metrics",
    "/api/metrics?category=revenue",
    "/api/metrics/search?q=mau",
    "/api/metrics/revenue/mrr",
    "/api/metrics/revenue/mrr/history",
    "/api/metrics/revenue/mrr/versions/1",
    "/api/metrics/revenue/mrr/diff?from=0&to=1",
    "/api/metrics/revenue/mrr/validate",
    "/api/validate",
    "/api/table-map",
    "/api/tables/orders/metrics",
    "/api/export",
]


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize("role", ["admin", "auditor", "analyst"])
def test_every_role_reads(loaded: Api, path: str, role: str) -> None:
    assert loaded.get(path, role=role).status_code == 200


@pytest.mark.parametrize("path", READ_PATHS)
def test_no_valid_token_is_401(loaded: Api, path: str) -> None:
    missing = loaded.get(path, role=None)
    wrong = loaded.client.get(path, headers={"Authorization": "Bearer mr_not-a-token"})
    basic = loaded.client.get(path, headers={"Authorization": "Basic abc"})
    for response in (missing, wrong, basic):
        assert response.status_code == 401
        assert response.json()["detail"].startswith("a valid token is required")


def test_list_shape_and_category_filter(loaded: Api) -> None:
    body = loaded.get("/api/metrics").json()
    assert body["count"] == 11 == len(body["metrics"])
    assert [m["id"] for m in body["metrics"]][:2] == [
        "operations/infrastructure_cost",
        "operations/support_resolution_time",
    ]
    revenue = loaded.get("/api/metrics?category=revenue").json()
    assert [m["id"] for m in revenue["metrics"]] == [
        "revenue/arr",
        "revenue/churn_rate",
        "revenue/mrr",
        "revenue/total_revenue",
    ]
    assert all(m["version"] == 1 for m in revenue["metrics"])


def test_one_metric_with_version_and_etag(loaded: Api) -> None:
    response = loaded.get("/api/metrics/revenue/mrr")
    body = response.json()
    assert (body["id"], body["table_name"], body["version"]) == ("revenue/mrr", "subscriptions", 1)
    assert body["sql_variants"]["by_plan"].startswith("SELECT billing_date")
    assert response.headers["ETag"] == '"v1"'
    assert loaded.get("/api/metrics/revenue/nope").status_code == 404
    bad = loaded.get("/api/metrics/Revenue/mrr")
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == "category"


def test_search_looks_at_names_synonyms_and_descriptions(loaded: Api) -> None:
    assert [m["id"] for m in loaded.get("/api/metrics/search?q=MAU").json()["metrics"]] == [
        "product_usage/active_users"
    ]
    assert {m["id"] for m in loaded.get("/api/metrics/search?q=annualised").json()["metrics"]} == {
        "revenue/arr"
    }
    assert loaded.get("/api/metrics/search?q=").status_code == 422


def test_history_versions_and_diff(loaded: Api) -> None:
    loaded.call(
        "PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR", "reason": "finance"}
    )
    history = loaded.get("/api/metrics/revenue/mrr/history").json()["versions"]
    assert [(v["version"], v["event_type"], v["actor"]) for v in history] == [
        (1, "MetricCreated", "setup"),
        (2, "MetricUpdated", "admin-token"),
    ]
    # A hand edit of an imported metric: the API's door, the `manual` writer, and the metric
    # leaves its import's scope (its source and label change with it).
    assert history[1]["reason"] == "finance"
    assert history[1]["changed"] == ["unit", "source", "source_ref"]
    assert [(v["door"], v["writer"], v["source_ref"]) for v in history] == [
        ("python", "yaml_import", "starter_pack"),
        ("api", "manual", None),
    ]
    now = loaded.get("/api/metrics/revenue/mrr").json()
    assert (now["unit"], now["source"], now["source_ref"]) == ("EUR", "manual", None)
    assert loaded.get("/api/metrics/revenue/mrr/versions/1").json()["unit"] == "USD"
    assert loaded.get("/api/metrics/revenue/mrr/versions/9").status_code == 404
    assert loaded.get("/api/metrics/revenue/mrr/versions/0").status_code == 422
    assert loaded.get("/api/metrics/revenue/mrr/diff").json()["changes"] == [
        {"field": "unit", "old": "USD", "new": "EUR"},
        {"field": "source", "old": "yaml_import", "new": "manual"},
        {"field": "source_ref", "old": "starter_pack", "new": None},
    ]
    assert loaded.get("/api/metrics/revenue/nope/history").status_code == 404


def mrr_in_january_then_february(api: Api) -> None:
    """revenue/mrr created on 1 January (SELECT 1), changed on 1 February (SELECT 2)."""
    with freeze_time("2026-01-01"):
        api.call(
            "POST",
            "/api/admin/metrics",
            json={"name": "mrr", "category": "revenue", "sql": "SELECT 1"},
        )
    with freeze_time("2026-02-01"):
        api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"sql": "SELECT 2"})


def test_as_of_reads(api: Api) -> None:
    mrr_in_january_then_february(api)
    january = api.get("/api/metrics", params={"as_of": "2026-01-15T00:00:00"}).json()["metrics"]
    assert [(m["sql"], m["version"]) for m in january] == [("SELECT 1", 1)]
    february = api.get("/api/metrics", params={"at_position": 2 + FIXTURE_EVENTS})
    assert february.json()["metrics"][0]["sql"] == "SELECT 2"
    assert api.get("/api/metrics?at_position=-1").status_code == 422
    assert api.get("/api/metrics", params={"as_of": "yesterday"}).status_code == 422
    assert (
        api.get("/api/metrics", params={"as_of": datetime(2025, 1, 1).isoformat()}).json()["count"]
        == 0
    )


def test_one_metric_as_it_stood_at_a_time(api: Api) -> None:
    """`as_of` on one metric answers what a listing as of that time holds for it."""
    mrr_in_january_then_february(api)
    with freeze_time("2026-03-01"):
        api.call("DELETE", "/api/admin/metrics/revenue/mrr")
    for moment in ("2026-01-15T00:00:00", "2026-02-15T00:00:00"):
        one = api.get("/api/metrics/revenue/mrr", params={"as_of": moment})
        [listed] = api.get("/api/metrics", params={"as_of": moment}).json()["metrics"]
        assert one.status_code == 200 and one.json() == listed
        assert one.headers["ETag"] == f'"v{listed["version"]}"'
    for moment in ("2025-12-31T00:00:00", "2026-03-15T00:00:00"):
        gone = api.get("/api/metrics/revenue/mrr", params={"as_of": moment})
        assert gone.status_code == 404
        assert gone.json()["detail"] == f"metric 'revenue/mrr' did not exist at {moment}Z"


def test_a_deleted_metric_answers_404_saying_when_and_by_whom(loaded: Api) -> None:
    assert loaded.call("DELETE", "/api/admin/metrics/revenue/mrr").status_code == 200
    for method in ("GET", "PATCH", "DELETE"):
        path = f"/api/{'' if method == 'GET' else 'admin/'}metrics/revenue/mrr"
        kwargs = {"json": {"unit": "EUR"}} if method == "PATCH" else {}
        gone = loaded.call(method, path, **kwargs)
        assert gone.status_code == 404
        assert gone.json()["detail"].startswith(
            "metric 'revenue/mrr' was deleted at version 2 by admin-token on "
        )


def test_search_takes_the_limit_asked_for_up_to_the_registrys_bound(loaded: Api) -> None:
    assert loaded.get("/api/metrics/search?q=revenue&limit=3").json()["count"] == 3
    assert loaded.get("/api/metrics/search?q=revenue&limit=101").status_code == 422


def test_table_map_and_metrics_of_a_table(loaded: Api) -> None:
    table_map = loaded.get("/api/table-map").json()
    assert table_map["orders"] == ["new_customers", "total_revenue"]
    assert table_map["subscription_changes"] == ["churn_rate", "upsell_expansion"]
    ids = [m["id"] for m in loaded.get("/api/tables/subscriptions/metrics").json()["metrics"]]
    assert ids == ["revenue/arr", "revenue/churn_rate", "revenue/mrr"]


def test_export_is_a_zip_of_yaml_files(loaded: Api) -> None:
    response = loaded.get("/api/export")
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert len(archive.namelist()) == 11 and "revenue/mrr.yml" in archive.namelist()
    assert yaml.safe_load(archive.read("revenue/mrr.yml"))["table"] == "subscriptions"
    empty = loaded.get("/api/export?at_position=0")
    assert zipfile.ZipFile(io.BytesIO(empty.content)).namelist() == []


def test_validation_routes(loaded: Api) -> None:
    assert loaded.get("/api/validate").json() == {
        "findings": [],
        "count": 0,
        "metrics_checked": 11,
        "next": None,
    }
    loaded.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"time_column": "billed_on"})
    findings = loaded.get("/api/metrics/revenue/mrr/validate").json()["findings"]
    assert findings == [
        {
            "metric_id": "revenue/mrr",
            "field": "time_column",
            "severity": "error",
            "message": "'billed_on' is not a column of 'subscriptions'",
        }
    ]


def test_health_needs_no_token(loaded: Api) -> None:
    body = loaded.client.get("/healthz").json()
    assert body["status"] == "ok" and body["projections_in_step"]
    assert body["head"]["position"] == 11 + FIXTURE_EVENTS


def test_openapi_lists_every_route_with_a_summary(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    assert len(operations) >= 25
    assert all(op.get("summary") for op in operations)
    assert "401" in spec["paths"]["/api/metrics"]["get"]["responses"]
    assert api.client.get("/docs").status_code == 200


def test_lists_and_validation_page_with_a_cursor(loaded: Api) -> None:
    first = loaded.get("/api/metrics", params={"limit": 4}).json()
    assert first["count"] == 4 and first["next"] == first["metrics"][-1]["id"]
    seen = [m["id"] for m in first["metrics"]]
    cursor = first["next"]
    while cursor is not None:
        page = loaded.get("/api/metrics", params={"limit": 4, "after": cursor}).json()
        seen += [m["id"] for m in page["metrics"]]
        cursor = page["next"]
    everything = loaded.get("/api/metrics").json()
    assert seen == [m["id"] for m in everything["metrics"]] and len(seen) == 11
    past = loaded.get(
        "/api/metrics", params={"at_position": 5 + FIXTURE_EVENTS, "limit": 2, "after": seen[0]}
    )
    assert past.json()["count"] == 2 and past.json()["metrics"][0]["id"] > seen[0]
    loaded.call("PATCH", "/api/admin/metrics/sales/pipeline_value", json={"time_column": "nope"})
    pages = [loaded.get("/api/validate", params={"limit": 5}).json()]
    while pages[-1]["next"] is not None:
        pages.append(
            loaded.get("/api/validate", params={"limit": 5, "after": pages[-1]["next"]}).json()
        )
    assert [p["metrics_checked"] for p in pages] == [5, 5, 1]
    assert [f["metric_id"] for p in pages for f in p["findings"]] == ["sales/pipeline_value"]


def test_search_ranks_plain_words_and_says_why(loaded: Api) -> None:
    found = loaded.get("/api/metrics/search", params={"q": "revenue per month", "limit": 2}).json()
    assert [m["id"] for m in found["metrics"]][0] == "revenue/mrr" and found["count"] == 2
    first = found["metrics"][0]
    assert first["version"] == 1 and "month in" in first["matched"] and first["score"] > 0


def test_run_answers_the_rows_and_refuses_sql_that_writes(loaded: Api) -> None:
    ran = loaded.get("/api/metrics/revenue/mrr/run", params={"variant": "by_plan", "limit": 3})
    body = ran.json()
    assert ran.status_code == 200 and body["variant"] == "by_plan" and body["row_count"] == 3
    assert body["columns"] == ["month", "plan_type", "mrr"] and body["truncated"] is True
    # SQL that is not one SELECT never becomes a definition (DuckDB's parser, at every door).
    for sql in ("CREATE TABLE x (a INT)", "0", "SELECT 1; SELECT 2"):
        refused = loaded.call(
            "POST", "/api/admin/metrics", json={"name": "evil", "category": "ops", "sql": sql}
        )
        assert refused.status_code == 422
        [error] = refused.json()["errors"]
        assert error["loc"] == "sql" and error["msg"].startswith(
            "must be one SELECT query; DuckDB's parser says:"
        )
    assert loaded.get("/api/metrics/ops/evil/run").status_code == 404


def test_export_as_a_dbt_project(loaded: Api) -> None:
    import io
    import zipfile

    import yaml

    response = loaded.get("/api/export", params={"format": "dbt"})
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert response.status_code == 200 and "models/subscriptions.yml" in archive.namelist()
    document = yaml.safe_load(archive.read("models/subscriptions.yml"))
    mrr = next(m for m in document["metrics"] if m["name"] == "mrr")
    assert mrr["type_params"] == {"measure": "mrr_measure"}
    assert mrr["config"]["meta"]["registry"]["sql_variants"].keys() == {"by_plan"}


def test_search_sees_each_write_at_once(loaded: Api) -> None:
    def found() -> list[str]:
        answer = loaded.get("/api/metrics/search", params={"q": "promoter score"}).json()
        return [m["id"] for m in answer["metrics"]]

    assert found() == []
    body = {
        "name": "nps",
        "category": "ops",
        "display_name": "Net Promoter Score",
        "sql": "SELECT 1",
    }
    loaded.call("POST", "/api/admin/metrics", json=body)
    assert found() == ["ops/nps"]
    loaded.call("DELETE", "/api/admin/metrics/ops/nps")
    assert found() == []
