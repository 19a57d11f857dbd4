"""Random sequences of commands keep every invariant of the log and the projection."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import duckdb
import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import METRIC_TABLE, METRICS, fold_all, row_to_dict
from projections.rows import state_to_row
from registry import ConflictError, InvalidDefinitionError, MetricRepository, NotFoundError
from storage.duckdb import DuckDBEventStore

IDS = ["revenue/a", "revenue/b", "sales/c"]
START = datetime(2026, 1, 1)

step = st.one_of(
    st.tuples(
        st.just("create"),
        st.sampled_from(IDS),
        st.sampled_from(["USD", "EUR", None]),
        st.lists(st.sampled_from(["x", "y", "z"]), max_size=3),
    ),
    st.tuples(
        st.just("update"),
        st.sampled_from(IDS),
        st.sampled_from(["sum", "count", "avg"]),
        st.text(alphabet="abc |é\n", max_size=8),
    ),
    st.tuples(st.just("delete"), st.sampled_from(IDS)),
    st.tuples(st.just("restore"), st.sampled_from(IDS)),
    st.tuples(st.just("rollback"), st.sampled_from(IDS), st.integers(min_value=1, max_value=6)),
)


def apply_step(repo: MetricRepository, action: tuple[Any, ...]) -> None:
    kind, metric_id = action[0], action[1]
    category, name = metric_id.split("/")
    try:
        if kind == "create":
            repo.create(
                name=name,
                category=category,
                sql=f"SELECT '{name}'",
                unit=action[2],
                dimensions=action[3],
            )
        elif kind == "update":
            repo.update(metric_id, type=action[2], description=action[3])
        elif kind == "delete":
            repo.delete(metric_id)
        elif kind == "restore":
            repo.restore(metric_id)
        else:
            repo.rollback(metric_id, action[2])
    except (NotFoundError, ConflictError, InvalidDefinitionError):
        pass  # refused commands are part of the sequence too: they must write nothing


SEQUENCES = st.lists(step, min_size=1, max_size=14)
QUICK = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@QUICK
@given(SEQUENCES)
def test_any_command_sequence_keeps_the_invariants(actions: list[tuple[Any, ...]]) -> None:
    check_invariants(actions)


@pytest.mark.slow
@THOROUGH
@given(SEQUENCES)
def test_any_command_sequence_keeps_the_invariants_thoroughly(
    actions: list[tuple[Any, ...]],
) -> None:
    check_invariants(actions)


def check_invariants(actions: list[tuple[Any, ...]]) -> None:
    """After any sequence of commands (refused ones included): the projection equals a
    replayed fold, the chain verifies, and every as-of read equals what was seen then."""
    conn = duckdb.connect()
    repo = MetricRepository(conn, actor="prop")
    seen: list[tuple[datetime, list[dict[str, Any]]]] = []
    for i, action in enumerate(actions):
        moment = START + timedelta(minutes=i)
        with freeze_time(moment):
            apply_step(repo, action)
        seen.append((moment, repo.list()))

    live = fold_all(METRICS, repo.registry.store.read())
    folded = sorted(
        (row_to_dict(METRIC_TABLE, state_to_row(METRIC_TABLE, s)) for s in live.values()),
        key=lambda r: (r["category"], r["name"]),
    )
    assert folded == repo.list()
    assert repo.registry.projector.check() == []
    assert DuckDBEventStore(conn).verify().ok
    for moment, state in seen:
        assert repo.list(as_of=moment + timedelta(seconds=30)) == state
    conn.close()
