"""Definitions on two time axes: in force from a business date (V), as recorded (T).

The reference is a brute-force fold written here from the events alone: among the changes
recorded up to T whose effective date is not after V, the latest dated (the later recorded on
a tie) is in force; a deletion there means none.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import duckdb
import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import RecordedEvent
from projections import METRICS
from registry import ConflictError, InvalidDefinitionError, NotFoundError, schedule, validity
from registry.commands import WriteContext, create_metric, delete_metric, update_metric
from registry.queries import history, list_metrics
from registry.subjects import METRIC
from storage.session import Registry, attach

IDS = ["revenue/a", "sales/b"]
START = datetime(2026, 1, 1)


def brute_force(events: list[RecordedEvent], valid_at: datetime, position: int) -> dict[str, Any]:
    """Each metric's definition in force at `valid_at` as recorded up to `position`."""
    best: dict[str, tuple[tuple[datetime, int], RecordedEvent]] = {}
    for e in events:
        if e.stream_type != "metric" or e.position > position:
            continue
        if e.event_type == "MetricTookEffect":
            continue
        dated = e.payload.get("effective_from")
        effective = datetime.fromisoformat(dated) if dated else e.recorded_at
        key = (effective, e.position)
        if effective <= valid_at and (e.stream_id not in best or key > best[e.stream_id][0]):
            best[e.stream_id] = (key, e)
    return {
        sid: e.payload["definition"]
        for sid, (_, e) in best.items()
        if e.event_type != "MetricDeleted" and not e.payload.get("deleted")
    }


def _definitions(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: (r["unit"], r["description"]) for r in rows}  # type: ignore[misc]


def _expected(found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {k: (d.get("unit"), d.get("description")) for k, d in found.items()}


OFFSET = st.one_of(st.none(), st.integers(min_value=-3 * 24 * 60, max_value=40))
step = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(IDS), st.sampled_from(["USD", "EUR"]), OFFSET),
    st.tuples(st.just("update"), st.sampled_from(IDS), st.text("abc", max_size=4), OFFSET),
    st.tuples(st.just("delete"), st.sampled_from(IDS), st.none(), OFFSET),
)


def _write(reg: Registry, action: tuple[Any, ...], moment: datetime) -> None:
    kind, metric_id, value, offset = action
    effective = None if offset is None else moment + timedelta(minutes=offset)
    ctx = WriteContext(actor="prop", effective_from=effective)
    category, name = metric_id.split("/")
    try:
        if kind == "create":
            fields = {"name": name, "category": category, "sql": "SELECT 1", "unit": value}
            create_metric(reg, fields, ctx)
        elif kind == "update":
            update_metric(reg, metric_id, {"description": value or None}, ctx)
        else:
            delete_metric(reg, metric_id, ctx)
    except (NotFoundError, ConflictError, InvalidDefinitionError):
        pass  # refused writes belong to the history too: they must write nothing


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=12))
def test_any_dated_history_answers_like_the_brute_force_fold(
    actions: list[tuple[Any, ...]],
) -> None:
    conn = duckdb.connect()
    try:
        _check(attach(conn), actions)
    finally:
        conn.close()


def _check(reg: Registry, actions: list[tuple[Any, ...]]) -> None:
    heads: list[tuple[datetime, int]] = []
    for i, action in enumerate(actions):
        moment = START + timedelta(minutes=10 * i)
        with freeze_time(moment):
            schedule.bring_in_due(reg, "python")  # what an embedded door does on opening
            _write(reg, action, moment)
            head = reg.store.head().position
            heads.append((moment, head))
            events = reg.store.read()
            # The v4 tables hold what is in force now, as known now.
            assert _definitions(list_metrics(reg)) == _expected(brute_force(events, moment, head))
    events = reg.store.read()
    dates = sorted({START + timedelta(minutes=m) for m in range(-3 * 24 * 60, 200, 97)})
    for moment, position in heads:
        for valid_at in [*dates, moment]:
            want = _expected(brute_force(events, valid_at, position))
            rows = reg.projector.rows_at(METRICS, position, valid_at)  # the engine's SQL
            assert _definitions(rows) == want, (valid_at, position)
            for metric_id in IDS:  # one metric, folded in Python
                found = validity.metric_valid_at(reg, metric_id, valid_at, position)
                shown = None if found is None else (found["unit"], found["description"])
                assert shown == want.get(metric_id)
    assert reg.projector.check() == []


@pytest.fixture
def registry_factory() -> Any:
    made: list[Any] = []

    def make() -> Registry:
        conn = duckdb.connect()
        made.append(conn)
        return attach(conn)

    yield make
    for conn in made:
        conn.close()


def _ctx(effective: str | None = None, reason: str | None = None) -> WriteContext:
    when = None if effective is None else datetime.fromisoformat(effective)
    return WriteContext(actor="ann", reason=reason, effective_from=when)


