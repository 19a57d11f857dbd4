"""A real PostgreSQL for the tests: the server named by DA_TEST_DATABASE_URL, or a
throwaway PostgreSQL 16 started from the `pgserver` wheel. Each test gets its own schema."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

_server: Any = None


def server_url() -> str:
    """The test server's URL (started once per test process, stopped at its exit)."""
    global _server
    named = os.environ.get("DA_TEST_DATABASE_URL")
    if named:
        return named
    if _server is None:
        import pgserver

        _server = pgserver.get_server(tempfile.mkdtemp(prefix="da-pg-"), cleanup_mode="stop")
    return str(_server.get_uri())


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL whose connections see only a new, empty schema; dropped afterwards."""
    url = server_url()
    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    glue = "&" if "?" in url else "?"
    try:
        yield f"{url}{glue}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
