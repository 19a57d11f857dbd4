"""HTTP API latency under a bounded local load (127.0.0.1 only).

Starts `da serve` on a free port with the starter pack loaded, then --clients threads send
--reads `GET /api/metrics/{category}/{name}` and --writes `PATCH` requests in total.
Every write PATCHes one metric, so a group commit's batches (storage/group.py) are what
the server makes of the hardest case: each write in a batch is decided after the one before.
Targets with 8 clients (issue 26): reads p50 under 5 ms; writes 400/s or more, p50 under
25 ms.

Run: python bench/bench_api.py [--clients 8] [--reads 4000] [--writes 800]
     [--database-url URL|pgserver [--replicas 2]]
"""

from __future__ import annotations

import argparse
import json
import os
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import database_option, schema_url, server_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Connection:
    """One keep-alive HTTP/1.1 connection with as little client work per request as possible.

    httpx costs about 1 ms of Python per request, and 8 client threads share the GIL and
    the machine's 2 cores with the server; the figures would then be mostly the client's.
    Like wrk, this sends prepared bytes and reads just the status and Content-Length.
    """

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.auth = f"Authorization: Bearer {token}\r\n"

    def request(self, method: str, path: str, body: bytes = b"") -> int:
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n{self.auth}"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(65536)
        header, _, rest = data.partition(b"\r\n\r\n")
        lines = header.split(b"\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in lines
            if line.lower().startswith(b"content-length")
        )
        while len(rest) < length:
            rest += self.sock.recv(65536)
        return int(lines[0].split()[1])

    def close(self) -> None:
        self.sock.close()


def load(
    clients: int,
    total: int,
    ports: list[int],
    token: str,
    request: Callable[[Connection, int], int],
) -> tuple[float, list[float]]:
    """Run `total` requests over `clients` connections (one thread each, spread over the
    servers' ports); wall s, latencies ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = total // clients

    def worker(n: int) -> None:
        mine = []
        connection = Connection(ports[n % len(ports)], token)
        try:
            for i in range(per_client):
                start = time.perf_counter()
                status = request(connection, n * per_client + i)
                mine.append((time.perf_counter() - start) * 1000)
                assert status < 300, status
        finally:
            connection.close()
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
    p95, p99 = (ordered[int(len(ordered) * q) - 1] for q in (0.95, 0.99))
    print(
        f"{label:<6} {len(ordered) / wall:8.0f} req/s   p50 {statistics.median(ordered):6.2f} ms"
        f"   p95 {p95:7.2f} ms   p99 {p99:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--reads", type=int, default=4000)
    parser.add_argument("--writes", type=int, default=800)
    parser.add_argument("--replicas", type=int, default=1, help="servers (PostgreSQL only)")
    database_option(parser)
    args = parser.parse_args()
    if args.replicas > 1 and args.database_url is None:
        parser.error("several replicas need --database-url (a DuckDB file has one writer)")
    env = dict(os.environ)
    if args.database_url is not None:
        env["DA_DATABASE_URL"] = schema_url(server_url(args.database_url), "api")
    print(f"engine: {'postgresql' if args.database_url else 'duckdb'}, {args.replicas} replica(s)")
    folders = [Path(tempfile.mkdtemp(prefix="bench-api-")) for _ in range(args.replicas)]
    da = str(Path(sys.executable).parent / "da")
    token = subprocess.run(
        [da, "--data-dir", str(folders[0]), "tokens", "create", "--role", "admin", "--name", "b"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    subprocess.run(
        [da, "--data-dir", str(folders[0]), "starter-pack", "load"],
        check=False,
        capture_output=True,
        env=env,
    )
    ports = [free_port() for _ in folders]
    servers = [
        subprocess.Popen(
            [da, "--data-dir", str(folder), "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        for folder, port in zip(folders, ports, strict=True)
    ]
    headers = {"Authorization": f"Bearer {token}"}
    try:
        for port in ports:
            for _ in range(300):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        httpx.post(
            f"http://127.0.0.1:{ports[0]}/api/admin/metrics",
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
        path = "/api/metrics/revenue/mrr"

        def read(c: Connection, i: int) -> int:
            return c.request("GET", path)

        def write(c: Connection, i: int) -> int:
            body = json.dumps({"description": f"revision {i}"}).encode()
            return c.request("PATCH", "/api/admin/metrics/revenue/mrr", body)

        load(args.clients, 200, ports, token, read)  # warm-up
        report("read", *load(args.clients, args.reads, ports, token, read))
        report("write", *load(args.clients, args.writes, ports, token, write))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
