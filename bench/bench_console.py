"""Render time of the console's pages on a big registry, through a real `da serve`.

Loads --metrics metrics (default 10,000, by one import) and gives one of them --versions
versions (default 100), signs in, then times each page over --runs requests (after a
warm-up) and prints p50 and p90. The aim (issue 12): p50 under 50 ms for the registry page
with 10,000 metrics and for a metric page with 100 versions.

Run: python bench/bench_console.py [--metrics 10000] [--versions 100] [--runs 200]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import definition, write_metric_files

from registry import Settings, answers
from registry.access.tokens import create_token
from registry.commands import WriteContext
from registry.database import open_registry
from registry.interchange.imports import ImportOptions, reconcile
from tests.served import served


def load(data: Path, metrics: int, versions: int) -> str:
    """The registry: `metrics` metrics by one import, one of them with `versions` versions;
    an admin token."""
    source = data / "source"
    write_metric_files(source, metrics)
    reg = open_registry(Settings(data_dir=data))
    conn = reg.conn
    reconcile(reg, source, ImportOptions(actor="bench"))
    for v in range(2, versions + 1):
        fields = {"description": f"Revision {v}.", "sql": definition(1, v)["sql"] + f"\n-- v{v}"}
        answers.update_metric(
            reg, "category_1/metric_1", fields, WriteContext(actor=f"editor{v % 7}")
        )
    token = create_token(conn, "bench", "admin")
    conn.close()
    return token


def timed(http: httpx.Client, path: str, runs: int) -> tuple[float, float, int]:
    """p50 and p90 in ms of GET path, and the page's size."""
    for _ in range(10):
        http.get(path).raise_for_status()
    samples = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        answer = http.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
        size = len(answer.content)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)], size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-console-"))
    started = time.perf_counter()
    token = load(data, args.metrics, args.versions)
    print(
        f"{args.metrics:,} metrics, one with {args.versions} versions, loaded in"
        f" {time.perf_counter() - started:.1f} s"
    )
    with served(data) as url, httpx.Client(base_url=url, timeout=60) as http:
        form = http.get("/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        signed = http.post("/signin", data={"csrf": csrf.group(1), "token": token})
        assert signed.status_code == 303, signed.text
        middle = f"category_5/metric_{args.metrics // 2 + 5}"
        pages = {
            "registry, first page": "/",
            "registry, a page in the middle": f"/?after={middle}",
            "registry, one category": "/?category=category_3",
            "registry, as of a log position": "/?at_position=5000",
            "registry, search (one metric's name)": f"/?q=m{args.metrics // 3}",
            "registry, search (matches every metric)": "/?q=recurring+revenue",
            f"metric with {args.versions} versions": "/metrics/category_1/metric_1",
            "compare v1 and the last": f"/metrics/category_1/metric_1/diff?from=1&to={args.versions}",
            "audit feed": "/audit",
        }
        print(f"{'page':42} {'p50 ms':>8} {'p90 ms':>8} {'KB':>6}")
        for name, path in pages.items():
            p50, p90, size = timed(http, path, args.runs)
            print(f"{name:42} {p50:8.1f} {p90:8.1f} {size / 1024:6.0f}")


if __name__ == "__main__":
    main()
