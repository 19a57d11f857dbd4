"""The console on a fresh registry holding the starter pack, with one token per role and
one browser-like client per role, already signed in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time

from api.app import create_app
from registry import Registry, Settings
from registry.access.tokens import ROLES, create_token
from registry.interchange.starter import load_starter_pack
from storage.session import RegistryPool
from tests.conftest import SERVER_ENGINES
from tests.postgres import fresh_schema

FORM_TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


def form_token(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = FORM_TOKEN.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def text_of(html: str) -> str:
    """A page's words, without tags and with single spaces (what a reader sees)."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def sign_in(client: TestClient, token: str) -> httpx.Response:
    """Sign in as a person does: open the form, post the token with its form token."""
    page = client.get("/signin")
    return client.post(
        "/signin",
        data={"csrf": form_token(page.text), "token": token, "next": "/"},
        follow_redirects=False,
    )


@dataclass
class Console:
    app_client: TestClient
    tokens: dict[str, str]
    pool: RegistryPool
    clients: dict[str, TestClient]

    @property
    def reg(self) -> Registry:
        return self.pool.main

    def __getitem__(self, role: str) -> TestClient:
        return self.clients[role]

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens['admin']}"}
        return self.app_client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def events(self) -> int:
        row = self.pool.conn.execute("SELECT count(*) FROM event_log").fetchone()
        assert row is not None
        return int(row[0])


# Tokens are audited events: made at a time before any a test writes at, as the log's
# times never go back.
TOKENS_MADE = "2000-01-01"


@pytest.fixture(params=SERVER_ENGINES)
def console(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Console]:
    """The console on a DuckDB file, or on a PostgreSQL schema of its own."""
    with ExitStack() as stack:
        url = stack.enter_context(fresh_schema()) if request.param == "postgresql" else None
        yield from _console(Settings(database_url=url, data_dir=tmp_path))


def _console(settings: Settings) -> Iterator[Console]:
    app = create_app(settings)
    with TestClient(app) as client:
        pool: RegistryPool = app.state.registries
        with freeze_time(TOKENS_MADE):  # before any time a test writes at
            tokens = {role: create_token(pool.conn, f"{role}-person", role) for role in ROLES}
        load_starter_pack(pool.main, actor="setup")
        clients = {}
        for role in ROLES:
            person = TestClient(app)
            assert sign_in(person, tokens[role]).status_code == 303
            clients[role] = person
        yield Console(client, tokens, pool, clients)
