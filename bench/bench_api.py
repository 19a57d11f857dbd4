"""HTTP API latency under a bounded local load (127.0.0.1 only).

Starts `da serve` on a free port with the starter pack loaded, then --clients threads send
--reads `GET /api/metrics/{category}/{name}` and --writes `PATCH` requests in total.
Targets with 8 clients: read p50 under 5 ms, write p50 under 15 ms.

Run: python bench/bench_api.py [--clients 8] [--reads 4000] [--writes 800]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(
    clients: int,
    total: int,
    request: Callable[[httpx.Client, int], httpx.Response],
    headers: dict[str, str],
) -> tuple[float, list[float]]:
    """Run `total` requests over `clients` threads; returns (wall seconds, latencies in ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = total // clients

    def worker(n: int) -> None:
        mine = []
        with httpx.Client(headers=headers, timeout=30) as client:
            for i in range(per_client):
                start = time.perf_counter()
                response = request(client, n * per_client + i)
                mine.append((time.perf_counter() - start) * 1000)
                assert response.status_code < 300, response.text
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


def report(label: str, wall: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(
        f"{label:<6} {len(ordered) / wall:8.0f} req/s   p50 {statistics.median(ordered):6.2f} ms   p99 {p99:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--reads", type=int, default=4000)
    parser.add_argument("--writes", type=int, default=800)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-api-"))
    da = str(Path(sys.executable).parent / "da")
    token = subprocess.run(
        [da, "--data-dir", str(data), "tokens", "create", "--role", "admin", "--name", "bench"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [da, "--data-dir", str(data), "starter-pack", "load"], check=False, capture_output=True
    )
    port = free_port()
    server = subprocess.Popen(
        [da, "--data-dir", str(data), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        httpx.post(
            f"{base}/api/admin/metrics",
            headers=headers,
            timeout=30,
            json={
                "name": "mrr",
                "category": "revenue",
                "sql": "SELECT SUM(mrr_amount) FROM subscriptions",
                "table_name": "subscriptions",
                "dimensions": ["plan_type", "region"],
            },
        ).raise_for_status()
        load(
            args.clients, 200, lambda c, i: c.get(f"{base}/api/metrics/revenue/mrr"), headers
        )  # warm-up
        wall, reads = load(
            args.clients, args.reads, lambda c, i: c.get(f"{base}/api/metrics/revenue/mrr"), headers
        )
        report("read", wall, reads)
        wall, writes = load(
            args.clients,
            args.writes,
            lambda c, i: c.patch(
                f"{base}/api/admin/metrics/revenue/mrr", json={"description": f"revision {i}"}
            ),
            headers,
        )
        report("write", wall, writes)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
