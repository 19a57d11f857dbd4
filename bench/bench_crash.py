"""Crash safety: kill -9 a loaded server and count acknowledged writes that were lost.

Starts `da serve` (127.0.0.1 only), runs --clients threads that PATCH their own metric and a
shared one, kills the server with SIGKILL after --seconds, opens the registry embedded and
checks that every write the server acknowledged (its version and value) is in the log, that
the chain verifies and that the projections match the log. Repeats --rounds times.

Run: python bench/bench_crash.py [--rounds 3] [--clients 16] [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from registry import answers, load_settings, open_registry
from tests.served import make_token, start


def one_round(clients: int, seconds: float) -> tuple[int, int, bool, bool]:
    data = Path(tempfile.mkdtemp(prefix="bench-crash-"))
    token = make_token(data, "crash")
    server, url = start(data)
    headers = {"Authorization": f"Bearer {token}"}
    for n in ["shared", *(f"own_{i}" for i in range(clients))]:
        body = {"name": n, "category": "crash", "sql": "SELECT 1"}
        httpx.post(f"{url}/api/admin/metrics", json=body, headers=headers).raise_for_status()
    acknowledged: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(i: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
            n = 0
            while not stop.is_set():
                metric = "shared" if n % 2 else f"own_{i}"
                value = f"{i}-{n}"
                try:
                    answer = http.patch(f"/api/admin/metrics/crash/{metric}", json={"unit": value})
                except httpx.TransportError:
                    return  # the server is gone: this write was never acknowledged
                if answer.status_code == 200:
                    with lock:
                        acknowledged.append((f"crash/{metric}", answer.json()["version"], value))
                n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    stop.set()
    for thread in threads:
        thread.join()
    (data / "state" / "server.json").unlink(missing_ok=True)
    reg = open_registry(load_settings({}, data_dir=data))
    logged = {
        (stream, int(version)): payload
        for stream, version, payload in reg.conn.execute(
            "SELECT stream_id, version, payload->>'$.definition.unit' FROM event_log"
            " WHERE stream_type = 'metric'"
        ).fetchall()
    }
    lost = sum(1 for s, v, value in acknowledged if logged.get((s, v)) != value)
    report = answers.verify(reg)
    return len(acknowledged), lost, bool(report["chain_ok"]), bool(report["projections"]["in_step"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    for n in range(args.rounds):
        acked, lost, chain, projections = one_round(args.clients, args.seconds)
        print(
            f"round {n + 1}: {acked} writes acknowledged, {lost} lost;"
            f" chain {'verifies' if chain else 'BROKEN'},"
            f" projections {'match the log' if projections else 'DIFFER'}"
        )


if __name__ == "__main__":
    main()
