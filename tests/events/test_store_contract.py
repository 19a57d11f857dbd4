"""The event store's contract, run against a file database and against :memory:."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from freezegun import freeze_time

from events import (
    EventStore,
    IdempotencyConflictError,
    NewEvent,
    Upcasters,
    VersionConflictError,
    merkle,
)
from storage.engine import Engine, engine_for
from tests.postgres import fresh_schema


@pytest.fixture(params=["file", "memory", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    """The same contract on every engine: a DuckDB file, DuckDB :memory: and a real
    PostgreSQL, each store made by its engine as the registry makes it."""
    if request.param == "postgresql":
        with fresh_schema() as url:
            yield from _store_of(engine_for(url, tmp_path))
        return
    url = None if request.param == "file" else ":memory:"
    yield from _store_of(engine_for(url, tmp_path / "log.duckdb"))


def _store_of(engine: Engine) -> Iterator[EventStore]:
    conn = engine.connect()
    engine.prepare(conn, [])
    yield engine.store_class(conn)
    conn.close()


def event(stream: str = "s/1", n: int = 0, **overrides: object) -> NewEvent:
    fields: dict[str, object] = {
        "stream_type": "thing",
        "stream_id": stream,
        "event_type": "ThingChanged",
        "payload": {"n": n, "text": "é|:x"},
        "actor": "alice",
    }
    fields.update(overrides)
    return NewEvent(**fields)  # type: ignore[arg-type]


def count(store: EventStore) -> int:
    row = store.conn.execute("SELECT count(*) FROM event_log").fetchone()
    assert row is not None
    return int(row[0])


def test_positions_are_gapless_and_versions_per_stream(store: EventStore) -> None:
    store.append([event("a", 1), event("b", 1)])
    store.append([event("a", 2)])
    recorded = store.append([event("b", 2), event("a", 3)])
    assert [(e.position, e.stream_id, e.version) for e in recorded] == [(4, "b", 2), (5, "a", 3)]
    assert [e.version for e in store.read_stream("thing", "a")] == [1, 2, 3]
    assert [e.position for e in store.read()] == [1, 2, 3, 4, 5]


def test_expected_version_mismatch_names_both_and_writes_nothing(store: EventStore) -> None:
    store.append([event("a", 1)])
    with pytest.raises(VersionConflictError) as caught:
        store.append([event("b", 1), event("a", 2)], expected_versions={("thing", "a"): 0})
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert "version 1, expected version 0" in str(caught.value)
    assert count(store) == 1
    assert store.append([event("a", 2)], expected_versions={("thing", "a"): 1})[0].version == 2


def test_expected_zero_means_new_stream(store: EventStore) -> None:
    assert store.append([event("new")], expected_versions={("thing", "new"): 0})[0].version == 1


def test_idempotent_append_returns_the_original_and_writes_nothing(store: EventStore) -> None:
    first = store.append([event("a", 1)], idempotency_key="k1")
    again = store.append([event("a", 1)], idempotency_key="k1")
    assert again == first
    assert count(store) == 1
    with pytest.raises(IdempotencyConflictError):
        store.append([event("a", 99)], idempotency_key="k1")
    assert count(store) == 1


def test_reads_by_stream_version_position_and_time(store: EventStore) -> None:
    with freeze_time("2026-01-01 10:00:00"):
        store.append([event("a", 1)])
    with freeze_time("2026-01-02 10:00:00"):
        store.append([event("a", 2), event("b", 1)])
    assert [e.payload["n"] for e in store.read_stream("thing", "a", up_to_version=1)] == [1]
    assert [e.position for e in store.read(after=1, until_position=2)] == [2]
    assert store.position_at(datetime(2026, 1, 1, 12)) == 1
    assert store.position_at(datetime(2025, 1, 1)) == 0
    assert [e.stream_id for e in store.read(until=datetime(2026, 1, 1, 12))] == ["a"]
    assert store.read_event("thing", "b", 1) is not None
    assert store.read_event("thing", "b", 2) is None


def test_time_never_decreases_when_the_clock_steps_back(store: EventStore) -> None:
    with freeze_time("2026-03-01 12:00:00"):
        store.append([event("a", 1)])
    with freeze_time("2026-02-01 12:00:00"):
        later = store.append([event("a", 2)])
    assert later[0].recorded_at == datetime(2026, 3, 1, 12)
    assert store.verify().ok


def test_bulk_append_is_one_atomic_batch(store: EventStore) -> None:
    batch = [event(f"s{i % 7}", i) for i in range(500)]
    recorded = store.append(batch)
    assert [e.position for e in recorded] == list(range(1, 501))
    assert store.verify().ok
    with pytest.raises(VersionConflictError):
        store.append(batch, expected_versions={("thing", "s0"): 3})
    assert count(store) == 500


def test_upcaster_converts_old_payloads_on_read(store: EventStore) -> None:
    def rename(payload: dict[str, object]) -> dict[str, object]:
        return {"count": payload["n"]}

    store.append([event("a", 7, event_schema=1)])
    upcasting = Upcasters()
    upcasting.register("ThingChanged", 1, rename)
    reader = type(store)(store.conn, upcasting)
    [read] = reader.read_stream("thing", "a")
    assert (read.event_schema, read.payload) == (2, {"count": 7})
    raw = store.conn.execute("SELECT event_schema, payload FROM event_log").fetchone()
    assert raw == (1, '{"n":7,"text":"é|:x"}')


def test_stream_summaries_hold_some_payload_keys(store: EventStore) -> None:
    """Summaries: the envelope without hashes, just the asked keys (if present), upcast."""
    store.append([event("a", 1, payload={"n": 1, "tags": ["x"], "deep": {"k": None}})])
    store.append([event("a", 2, payload={"n": 2})], idempotency_key="k2")
    full = store.read_stream("thing", "a")
    summaries = store.stream_summaries("thing", "a", ("tags", "deep"))
    assert [e.payload for e in summaries] == [{"tags": ["x"], "deep": {"k": None}}, {}]
    assert [(e.position, e.version, e.recorded_at, e.idempotency_key) for e in summaries] == [
        (e.position, e.version, e.recorded_at, e.idempotency_key) for e in full
    ]

    upcasting = Upcasters()
    upcasting.register("ThingChanged", 1, lambda p: {"count": p["n"], "tags": p.get("tags")})
    upcast = type(store)(store.conn, upcasting).stream_summaries("thing", "a", ("count", "n"))
    assert [(e.event_schema, e.payload) for e in upcast] == [(2, {"count": 1}), (2, {"count": 2})]


BULK = 40  # above the store's columnar threshold


def bulk(prefix: str, n: int = BULK) -> list[NewEvent]:
    return [event(f"{prefix}{i}", i) for i in range(n)]


def test_bulk_append_after_single_appends(store: EventStore) -> None:
    store.append([event("a", 1)])
    store.append([event("a", 2)])
    recorded = type(store)(store.conn).append(bulk("b"))  # as a new process would: no cached head
    assert [e.position for e in recorded] == list(range(3, 3 + BULK))
    assert count(store) == 2 + BULK
    assert store.verify().ok


def test_bulk_append_after_reads(store: EventStore) -> None:
    store.append(bulk("a"))
    store = type(store)(store.conn)
    store.head()
    store.stream_tip("thing", "a1")
    store.read_stream("thing", "a2")
    recorded = store.append(bulk("b"))
    assert recorded[-1].position == 2 * BULK
    assert store.verify().ok


def test_bulk_append_inside_a_transaction_that_already_read(store: EventStore) -> None:
    type(store)(store.conn).append([event("a", 1)])
    with store.transaction():
        assert store.stream_tip("thing", "a") is not None
        store.head()
        store.conn.execute("SELECT position FROM event_log").fetchone()  # left unfinished
        store.append(bulk("b"))
        store.append(bulk("c"))
    assert count(store) == 1 + 2 * BULK
    assert [e.position for e in store.read()] == list(range(1, 2 + 2 * BULK))
    assert store.verify().ok


def test_verify_finds_edits_removals_and_forgeries(store: EventStore) -> None:
    """The set-based walk runs in the engine itself, so each engine's SQL is checked here."""
    from events import Anchor

    store.append([event("a", n) for n in range(1, 6)])
    report = store.verify()
    assert report.ok and report.checked == 5 and report.head is not None
    anchor = Anchor(report.head.position, report.head.hash)
    store.conn.execute("UPDATE event_log SET reason = 'edited' WHERE position = 3")
    edited = store.verify()
    assert (edited.ok, edited.broken_at) == (False, 3)
    assert "contents" in str(edited.problem)
    store.conn.execute("UPDATE event_log SET reason = NULL WHERE position = 3")
    store.conn.execute("UPDATE event_log SET payload = '{\"n\": 99}' WHERE position = 2")
    assert (store.verify().ok, store.verify().broken_at) == (False, 2)
    store.conn.execute("DELETE FROM event_log WHERE position >= 2")
    forged = type(store)(store.conn)
    forged.append([event("a", 7)])  # a self-consistent chain again ...
    assert forged.verify().ok
    caught = forged.verify(anchor)  # ... that the kept anchor exposes
    assert not caught.ok and caught.broken_at == 5


