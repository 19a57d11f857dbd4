"""Writes under heavy readers: --readers clients keep downloading GET /api/export while an
admin PATCHes a metric; prints the PATCH latency (target: answered within a second).

Starts `da serve` on a free local port (127.0.0.1 only) with --metrics metrics loaded.

Run: python bench/bench_heavy_reads.py [--readers 40] [--metrics 2000] [--writes 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import definition

from tests.served import make_token, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=40)
    parser.add_argument("--metrics", type=int, default=2000)
    parser.add_argument("--writes", type=int, default=20)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-heavy-"))
    token = make_token(data, "bench")
    headers = {"Authorization": f"Bearer {token}"}
    with served(data) as url:
        with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
            for n in range(args.metrics):
                http.post("/api/admin/metrics", json=definition(n)).raise_for_status()
        stop = threading.Event()
        exports: list[float] = []

        def reader() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
                while not stop.is_set():
                    started = time.perf_counter()
                    http.get("/api/export").raise_for_status()
                    exports.append(time.perf_counter() - started)

        readers = [threading.Thread(target=reader) for _ in range(args.readers)]
        for thread in readers:
            thread.start()
        time.sleep(2)  # let the readers pile up
        latencies = []
        with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
            for i in range(args.writes):
                started = time.perf_counter()
                http.patch(
                    "/api/admin/metrics/category_1/metric_1", json={"unit": f"U{i}"}
                ).raise_for_status()
                latencies.append(time.perf_counter() - started)
                time.sleep(0.1)
        stop.set()
        for thread in readers:
            thread.join()
    latencies.sort()
    print(f"{args.readers} readers exporting {args.metrics} metrics; {len(exports)} exports done")
    print(f"export   p50 {statistics.median(exports):.2f} s")
    print(
        f"PATCH    p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms over {len(latencies)} writes"
    )


if __name__ == "__main__":
    main()