def test_a_future_change_enters_the_tables_when_its_date_comes(registry_factory: Any) -> None:
    reg = registry_factory()
    with freeze_time("2026-12-01 09:00"):
        create_metric(reg, {"name": "churn", "category": "sales", "sql": "SELECT 1"}, _ctx())
        result = update_metric(
            reg, "sales/churn", {"sql": "SELECT 2"}, _ctx("2027-01-01", "new rule from 2027")
        )
        assert result.event_type == "MetricScheduled"
        assert result.row is not None and result.row["sql"] == "SELECT 1"  # not yet in force
        assert list_metrics(reg)[0]["sql"] == "SELECT 1"
        assert schedule.bring_in_due(reg, "cli") == 0
    with freeze_time("2027-01-01 00:00:01"):
        assert schedule.bring_in_due(reg, "cli") == 1
        assert list_metrics(reg)[0]["sql"] == "SELECT 2"
        assert schedule.bring_in_due(reg, "cli") == 0  # once
        entries = history(reg, METRIC, "sales/churn")
        assert [e.event_type for e in entries] == [
            "MetricCreated",
            "MetricScheduled",
            "MetricTookEffect",
        ]
        assert entries[2].door == "cli" and entries[2].actor == "registry"
    assert reg.projector.check() == []
    reg.projector.rebuild()
    assert reg.projector.check() == []
    assert list_metrics(reg)[0]["sql"] == "SELECT 2"


def test_a_correction_of_a_past_period_leaves_the_current_definition(
    registry_factory: Any,
) -> None:
    reg = registry_factory()
    with freeze_time("2025-01-01"):
        create_metric(reg, {"name": "churn", "category": "sales", "sql": "SELECT 1"}, _ctx())
    with freeze_time("2026-01-01"):
        update_metric(reg, "sales/churn", {"sql": "SELECT 3"}, _ctx())
    with freeze_time("2026-01-10"):
        fixed = update_metric(
            reg, "sales/churn", {"sql": "SELECT 2"}, _ctx("2025-10-01", "Q4 counted wrongly")
        )
        assert fixed.event_type == "MetricScheduled"  # superseded from 2026-01-01 on
        assert list_metrics(reg)[0]["sql"] == "SELECT 3"
        spans = validity.metric_periods(
            reg, "sales/churn", datetime(2025, 7, 1), datetime(2026, 7, 1)
        )
    assert [(s["valid_from"], s["valid_to"], s["version"]) for s in spans] == [
        ("2025-07-01T00:00:00", "2025-10-01T00:00:00", 1),
        ("2025-10-01T00:00:00", "2026-01-01T00:00:00", 3),
        ("2026-01-01T00:00:00", "2026-07-01T00:00:00", 2),
    ]
    assert spans[1]["definition"]["sql"] == "SELECT 2"
    # A correction dated after the version in force is in force at once.
    with freeze_time("2026-02-01"):
        now = update_metric(reg, "sales/churn", {"sql": "SELECT 4"}, _ctx("2026-01-15"))
        assert now.event_type == "MetricUpdated"
        assert list_metrics(reg)[0]["sql"] == "SELECT 4"
    assert reg.projector.check() == []


def test_a_rename_survives_a_rebuild_and_a_big_batch(registry_factory: Any, tmp_path: Any) -> None:
    from registry.answers import import_metrics
    from registry.commands import rename_metric
    from registry.interchange.imports import ImportOptions

    reg = registry_factory()
    folder = tmp_path / "metrics" / "sales"
    folder.mkdir(parents=True)
    for n in range(40):
        (folder / f"m{n}.yml").write_text(f"name: m{n}\nsql: SELECT {n}\n")
    import_metrics(reg, tmp_path / "metrics", ImportOptions(actor="ann"))
    rename_metric(reg, "sales/m0", "sales/first", _ctx(reason="a better name"))
    assert reg.projector.check() == []
    # One batch of 40 changes (the set-based fold) that renames again through a file.
    for n in range(40):
        (folder / f"m{n}.yml").write_text(f"name: m{n}\nsql: SELECT {n + 100}\n")
    (folder / "m0.yml").unlink()
    (folder / "zeroth.yml").write_text("name: zeroth\nsql: SELECT 100\nidentity: sales/m0\n")
    report = import_metrics(reg, tmp_path / "metrics", ImportOptions(actor="ann", prune=True))
    assert report["renamed"] == ["sales/first -> sales/zeroth"] and report["deleted"] == []
    ids = [m["id"] for m in list_metrics(reg)]
    assert "sales/zeroth" in ids and "sales/first" not in ids and len(ids) == 40
    assert reg.projector.check() == []
    before = list_metrics(reg)
    reg.projector.rebuild()
    assert list_metrics(reg) == before and reg.projector.check() == []
    assert [e.what for e in history(reg, METRIC, "sales/m0")][-2:] == [
        "renamed from sales/m0 to sales/first",
        "renamed from sales/first to sales/zeroth",
    ]
