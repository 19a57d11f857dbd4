"""The append-only event store, whatever the engine.

One EventStore wraps one connection (or cursor). Appends are optimistic: the caller may
name the version it expects a stream to be at, and positions and versions are guarded by the
table's keys, so two writers racing for the same slot cannot both succeed. The loser gets
`ConcurrentWriteError` and its whole transaction is rolled back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from events import merkle
from events.chain import (
    GENESIS_HASH,
    Anchor,
    ChainHasher,
    Problem,
    VerifyReport,
    chain_walk,
    epoch_us,
    payload_digest,
    payload_problem,
    verify_chain,
)
from events.connection import Connection
from events.errors import IdempotencyConflictError, VersionConflictError
from events.reading import LogReader, LogSql, decode_payload
from events.recorded import RecordedEvent
from events.schema import (
    CREATE_EVENT_LOG_SQL,
    CREATE_STREAM_INDEX_SQL,
    EVENT_COLUMNS,
    HEAD_SQL,
)
from events.upcasting import Upcasters

if TYPE_CHECKING:
    from events.envelope import NewEvent

StreamKey = tuple[str, str]
_HASH_COLUMN = EVENT_COLUMNS.index("hash")
Clock = Callable[[], datetime]


class StoreSql(LogSql):
    """The append side's statements. Those written here run on every engine; an engine's
    store fills in the rest (`stream_tip`, `verify_chain`) in its own dialect."""

    # A stream's last version, its event type, schema and payload, and its first event's
    # time and type (one row; all NULL for a stream with no events).
    stream_tip: str
    # The chain walk (`events.chain.verify_chain_sql` in the engine's hash functions).
    verify_chain: str
    # `stream_tip`'s columns for each stream of one id among some stream types (`{types}`:
    # one `?` per type), the stream type first; one row per stream that has events.
    tips_of_id: str
    # The last event of many streams: max(position) per stream, joined back on the key.
    stream_tips = (
        "WITH last AS (SELECT max(position) AS position FROM event_log"
        " WHERE stream_type = ? AND stream_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY stream_id)"
        " SELECT e.stream_id, e.version, e.event_type, e.event_schema, e.payload"
        " FROM last JOIN event_log e ON e.position = last.position"
    )
    stream_versions = (
        "SELECT stream_type, stream_id, max(version) FROM event_log"
        " WHERE stream_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY stream_type, stream_id"
    )
    # The Merkle tree's tiles (events.merkle): full tiles of every level, and the partial
    # tile of each level above 0 (level 0's is read from the log). `{blob}`: the engine's type.
    blob_type = "BLOB"
    create_tiles = (
        "CREATE TABLE IF NOT EXISTS tlog_tiles (level INTEGER NOT NULL, n BIGINT NOT NULL,"
        " hashes {blob} NOT NULL, PRIMARY KEY (level, n))"
    )
    tile = "SELECT hashes FROM tlog_tiles WHERE level = ? AND n = ?"
    clear_tiles = "DELETE FROM tlog_tiles"
    all_tiles = "SELECT level, n, hashes FROM tlog_tiles ORDER BY level, n"
    tile_count = "SELECT count(*), coalesce(max(n) + 1, 0) FROM tlog_tiles WHERE level = 0"
    put_tiles = (
        "INSERT INTO tlog_tiles VALUES {rows}"
        " ON CONFLICT (level, n) DO UPDATE SET hashes = excluded.hashes"
    )
    chain_hashes = (
        "SELECT position, hash FROM event_log WHERE position > ? AND position <= ?"
        " ORDER BY position"
    )


def utc_now() -> datetime:
    """The current UTC time as the naive datetime a TIMESTAMP column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_event_log(conn: Connection, sql: type[StoreSql] = StoreSql) -> None:
    """Create the event log, its index and its tree's tiles if they do not exist."""
    conn.execute(CREATE_EVENT_LOG_SQL)
    conn.execute(CREATE_STREAM_INDEX_SQL)
    conn.execute(sql.create_tiles.format(blob=sql.blob_type))


