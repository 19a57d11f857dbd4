"""Webhooks: who hears of a change, and how each change reaches them.

A subscription is an event in the log (`WebhookSubscribed`, `WebhookRemoved`,
`WebhookDisabled`: who, when, why), so the list of subscriptions is a fold of the log. Its
signing secret is derived from the server's key (`hooks.key` beside the log's signing key, or
DA_HOOKS_KEY, which replicas share) and the subscription's id: it is shown once, when the
subscription is made, and stored nowhere, in the log or elsewhere; the log keeps its SHA-256,
so that a server whose key changed refuses to sign rather than sign wrongly.

Delivery (`Deliverer`, run by `da serve`) follows the Standard Webhooks specification:
headers `webhook-id` (the same for every attempt of one event to one subscription),
`webhook-timestamp` and `webhook-signature` (`v1,` HMAC-SHA256, made by the
`standardwebhooks` library), and as body the event as the feed (`/api/events`) serves it.
Each subscription receives the matching events after its own in log order, at least once:
its cursor moves past an event only once a receiver answered 2xx, and is kept in the
database, so a restart, even after kill -9, sends again at most the event in flight. A
failed attempt is retried with exponential back-off (DA_HOOKS_RETRY_BASE seconds, doubling,
at most an hour apart) for a day and an hour, then the subscription is disabled; a 410 Gone
disables it at once. Every attempt is in `webhook_deliveries`. Where several replicas serve
one database, one of them delivers (the engine's `sole_worker`).
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from events import NewEvent, RecordedEvent, utc_now
from projections.streams import FACTS, KINDS
from registry import queries
from registry.errors import (
    InvalidDefinitionError,
    Issue,
    NotFoundError,
    UnavailableError,
)
from registry.settings import HookSettings, hook_settings
from registry.shape import json_object
from storage.session import Registry, RegistryPool

HOOK = "webhook"  # the stream type of subscriptions
_LOG = logging.getLogger(__name__)
_ID_RE = re.compile(r"^hook_[0-9a-f]{12}$")
_TIMEOUT = 5.0  # seconds a receiver has to answer
_GIVE_UP = timedelta(days=1, hours=1)  # failing this long disables a subscription
_MAX_BACKOFF = 3600.0
_MAX_URL = 2048
_MAX_PATTERNS = 32
_SCAN = 100  # events read at a time past a cursor


def _snake(fact: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", fact).lower()


# What a subscription can ask for: `<subject>.<fact>` (metric.updated, column.deleted, ...).
EVENT_NAMES = {
    kind.event(fact): f"{kind.stream_type}.{_snake(fact)}" for kind in KINDS for fact in FACTS
}


@dataclass(frozen=True)
class Hook:
    """A subscription, as the log tells it."""

    id: str
    url: str
    events: tuple[str, ...]
    category: str | None
    tables: tuple[str, ...]
    created_by: str
    created_at: datetime
    after: int  # its subscription's position: it hears of what comes after
    secret_sha256: str
    state: str = "active"  # active, removed, disabled
    ended_reason: str | None = None

    def hears(self, event: RecordedEvent) -> bool:
        """Whether an event is one this subscription asked for."""
        name = EVENT_NAMES.get(event.event_type)
        if name is None or not any(fnmatch.fnmatchcase(name, p) for p in self.events):
            return False
        definition = event.payload.get("definition") or {}
        if self.category is not None and (
            event.stream_type != "metric" or definition.get("category") != self.category
        ):
            return False
        if self.tables:
            if event.stream_type == "metric":
                read = [definition.get("table_name"), *(definition.get("tables") or [])]
            else:
                read = [definition.get("table_id")]
            names = [t for t in read if isinstance(t, str) and t]
            if not any(fnmatch.fnmatchcase(t, p) for t in names for p in self.tables):
                return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return json_object(
            {
                "id": self.id,
                "url": self.url,
                "events": list(self.events),
                "category": self.category,
                "tables": list(self.tables),
                "created_by": self.created_by,
                "created_at": self.created_at,
                "state": self.state,
                "ended_reason": self.ended_reason,
            }
        )


# -- what a subscription may name -----------------------------------------------------------------


def _patterns_issue(field: str, patterns: Sequence[str], known: Sequence[str]) -> Issue | None:
    if len(patterns) > _MAX_PATTERNS:
        return Issue(field, f"at most {_MAX_PATTERNS} patterns")
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern or len(pattern) > 200:
            return Issue(field, f"{pattern!r} is not a pattern such as 'metric.*'")
        if known and not any(fnmatch.fnmatchcase(name, pattern) for name in known):
            return Issue(field, f"{pattern!r} matches none of {', '.join(sorted(known))}")
    return None


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def url_issue(url: str, settings: HookSettings) -> Issue | None:
    """What is wrong with a target URL as written (its name is resolved when delivering)."""
    if not isinstance(url, str) or len(url) > _MAX_URL:
        return Issue("url", f"must be a URL of at most {_MAX_URL} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return Issue("url", f"is not a URL: {exc}")
    if parts.scheme not in ("http", "https") or not host:
        return Issue("url", "must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        return Issue("url", "must not hold a user name or password")
    if not settings.allow_private:
        literal = host.strip("[]")
        with contextlib.suppress(ValueError):
            if _private(literal):
                return Issue("url", f"{host} is a private, loopback or link-local address")
        if literal.lower() == "localhost" or literal.lower().endswith(".localhost"):
            return Issue("url", f"{host} is this machine")
    return None


def refused_target(url: str, settings: HookSettings) -> str | None:
    """Why a delivery to `url` is refused now (its host resolves to an address not allowed),
    or None."""
    if settings.allow_private:
        return None
    host = urlsplit(url).hostname or ""
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return f"{host} cannot be resolved: {exc}"
    for *_, address in found:
        if _private(str(address[0]).split("%")[0]):
            return f"{host} resolves to {address[0]}, a private, loopback or link-local address"
    return None


# -- secrets --------------------------------------------------------------------------------------


def _key_path(reg: Registry, settings: HookSettings) -> Path | None:
    if settings.key is not None:
        return settings.key
    place = reg.engine.key_file
    return None if place is None else place.parent / "hooks.key"


def _master_key(reg: Registry, settings: HookSettings) -> bytes:
    """The key subscriptions' secrets derive from: made on first use (readable by its owner
    only); kept in memory where the database has no folder (:memory:)."""
    path = _key_path(reg, settings)
    kept = reg.writer.memo.get(HOOK)
    if kept is not None and kept[0] == path:
        return bytes(kept[1])
    if path is None:
        key = secrets.token_bytes(32)
    else:
        try:
            key = _load_or_make(path)
        except (OSError, ValueError) as exc:
            raise UnavailableError(f"the webhooks' key {path} cannot be used: {exc}") from exc
    reg.writer.memo[HOOK] = (path, key)
    return key


def _load_or_make(path: Path) -> bytes:
    with contextlib.suppress(FileNotFoundError):
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.hex() + "\n")
        out.flush()
        os.fsync(out.fileno())
    return key


def _secret(reg: Registry, hook_id: str, settings: HookSettings) -> str:
    raw = hmac.new(_master_key(reg, settings), hook_id.encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(raw).decode()


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def signing_secret(reg: Registry, hook: Hook, settings: HookSettings | None = None) -> str:
    """The secret a subscription's deliveries are signed with; UnavailableError if the
    server's key is not the one it was made with."""
    secret = _secret(reg, hook.id, settings or hook_settings())
    if _fingerprint(secret) != hook.secret_sha256:
        raise UnavailableError(
            f"webhook {hook.id}: the server's webhooks key is not the one its secret was made"
            " with (DA_HOOKS_KEY, or hooks.key beside the database); add it again"
        )
    return secret


