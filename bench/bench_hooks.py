"""Webhooks under writes (issue 24): what subscriptions cost a write, and how soon they hear.

Starts `da serve` (DuckDB file) and a receiver on 127.0.0.1 (DA_HOOKS_ALLOW_PRIVATE=1), then
one client PATCHes a metric --writes times with no subscription, and --writes times with
three subscribed (every event to each). Prints write p50/p95 for both, their ratio (target:
within 1.1x), and the delivery lag (from the write's answer to the receiver's, p50 target
under 1 s).

Run: python bench/bench_hooks.py [--writes 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import free_port


def _receiver(arrivals: dict[str, float]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            arrivals.setdefault(self.path + self.headers["webhook-id"], time.perf_counter())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _writes(client: httpx.Client, count: int, tag: str) -> list[tuple[int, float, float]]:
    """(position, latency ms, answered at) of each write."""
    done = []
    for n in range(count):
        start = time.perf_counter()
        answer = client.patch("/api/admin/metrics/revenue/mrr", json={"description": f"{tag} {n}"})
        answered = time.perf_counter()
        answer.raise_for_status()
        done.append((int(answer.headers["ETag"].strip('"v')), (answered - start) * 1000, answered))
    return done


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(int(len(ordered) * q) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=1000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
    env = {**os.environ, "DA_HOOKS_ALLOW_PRIVATE": "1"}
    da = str(Path(sys.executable).parent / "da")
    token = subprocess.run(
        [da, "--data-dir", str(folder), "tokens", "create", "--role", "admin", "--name", "b"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [da, "--data-dir", str(folder), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    arrivals: dict[str, float] = {}
    receiver = _receiver(arrivals)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            for _ in range(300):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            client.post(
                "/api/admin/metrics",
                json={"name": "mrr", "category": "revenue", "sql": "SELECT 1"},
            ).raise_for_status()
            _writes(client, 50, "warm-up")
            alone = _writes(client, args.writes, "alone")
            port_of = receiver.server_address[1]
            for n in range(3):
                client.post(
                    "/api/admin/hooks",
                    json={"url": f"http://127.0.0.1:{port_of}/r{n}", "events": ["metric.*"]},
                ).raise_for_status()
            heard = _writes(client, args.writes, "heard")
            deadline = time.monotonic() + 120
            while len(arrivals) < 3 * args.writes and time.monotonic() < deadline:
                time.sleep(0.05)
            history = client.get("/api/metrics/revenue/mrr/history").json()["versions"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        receiver.shutdown()
    position_of = {v["version"]: v["position"] for v in history}
    # arrivals: "/r<n>msg_<hook>_<position>" -> when the receiver had it
    by_position: dict[int, list[float]] = {}
    for key, at in arrivals.items():
        by_position.setdefault(int(key.rsplit("_", 1)[1]), []).append(at)
    lags = [
        (at - answered) * 1000
        for version, _, answered in heard
        for at in by_position.get(position_of[version], [])
    ]
    quiet = [ms for _, ms, _ in alone]
    busy = [ms for _, ms, _ in heard]
    print(f"{args.writes} writes, one client, DuckDB file")
    for label, ms in (("no subscription", quiet), ("3 subscriptions", busy)):
        print(f"{label:<19} p50 {statistics.median(ms):6.2f} ms   p95 {_p(ms, 0.95):6.2f} ms")
    ratio = statistics.median(busy) / statistics.median(quiet)
    print(f"write p50 ratio     {ratio:.2f}x (target <= 1.1x)")
    print(
        f"delivered           {len(arrivals)} of {3 * args.writes};"
        f" lag p50 {statistics.median(lags):.0f} ms, p95 {_p(lags, 0.95):.0f} ms (target p50 < 1 s)"
    )


if __name__ == "__main__":
    main()
