"""The API answers bad input with a 4xx in the registry's words, never a 500, and writes
nothing (issue: hostile input, full disks and heavy readers)."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.api.conftest import FIXTURE_EVENTS, Api
from tests.cli.test_hostile_input import BOMB

MRR = {"name": "mrr", "category": "revenue", "sql": "SELECT 1"}


def upload(api: Api, body: bytes) -> dict[str, object]:
    response = api.call(
        "POST",
        "/api/admin/metrics/import",
        params={"category": "revenue"},
        content=body,
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"? [1, 2]\n: x\nname: a\nsql: SELECT 1\n", "a key must be a plain value"),
        (b"name: a\nsql: SELECT 1\nname: b\n", "key 'name' is given twice (also on line 1)"),
        (BOMB.encode(), "expands to more than"),
        (b"\xff\xfe\x00", "is not UTF-8 text"),
    ],
)
def test_unreadable_uploads_are_reported_not_500(api: Api, body: bytes, expected: str) -> None:
    report = upload(api, body)
    assert report["unreadable"] == ["revenue/upload.yml"]
    problems = report["problems"]
    assert isinstance(problems, dict) and expected in problems["revenue/upload.yml"][0]
    assert api.events() == 0


@pytest.mark.parametrize("field", ["description", "sql", "notes", "reason"])
def test_a_lone_surrogate_is_a_422_naming_the_field(api: Api, field: str) -> None:
    value: object = ["\ud800"] if field == "notes" else "bad \ud800 text"
    body = json.dumps({**MRR, field: value})  # ASCII JSON: the surrogate as an escape
    assert "\\ud800" in body
    response = api.call(
        "POST", "/api/admin/metrics", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == field
    assert "Unicode" in response.json()["errors"][0]["msg"]
    assert api.events() == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"name": "a", "category": "revenue", "sql": "SELECT 1", "validation": {"x": NaN}}',
            "NaN is not a finite number",
        ),
        (
            '{"name": "a", "category": "revenue", "sql": "SELECT 1", "validation": {"x": Infinity}}',
            "Infinity is not a finite number",
        ),
        (
            '{"name": "a", "category": "revenue", "sql": "SELECT 1", "validation": {"x": 1e400}}',
            "1e400 is not a finite number",
        ),
        (
            '{"name": "a", "category": "revenue", "sql": "SELECT 1", "validation": {"x": '
            + "9" * 5000
            + "}}",
            "larger than 64 bits",
        ),
        (
            '{"name": "a", "category": "revenue", "sql": "SELECT 1", "name": "b"}',
            "key 'name' is given twice",
        ),
        ("[" * 30_000 + "]" * 30_000, "nests deeper than 64 levels"),
    ],
)
def test_json_the_registry_cannot_hold_is_a_422_and_writes_nothing(
    api: Api, body: str, expected: str
) -> None:
    before = api.events()
    for method, path in (("POST", "/api/admin/metrics"), ("PUT", "/api/admin/columns/orders/a")):
        answer = api.call(method, path, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, answer.text
        where, _, said = answer.json()["detail"].partition(": ")
        assert where.isdigit() and said.startswith("malformed JSON: ") and expected in said
    assert api.events() == before


def test_dbt_uploads_go_through_the_bounded_loader(api: Api) -> None:
    """A dbt project's settings with an alias bomb or in another encoding: 4xx, never 500."""
    import io
    import zipfile

    for settings, expected in ((BOMB.encode(), "expands to"), (b"name: caf\xe9\n", "is not UTF-8")):
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("dbt_project.yml", settings)
        answer = api.call(
            "POST",
            "/api/admin/metrics/import",
            params={"format": "dbt"},
            content=archive.getvalue(),
            headers={"Content-Type": "application/zip"},
        )
        assert answer.status_code == 422 and expected in answer.json()["detail"], answer.text
    assert api.events() == 0


