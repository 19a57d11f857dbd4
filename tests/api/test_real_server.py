"""One real `da serve` on a free local port, spoken to over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.served import approve_at_once, make_token, served


def test_da_serve_over_http(tmp_path: Path) -> None:
    token = make_token(tmp_path, "ci")
    with served(tmp_path) as base:
        discovery = json.loads((tmp_path / "state" / "server.json").read_text())
        assert discovery["url"] == base
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{base}/api/admin/metrics",
            headers=headers,
            timeout=10,
            json={"name": "mrr", "category": "revenue", "sql": "SELECT 1"},
        )
        assert created.status_code == 201
        listed = httpx.get(f"{base}/api/metrics", headers=headers, timeout=10).json()
        assert listed["count"] == 1 and listed["metrics"][0]["id"] == "revenue/mrr"
        history = httpx.get(
            f"{base}/api/metrics/revenue/mrr/history", headers=headers, timeout=10
        ).json()
        assert history["versions"][0]["actor"] == "ci"
    assert not (tmp_path / "state" / "server.json").exists()


def test_two_admins_approving_at_once_apply_it_once(tmp_path: Path) -> None:
    """Issue 22 on the embedded default: one server, two admins approving one proposal at
    the same moment: exactly one applies it."""
    token = make_token(tmp_path, "root")
    with served(tmp_path) as base:
        approve_at_once([base, base], token)