def test_tips_of_one_id_across_stream_types(store: EventStore) -> None:
    """One query answers the tip of every stream of one id among some types, as `stream_tip`
    answers each (version, type, payload, first event's time and type)."""
    store.append(
        [
            event("m/1", 0, stream_type="metric", event_type="Born"),
            event("m/1", 1, stream_type="metric"),
        ]
    )
    store.append([event("m/1", 2, stream_type="certification"), event("other", 3)])
    tips = store.tips_of_id("m/1", ["metric", "certification", "nothing"])
    assert set(tips) == {"metric", "certification"}
    for stream_type, tip in tips.items():
        assert tip == store.stream_tip(stream_type, "m/1")
    first = tips["metric"]
    assert (first.version, first.event_type, first.first_event_type) == (2, "ThingChanged", "Born")
    assert first.payload == {"n": 1, "text": "é|:x"} and first.first_recorded_at is not None
    assert store.tips_of_id("none", ["metric"]) == {}
    assert store.versions_of_id("m/1", ["metric", "certification", "nothing"]) == {
        "metric": 2,
        "certification": 1,
    }
    # Read inside a transaction, the versions guard the append that follows.
    with store.transaction():
        store.tips_of_id("m/1", ["metric"])
        recorded = store.append([event("m/1", 4, stream_type="metric")])
    assert recorded[0].version == 3


