"""Writes under heavy readers: --readers analysts keep asking the whole-registry questions
(export, table map, search, a listing as of a time) while an admin PATCHes a metric; prints
the PATCH latency (goal: every write answered within a second).

Starts `da serve` on a free local port (127.0.0.1 only) with --metrics metrics imported.

Run: python bench/bench_heavy_reads.py [--readers 40] [--metrics 10000] [--writes 20]
     [--mix export,table-map,search,as-of]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_metric_files

from tests.served import DA, make_token, served

QUESTIONS = {
    "export": "/api/export",
    "table-map": "/api/table-map",
    "search": "/api/metrics/search?q=recurring+revenue+{n}",
    "as-of": "/api/metrics?as_of=2000-01-01T00:00:00&limit=1000",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=40)
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--mix", default=",".join(QUESTIONS))
    args = parser.parse_args()
    mix = args.mix.split(",")
    data = Path(tempfile.mkdtemp(prefix="bench-heavy-"))
    source = data.parent / f"{data.name}-source"
    write_metric_files(source, args.metrics)
    subprocess.run([DA, "--data-dir", str(data), "metrics", "import", str(source)], check=True)
    token = make_token(data, "bench")
    headers = {"Authorization": f"Bearer {token}"}
    with served(data) as url:
        stop = threading.Event()
        answered: dict[str, list[float]] = {kind: [] for kind in mix}

        def reader(number: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
                n = number
                while not stop.is_set():
                    kind = mix[n % len(mix)]
                    started = time.perf_counter()
                    http.get(QUESTIONS[kind].format(n=n)).raise_for_status()
                    answered[kind].append(time.perf_counter() - started)
                    n += 1

        readers = [threading.Thread(target=reader, args=(n,)) for n in range(args.readers)]
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
    print(f"{args.readers} readers on {args.metrics} metrics, asking: {', '.join(mix)}")
    for kind, times in answered.items():
        if times:
            print(f"{kind:<10} {len(times):>5} answered, p50 {statistics.median(times):.2f} s")
    print(
        f"PATCH    p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms over {len(latencies)} writes"
    )


if __name__ == "__main__":
    main()