# -- subscriptions (events) -----------------------------------------------------------------------


def subscribe(
    reg: Registry,
    url: str,
    events: Sequence[str],
    category: str | None,
    tables: Sequence[str],
    actor: str,
    reason: str | None = None,
) -> tuple[Hook, str]:
    """Subscribe a URL; the subscription and its secret (shown this once)."""
    from registry.commands import run_atomically

    settings = hook_settings()
    found = [
        url_issue(url, settings),
        _patterns_issue("events", list(events), list(EVENT_NAMES.values()))
        if events
        else Issue("events", "name at least one pattern, such as 'metric.*'"),
        _patterns_issue("tables", list(tables), []),
    ]
    if category is not None and not re.fullmatch(r"[a-z0-9_]{1,100}", category):
        found.append(Issue("category", f"{category!r} is not a category name"))
    issues = [i for i in found if i is not None]
    if issues:
        raise InvalidDefinitionError(issues)
    hook_id = "hook_" + secrets.token_hex(6)
    secret = _secret(reg, hook_id, settings)
    payload = {
        "url": url,
        "events": list(events),
        "category": category,
        "tables": list(tables),
        "secret_sha256": _fingerprint(secret),
    }

    def work() -> Hook:
        recorded = _append(reg, hook_id, "Subscribed", payload, actor, reason)
        reg.conn.execute(
            "INSERT INTO webhook_cursors VALUES (?, ?, 0, NULL, NULL)",
            [hook_id, recorded.position],
        )
        return _fold([recorded])[hook_id]

    return run_atomically(reg, work, f"webhook {url!r}"), secret