def encode_payload(payload: Mapping[str, Any]) -> str:
    """The canonical JSON text of a payload (sorted keys, no spaces, UTF-8).

    orjson: ~10x faster than the json module on a 1.7 KB definition, the main cost of a bulk
    append, and byte for byte the same canonical form.
    """
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True)
class StreamTip:
    """The last event of a stream, as much of it as a writer needs to decide."""

    stream_type: str
    stream_id: str
    version: int
    event_type: str
    event_schema: int
    payload: dict[str, Any]
    # The stream's first event: when it was recorded, and its type (None when not read).
    first_recorded_at: datetime | None = None
    first_event_type: str | None = None


@dataclass(frozen=True)
class LogHead:
    """The last event's position, hash and time (position 0 for an empty log)."""

    position: int
    hash: str
    recorded_at: datetime | None


_KEPT_TIPS = 4096  # streams whose tips a writer keeps between transactions (least recent go)


@dataclass
class SharedHead:
    """The committed head, shared by the stores of one database in this process, and the
    tips of the streams they last wrote or read in a write (None: the stream has no events).

    Their appends are serialised by the caller (the registry's per-database lock), so each
    store appends after the last commit of any of them instead of colliding with it, and
    reads a stream's tip from memory instead of folding its history again.
    """

    value: LogHead | None = None
    tips: OrderedDict[StreamKey, StreamTip | None] = field(default_factory=OrderedDict)

    def forget(self) -> None:
        self.value = None
        self.tips.clear()

    def keep(self, tips: Mapping[StreamKey, StreamTip | None], dropped: set[StreamKey]) -> None:
        """Take the tips a committed transaction read or wrote."""
        for key in dropped:
            self.tips.pop(key, None)
        for key, tip in tips.items():
            self.tips[key] = tip
            self.tips.move_to_end(key)
        while len(self.tips) > _KEPT_TIPS:
            self.tips.popitem(last=False)


@dataclass
class _Transaction:
    head: LogHead | None = None
    versions: dict[StreamKey, int] | None = None
    # Tips read or written in this transaction (for SharedHead.tips once it commits), and
    # streams written whose first event is not known here (forgotten then).
    tips: dict[StreamKey, StreamTip | None] = field(default_factory=dict)
    dropped: set[StreamKey] = field(default_factory=set)
    forget_all: bool = False  # a bulk append: every kept tip is forgotten at its commit