def test_times_use_one_parser_and_positions_past_the_head_are_refused(loaded: Api) -> None:
    assert loaded.get("/api/metrics", params={"as_of": "2000-01-01T00:00:00Z"}).json()["count"] == 0
    later = loaded.get("/api/metrics", params={"as_of": "2999-01-01T02:00:00+02:00"})
    assert later.json()["count"] == 11
    for bad in ("0.5", "1700000000", "yesterday"):
        response = loaded.get("/api/metrics", params={"as_of": bad})
        assert response.status_code == 422 and response.json()["errors"][0]["loc"] == "as_of"
    past = loaded.get("/api/metrics", params={"at_position": 999})
    head = 11 + FIXTURE_EVENTS
    assert past.status_code == 404 and f"past the log's head ({head})" in past.json()["detail"]


def test_a_full_disk_is_a_507_and_the_next_write_works(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from events.store import EventStore
    from storage.duckdb import DuckDBEventStore

    api.call("POST", "/api/admin/metrics", json=MRR)
    store_class = type(api.pool.main.store)

    def full(self: EventStore, rows: object) -> None:
        if store_class is not DuckDBEventStore:  # PostgreSQL's words for it
            import psycopg

            raise psycopg.errors.DiskFull("could not extend file: No space left on device")
        raise duckdb.IOException("Could not write file: No space left on device")

    monkeypatch.setattr(store_class, "_insert", full)
    refused = api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    assert refused.status_code == 507
    assert "No space left on device" in refused.json()["detail"]
    monkeypatch.undo()
    assert api.events() == 1
    again = api.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    assert again.status_code == 200 and again.json()["version"] == 2


def test_verify_and_healthz_see_an_edited_projection(loaded: Api) -> None:
    assert loaded.client.get("/healthz").json()["last_verify"] is None
    loaded.pool.conn.execute("UPDATE metric_definitions SET unit = 'EUR' WHERE id = 'revenue/mrr'")
    report = loaded.get("/api/audit/verify", role="auditor").json()
    assert (report["ok"], report["chain_ok"]) == (False, True)
    assert report["projections"]["differences"] == [
        "metric_definitions revenue/mrr: unit is 'EUR', the log says 'USD'"
    ]
    health = loaded.client.get("/healthz").json()
    assert health["status"] == "degraded" and health["last_verify"]["projections_in_step"] is False


def test_an_auditors_bogus_anchor_does_not_flip_the_public_health(loaded: Api) -> None:
    """/healthz, which anyone may read, reports only what no caller can steer: the log and
    the projections. The auditor who brought a wrong anchor is told; the world is not."""
    bogus = "3:" + "ab" * 32
    report = loaded.get("/api/audit/verify", params={"anchor": bogus}, role="auditor").json()
    assert report["ok"] is False and "anchor" in report["problem"]
    health = loaded.client.get("/healthz").json()
    assert health["status"] == "ok"
    assert (health["last_verify"]["ok"], health["last_verify"]["chain_ok"]) == (True, True)
    gone = loaded.get("/api/audit/verify", params={"anchor": "99999:" + "0" * 64}, role="auditor")
    assert gone.json()["ok"] is False and loaded.client.get("/healthz").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("answer", "path", "slots"),
    [
        ("export_zip", "/api/export", 2),  # settings.heavy_reads
        ("metric_search", "/api/metrics/search?q=revenue", 1),  # the index's own slot
        ("table_map", "/api/table-map", 1),
    ],
)
def test_heavy_reads_take_turns_so_they_cannot_hold_every_worker(
    loaded: Api, monkeypatch: pytest.MonkeyPatch, answer: str, path: str, slots: int
) -> None:
    import threading
    import time

    from registry import answers

    running = 0
    most = 0
    lock = threading.Lock()
    real = getattr(answers, answer)

    def slow(*args: object) -> object:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return real(*args)

    monkeypatch.setattr(answers, answer, slow)
    statuses: list[int] = []

    def export() -> None:
        statuses.append(loaded.get(path).status_code)

    readers = [threading.Thread(target=export) for _ in range(12)]
    for reader in readers:
        reader.start()
    patched = loaded.call("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    for reader in readers:
        reader.join()
    assert patched.status_code == 200 and patched.json()["unit"] == "EUR"
    assert statuses == [200] * 12
    assert most == slots


def test_unknown_query_parameters_are_refused(loaded: Api) -> None:
    misspelt = loaded.get("/api/metrics", params={"asof": "2000-01-01"})
    assert misspelt.status_code == 422
    assert misspelt.json()["errors"] == [{"loc": "asof", "msg": "unknown query parameter"}]
    assert loaded.get("/api/metrics", params={"as_of": "2000-01-01"}).json()["count"] == 0


def test_a_name_too_long_for_a_url_or_a_file_is_refused_at_the_door(api: Api) -> None:
    """A 5,000-character name used to be accepted; then no export could write its file and
    no URL could address it."""
    before = api.events()
    long = api.call("POST", "/api/admin/metrics", json={**MRR, "name": "n" * 5000})
    assert long.status_code == 422
    assert long.json()["errors"][0]["loc"] == "name" and "100" in long.json()["errors"][0]["msg"]
    longest = api.call("POST", "/api/admin/metrics", json={**MRR, "name": "n" * 100})
    assert longest.status_code == 201
    assert api.get(f"/api/metrics/revenue/{'n' * 100}").json()["name"] == "n" * 100
    exported = api.get("/api/export")
    assert exported.status_code == 200 and f"revenue/{'n' * 100}.yml".encode() in exported.content
    assert api.events() == before + 1


@pytest.mark.parametrize(
    ("column", "accepted"),
    [
        ("net amount?", True),
        ("a\u00a0b", True),
        ("x\x85", False),  # NEL: the documented pattern allowed it, the registry refused it
        ("\ufeffx", False),
        ("x\x7f", False),
        (" x", False),
    ],
)
def test_the_documented_column_name_pattern_is_the_registrys(
    api: Api, column: str, accepted: bool
) -> None:
    import re
    from urllib.parse import quote

    from registry.models import COLUMN_NAME_PATTERN

    documented = api.client.get("/openapi.json").json()["paths"]
    [parameter] = [
        p
        for p in documented["/api/columns/{table_id}/{column}"]["get"]["parameters"]
        if p["name"] == "column"
    ]
    assert parameter["schema"]["pattern"] == COLUMN_NAME_PATTERN
    assert bool(re.match(COLUMN_NAME_PATTERN, column)) is accepted
    put = api.call(
        "PUT", f"/api/admin/columns/orders/{quote(column, safe='')}", json={"description": "d"}
    )
    assert put.status_code == (200 if accepted else 422), put.text
    if not accepted:
        assert "must not contain '/', control characters or surrounding spaces" in put.text


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            "UPDATE api_tokens SET role = 'admin' WHERE name = 'analyst-token'",
            "api_tokens analyst-token: role is 'admin', the log says 'analyst'",
        ),
        (
            "INSERT INTO api_tokens VALUES ('mallory', 'admin', 'ab', '2000-01-01', NULL, NULL)",
            "api_tokens mallory: row not in the log",
        ),
        ("DELETE FROM api_tokens WHERE name = 'auditor-token'", "auditor-token: row missing"),
        (
            "UPDATE api_tokens SET revoked_at = NULL WHERE name = 'gone'",
            "api_tokens gone: revoked_at is None, the log says",
        ),
    ],
)
def test_verify_covers_the_api_tokens(loaded: Api, tamper: str, expected: str) -> None:
    """A token row edited, forged, removed or revived in place: the table is the fold of
    the token events, so verify finds it, with or without an anchor."""
    assert loaded.call("POST", "/api/admin/tokens", json={"name": "gone", "role": "admin"})
    assert loaded.call("DELETE", "/api/admin/tokens/gone").status_code == 200
    clean = loaded.get("/api/audit/verify", role="auditor").json()
    assert clean["ok"] and clean["tokens"] == {
        "in_step": True,
        "count": 0,
        "hidden": 0,
        "differences": [],
    }
    loaded.pool.conn.execute(tamper)
    for params in ({}, {"anchor": clean["head"]}):
        report = loaded.get("/api/audit/verify", role="auditor", params=params).json()
        assert (report["ok"], report["chain_ok"], report["tokens"]["in_step"]) == (
            False,
            True,
            False,
        )
        assert any(expected in d for d in report["tokens"]["differences"]), report["tokens"]
    assert loaded.client.get("/healthz").json()["last_verify"]["tokens_in_step"] is False