def _append(
    reg: Registry, hook_id: str, fact: str, payload: dict[str, Any], actor: str, reason: str | None
) -> RecordedEvent:
    [recorded] = reg.store.append(
        [
            NewEvent(
                stream_type=HOOK,
                stream_id=hook_id,
                event_type=f"Webhook{fact}",
                payload=payload,
                actor=actor,
                reason=reason,
            )
        ]
    )
    reg.projector.apply([recorded])  # moves the checkpoint; subscriptions have no v4 table
    return recorded


def _fold(events: Sequence[RecordedEvent]) -> dict[str, Hook]:
    hooks: dict[str, Hook] = {}
    for e in events:
        p = e.payload
        if e.event_type == "WebhookSubscribed":
            hooks[e.stream_id] = Hook(
                id=e.stream_id,
                url=str(p["url"]),
                events=tuple(p.get("events") or ()),
                category=p.get("category"),
                tables=tuple(p.get("tables") or ()),
                created_by=e.actor,
                created_at=e.recorded_at,
                after=e.position,
                secret_sha256=str(p.get("secret_sha256", "")),
            )
        elif e.stream_id in hooks and e.event_type in ("WebhookRemoved", "WebhookDisabled"):
            state = "removed" if e.event_type == "WebhookRemoved" else "disabled"
            hooks[e.stream_id] = _ended(hooks[e.stream_id], state, e.reason)
    return hooks


def _ended(hook: Hook, state: str, reason: str | None) -> Hook:
    from dataclasses import replace

    return replace(hook, state=state, ended_reason=reason)


def all_hooks(reg: Registry) -> list[Hook]:
    """Every subscription, oldest first, ended ones included."""
    return list(_fold(reg.store.read(stream_type=HOOK)).values())


def hook(reg: Registry, hook_id: str) -> Hook:
    if not _ID_RE.match(hook_id):
        raise NotFoundError(f"no webhook {hook_id!r}")
    found = _fold(reg.store.read_stream(HOOK, hook_id)).get(hook_id)
    if found is None:
        raise NotFoundError(f"no webhook {hook_id!r}")
    return found


