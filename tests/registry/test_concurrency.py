"""Several writers at once, each on its own cursor: nothing lost, nothing doubled."""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pytest

from events import ConcurrentWriteError, NewEvent, VersionConflictError
from registry import ConflictError, attach
from registry.commands import WriteContext, create_metric, update_metric
from tests.conftest import metric_fields

THREADS = 4
WRITES = 15


def run_threads(target: Any) -> None:
    threads = [threading.Thread(target=target, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_registry_writers_on_shared_and_own_streams(conn: duckdb.DuckDBPyConnection) -> None:
    registry = attach(conn)
    create_metric(registry, metric_fields(name="shared"), WriteContext(actor="setup"))
    acknowledged: list[tuple[str, int]] = []
    conflicts: list[int] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        mine = attach(conn.cursor())
        create_metric(mine, metric_fields(name=f"own_{n}"), WriteContext(actor=f"w{n}"))
        for i in range(WRITES):
            shared = update_metric(
                mine, "revenue/shared", {"description": f"{n}-{i}"}, WriteContext(actor=f"w{n}")
            )
            own = update_metric(
                mine, f"revenue/own_{n}", {"description": f"{i}"}, WriteContext(actor=f"w{n}")
            )
            try:  # a guarded write that may lose the race: must be reported, never applied
                guarded = update_metric(
                    mine,
                    "revenue/shared",
                    {"unit": f"U{n}{i}"},
                    WriteContext(actor=f"w{n}", expected_version=shared.version),
                )
            except ConflictError as exc:
                assert exc.current_version is not None and exc.current_version > shared.version
                with lock:
                    conflicts.append(n)
                guarded = None
            with lock:
                acknowledged.extend(
                    (r.id, r.version) for r in (shared, own, guarded) if r is not None
                )

    run_threads(writer)
    rows = conn.execute(
        "SELECT stream_id, version, position FROM event_log ORDER BY position"
    ).fetchall()
    logged = {(s, v) for s, v, _ in rows}
    assert set(acknowledged) <= logged
    assert len(rows) == 1 + THREADS + len(acknowledged)
    assert [p for _, _, p in rows] == list(range(1, len(rows) + 1))
    for stream in {s for s, _, _ in rows}:
        versions = sorted(v for s, v, _ in rows if s == stream)
        assert versions == list(range(1, len(versions) + 1))
    assert attach(conn).store.verify().ok
    assert registry.projector.check() == []


def test_store_writers_with_expected_versions(conn: duckdb.DuckDBPyConnection) -> None:
    from storage.session import on_cursor

    attach(conn)
    ok: list[int] = []
    refused: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        store = on_cursor(conn.cursor()).store  # a bare store: no registry lock to queue on
        for i in range(WRITES):
            head = store.stream_tip("thing", "same")
            seen = 0 if head is None else head.version
            event = NewEvent(
                stream_type="thing",
                stream_id="same",
                event_type="E",
                payload={"n": n, "i": i},
                actor=f"w{n}",
            )
            try:
                [recorded] = store.append([event], expected_versions={("thing", "same"): seen})
            except (VersionConflictError, ConcurrentWriteError) as exc:
                with lock:
                    refused.append(type(exc).__name__)
                continue
            with lock:
                ok.append(recorded.position)

    run_threads(writer)
    rows = conn.execute("SELECT position, version FROM event_log ORDER BY position").fetchall()
    assert sorted(ok) == [p for p, _ in rows] == list(range(1, len(rows) + 1))
    assert [v for _, v in rows] == list(range(1, len(rows) + 1))
    assert len(ok) + len(refused) == THREADS * WRITES
    assert attach(conn).store.verify().ok


@pytest.mark.slow_off_the_default_engine
def test_sixteen_threads_writing_their_own_metrics_never_fail(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    """Registries on one database in one process queue on one lock and share the head:
    writes to different streams never conflict, so none fails and none is retried."""
    import registry.commands as commands_module

    attach(conn)
    failures: list[str] = []
    retries: list[float] = []
    lock = threading.Lock()
    real_sleep = commands_module.time.sleep

    def writer(n: int) -> None:
        mine = attach(conn.cursor())
        for i in range(10):
            try:
                create_metric(
                    mine,
                    metric_fields(name=f"t{n}_{i}", sql=f"SELECT {i}"),
                    WriteContext(actor="t"),
                )
                update_metric(mine, f"revenue/t{n}_{i}", {"unit": "EUR"}, WriteContext(actor="t"))
            except Exception as exc:  # every failure is what the test counts
                with lock:
                    failures.append(repr(exc))

    def counting_sleep(seconds: float) -> None:
        with lock:
            retries.append(seconds)
        real_sleep(seconds)

    commands_module.time.sleep = counting_sleep  # type: ignore[assignment]
    try:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        commands_module.time.sleep = real_sleep  # type: ignore[assignment]
    assert failures == [] and retries == []
    assert conn.execute("SELECT count(*), max(position) FROM event_log").fetchall() == [(320, 320)]
    assert attach(conn).store.verify().ok


def test_one_connection_shared_by_threads_gives_true_answers(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    """The README's single-connection example, used from 8 threads at once: the facades on
    one connection take turns, so no update is told "not found" and none gives up (161 and
    385 of them did), and every write is in the history at its version."""
    from registry import ColumnMetadataRepository, MetricRepository

    shared = MetricRepository(conn, actor="setup")
    shared.create(**metric_fields(name="shared"))
    failures: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        metrics = MetricRepository(conn, actor=f"t{n}")  # as the README does, on the same conn
        columns = ColumnMetadataRepository(conn, actor=f"t{n}")
        for i in range(25):
            try:
                metrics.create(**metric_fields(name=f"own_{n}_{i}", sql=f"SELECT {i}"))
                assert metrics.update("revenue/shared", unit=f"U{n}.{i}") is not None
                assert metrics.get(f"revenue/own_{n}_{i}") is not None
                columns.save("orders", f"c{n}", description=f"{i}")
            except Exception as exc:  # every failure is what the test counts
                with lock:
                    failures.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    history = shared.history("revenue/shared")
    assert [v["version"] for v in history] == list(range(1, 8 * 25 + 2))
    assert len(shared.list()) == 8 * 25 + 1
    assert shared.registry.store.verify().ok and shared.registry.projector.check() == []
