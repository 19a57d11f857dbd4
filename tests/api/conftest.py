"""An app on a fresh registry, with one token per role, and a client that sends them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time

from api.app import create_app
from registry import Settings
from registry.access.tokens import ROLES, create_token
from registry.interchange.starter import load_starter_pack
from registry.settings import MEMORY
from storage.session import RegistryPool
from tests.conftest import ENGINES
from tests.postgres import fresh_schema


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]
    pool: RegistryPool

    def call(
        self, method: str, path: str, role: str | None = "admin", **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, role: str | None = "analyst", **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, role, **kwargs)

    def events(self) -> int:
        # the events tests make: not the fixture's own tokens' (audited events too)
        row = self.pool.conn.execute(
            "SELECT count(*) FROM event_log WHERE stream_type <> 'token'"
        ).fetchone()
        assert row is not None
        return int(row[0])


# Tokens are audited events: made at a time before any a test writes at, as the log's
# times never go back.
TOKENS_MADE = "2000-01-01"
# The events at the head of every test's log: its tokens' TokenCreated, one per role.
FIXTURE_EVENTS = len(ROLES)


@pytest.fixture(params=ENGINES)
def api(request: pytest.FixtureRequest, tmp_path: Path, demo_db: Path) -> Iterator[Api]:
    """The app on a DuckDB file, on DuckDB :memory:, or on a PostgreSQL schema of its own."""
    with ExitStack() as stack:
        url: str | None = None
        if request.param == "memory":
            url = MEMORY
        elif request.param == "postgresql":
            url = stack.enter_context(fresh_schema())
        settings = Settings(
            database_url=url, data_dir=tmp_path, analytics_db=demo_db, max_body_bytes=64_000
        )
        yield from _api(settings)


def _api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    with TestClient(app) as client:
        pool: RegistryPool = app.state.registries
        with freeze_time(TOKENS_MADE):  # before any time a test writes at
            tokens = {role: create_token(pool.conn, f"{role}-token", role) for role in ROLES}
        yield Api(client, tokens, pool)


@pytest.fixture
def loaded(api: Api) -> Api:
    load_starter_pack(api.pool.main, actor="setup")
    return api
