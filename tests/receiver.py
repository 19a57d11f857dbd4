"""A webhook receiver on 127.0.0.1 for tests: it keeps every request it gets, verifies none
itself, and answers what it is told to (a number of failures first, or 410 Gone)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    url: str
    got: list[Received] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to this many requests first
    status: int = 200  # then this
    delay: float = 0.0  # seconds before answering (a slow receiver)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """The requests once at least `count` have arrived (AssertionError after `timeout`)."""
        with self.arrived:
            ok = self.arrived.wait_for(lambda: len(self.got) >= count, timeout=timeout)
        assert ok, f"{len(self.got)} of {count} deliveries arrived"
        return list(self.got)

    def wait_for_ids(self, count: int, timeout: float = 60) -> None:
        """Until `count` different messages (webhook-id) have arrived, repeats aside."""
        with self.arrived:
            ok = self.arrived.wait_for(
                lambda: len({r.headers.get("webhook-id") for r in self.got}) >= count,
                timeout=timeout,
            )
        assert ok, f"{len(self.got)} deliveries arrived, not {count} different ones"

    def verified(self, secret: str) -> list[Any]:
        """Every body, each verified with the `standardwebhooks` library and the secret."""
        from standardwebhooks import Webhook

        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.got]


@contextmanager
def receiving(fail_first: int = 0, status: int = 200, delay: float = 0.0) -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode()
            with receiver.lock:
                answer = 500 if receiver.fail_first > 0 else receiver.status
                receiver.fail_first -= 1
            if receiver.delay:
                time.sleep(receiver.delay)
            with receiver.arrived:
                receiver.got.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.arrived.notify_all()
            self.send_response(answer)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    receiver = Receiver(url, [], fail_first, status, delay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
