"""The API shows the registry's answers and words: regressions of the doors' old defects."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import httpx
import pytest

from registry import MetricRepository, answers
from registry.commands import WriteContext
from tests.api.conftest import Api
from tests.served import make_token, served

MRR = {"name": "mrr", "category": "revenue", "sql": "SELECT 1", "table_name": "subscriptions"}


def test_a_replayed_patch_answers_exactly_the_first_answer(api: Api) -> None:
    api.call("POST", "/api/admin/metrics", json=MRR)
    key = {"Idempotency-Key": "patch-1"}
    first = api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"}, headers=key)
    api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "GBP"})  # someone else
    again = api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"}, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["created_at"] is not None
    assert again.headers["ETag"] == first.headers["ETag"] == '"v2"'
    assert api.get("/api/metrics/revenue/mrr").json()["unit"] == "GBP"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", "/api/admin/metrics/revenue/mrr", None),
        ("POST", "/api/admin/metrics/revenue/mrr/rollback", {"to_version": 1}),
        ("PUT", "/api/admin/columns/orders/region", {"description": "where"}),
        ("DELETE", "/api/admin/columns/orders/amount", None),
    ],
)
def test_every_write_route_takes_an_idempotency_key(
    api: Api, method: str, path: str, body: dict[str, object] | None
) -> None:
    api.call("POST", "/api/admin/metrics", json=MRR)
    api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    api.call("PUT", "/api/admin/columns/orders/amount", json={"basetype": "NUMERIC"})
    key = {"Idempotency-Key": f"k-{method}-{path}"}
    first = api.call(method, path, json=body, headers=key)
    events = api.events()
    again = api.call(method, path, json=body, headers=key)
    assert first.status_code in (200, 201) and again.status_code == first.status_code
    assert again.json() == first.json() and api.events() == events


def test_restore_takes_an_expected_version_and_a_key(api: Api) -> None:
    api.call("POST", "/api/admin/metrics", json=MRR)
    api.call("DELETE", "/api/admin/metrics/revenue/mrr")
    stale = api.call("POST", "/api/admin/metrics/revenue/mrr/restore", headers={"If-Match": '"v1"'})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    ok = api.call("POST", "/api/admin/metrics/revenue/mrr/restore", json={"expected_version": 2})
    assert ok.status_code == 200 and ok.json()["version"] == 3


def test_bad_input_gets_the_registrys_words_through_both_write_routes(api: Api) -> None:
    api.call("POST", "/api/admin/metrics", json=MRR)
    renamed = api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"name": "other"})
    assert renamed.status_code == 422
    assert renamed.json()["errors"] == [
        {"loc": "name", "msg": "is part of the id and cannot change"}
    ]
    for method, path in (
        ("POST", "/api/admin/metrics"),
        ("PATCH", "/api/admin/metrics/revenue/mrr"),
    ):
        summ = api.call(
            method, path, json={**MRR, "type": "summ"} if method == "POST" else {"type": "summ"}
        )
        assert summ.json()["errors"] == [
            {"loc": "type", "msg": "'summ' is not one of sum, count, avg, ratio"}
        ]
    bad_meta = api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"expected_version": "x"})
    assert bad_meta.status_code == 422 and bad_meta.json()["errors"][0]["loc"] == "expected_version"


def test_the_earlier_apis_id_field_and_any_variant_key(api: Api) -> None:
    body = {"id": "ops/nps", "sql": "SELECT 1", "sql_variants": {"weekly": "SELECT 2"}}
    created = api.call("POST", "/api/admin/metrics", json=body)
    assert created.status_code == 201, created.json()
    assert (created.json()["id"], created.json()["sql_variants"]) == (
        "ops/nps",
        {"weekly": "SELECT 2"},
    )
    clash = api.call("POST", "/api/admin/metrics", json={**body, "category": "sales"})
    assert clash.status_code == 422
    assert "'ops/nps' does not match category/name 'sales'/'nps'" in clash.json()["detail"]


def test_times_leave_the_api_as_utc_with_z(api: Api) -> None:
    created = api.call("POST", "/api/admin/metrics", json=MRR).json()
    assert created["created_at"].endswith("Z") and created["updated_at"].endswith("Z")
    history = api.get("/api/metrics/revenue/mrr/history").json()["versions"]
    assert history[0]["recorded_at"].endswith("Z")


def test_a_zip_whose_headers_lie_is_a_clean_400(api: Api) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sales/a.yml", "name: a\nsql: SELECT 1\n" * 50)
    data = bytearray(buffer.getvalue())
    data[data.index(b"PK\x03\x04") + 22 : data.index(b"PK\x03\x04") + 26] = (10).to_bytes(
        4, "little"
    )
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    response = api.call(
        "POST",
        "/api/admin/metrics/import",
        content=bytes(data),
        headers={"Content-Type": "application/zip"},
    )
    assert response.status_code == 400 and "zip" in response.json()["detail"]
    assert api.events() == 0


def test_a_keyed_import_retried_gets_its_first_report(api: Api) -> None:
    yaml_body = b"name: mrr\nsql: SELECT 1\n"
    params = {"category": "revenue"}
    key = {"Content-Type": "application/yaml", "Idempotency-Key": "import-1"}
    first = api.call(
        "POST", "/api/admin/metrics/import", params=params, content=yaml_body, headers=key
    )
    again = api.call(
        "POST", "/api/admin/metrics/import", params=params, content=yaml_body, headers=key
    )
    assert first.json()["added"] == ["revenue/mrr"] and again.json() == first.json()
    other = api.call(
        "POST",
        "/api/admin/metrics/import",
        params=params,
        content=b"name: arr\nsql: SELECT 2\n",
        headers=key,
    )
    assert other.status_code == 409


def test_eight_clients_patching_one_metric_each_get_their_own_answer(tmp_path: Path) -> None:
    """Every 200 shows its own value, its own version, and an ETag equal to that version."""
    token = make_token(tmp_path, "load")
    answers_seen: list[tuple[str, dict[str, object], str]] = []
    lock = threading.Lock()
    with served(tmp_path) as url:
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{url}/api/admin/metrics", json=MRR, headers=headers).status_code == 201

        def client(n: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
                for i in range(15):
                    value = f"client {n} write {i}"
                    response = http.patch(
                        "/api/admin/metrics/revenue/mrr", json={"description": value}
                    )
                    assert response.status_code == 200, response.text
                    with lock:
                        answers_seen.append((value, response.json(), response.headers["ETag"]))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        history = httpx.get(f"{url}/api/metrics/revenue/mrr/history", headers=headers).json()
    assert len(answers_seen) == 120
    for value, body, tag in answers_seen:
        assert body["description"] == value and tag == f'"v{body["version"]}"'
    versions = sorted(int(body["version"]) for _, body, _ in answers_seen)  # type: ignore[call-overload]
    assert versions == list(range(2, 122)) and len(history["versions"]) == 121


def test_a_write_answers_from_its_own_transaction(repo: MetricRepository) -> None:
    """The answer is built before the commit: nothing is read after it."""
    reg = repo.registry
    reg.conn.execute("SELECT 1")  # the registry is open
    answer = answers.create_metric(reg, dict(MRR), WriteContext(actor="alice"))
    assert answer == answers.metric(reg, "revenue/mrr")


def test_if_match_star_means_any_existing_version(api: Api) -> None:
    star = {"If-Match": "*"}
    refused = api.call("POST", "/api/admin/metrics", json=MRR, headers=star)
    assert refused.status_code == 409 and "not any existing version" in refused.json()["detail"]
    assert api.events() == 0
    api.call("POST", "/api/admin/metrics", json=MRR)
    patched = api.call(
        "PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"}, headers=star
    )
    assert patched.status_code == 200 and patched.json()["version"] == 2


def test_creating_and_revoking_tokens_are_audited_events(api: Api) -> None:
    created = api.call("POST", "/api/admin/tokens", json={"name": "bi-tool", "role": "analyst"})
    assert created.status_code == 201
    token = created.json()["token"]
    assert api.call("DELETE", "/api/admin/tokens/bi-tool").status_code == 200
    log = api.get("/api/events", role="auditor", params={"stream": "bi-tool"}).json()["events"]
    hashed = hashlib.sha256(token.encode()).hexdigest()  # the table's, so verify can fold it
    assert [(e["event_type"], e["actor"], e["payload"]) for e in log] == [
        (
            "TokenCreated",
            "admin-token",
            {"name": "bi-tool", "role": "analyst", "token_sha256": hashed},
        ),
        ("TokenRevoked", "admin-token", {"name": "bi-tool", "role": "analyst"}),
    ]
    assert token not in str(log)
    assert api.get("/api/audit/verify", role="auditor").json()["ok"] is True
