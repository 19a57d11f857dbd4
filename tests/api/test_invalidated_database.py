"""A database that DuckDB invalidates (after a fatal I/O error such as a full disk): the
server answers 507/503, never a bare 500, and works again without a restart once the cause
is gone. The failure is injected at the storage boundary, the DuckDB connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from registry import Settings
from registry.access.tokens import create_token
from storage.duckdb import DuckDBEngine


class Failing:
    """A DuckDB connection that, while `Failing.on`, fails as an invalidated database does."""

    on = False

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn

    @staticmethod
    def _check() -> None:
        if Failing.on:
            raise duckdb.FatalException(
                "FATAL Error: database has been invalidated because of a previous fatal error"
            )

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return self._conn.execute(*args, **kwargs)

    def begin(self) -> Any:
        self._check()
        return self._conn.begin()

    def commit(self) -> Any:
        self._check()
        return self._conn.commit()

    def cursor(self) -> Failing:
        return Failing(self._conn.cursor())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.fixture
def client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path)
    connect = DuckDBEngine.connect
    monkeypatch.setattr(DuckDBEngine, "connect", lambda self, **kw: Failing(connect(self, **kw)))
    Failing.on = False
    with TestClient(create_app(settings)) as test_client:
        pool = test_client.app.state.registries  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {create_token(pool.conn._conn, 'ops', 'admin')}"}
        yield test_client, headers
    Failing.on = False


def test_an_invalidated_database_is_reopened_once_it_answers_again(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, headers = client
    body = {"name": "mrr", "category": "revenue", "sql": "SELECT 1"}
    assert http.post("/api/admin/metrics", json=body, headers=headers).status_code == 201
    Failing.on = True
    write = http.patch("/api/admin/metrics/revenue/mrr", json={"unit": "EUR"}, headers=headers)
    assert write.status_code in (503, 507) and "registry database" in write.json()["detail"]
    read = http.get("/api/metrics/revenue/nope", headers=headers)
    assert read.status_code == 503
    health = http.get("/healthz")
    assert health.status_code == 503 and "could not be reopened" in health.json()["detail"]
    Failing.on = False  # the disk has room again
    assert http.get("/healthz").json()["status"] == "ok"
    again = http.patch("/api/admin/metrics/revenue/mrr", json={"unit": "EUR"}, headers=headers)
    assert again.status_code == 200 and again.json()["version"] == 2
    history = http.get("/api/metrics/revenue/mrr/history", headers=headers).json()["versions"]
    assert [v["version"] for v in history] == [1, 2]
