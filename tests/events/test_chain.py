"""Tamper evidence: every kind of edit to the log is found, at the right position."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from events import Anchor, EventStore, NewEvent, VerifyReport, ensure_event_log
from events.chain import GENESIS_HASH, event_hash
from storage.duckdb import HASH_SQL_EXPR, DuckDBEventStore


class SqlWalkStore(DuckDBEventStore):
    """DuckDB with every engine's walk: the set-based SQL one, payloads hashed beside it."""

    _problem = EventStore._problem


# Each test runs on DuckDB's columnar walk and on the SQL walk every engine has.
_WALKS: dict[str, type[EventStore]] = {"columnar": DuckDBEventStore, "sql": SqlWalkStore}
_walk: list[type[EventStore]] = [DuckDBEventStore]


@pytest.fixture(autouse=True, params=[*_WALKS, "columnar in batches of 3"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The columnar walk reads batches; in batches of 3 every edit of the ten-event log below
    sits at or next to a batch's edge."""
    if request.param == "columnar in batches of 3":
        monkeypatch.setattr("storage.duckdb._VERIFY_BATCH", 3)
    _walk[0] = _WALKS.get(request.param, DuckDBEventStore)


def verify_chain(conn: duckdb.DuckDBPyConnection, anchor: Anchor | None = None) -> VerifyReport:
    return _walk[0](conn).verify(anchor)


@pytest.fixture
def conn() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_event_log(connection)
    store = DuckDBEventStore(connection)
    for n in range(1, 11):
        store.append(
            [
                NewEvent(
                    stream_type="metric",
                    stream_id=f"m/{n % 3}",
                    event_type="E",
                    payload={"n": n, "note": "naïve | 12:ab"},
                    actor="alice",
                    reason=None if n % 2 else "why",
                )
            ]
        )
    return connection


def test_an_untouched_log_verifies(conn: duckdb.DuckDBPyConnection) -> None:
    report = verify_chain(conn)
    assert report.ok and report.checked == 10 and report.broken_at is None


def test_python_and_sql_encodings_agree(conn: duckdb.DuckDBPyConnection) -> None:
    rows = conn.execute(f"SELECT hash, {HASH_SQL_EXPR} FROM event_log").fetchall()
    assert all(stored == recomputed for stored, recomputed in rows)


def test_edited_payload_is_found(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("""UPDATE event_log SET payload = '{"n":4,"note":"forged"}' WHERE position = 4""")
    report = verify_chain(conn)
    assert (report.ok, report.broken_at) == (False, 4)
    assert "payload" in (report.problem or "")


def test_edited_actor_is_found(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("UPDATE event_log SET actor = 'mallory' WHERE position = 6")
    report = verify_chain(conn)
    assert (report.ok, report.broken_at) == (False, 6)


def test_deleted_row_is_found(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("DELETE FROM event_log WHERE position = 5")
    report = verify_chain(conn)
    assert (report.ok, report.broken_at) == (False, 6)
    assert "position 5 is missing" in (report.problem or "")


def test_swapped_rows_are_found(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("UPDATE event_log SET position = -3 WHERE position = 3")
    conn.execute("UPDATE event_log SET position = 3 WHERE position = 7")
    conn.execute("UPDATE event_log SET position = 7 WHERE position = -3")
    report = verify_chain(conn)
    assert (report.ok, report.broken_at) == (False, 3)


def test_inserted_row_is_found(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("UPDATE event_log SET position = position + 100 WHERE position >= 8")
    conn.execute("UPDATE event_log SET position = position - 99 WHERE position >= 108")
    conn.execute(
        "INSERT INTO event_log SELECT 8, stream_type, 'm/x', 1, event_type, event_schema, payload,"
        " payload_hash, actor, reason, batch_id, source, source_ref, idempotency_key,"
        " recorded_at, prev_hash, hash FROM event_log WHERE position = 2"
    )
    report = verify_chain(conn)
    assert (report.ok, report.broken_at) == (False, 8)


def _recompute_whole_chain(conn: duckdb.DuckDBPyConnection) -> None:
    """What a careful forger does: fix every payload hash and chain hash after an edit."""
    rows = conn.execute(
        "SELECT position, stream_type, stream_id, version, event_type, event_schema, payload::VARCHAR,"
        " actor, reason, batch_id, source, source_ref, idempotency_key, epoch_us(recorded_at)"
        " FROM event_log ORDER BY position"
    ).fetchall()
    prev = GENESIS_HASH
    for r in rows:
        payload_hash = hashlib.sha256(r[6].encode()).hexdigest()
        fields = {
            "position": r[0],
            "stream_type": r[1],
            "stream_id": r[2],
            "version": r[3],
            "event_type": r[4],
            "event_schema": r[5],
            "payload_hash": payload_hash,
            "actor": r[7],
            "reason": r[8],
            "batch_id": r[9],
            "source": r[10],
            "source_ref": r[11],
            "idempotency_key": r[12],
            "recorded_at": r[13],
        }
        digest = event_hash(prev, fields)
        conn.execute(
            "UPDATE event_log SET payload_hash = ?, prev_hash = ?, hash = ? WHERE position = ?",
            [payload_hash, prev, digest, r[0]],
        )
        prev = digest


def test_recomputed_chain_passes_alone_but_fails_against_an_anchor(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    anchor = verify_chain(conn).head
    assert anchor is not None
    printed = str(anchor)
    conn.execute("""UPDATE event_log SET payload = '{"n":2,"note":"forged"}' WHERE position = 2""")
    _recompute_whole_chain(conn)
    assert verify_chain(conn).ok  # a self-consistent forgery ...
    report = verify_chain(conn, Anchor.parse(printed))  # ... is caught by the kept anchor
    assert (report.ok, report.broken_at) == (False, 10)
    assert "differs from the one the anchor was taken from" in (report.problem or "")


def test_truncated_tail_fails_against_an_anchor(conn: duckdb.DuckDBPyConnection) -> None:
    anchor = verify_chain(conn).head
    assert anchor is not None
    conn.execute("DELETE FROM event_log WHERE position >= 9")
    assert verify_chain(conn).ok
    report = verify_chain(conn, anchor)
    assert not report.ok and "no longer in the log" in (report.problem or "")


@pytest.mark.parametrize("text", ["12", "x:" + "a" * 64, "3:abc", "3:" + "g" * 64])
def test_bad_anchor_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="POSITION:HASH"):
        Anchor.parse(text)


def test_an_append_s_hasher_hashes_as_event_hash() -> None:
    """The hasher of a bulk append encodes repeated values once; its hashes are the chain's,
    whatever repeats or changes from one event to the next (NULL beside "-", non-ASCII)."""
    from events.chain import ChainHasher

    hasher = ChainHasher()
    prev = GENESIS_HASH
    for n, (actor, reason) in enumerate(
        [("ann", None), ("ann", "-"), ("ann", None), ("zoë", "why|1:x"), ("ann", "-")] * 2
    ):
        fields: dict[str, str | int | None] = {
            "position": n + 1,
            "stream_type": "metric",
            "stream_id": f"s/{n % 3}",
            "version": n // 3 + 1,
            "event_type": "MetricUpdated" if n % 2 else "MetricCreated",
            "event_schema": 1,
            "payload_hash": hashlib.sha256(str(n).encode()).hexdigest(),
            "actor": actor,
            "reason": reason,
            "batch_id": None if n < 5 else "b",
            "source": "manual",
            "source_ref": None,
            "idempotency_key": None,
            "recorded_at": 1_700_000_000_000_000 + n // 4,
        }
        digest = hasher(prev, fields)
        assert digest == event_hash(prev, fields)
        prev = digest