class EventStore(LogReader, ABC):
    """Append and read events on one connection; each engine subclasses it.

    The committed head (position, hash, time) may be kept in memory after the first read
    (`_append_head`): where one process writes the database, a stale head can only make an
    insert collide with the primary key, which is reported as `ConcurrentWriteError`.

    An engine gives its statements (`sql`) and the hooks below (`_begin`, `_begin_reading`,
    `_commit`, `_rollback`, `_failure`, `_insert`, `alive`); `tests/events` holds every engine
    to one contract.
    """

    sql: type[StoreSql]
    # Whether this process is the database's only writer, so that the tips of the streams
    # it wrote stay true between its transactions (an engine shared by processes says no).
    keeps_tips = True

    def __init__(
        self,
        conn: Connection,
        upcasters: Upcasters | None = None,
        clock: Clock = utc_now,
        on_commit: Callable[[], None] | None = None,
        shared_head: SharedHead | None = None,
    ) -> None:
        self.conn = conn
        self.upcasters = upcasters or Upcasters()
        self._clock = clock
        self._on_commit = on_commit  # told after each committed transaction (caches listen)
        self._head = shared_head or SharedHead()
        self._tx: _Transaction | None = None
        self._reading = False  # inside a snapshot

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run a block in one transaction; nested calls join the outer one.

        Raises ConcurrentWriteError if the engine reports a write-write conflict, and
        StorageFailedError if it could not store the data (nothing is written then).
        """
        if self._tx is not None:
            yield
            return
        self._begin()
        self._tx = _Transaction(versions={})
        try:
            yield
            self._commit()
        except BaseException as exc:
            self._head.forget()
            self._rollback()
            failure = self._failure(exc)
            if failure is not None:
                raise failure from exc
            raise
        else:
            if self._tx.head is not None:
                self._head.value = self._tx.head
            if self._tx.forget_all:
                self._head.tips.clear()
            if self.keeps_tips:
                self._head.keep(self._tx.tips, self._tx.dropped)
        finally:
            self._tx = None
        if self._on_commit is not None:
            self._on_commit()

    def in_transaction(self) -> bool:
        """Whether a write transaction is open on this store."""
        return self._tx is not None

    def appended(self) -> int:
        """The position this transaction's appends reached (0: none yet, or no transaction)."""
        return 0 if self._tx is None or self._tx.head is None else self._tx.head.position

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run reads in one consistent snapshot (a read-only transaction); joins an open one
        (a write's transaction, or an enclosing snapshot)."""
        if self._tx is not None or self._reading:
            yield
            return
        self._begin_reading()
        self._reading = True
        try:
            yield
        finally:
            self._reading = False
            self._rollback()  # nothing was written: there is nothing to commit

    @abstractmethod
    def alive(self) -> bool:
        """Whether the database still answers (an engine may give up on a database after a
        fatal error)."""

    # -- the engine's hooks ---------------------------------------------------------------------

    @abstractmethod
    def _begin(self) -> None:
        """Begin a write transaction."""

    @abstractmethod
    def _begin_reading(self) -> None:
        """Begin a read-only snapshot."""

    @abstractmethod
    def _commit(self) -> None:
        """Commit the open transaction."""

    @abstractmethod
    def _rollback(self) -> None:
        """Roll back the open transaction (quietly, if the engine already did)."""

    @abstractmethod
    def _failure(self, exc: BaseException) -> Exception | None:
        """The store's error for an engine's exception that ended a transaction (None: the
        exception is not the engine's, and goes on as it is)."""

    @abstractmethod
    def _insert(self, rows: list[list[Any]]) -> None:
        """Insert new rows of the log (`EVENT_COLUMNS` order); a row whose position or stream
        version is taken raises ConcurrentWriteError."""

    # -- reading ------------------------------------------------------------------------------

    def head(self) -> LogHead:
        """The log's last position, hash and time, as this transaction sees it."""
        if self._tx is not None and self._tx.head is not None:
            return self._tx.head
        row = self.conn.execute(HEAD_SQL).fetchone()
        return LogHead(0, GENESIS_HASH, None) if row is None else LogHead(*row)

    def verify(self, anchor: Anchor | None = None) -> VerifyReport:
        """Walk the whole chain (set-based, in the engine), check the payloads' hashes and
        the Merkle tree's tiles; with an anchor, also prove the log up to it is the one it was
        taken from."""
        with self.snapshot():
            return verify_chain(self.conn, self._problem, anchor)

    def _problem(self, last: int) -> Problem | None:
        """The first problem of the log up to a position: the engine's set-based chain walk
        while this thread checks the payloads, then the tree (an engine may do all of it its
        own faster way)."""

        def others(upto: int) -> Problem | None:
            found = [p for p in (payload_problem(self.conn, upto), self.tree_problem(upto)) if p]
            return min(found) if found else None

        return chain_walk(self.conn, self.sql.verify_chain, last, others)

    def tree_problem(self, size: int, leaves: bytes | None = None) -> Problem | None:
        """The first position at which the stored tree differs from the one the log's first
        `size` events make (None: every tile is right); `leaves`: their leaf hashes, when the
        caller has them already."""
        if leaves is None:
            leaves = merkle.leaf_hashes(self.chain_hashes(0, size))
        expected = {(lv, n): d for lv, n, d in merkle.tiles_of(leaves)}
        stored = {(lv, n): d for lv, n, d in self.stored_tiles()}
        for level, n in sorted(expected.keys() | stored.keys()):
            want, got = expected.get((level, n), b""), stored.get((level, n), b"")
            if want != got:
                index = merkle.first_difference(want, got)
                position = (n * merkle.WIDTH + index) * merkle.WIDTH**level + 1
                return position, (
                    f"the Merkle tree's tile {level}/{n} does not match the log at position"
                    f" {position}"
                )
        return None

    def _append_head(self) -> LogHead:
        """The head to append after: the cached one when there is one (see class docstring)."""
        if self._tx is not None and self._tx.head is not None:
            return self._tx.head
        if self._head.value is None:
            self._head.value = self.head()
        return self._head.value

    def stream_tip(self, stream_type: str, stream_id: str) -> StreamTip | None:
        """A stream's last version, event type and (upcast) payload, or None if it has none.

        Remembered for an append in the same transaction, which then need not look it up again.
        """
        key = (stream_type, stream_id)
        kept = self._kept_tips([key])
        if key in kept:
            tip = kept[key]
        else:
            row = self.conn.execute(self.sql.stream_tip, [stream_id, stream_type]).fetchone()
            tip = None
            if row is not None and row[0] is not None:
                tip = self._tip(stream_type, stream_id, *row)
            self._seen({key: tip})
        self._remember(stream_type, [stream_id], {stream_id: tip} if tip else {})
        return tip

    def tips_of_id(self, stream_id: str, stream_types: Sequence[str]) -> dict[str, StreamTip]:
        """The tip of each stream of one id among some stream types (a metric's own stream
        and the streams that speak of it), by stream type; one query, one index probe.

        Remembered for an append in the same transaction, like `stream_tip`.
        """
        keys = [(t, stream_id) for t in stream_types]
        kept = self._kept_tips(keys)
        if len(kept) == len(keys):
            tips = {k[0]: tip for k, tip in kept.items() if tip is not None}
        else:
            marks = ", ".join("?" for _ in stream_types)  # a count of marks, never a name
            sql = self.sql.tips_of_id.format(types=marks)
            rows = self.conn.execute(sql, [stream_id, *stream_types]).fetchall()
            tips = {row[0]: self._tip(row[0], stream_id, *row[1:]) for row in rows}
            self._seen({k: tips.get(k[0]) for k in keys})
        for stream_type in stream_types:
            found = tips.get(stream_type)
            self._remember(stream_type, [stream_id], {stream_id: found} if found else {})
        return tips

    def _kept_tips(self, keys: Sequence[StreamKey]) -> dict[StreamKey, StreamTip | None]:
        """The tips of these streams this writer knows without a query (inside a write
        transaction only, where no other writer of this process commits meanwhile)."""
        if not self.keeps_tips or self._tx is None:
            return {}
        staged, shared = self._tx.tips, self._head.tips
        found: dict[StreamKey, StreamTip | None] = {}
        for key in keys:
            if key in staged:
                found[key] = staged[key]
            elif key in shared and not self._tx.forget_all and key not in self._tx.dropped:
                found[key] = shared[key]
        return found

    def _seen(self, tips: Mapping[StreamKey, StreamTip | None]) -> None:
        """Keep tips read in a write transaction (with their first event) for later ones."""
        if self.keeps_tips and self._tx is not None:
            self._tx.tips.update(tips)

    def known_head(self) -> LogHead:
        """The head the next append follows, without a query once known (see the class
        docstring: where other processes write, it may be behind; an append after a stale
        head collides, is retried, and the head is read again)."""
        return self._append_head()

    def stream_tips(self, stream_type: str, stream_ids: Sequence[str]) -> dict[str, StreamTip]:
        """The tip of each given stream that has events; one query for all of them.

        Remembered for an append in the same transaction, like `stream_tip`.
        """
        rows = self.conn.execute(self.sql.stream_tips, [stream_type, list(stream_ids)]).fetchall()
        tips = {row[0]: self._tip(stream_type, row[0], *row[1:]) for row in rows}
        self._remember(stream_type, stream_ids, tips)
        return tips

    def _tip(
        self,
        stream_type: str,
        stream_id: str,
        version: int,
        event_type: str,
        schema: int,
        text: Any,
        first_at: datetime | None = None,
        first_type: str | None = None,
    ) -> StreamTip:
        """A stream's tip from its last event's columns (its payload upcast)."""
        schema, payload = self.upcasters.upcast(event_type, schema, decode_payload(text))
        return StreamTip(
            stream_type, stream_id, int(version), event_type, schema, payload, first_at, first_type
        )

    def _remember(
        self, stream_type: str, stream_ids: Sequence[str], tips: Mapping[str, StreamTip]
    ) -> None:
        """Keep the versions read inside a transaction for its append (0: no events)."""
        if self._tx is not None and self._tx.versions is not None:
            self._tx.versions.update(
                ((stream_type, s), tips[s].version if s in tips else 0) for s in stream_ids
            )

    # -- appending ----------------------------------------------------------------------------

    def append(
        self,
        events: Sequence[NewEvent],
        expected_versions: Mapping[StreamKey, int] | None = None,
        idempotency_key: str | None = None,
    ) -> list[RecordedEvent]:
        """Append events atomically and return them as recorded.

        `expected_versions` maps (stream_type, stream_id) to the version the caller last saw
        (0: the stream must not exist). Raises VersionConflictError (naming expected and actual
        versions), IdempotencyConflictError, or ConcurrentWriteError; on any of them nothing of
        this append is written.
        """
        if not events:
            return []
        with self.transaction():
            if idempotency_key is not None:
                earlier = self.events_for_key(idempotency_key)
                if earlier:
                    if _fingerprint(earlier) != _fingerprint(events):
                        raise IdempotencyConflictError(idempotency_key)
                    return earlier
            versions = self._current_versions({(e.stream_type, e.stream_id) for e in events})
            for key, expected in (expected_versions or {}).items():
                actual = versions.get(key, 0)
                if actual != expected:
                    raise VersionConflictError(key[1], expected, actual)
            recorded, rows = self._record(events, versions, idempotency_key)
            self._insert(rows)
            self._grow_tree(recorded[0].position - 1, [(e.position, e.hash) for e in recorded])
        return recorded

    def insert_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Insert stored rows of another log as they are (positions, times and hashes
        unchanged), inside a transaction; the caller verifies the chain afterwards."""
        if self._tx is None:
            raise RuntimeError("insert_rows runs inside a transaction")
        self._head.forget()
        self._insert([list(r) for r in rows])
        if rows:
            added = [(int(r[0]), str(r[_HASH_COLUMN])) for r in rows]
            self._grow_tree(added[0][0] - 1, added)

    # -- the Merkle tree (events.merkle) ------------------------------------------------------

    def _grow_tree(self, size: int, added: Sequence[tuple[int, str]]) -> None:
        """Keep the tiles in step with events just inserted after `size` (in their
        transaction). Most appends complete no tile and write nothing."""
        if (size + len(added)) // merkle.WIDTH == size // merkle.WIDTH:
            return
        writes = merkle.grown(
            size, merkle.leaf_hashes(added), self._partial_leaves(size), self.stored_tile
        )
        self._put_tiles(writes)

    def _partial_leaves(self, size: int) -> bytes:
        """The leaf hashes of level 0's partial tile in a tree of `size` (from the log)."""
        start = size - size % merkle.WIDTH
        if start == size:
            return b""
        return merkle.leaf_hashes(self.chain_hashes(start, size))

    def _put_tiles(self, tiles: Sequence[tuple[int, int, bytes]]) -> None:
        for at in range(0, len(tiles), 256):
            chunk = tiles[at : at + 256]
            marks = ", ".join("(?, ?, ?)" for _ in chunk)  # a count of marks, never a name
            self.conn.execute(
                self.sql.put_tiles.format(rows=marks), [v for tile in chunk for v in tile]
            )

    def chain_hashes(self, after: int, until: int) -> list[tuple[int, str]]:
        """(position, chain hash) of the events after `after` up to `until`, in order."""
        rows = self.conn.execute(self.sql.chain_hashes, [after, until]).fetchall()
        return [(int(p), str(h)) for p, h in rows]

    def stored_tiles(self) -> list[tuple[int, int, bytes]]:
        """Every stored tile as (level, index, hashes), by level then index."""
        rows = self.conn.execute(self.sql.all_tiles).fetchall()
        return [(int(level), int(n), bytes(data)) for level, n, data in rows]

    def stored_tile(self, level: int, n: int) -> bytes:
        """A tile as stored (b"": none; level 0's partial tile is never stored)."""
        row = self.conn.execute(self.sql.tile, [level, n]).fetchone()
        return b"" if row is None else bytes(row[0])

    def tile(self, level: int, n: int) -> bytes:
        """A tile of the tree as it is now: stored, or level 0's partial one from the log."""
        data = self.stored_tile(level, n)
        if data or level != 0:
            return data
        size = self.head().position
        if size // merkle.WIDTH != n:  # not the partial tile (a missing full one stays missing)
            return b""
        return self._partial_leaves(size)

    def tree_in_step(self) -> bool:
        """Whether level 0 of the stored tree has exactly the full tiles the log makes (a
        cheap check at opening; `verify` checks every hash)."""
        count, following = self.conn.execute(self.sql.tile_count).fetchone() or (0, 0)
        full = self.head().position // merkle.WIDTH
        return int(count) == full and int(following) == full

    def rebuild_tree(self) -> int:
        """Build every tile anew from the log (a database from before the tree, or after a
        repair), in one transaction; returns the tree's size."""
        with self.transaction():
            self.conn.execute(self.sql.clear_tiles)
            size = self.head().position
            leaves = merkle.leaf_hashes(self.chain_hashes(0, size))
            self._put_tiles(merkle.tiles_of(leaves))
        return size

    def _current_versions(self, keys: set[StreamKey]) -> dict[StreamKey, int]:
        assert self._tx is not None and self._tx.versions is not None  # noqa: S101 - invariant
        known = self._tx.versions
        missing = [k for k in keys if k not in known]
        if missing:
            rows = self.conn.execute(self.sql.stream_versions, [[k[1] for k in missing]]).fetchall()
            found = {(t, s): int(v) for t, s, v in rows}
            for key in missing:
                known[key] = found.get(key, 0)
        return {k: known[k] for k in keys}

    def _record(
        self,
        events: Sequence[NewEvent],
        versions: dict[StreamKey, int],
        idempotency_key: str | None,
    ) -> tuple[list[RecordedEvent], list[list[Any]]]:
        head = self._append_head()
        now = self._clock()
        if head.recorded_at is not None and now < head.recorded_at:
            now = head.recorded_at  # the clock stepped back: time never decreases along the log
        time_us = epoch_us(now)
        position, prev = head.position, head.hash
        chain_hash = ChainHasher()
        recorded: list[RecordedEvent] = []
        rows: list[list[Any]] = []
        for event in events:
            key = (event.stream_type, event.stream_id)
            versions[key] += 1
            position += 1
            text = encode_payload(event.payload)
            fields: dict[str, Any] = {
                "position": position,
                "stream_type": event.stream_type,
                "stream_id": event.stream_id,
                "version": versions[key],
                "event_type": event.event_type,
                "event_schema": event.event_schema,
                "payload_hash": payload_digest(text),
                "actor": event.actor,
                "reason": event.reason,
                "batch_id": event.batch_id,
                "source": event.source,
                "source_ref": event.source_ref,
                "idempotency_key": idempotency_key,
                "recorded_at": time_us,
            }
            digest = chain_hash(prev, fields)
            fields.update(recorded_at=now, payload=text, prev_hash=prev, hash=digest)
            rows.append([fields[c] for c in EVENT_COLUMNS])
            fields["payload"] = event.payload
            recorded.append(RecordedEvent(**fields))
            prev = digest
        assert self._tx is not None and self._tx.versions is not None  # noqa: S101 - invariant
        self._tx.versions.update(versions)
        self._tx.head = LogHead(position, prev, now)
        if self.keeps_tips:
            self._advance_tips(recorded)
        return recorded, rows

    _ADVANCED_TIPS = 256  # a bigger append forgets the tips this writer kept instead

    def _advance_tips(self, recorded: Sequence[RecordedEvent]) -> None:
        """The written streams' new tips, for this writer's next transactions (a stream whose
        first event is not known here is forgotten instead)."""
        assert self._tx is not None  # noqa: S101 - invariant
        if len(recorded) > self._ADVANCED_TIPS:
            self._tx.forget_all = True
            self._tx.tips.clear()
            return
        for event in recorded:
            key = (event.stream_type, event.stream_id)
            before = self._kept_tips([key]).get(key)
            if event.version == 1:
                first: tuple[datetime | None, str | None] = (event.recorded_at, event.event_type)
            elif before is not None and before.first_recorded_at is not None:
                first = (before.first_recorded_at, before.first_event_type)
            else:
                self._tx.tips.pop(key, None)
                self._tx.dropped.add(key)
                continue
            self._tx.dropped.discard(key)
            self._tx.tips[key] = StreamTip(
                event.stream_type,
                event.stream_id,
                event.version,
                event.event_type,
                event.event_schema,
                dict(event.payload),
                *first,
            )


def _fingerprint(events: Sequence[NewEvent | RecordedEvent]) -> list[tuple[Any, ...]]:
    return [
        (e.stream_type, e.stream_id, e.event_type, encode_payload(e.payload), e.actor, e.reason)
        for e in events
    ]
