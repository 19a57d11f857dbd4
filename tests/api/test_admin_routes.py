"""Writing routes (admin only), concurrency guards, uploads, and every error path."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.api.conftest import Api

MRR = {
    "name": "mrr",
    "category": "revenue",
    "sql": "SELECT SUM(mrr_amount) FROM subscriptions",
    "table_name": "subscriptions",
    "synonyms": ["monthly_revenue"],
}
WRITES = [
    ("POST", "/api/admin/metrics", {"json": MRR}),
    ("PATCH", "/api/admin/metrics/revenue/mrr", {"json": {"unit": "EUR"}}),
    ("DELETE", "/api/admin/metrics/revenue/mrr", {}),
    ("POST", "/api/admin/metrics/revenue/mrr/rollback", {"json": {"to_version": 1}}),
    ("POST", "/api/admin/metrics/revenue/mrr/restore", {}),
    ("POST", "/api/admin/metrics/import", {"content": b"name: x\nsql: SELECT 1\n"}),
    ("PUT", "/api/admin/columns/orders/amount", {"json": {"basetype": "NUMERIC"}}),
    ("DELETE", "/api/admin/columns/orders/amount", {}),
    ("POST", "/api/admin/columns/orders/amount/rollback", {"json": {"to_version": 1}}),
    ("POST", "/api/admin/columns/orders/amount/restore", {}),
    ("POST", "/api/admin/tokens", {"json": {"name": "new", "role": "analyst"}}),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES]
)
@pytest.mark.parametrize("role", ["analyst", "auditor"])
def test_only_admins_write(
    api: Api, role: str, method: str, path: str, kwargs: dict[str, object]
) -> None:
    response = api.call(method, path, role, **kwargs)
    assert response.status_code == 403
    assert response.json()["detail"] == f"role {role!r} may not write"
    assert api.events() == 0


@pytest.mark.parametrize(
    ("method", "path", "kwargs"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES]
)
def test_writes_need_a_token(api: Api, method: str, path: str, kwargs: dict[str, object]) -> None:
    assert api.call(method, path, None, **kwargs).status_code == 401


def test_create_is_an_upsert_answering_201(api: Api) -> None:
    first = api.call("POST", "/api/admin/metrics", json={**MRR, "reason": "new metric"})
    assert (
        first.status_code == 201
        and first.json()["version"] == 1
        and first.headers["ETag"] == '"v1"'
    )
    again = api.call("POST", "/api/admin/metrics", json={**MRR, "unit": "USD"})
    assert (
        again.status_code == 201 and again.json()["version"] == 2 and again.json()["unit"] == "USD"
    )
    history = api.get("/api/metrics/revenue/mrr/history").json()["versions"]
    assert history[0]["reason"] == "new metric" and history[0]["actor"] == "admin-token"


def test_patch_delete_rollback_restore(api: Api) -> None:
    api.call("POST", "/api/admin/metrics", json=MRR)
    patched = api.call(
        "PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR", "dimensions": ["region"]}
    )
    assert (patched.json()["unit"], patched.json()["dimensions"], patched.json()["version"]) == (
        "EUR",
        ["region"],
        2,
    )
    deleted = api.call("DELETE", "/api/admin/metrics/revenue/mrr", params={"reason": "obsolete"})
    assert deleted.json() == {"status": "deleted", "id": "revenue/mrr", "version": 3}
    assert api.get("/api/metrics/revenue/mrr").status_code == 404
    assert api.call("DELETE", "/api/admin/metrics/revenue/mrr").status_code == 404
    restored = api.call("POST", "/api/admin/metrics/revenue/mrr/restore", json={"reason": "oops"})
    assert restored.status_code == 200 and restored.json()["unit"] == "EUR"
    assert api.call("POST", "/api/admin/metrics/revenue/mrr/restore").status_code == 409
    back = api.call(
        "POST", "/api/admin/metrics/revenue/mrr/rollback", json={"to_version": 1, "reason": "bad"}
    )
    assert (back.json()["unit"], back.json()["version"]) == (None, 5)
    assert (
        api.call(
            "POST", "/api/admin/metrics/revenue/mrr/rollback", json={"to_version": 99}
        ).status_code
        == 404
    )
    assert (
        api.call(
            "POST", "/api/admin/metrics/revenue/mrr/rollback", json={"to_version": 3}
        ).status_code
        == 422
    )
    assert (
        api.call("PATCH", "/api/admin/metrics/revenue/nope", json={"unit": "x"}).status_code == 404
    )


def test_if_match_and_expected_version_guard_writes(api: Api) -> None:
    api.call("POST", "/api/admin/metrics", json=MRR)
    ok = api.call(
        "PATCH",
        "/api/admin/metrics/revenue/mrr",
        json={"unit": "EUR"},
        headers={"If-Match": '"v1"'},
    )
    assert ok.status_code == 200
    stale = api.call(
        "PATCH",
        "/api/admin/metrics/revenue/mrr",
        json={"unit": "GBP"},
        headers={"If-Match": '"v1"'},
    )
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    body_guard = api.call(
        "PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "GBP", "expected_version": 1}
    )
    assert body_guard.status_code == 409
    assert (
        api.call(
            "PATCH",
            "/api/admin/metrics/revenue/mrr",
            json={"unit": "x"},
            headers={"If-Match": "nonsense"},
        ).status_code
        == 422
    )
    assert api.get("/api/metrics/revenue/mrr").json()["unit"] == "EUR"


def test_idempotency_key_returns_the_first_answer(api: Api) -> None:
    headers = {"Idempotency-Key": "req-42"}
    first = api.call("POST", "/api/admin/metrics", json=MRR, headers=headers)
    api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    retried = api.call("POST", "/api/admin/metrics", json=MRR, headers=headers)
    assert retried.status_code == 201 and retried.json()["version"] == first.json()["version"] == 1
    assert retried.json()["sql"] == first.json()["sql"]
    assert api.events() == 2
    reused = api.call(
        "POST", "/api/admin/metrics", json={**MRR, "sql": "SELECT 2"}, headers=headers
    )
    assert reused.status_code == 409


@pytest.mark.parametrize(
    ("body", "location", "message"),
    [
        ({**MRR, "type": "summ"}, "type", "'summ' is not one of sum, count, avg, ratio"),
        ({**MRR, "colour": "red"}, "colour", "unknown field"),
        ({**MRR, "tables": "orders"}, "tables", "'orders' is not a list of strings"),
        ({**MRR, "name": "Bad Name"}, "name", "must be lowercase letters, digits and _"),
        ({"category": "revenue", "sql": "SELECT 1"}, "name", "is required"),
        ({**MRR, "sql": "  "}, "sql", "must not be empty"),
    ],
)
def test_bad_bodies_are_422_with_the_field_and_write_nothing(
    api: Api, body: dict[str, object], location: str, message: str
) -> None:
    response = api.call("POST", "/api/admin/metrics", json=body)
    assert response.status_code == 422
    assert any(e["loc"] == location and message in e["msg"] for e in response.json()["errors"]), (
        response.json()
    )
    assert api.events() == 0


def test_malformed_json_oversized_bodies_and_wrong_types(api: Api) -> None:
    broken = api.call(
        "POST",
        "/api/admin/metrics",
        content=b'{"name": ',
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and "malformed JSON" in broken.json()["detail"]
    huge = api.call("POST", "/api/admin/metrics", json={**MRR, "description": "x" * 70_000})
    assert huge.status_code == 413 and "larger than 64000 bytes" in huge.json()["detail"]
    listed = api.call("POST", "/api/admin/metrics", json=[MRR])
    assert listed.status_code == 422
    assert (
        api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"name": "other"}).status_code
        == 422
    )
    assert api.events() == 0


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_import_a_yaml_body_and_a_zipped_folder(api: Api) -> None:
    single = api.call(
        "POST",
        "/api/admin/metrics/import?category=revenue&source_ref=web",
        content=b"name: mrr\nsql: SELECT 1\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert single.status_code == 200 and single.json()["added"] == ["revenue/mrr"]
    assert api.get("/api/metrics/revenue/mrr").json()["source"] == "web_upload"
    folder = _zip(
        {
            "revenue/mrr.yml": "name: mrr\nsql: SELECT 2\n",
            "sales/new.yml": "name: new\nsql: SELECT 3\n",
            "sales/bad.yml": "name: bad\ntype: summ\nsql: x\n",
            "README.txt": "ignored",
        }
    )
    dry = api.call(
        "POST",
        "/api/admin/metrics/import?dry_run=true&source_ref=web",
        content=folder,
        headers={"Content-Type": "application/zip"},
    )
    assert dry.json()["updated"] == ["revenue/mrr"] and dry.json()["written"] == []
    assert dry.json()["unreadable"] == ["sales/bad.yml"]
    assert (
        "sales/bad.yml:2: type: 'summ' is not one of sum, count, avg, ratio"
        in dry.json()["problems"]["sales/bad.yml"][0]
    )
    refused = api.call(
        "POST",
        "/api/admin/metrics/import?prune=true&source_ref=web",
        content=folder,
        headers={"Content-Type": "application/zip"},
    )
    assert refused.status_code == 400 and "sales/bad.yml" in refused.json()["detail"]
    done = api.call(
        "POST",
        "/api/admin/metrics/import?source_ref=web",
        content=folder,
        headers={"Content-Type": "application/zip"},
    )
    assert sorted(done.json()["written"]) == ["revenue/mrr", "sales/new"]


def test_import_refuses_unsafe_archives(api: Api) -> None:
    evil = _zip({"../../evil.yml": "name: e\nsql: SELECT 1\n"})
    response = api.call(
        "POST",
        "/api/admin/metrics/import",
        content=evil,
        headers={"Content-Type": "application/zip"},
    )
    assert response.status_code == 400 and "unsafe path" in response.json()["detail"]
    junk = api.call(
        "POST",
        "/api/admin/metrics/import",
        content=b"PK not a zip",
        headers={"Content-Type": "application/zip"},
    )
    assert junk.status_code == 400
    assert api.events() == 0


def test_tokens_routes(api: Api) -> None:
    created = api.call("POST", "/api/admin/tokens", json={"name": "bi-tool", "role": "analyst"})
    token = created.json()["token"]
    assert created.status_code == 201 and token.startswith("mr_")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/metrics", headers=headers).status_code == 200
    listed = api.call("GET", "/api/admin/tokens").json()["tokens"]
    assert {t["name"] for t in listed} >= {"bi-tool", "admin-token"} and all(
        "token" not in t for t in listed
    )
    stored = api.pool.conn.execute(
        "SELECT token_sha256 FROM api_tokens WHERE name = 'bi-tool'"
    ).fetchone()
    assert stored is not None and token not in stored[0]
    assert api.call("DELETE", "/api/admin/tokens/bi-tool").status_code == 200
    assert api.client.get("/api/metrics", headers=headers).status_code == 401
    assert (
        api.call(
            "POST", "/api/admin/tokens", json={"name": "bi-tool", "role": "analyst"}
        ).status_code
        == 409
    )
    assert (
        api.call("POST", "/api/admin/tokens", json={"name": "x", "role": "boss"}).status_code == 422
    )
    assert api.call("DELETE", "/api/admin/tokens/nobody").status_code == 404


def test_import_of_a_zipped_dbt_project(api: Api) -> None:
    project = Path(__file__).resolve().parents[1] / "registry" / "dbt_project"
    files = {
        p.relative_to(project).as_posix(): p.read_text() for p in project.rglob("*") if p.is_file()
    }
    response = api.call(
        "POST",
        "/api/admin/metrics/import",
        params={"format": "dbt"},
        content=_zip(files),
        headers={"Content-Type": "application/zip"},
    )
    report = response.json()
    assert response.status_code == 200 and len(report["added"]) == 7
    assert sorted(report["skipped"]) == [
        "cumulative_revenue",
        "german_revenue",
        "median_order",
        "visit_to_buy",
    ]
    revenue = api.get("/api/metrics/sales/revenue").json()
    assert (revenue["source"], revenue["source_ref"]) == ("dbt_import", "shop")


def test_ossie_documents_round_trip_through_the_api(loaded: Api) -> None:
    """Export as Ossie (a zip of documents), then upload them as an import: nothing changes;
    an invalid document is a report naming its place, and nothing of it is written."""
    exported = loaded.get("/api/export", params={"format": "ossie"})
    assert exported.headers["content-type"] == "application/zip"
    files = zipfile.ZipFile(io.BytesIO(exported.content))
    assert sorted(files.namelist()) == [
        "operations.yaml",
        "product_usage.yaml",
        "revenue.yaml",
        "sales.yaml",
    ]
    revenue = yaml.safe_load(files.read("revenue.yaml"))
    assert revenue["version"] == "0.2.0.dev0"
    again = loaded.call(
        "POST",
        "/api/admin/metrics/import",
        params={"format": "ossie"},
        content=exported.content,
        headers={"Content-Type": "application/zip"},
    ).json()
    assert (len(again["unchanged"]), again["written"], again["skipped"]) == (11, [], {})
    retail = Path(__file__).resolve().parents[1] / "registry" / "ossie" / "retail.yaml"
    imported = loaded.call(
        "POST",
        "/api/admin/metrics/import",
        params={"format": "ossie", "category": "ossie", "filename": "retail.yaml"},
        content=retail.read_bytes(),
        headers={"Content-Type": "application/yaml"},
    ).json()
    assert sorted(imported["added"])[0] == "retail/customer_lifetime_value"
    spanning = loaded.get("/api/metrics/retail/sales_per_employee").json()
    assert (spanning["source"], spanning["tables"]) == ("ossie_import", ["shop.main.store"])
    history = loaded.get("/api/metrics/retail/sales_per_employee/history").json()["versions"]
    assert (history[0]["door"], history[0]["writer"]) == ("api", "ossie_import")
    broken = loaded.call(
        "POST",
        "/api/admin/metrics/import",
        params={"format": "ossie", "filename": "broken.json"},
        content=b'{"version": "0.2.0.dev0", "semantic_model": [{"name": "x", "datasets": []}]}',
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 200
    [(where, [problem])] = broken.json()["problems"].items()
    assert where == "uploads/broken.json"
    assert problem == (
        "uploads/broken.json: semantic_model.0.datasets: List should have at least 1 item"
        " after validation, not 0"
    )