def unsubscribe(reg: Registry, hook_id: str, actor: str, reason: str | None = None) -> Hook:
    """Remove a subscription: nothing more is sent to it."""
    from registry.commands import run_atomically

    def work() -> Hook:
        found = hook(reg, hook_id)
        if found.state != "active":
            raise NotFoundError(f"webhook {hook_id} is {found.state} already")
        _append(reg, hook_id, "Removed", {}, actor, reason or "removed")
        return _ended(found, "removed", reason or "removed")

    return run_atomically(reg, work, f"webhook {hook_id}")


def _disable(reg: Registry, hook_id: str, why: str) -> None:
    from registry.commands import run_atomically

    def work() -> None:
        if hook(reg, hook_id).state == "active":
            _append(reg, hook_id, "Disabled", {}, "webhooks", why)

    run_atomically(reg, work, f"webhook {hook_id}")


def deliveries(reg: Registry, hook_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """A subscription's latest attempts, newest first."""
    hook(reg, hook_id)
    rows = reg.conn.execute(
        "SELECT position, attempt, attempted_at, status, error, millis FROM webhook_deliveries"
        " WHERE hook_id = ? ORDER BY attempted_at DESC, position DESC LIMIT ?",
        [hook_id, limit],
    ).fetchall()
    keys = ("position", "attempt", "attempted_at", "status", "error", "millis")
    return [json_object(dict(zip(keys, row, strict=True))) for row in rows]


# -- sending --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    status: int | None  # None: no answer (refused target, timeout, connection error)
    error: str | None
    millis: float

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Post = Callable[[str, dict[str, str], bytes], Attempt]


_CLIENT: list[Any] = []  # one HTTP client for every delivery (kept-alive connections)
_CLIENT_GUARD = threading.Lock()


def _client() -> Any:
    import httpx

    with _CLIENT_GUARD:
        if not _CLIENT:
            limits = httpx.Limits(max_connections=16, max_keepalive_connections=8)
            _CLIENT.append(httpx.Client(timeout=_TIMEOUT, follow_redirects=False, limits=limits))
        return _CLIENT[0]


def post(url: str, headers: dict[str, str], body: bytes) -> Attempt:
    """POST a delivery (bounded in time, redirects not followed)."""
    import httpx

    start = time.perf_counter()
    try:
        answer = _client().post(
            url,
            content=body,
            headers={**headers, "content-type": "application/json"},
        )
    except httpx.HTTPError as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:500], _ms(start))
    error = None if 200 <= answer.status_code < 300 else answer.text[:200]
    return Attempt(answer.status_code, error, _ms(start))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def signed_headers(secret: str, message_id: str, body: str, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (`now`: naive UTC)."""
    from standardwebhooks import Webhook

    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.replace(tzinfo=UTC).timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
    }


def _body(event: RecordedEvent) -> str:
    return orjson.dumps(json_object(queries.feed_event(event))).decode()


def send_test(reg: Registry, hook_id: str, send: Post = post) -> dict[str, Any]:
    """Send a signed `webhook.test` message to a subscription now; what the receiver said."""
    found = hook(reg, hook_id)
    settings = hook_settings()
    body = orjson.dumps({"type": "webhook.test", "hook": found.id}).decode()
    refused = refused_target(found.url, settings)
    now = utc_now()
    if refused is not None:
        attempt = Attempt(None, refused, 0.0)
    else:
        headers = signed_headers(
            signing_secret(reg, found, settings), f"msg_{found.id}_test", body, now
        )
        attempt = send(found.url, headers, body.encode())
    _record(reg, found.id, 0, 1, now, attempt)
    return {"id": found.id, "delivered": attempt.delivered, **_attempt_dict(attempt)}


def _attempt_dict(attempt: Attempt) -> dict[str, Any]:
    return {"status": attempt.status, "error": attempt.error, "millis": attempt.millis}


def _record(
    reg: Registry, hook_id: str, position: int, attempt_no: int, at: datetime, attempt: Attempt
) -> None:
    reg.conn.execute(
        "INSERT INTO webhook_deliveries VALUES (?, ?, ?, ?, ?, ?, ?)",
        [hook_id, position, attempt_no, at, attempt.status, attempt.error, attempt.millis],
    )


SENT, IDLE, WAITING = "sent", "idle", "waiting"  # what `deliver_due` did


@dataclass(frozen=True)
class Entry:
    """One attempt for the delivery log, and whether the cursor moves past its event."""

    hook_id: str
    position: int
    attempt_no: int
    at: datetime
    attempt: Attempt

    def write(self, reg: Registry) -> None:
        """One INSERT: a delivered attempt moves the cursor by being in the log (see
        `_CURSOR_SQL`); only the first success after failures resets the retry state."""
        _record(reg, self.hook_id, self.position, self.attempt_no, self.at, self.attempt)
        if self.attempt.delivered and self.attempt_no > 1:
            _move(reg, self.hook_id, self.position)


def deliver_due(
    reg: Registry, found: Hook, send: Post = post, settings: HookSettings | None = None
) -> str:
    """Send a subscription the events it has not had, in order, as far as one read of the
    log goes (`_SCAN` events): SENT (there may be more), IDLE (nothing more for it now) or
    WAITING (a failed attempt waits for its retry). Each attempt, and so the cursor's move,
    is durable before the next event is sent."""
    settings = settings or hook_settings()
    row = reg.conn.execute(_CURSOR_SQL, [found.id]).fetchone()
    position, failures, next_at, failing_since = row if row else (found.after, 0, None, None)
    if next_at is not None and utc_now() < next_at:
        return WAITING
    batch = reg.store.read(after=int(position), limit=_SCAN)
    secret: str | None = None
    for event in batch:
        if not found.hears(event):
            continue
        now = utc_now()
        try:
            refused = refused_target(found.url, settings)
            secret = secret or (None if refused else signing_secret(reg, found, settings))
        except UnavailableError as exc:  # the server's key changed: said in the attempts
            refused = str(exc)
        if refused is not None or secret is None:
            attempt = Attempt(None, refused, 0.0)
        else:
            body = _body(event)
            headers = signed_headers(secret, f"msg_{found.id}_{event.position}", body, now)
            attempt = send(found.url, headers, body.encode())
        with reg.store.transaction():
            Entry(found.id, event.position, int(failures) + 1, now, attempt).write(reg)
        if not attempt.delivered:
            return _failed(reg, found, attempt, int(failures), failing_since or now, settings)
        failures, failing_since = 0, None
    if batch:  # past what it did not ask for, too
        _move(reg, found.id, batch[-1].position)
    return SENT if len(batch) == _SCAN else IDLE


def _failed(
    reg: Registry,
    found: Hook,
    attempt: Attempt,
    failures: int,
    since: datetime,
    settings: HookSettings,
) -> str:
    """After a failed attempt: disable on 410 Gone or after a day of failures, else wait."""
    if attempt.status == 410:
        _disable(reg, found.id, "the receiver answered 410 Gone")
        return IDLE
    now = utc_now()
    if now - since > _GIVE_UP:
        _disable(reg, found.id, f"deliveries failed for more than a day (last: {attempt.error})")
        return IDLE
    delay = min(settings.retry_base * 2**failures, _MAX_BACKOFF)
    reg.conn.execute(
        "UPDATE webhook_cursors SET failures = failures + 1, next_attempt_at = ?,"
        " failing_since = ? WHERE hook_id = ?",
        [now + timedelta(seconds=delay), since, found.id],
    )
    return WAITING


# A subscription's cursor: the position kept in its row, or the last event delivered since,
# whichever is later (a delivery is one INSERT; the row moves once per read of the log).
_CURSOR_SQL = (
    "SELECT greatest(c.position, coalesce((SELECT max(d.position) FROM webhook_deliveries d"
    " WHERE d.hook_id = c.hook_id AND d.position > c.position AND d.status >= 200"
    " AND d.status < 300), 0)), c.failures, c.next_attempt_at, c.failing_since"
    " FROM webhook_cursors c WHERE c.hook_id = ?"
)


def _move(reg: Registry, hook_id: str, position: int) -> None:
    reg.conn.execute(
        "UPDATE webhook_cursors SET position = ?, failures = 0, next_attempt_at = NULL,"
        " failing_since = NULL WHERE hook_id = ?",
        [position, hook_id],
    )


class Deliverer:
    """The server's delivery loop. Every `interval` seconds, if the log grew or a retry may
    be due, each active subscription is sent what it is due: one subscription per worker
    thread at a time (so in log order), at most `workers` at once. A slow or dead receiver
    holds one worker, never a write; an idle registry costs one look at its head."""

    def __init__(
        self, pool: RegistryPool, interval: float = 0.2, workers: int = 4, send: Post = post
    ) -> None:
        self.pool = pool
        self.interval = interval
        self.send = send
        self._stop = threading.Event()
        self._busy: set[str] = set()
        self._unsettled: set[str] = set()  # subscriptions with more to send, or a retry
        self._guard = threading.Lock()
        self._said: dict[str, str | None] = {}  # the last failure told of, by what failed
        self._events: list[RecordedEvent] = []  # the subscriptions' events, up to `_seen`
        self._hooks: dict[str, Hook] = {}
        self._seen = 0
        self._head = -1  # the log's head at the last round
        self._workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhooks")
        self._sole = pool.engine.sole_worker("metrics-registry webhooks")
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._workers.shutdown(wait=True, cancel_futures=True)
        self._sole.release()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._round()
            except Exception as exc:  # the database may be away: the next round tries again
                self._failed("reading the subscriptions", exc)

    def _round(self) -> None:
        with self.pool.lease() as reg:
            head = reg.store.known_head().position
            with self._guard:
                quiet = head == self._head and not self._unsettled
            if quiet:
                return
            if head < self._seen:  # another database (a restore): fold it again
                self._events, self._seen = [], 0
            new = reg.store.read(after=self._seen, until_position=head, stream_type=HOOK)
            if new:
                self._events += new
                self._hooks = _fold(self._events)
            self._seen = head
        active = [h for h in self._hooks.values() if h.state == "active"]
        # With no subscription, nothing more (no lock asked for); where another replica
        # delivers, look afresh each round, so that taking over misses nothing.
        if not active or not self._sole.held():
            self._head = head if not active else -1
            return
        self._head = head
        for found in active:
            with self._guard:
                if found.id in self._busy:  # still sending: look again next round, since
                    self._unsettled.add(found.id)  # it may have read the log before this head
                    continue
                self._busy.add(found.id)
                self._unsettled.discard(found.id)
            self._workers.submit(self._drain, found)

    def _failed(self, what: str, exc: Exception | None) -> None:
        """Say on the server's log that a round failed (with its traceback), once per new
        failure, not every round it repeats; `None`: it works again."""
        said = f"{type(exc).__name__}: {exc}" if exc is not None else None
        with self._guard:
            if self._said.get(what) == said:
                return
            self._said[what] = said
        if exc is not None:
            _LOG.error("webhooks: %s failed; trying again each round", what, exc_info=exc)

    def _drain(self, found: Hook) -> None:
        state = IDLE
        try:
            settings = hook_settings()
            for _ in range(100):
                if self._stop.is_set():
                    return
                with self.pool.lease() as reg:
                    state = deliver_due(reg, found, self.send, settings)
                if state != SENT:
                    break
        except Exception as exc:  # each attempt was its own transaction: none half-written
            self._failed(f"delivering to {found.id}", exc)
            state = WAITING
        else:
            self._failed(f"delivering to {found.id}", None)
        finally:
            with self._guard:
                self._busy.discard(found.id)
                if state != IDLE:
                    self._unsettled.add(found.id)