def test_tips_a_writer_keeps_between_transactions_are_the_log_s(store: EventStore) -> None:
    """A writer may keep the tips it read or wrote for its next transactions (not where
    other processes write): each is what the log says then, and a rolled-back append
    leaves none of its own behind."""
    kinds = ["metric", "certification"]

    def read_inside() -> dict[str, object]:
        with store.transaction():
            return dict(store.tips_of_id("m/1", kinds))

    def from_log() -> dict[str, object]:
        return dict(store.tips_of_id("m/1", kinds))  # outside a transaction: always read

    assert read_inside() == from_log() == {}
    with store.transaction():
        store.tips_of_id("m/1", kinds)
        store.append([event("m/1", 0, stream_type="metric", event_type="Born")])
    assert read_inside() == from_log()
    with store.transaction():
        assert store.stream_tip("metric", "m/1") == from_log()["metric"]
        store.append([event("m/1", 1, stream_type="metric"), event("m/1", 2, stream_type="metric")])
        store.append([event("m/1", 3, stream_type="certification")])
    assert read_inside() == from_log()
    assert from_log()["metric"].version == 3  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError), store.transaction():
        store.tips_of_id("m/1", kinds)
        store.append([event("m/1", 4, stream_type="metric")])
        raise RuntimeError("rolled back")
    assert read_inside() == from_log()
    assert from_log()["metric"].payload == {"n": 2, "text": "é|:x"}  # type: ignore[attr-defined]


def _brute_root(store: EventStore) -> bytes:
    from tests.events.test_merkle import brute_root

    return brute_root([merkle.entry(e.position, e.hash) for e in store.read()])


def test_the_tree_keeps_in_step_with_every_append_and_rebuilds_the_same(store: EventStore) -> None:
    for size in (1, 254, 1, 1, 300, 1):  # crosses tile edges singly and in bulk
        store.append([event(f"s/{i % 7}", i) for i in range(size)])
        head = store.head().position
        assert merkle.TreeReader(head, store.tile).root() == _brute_root(store)
        assert store.tree_in_step()
    stored = store.conn.execute("SELECT level, n, hashes FROM tlog_tiles ORDER BY 1, 2").fetchall()
    assert [(level, n, len(h)) for level, n, h in stored] == [
        (0, 0, 8192),
        (0, 1, 8192),
        (1, 0, 64),
    ]
    assert store.rebuild_tree() == 558
    again = store.conn.execute("SELECT level, n, hashes FROM tlog_tiles ORDER BY 1, 2").fetchall()
    assert [(lv, n, bytes(h)) for lv, n, h in again] == [(lv, n, bytes(h)) for lv, n, h in stored]


def test_a_failed_append_leaves_the_tree_as_it_was(store: EventStore) -> None:
    store.append([event("a", i) for i in range(255)])
    with pytest.raises(VersionConflictError):
        store.append([event("b", 1), event("a", 2)], expected_versions={("thing", "a"): 0})
    assert store.conn.execute("SELECT count(*) FROM tlog_tiles").fetchone() == (0,)
    store.append([event("b", 1)])
    assert store.tree_in_step()
    assert merkle.TreeReader(256, store.tile).root() == _brute_root(store)
