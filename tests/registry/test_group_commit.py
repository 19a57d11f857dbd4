"""Group commit (issue 26): writes that arrive together through a server's pool share one
transaction, and each keeps its own checks and its own answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from registry import answers
from registry.commands import WriteContext
from registry.errors import ConflictError, InvalidDefinitionError, NotFoundError, RegistryError
from storage.group import GroupCommit
from storage.session import Registry, RegistryPool
from tests.conftest import metric_fields

Write = Callable[[Registry], dict[str, Any]]


def ctx(**kw: Any) -> WriteContext:
    return WriteContext(actor="ann", door="api", **kw)


def update(metric_id: str, fields: dict[str, Any], **kw: Any) -> Write:
    return lambda reg: answers.update_metric(reg, metric_id, fields, ctx(**kw))


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, "the writes did not queue"
        time.sleep(0.002)


def in_one_batch(pool: RegistryPool, writes: list[Write]) -> list[dict[str, Any] | RegistryError]:
    """Run `writes` from threads of their own, in this order, so that all but the first
    meet in one batch: the first leads and waits for the writer's lock, held here until
    the others have queued behind it."""
    outcomes: list[dict[str, Any] | RegistryError | None] = [None] * len(writes)

    def run(at: int) -> None:
        with pool.lease() as reg:
            try:
                outcomes[at] = writes[at](reg)
            except RegistryError as exc:
                outcomes[at] = exc

    threads = [threading.Thread(target=run, args=(at,)) for at in range(len(writes))]
    batches = pool.group.batches
    with pool.writer.lock:
        threads[0].start()
        wait_for(lambda: pool.group.batches == batches + 1)
        for at, thread in enumerate(threads[1:], start=1):
            thread.start()
            wait_for(lambda at=at: pool.group.waiting == at)  # type: ignore[misc]
    for thread in threads:
        thread.join(timeout=60)
    assert pool.group.batches == batches + 2  # the first alone, then all the others at once
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


@pytest.fixture
def pool(conn: duckdb.DuckDBPyConnection) -> RegistryPool:
    made = RegistryPool(conn)
    with made.lease() as reg:
        for name in ("a", "b", "c"):
            answers.create_metric(reg, metric_fields(name=name, category="sales"), ctx())
    return made


def history(pool: RegistryPool, metric_id: str) -> list[tuple[int, str | None]]:
    with pool.lease() as reg:
        found = answers.metric_history(reg, metric_id)["versions"]
        return [
            (v["version"], answers.metric(reg, metric_id, version=v["version"])["description"])
            for v in found
        ]


def test_a_batch_gives_each_write_its_own_answer(pool: RegistryPool) -> None:
    outcomes = in_one_batch(
        pool,
        [
            update("sales/a", {"description": "zero"}),  # alone: a v2
            update("sales/a", {"description": "one"}),  # a v3
            update("sales/a", {"description": "stale"}, expected_version=2),
            update("sales/a", {"sql": "DROP TABLE orders"}),
            update("sales/a", {"description": "one"}),  # nothing to change: still v3
            lambda reg: answers.delete_metric(reg, "sales/b", ctx(reason="gone")),
            update("sales/b", {"description": "too late"}),
            update("sales/a", {"description": "two"}, idempotency_key="k-1"),  # a v4
            update("sales/a", {"description": "two"}, idempotency_key="k-1"),  # its replay
            lambda reg: answers.create_metric(
                reg, metric_fields(name="d", category="sales"), ctx()
            ),
            update("sales/c", {"description": "c2"}, expected_version=1),
            update("sales/a", {"description": "wished"}, propose=True, reason="please"),
            update("sales/a", {"description": "three"}),  # a v5
        ],
    )
    zero, one, stale, bad_sql, same, deleted, too_late, two, replay, made, c2, asked, three = (
        outcomes
    )
    assert pool.group.failures == 0, pool.group.last_failure  # written together, not again alone
    assert isinstance(zero, dict) and zero["version"] == 2
    assert isinstance(one, dict) and (one["version"], one["description"]) == (3, "one")
    assert isinstance(stale, ConflictError) and "is at version 3, not version 2" in str(stale)
    assert isinstance(bad_sql, InvalidDefinitionError) and "sql" in str(bad_sql)
    assert isinstance(same, dict) and (same["version"], same["description"]) == (3, "one")
    assert isinstance(deleted, dict) and deleted["version"] == 2
    assert isinstance(too_late, NotFoundError) and "was deleted at version 2" in str(too_late)
    assert isinstance(two, dict) and isinstance(replay, dict)
    assert two["version"] == replay["version"] == 4 and replay["description"] == "two"
    assert isinstance(made, dict) and made["version"] == 1
    assert isinstance(c2, dict) and c2["version"] == 2
    assert isinstance(asked, dict) and asked["proposal"]["changes"][0]["base_version"] == 4
    assert isinstance(three, dict) and three["version"] == 5
    # What was acknowledged is what the log and the tables say; what was refused is not there.
    assert history(pool, "sales/a") == [
        (1, "Recurring revenue of active subscriptions."),
        (2, "zero"),
        (3, "one"),
        (4, "two"),
        (5, "three"),
    ]
    with pool.lease() as reg:
        assert answers.metric(reg, "sales/a") == three
        assert answers.metric(reg, "sales/c")["description"] == "c2"
        assert answers.metric(reg, "sales/d") == made
        verdict = answers.verify(reg)
    assert verdict["ok"] is True, verdict


def test_a_failed_commit_runs_each_write_again_alone(
    pool: RegistryPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pool.lease() as reg:
        store_class = type(reg.store)
    commit = store_class._commit
    failures: list[int] = []

    def failing_once(self: Any) -> None:
        if not failures and self.appended() > 4:  # the batch, not the lone first write
            failures.append(self.appended())
            raise OSError("No space left on device")
        commit(self)

    monkeypatch.setattr(store_class, "_commit", failing_once)
    outcomes = in_one_batch(
        pool,
        [
            update("sales/a", {"description": "zero"}),
            update("sales/a", {"description": "one"}),
            update("sales/a", {"description": "stale"}, expected_version=1),
            update("sales/c", {"description": "c2"}),
        ],
    )
    assert failures, "the batch's commit was not reached"
    assert pool.group.failures == 1 and "No space left" in str(pool.group.last_failure)
    versions = [o["version"] if isinstance(o, dict) else type(o).__name__ for o in outcomes]
    assert versions == [2, 3, "ConflictError", 2]
    assert history(pool, "sales/a") == [
        (1, "Recurring revenue of active subscriptions."),
        (2, "zero"),
        (3, "one"),
    ]
    with pool.lease() as reg:
        assert answers.verify(reg)["ok"] is True


def test_a_lone_writer_commits_at_once_and_errors_reach_their_own_writer() -> None:
    group: GroupCommit[int, int] = GroupCommit()
    seen: list[list[int]] = []

    def run(batch: Any) -> list[int | BaseException]:
        seen.append(list(batch))
        return [ValueError(f"odd {n}") if n % 2 else n * 10 for n in batch]

    assert group.submit(2, run) == 20
    with pytest.raises(ValueError, match="odd 3"):
        group.submit(3, run)
    assert seen == [[2], [3]] and group.waiting == 0
