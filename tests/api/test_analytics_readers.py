"""Running a metric and validating metrics read the same analytics file at the same time:
both open it one way, so neither refuses the other (run got 422 on 99 of 100 requests while
validation looped, and validation 503s)."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import httpx

from tests.served import DA, make_token, served

ROUNDS = 25


def test_run_and_validate_at_once_both_answer_every_time(tmp_path: Path) -> None:
    subprocess.run([DA, "--data-dir", str(tmp_path), "demo"], check=True, capture_output=True)
    token = make_token(tmp_path, "reader", "analyst")
    paths = {
        "run": "/api/metrics/revenue/mrr/run?variant=by_plan&limit=5",
        "validate": "/api/metrics/revenue/mrr/validate",
        "validate_all": "/api/validate?limit=5",
    }
    statuses: dict[str, list[int]] = {name: [] for name in paths}
    with served(tmp_path) as url:
        headers = {"Authorization": f"Bearer {token}"}

        def loop(name: str) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                for _ in range(ROUNDS):
                    statuses[name].append(client.get(paths[name]).status_code)

        threads = [threading.Thread(target=loop, args=(name,)) for name in paths]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ran = httpx.get(f"{url}{paths['run']}", headers=headers).json()
    assert {name: set(codes) for name, codes in statuses.items()} == {name: {200} for name in paths}
    assert all(len(codes) == ROUNDS for codes in statuses.values())
    assert ran["columns"] == ["month", "plan_type", "mrr"] and ran["row_count"] == 5
