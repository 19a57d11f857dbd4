"""Webhooks (issue 24): subscriptions are events with no secret in them, and each matching
event reaches its receiver signed (Standard Webhooks), in log order, at least once."""

from __future__ import annotations

import time
from typing import Any

import duckdb
import pytest

from registry import answers, attach, hooks
from registry.commands import WriteContext
from registry.errors import InvalidDefinitionError, NotFoundError
from storage.session import Registry, RegistryPool
from tests.conftest import metric_fields
from tests.receiver import receiving


@pytest.fixture(autouse=True)
def local_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receivers here listen on 127.0.0.1, which a registry refuses unless told."""
    monkeypatch.setenv("DA_HOOKS_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("DA_HOOKS_RETRY_BASE", "0.01")


def ctx() -> WriteContext:
    return WriteContext(actor="ann", door="api", reason="test")


def drain(reg: Registry) -> None:
    """Deliver what is due to every subscription, retrying until nothing more is due."""
    for _ in range(200):
        busy = False
        for found in hooks.all_hooks(reg):
            if found.state == "active":
                busy = hooks.deliver_due(reg, found) == hooks.SENT or busy
        if not busy and not _waiting(reg):
            return
        time.sleep(0.01)


def _waiting(reg: Registry) -> bool:
    row = reg.conn.execute(
        "SELECT count(*) FROM webhook_cursors WHERE next_attempt_at IS NOT NULL"
    ).fetchone()
    return bool(row and row[0])


def feed(reg: Registry) -> list[dict[str, Any]]:
    return answers.event_page(reg, 0, 1000)["events"]  # type: ignore[no-any-return]


def test_each_matching_event_arrives_signed_in_order_and_as_the_feed_serves_it(
    registry: Registry,
) -> None:
    with receiving() as receiver:
        made = answers.new_hook(registry, receiver.url, ["metric.*"], None, [], "ann")
        answers.create_metric(registry, metric_fields(), ctx())
        answers.set_column(registry, "orders", "total", {"description": "money"}, ctx())
        answers.update_metric(registry, "revenue/mrr", {"description": "now"}, ctx())
        answers.delete_metric(registry, "revenue/mrr", ctx())
        drain(registry)
        bodies = receiver.verified(made["secret"])
    metric_events = [e for e in feed(registry) if e["stream_type"] == "metric"]
    assert bodies == metric_events  # the column's event was not asked for
    assert [b["event_type"] for b in bodies] == ["MetricCreated", "MetricUpdated", "MetricDeleted"]
    ids = [r.headers["webhook-id"] for r in receiver.got]
    assert ids == [f"msg_{made['hook']['id']}_{e['position']}" for e in metric_events]
    # The secret is shown once and kept nowhere: not in the log, not in any table.
    text = str(registry.conn.execute("SELECT * FROM event_log").fetchall())
    text += str(registry.conn.execute("SELECT * FROM webhook_cursors").fetchall())
    assert made["secret"] not in text and made["secret"].startswith("whsec_")
    assert "secret" not in str(answers.hook_list(registry))


def test_a_failing_receiver_gets_every_event_in_order_with_the_same_ids(
    registry: Registry,
) -> None:
    with receiving(fail_first=2) as receiver:
        made = answers.new_hook(registry, receiver.url, ["metric.created"], None, [], "ann")
        for name in ("a", "b", "c"):
            answers.create_metric(registry, metric_fields(name=name), ctx())
        drain(registry)
        bodies = receiver.verified(made["secret"])
    assert [b["stream_id"] for b in bodies] == ["revenue/a"] * 3 + ["revenue/b", "revenue/c"]
    assert len({r.headers["webhook-id"] for r in receiver.got[:3]}) == 1  # one message, 3 tries
    attempts = answers.hook_deliveries(registry, made["hook"]["id"])["deliveries"]
    assert [(a["attempt"], a["status"]) for a in reversed(attempts)] == [
        (1, 500),
        (2, 500),
        (3, 200),
        (1, 200),
        (1, 200),
    ]


def test_a_410_disables_the_subscription_and_says_why(registry: Registry) -> None:
    with receiving(status=410) as receiver:
        made = answers.new_hook(registry, receiver.url, ["*"], None, [], "ann")
        answers.create_metric(registry, metric_fields(), ctx())
        answers.create_metric(registry, metric_fields(name="arr"), ctx())
        drain(registry)
    assert len(receiver.got) == 1
    [listed] = answers.hook_list(registry)["hooks"]
    assert listed["id"] == made["hook"]["id"] and listed["state"] == "disabled"
    assert listed["ended_reason"] == "the receiver answered 410 Gone"


def test_category_and_table_patterns_narrow_what_is_sent(registry: Registry) -> None:
    with receiving() as receiver:
        made = answers.new_hook(registry, receiver.url, ["*"], "finance", ["fin_*"], "ann")
        answers.create_metric(registry, metric_fields(name="x", category="finance"), ctx())
        answers.create_metric(
            registry,
            metric_fields(name="y", category="finance", table_name="fin_ledger", tables=[]),
            ctx(),
        )
        answers.create_metric(
            registry, metric_fields(name="z", category="sales", table_name="fin_ledger"), ctx()
        )
        answers.set_column(registry, "fin_ledger", "amount", {"description": "x"}, ctx())
        drain(registry)
        bodies = receiver.verified(made["secret"])
    assert [b["stream_id"] for b in bodies] == ["finance/y"]


def test_removed_subscriptions_hear_nothing_more(registry: Registry) -> None:
    with receiving() as receiver:
        made = answers.new_hook(registry, receiver.url, ["metric.*"], None, [], "ann")
        hook_id = made["hook"]["id"]
        answers.create_metric(registry, metric_fields(), ctx())
        drain(registry)
        removed = answers.removed_hook(registry, hook_id, "bob")
        answers.update_metric(registry, "revenue/mrr", {"description": "later"}, ctx())
        drain(registry)
    assert len(receiver.got) == 1 and removed["hook"]["state"] == "removed"
    history = [e for e in feed(registry) if e["stream_type"] == "webhook"]
    assert [(e["event_type"], e["actor"]) for e in history] == [
        ("WebhookSubscribed", "ann"),
        ("WebhookRemoved", "bob"),
    ]
    with pytest.raises(NotFoundError, match="removed already"):
        answers.removed_hook(registry, hook_id, "bob")
    with pytest.raises(NotFoundError, match="no webhook"):
        answers.hook_deliveries(registry, "hook_000000000000")


@pytest.mark.parametrize(
    ("url", "events", "field", "words"),
    [
        ("ftp://example.com/x", ["metric.*"], "url", "http:// or https://"),
        ("https://user:pw@example.com/x", ["metric.*"], "url", "user name or password"),
        ("http://10.0.0.8/x", ["metric.*"], "url", "private"),
        ("http://[::1]:8000/x", ["metric.*"], "url", "private"),
        ("http://169.254.169.254/latest", ["metric.*"], "url", "link-local"),
        ("http://localhost:9000/x", ["metric.*"], "url", "this machine"),
        ("https://example.com/x", ["metrics.*"], "events", "matches none of"),
        ("https://example.com/x", [], "events", "at least one"),
    ],
)
def test_targets_and_patterns_are_checked_by_name(
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    events: list[str],
    field: str,
    words: str,
) -> None:
    monkeypatch.delenv("DA_HOOKS_ALLOW_PRIVATE")
    with pytest.raises(InvalidDefinitionError) as caught:
        answers.new_hook(registry, url, events, None, [], "ann")
    [issue] = caught.value.issues
    assert issue.location == field and words in issue.message
    assert answers.hook_list(registry) == {"hooks": []}


def test_a_name_that_resolves_to_a_private_address_is_not_sent_to(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DA_HOOKS_ALLOW_PRIVATE")
    made = answers.new_hook(registry, "http://internal.test/x", ["*"], None, [], "ann")
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.1.2.3", 0))])
    sent: list[str] = []
    answers.create_metric(registry, metric_fields(), ctx())
    [found] = hooks.all_hooks(registry)
    hooks.deliver_due(registry, found, send=lambda url, h, b: sent.append(url))  # type: ignore[arg-type,func-returns-value,return-value]
    [attempt] = answers.hook_deliveries(registry, made["hook"]["id"])["deliveries"]
    assert sent == [] and attempt["status"] is None and "10.1.2.3" in attempt["error"]


def test_the_server_s_deliverer_sends_writes_as_they_happen(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    pool = RegistryPool(conn)
    deliverer = hooks.Deliverer(pool, interval=0.02)
    deliverer.start()
    try:
        with receiving() as receiver, pool.lease() as reg:
            made = answers.new_hook(reg, receiver.url, ["metric.*"], None, [], "ann")
            for n in range(5):
                answers.create_metric(reg, metric_fields(name=f"m{n}"), ctx())
            receiver.wait_for(5)
            bodies = receiver.verified(made["secret"])
    finally:
        deliverer.stop()
    assert [b["stream_id"] for b in bodies] == [f"revenue/m{n}" for n in range(5)]


def test_a_test_message_is_signed_and_recorded(registry: Registry) -> None:
    with receiving() as receiver:
        made = answers.new_hook(registry, receiver.url, ["*"], None, [], "ann")
        answered = answers.hook_test(registry, made["hook"]["id"])
        [body] = receiver.verified(made["secret"])
    assert answered["delivered"] is True and answered["status"] == 200
    assert body == {"type": "webhook.test", "hook": made["hook"]["id"]}


def test_a_changed_key_refuses_to_sign(registry: Registry) -> None:
    made = answers.new_hook(registry, "https://example.com/x", ["*"], None, [], "ann")
    other = attach(duckdb.connect(":memory:"))
    [found] = hooks.all_hooks(registry)
    with pytest.raises(Exception, match="not the one its secret was made with"):
        hooks.signing_secret(other, found)
    assert made["secret"] == hooks.signing_secret(registry, found)


def test_an_event_written_while_its_subscription_was_sending_is_not_left_behind(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    """The deliverer was sending the first event (it had read the log before the second
    was written) when the second came, and then nothing more was written: the second
    still goes."""
    import threading

    release = threading.Event()
    sent: list[int] = []

    def slow_first(url: str, headers: dict[str, str], body: bytes) -> hooks.Attempt:
        if not sent:
            release.wait(timeout=20)
        sent.append(int(headers["webhook-id"].rsplit("_", 1)[1]))
        return hooks.Attempt(200, None, 1.0)

    pool = RegistryPool(conn)
    deliverer = hooks.Deliverer(pool, interval=0.02, send=slow_first)
    deliverer.start()
    try:
        with pool.lease() as reg:
            answers.new_hook(reg, "https://example.com/x", ["metric.*"], None, [], "ann")
            first = answers.create_metric(reg, metric_fields(name="a"), ctx())
            deadline = time.monotonic() + 20
            while not deliverer._busy and time.monotonic() < deadline:  # sending the first
                time.sleep(0.005)
            answers.create_metric(reg, metric_fields(name="b"), ctx())
            time.sleep(0.1)  # rounds come and go while the first is still being sent
            release.set()
            while len(sent) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            positions = [e["position"] for e in feed(reg) if e["stream_type"] == "metric"]
    finally:
        deliverer.stop()
    assert first["version"] == 1 and sent == positions


def test_a_server_whose_key_changed_says_so_in_the_attempts(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = answers.new_hook(registry, "https://example.com/x", ["*"], None, [], "ann")
    answers.create_metric(registry, metric_fields(), ctx())
    monkeypatch.setattr(hooks, "_secret", lambda reg, hook_id, settings: "whsec_b3RoZXI=")
    sent: list[str] = []
    [found] = hooks.all_hooks(registry)
    state = hooks.deliver_due(registry, found, send=lambda u, h, b: sent.append(u))  # type: ignore[arg-type,func-returns-value,return-value]
    [attempt] = answers.hook_deliveries(registry, made["hook"]["id"])["deliveries"]
    assert state == hooks.WAITING and sent == [] and attempt["status"] is None
    assert "not the one its secret was made with" in attempt["error"]


def test_a_dated_change_and_a_rename_reach_a_receiver_with_their_new_fields(
    registry: Registry,
) -> None:
    from datetime import datetime

    from registry.commands import rename_metric

    with receiving() as receiver:
        made = answers.new_hook(registry, receiver.url, ["metric.*"], None, [], "ann")
        answers.create_metric(registry, metric_fields(), ctx())
        dated = WriteContext(actor="ann", door="api", effective_from=datetime(2999, 1, 1))
        answers.update_metric(registry, "revenue/mrr", {"unit": "EUR"}, dated)
        rename_metric(registry, "revenue/mrr", "revenue/mrr_v2", ctx())
        drain(registry)
        bodies = receiver.verified(made["secret"])
    assert [(b["event_type"], b["effective_from"], b["metric_id"]) for b in bodies] == [
        ("MetricCreated", None, "revenue/mrr"),
        ("MetricScheduled", "2999-01-01T00:00:00", "revenue/mrr"),
        ("MetricRenamed", None, "revenue/mrr_v2"),
    ]
    assert bodies[2]["what"] == "renamed from revenue/mrr to revenue/mrr_v2"
    assert bodies[2]["stream_id"] == "revenue/mrr"  # the identity
