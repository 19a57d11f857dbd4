"""Queries: current state from the v4 tables; history, versions, diffs and as-of from the log."""

from __future__ import annotations

import copy
import difflib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from events import Anchor, EventSummary, RecordedEvent, StreamTip
from projections import COLUMN_TABLE, METRIC_TABLE, projects, row_to_dict
from projections.streams import row_id
from registry import identity, sight
from registry.errors import InvalidDefinitionError, Issue, NotFoundError
from registry.sql_diff import laid_out, side_by_side
from registry.subjects import COLUMN, METRIC, Subject
from storage.session import Registry

_METRICS_SQL = METRIC_TABLE.select_sql
_COLUMNS_SQL = COLUMN_TABLE.select_sql


def _metrics(
    reg: Registry, where: str = "", params: list[Any] | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Live metric rows; only those the caller may see (`registry.sight`), the limit
    counted after that filter."""
    sql = _METRICS_SQL + (f" WHERE {where}" if where else "") + " ORDER BY category, name"
    limited = sight.limited(reg)
    if limit is not None and not limited:
        sql += " LIMIT ?"
        params = [*(params or []), limit]
    rows = [row_to_dict(METRIC_TABLE, r) for r in reg.conn.execute(sql, params or []).fetchall()]
    if limited:
        rows = sight.visible_rows(reg, rows)  # live rows: their definitions now
    return rows if limit is None else rows[:limit]


_AFTER = "(category > ? OR (category = ? AND name > ?))"


def _after(metric_id: str) -> list[str]:
    category, _, name = metric_id.partition("/")
    return [category, category, name]


def get_metric(reg: Registry, metric_id: str) -> dict[str, Any] | None:
    """The current definition of a metric, or None if it does not exist or is deleted."""
    rows = _metrics(reg, "id = ?", [metric_id])
    return rows[0] if rows else None


def require_metric(reg: Registry, metric_id: str) -> dict[str, Any]:
    """The current definition of a metric; NotFoundError (saying when and by whom it was
    deleted, if it was) if it is not live."""
    found = get_metric(reg, metric_id)
    if found is None:
        raise not_live(reg, METRIC, metric_id)
    return found


def _restore_hint(subject: Subject, stream_id: str) -> str:
    """The command that brings a deleted stream back, its arguments quoted for a shell."""
    import shlex

    if subject.kind is METRIC.kind:
        return f"restore it with `da metrics restore {shlex.quote(stream_id)}`"
    table, column = subject.kind.split(stream_id)
    return f"restore it with `da columns restore {shlex.quote(table)} {shlex.quote(column)}`"


def not_live(
    reg: Registry, subject: Subject, stream_id: str, missing: str | None = None
) -> NotFoundError:
    """The error for a stream that is not live: deleted (at which version, by whom, when, and
    how to bring it back) or never created (`missing`, or "... does not exist")."""
    last = reg.store.last_events(subject.kind.stream_type, [stream_id]).get(stream_id)
    if last is None or last.event_type != subject.kind.tombstone:
        return NotFoundError(missing or f"{subject.label} {stream_id!r} does not exist")
    when = last.recorded_at.strftime("%Y-%m-%d %H:%M UTC")
    shown = stream_id if subject.kind is METRIC.kind else ".".join(subject.kind.split(stream_id))
    return NotFoundError(
        f"{subject.label} {shown!r} was deleted at version {last.version} by {last.actor}"
        f" on {when}; {_restore_hint(subject, stream_id)}"
    )


def list_metrics(
    reg: Registry,
    category: str | None = None,
    as_of: datetime | None = None,
    at_position: int | None = None,
    after: str | None = None,
    limit: int | None = None,
    valid_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Live metrics ordered by category then name; as of a time or log position if given;
    in force at business time `valid_at` if given (each with the `version` that made it);
    only those after the metric id `after`, and at most `limit` of them, if given."""
    if as_of is None and at_position is None and valid_at is None:
        clauses, params = [], []
        if category:
            clauses.append("category = ?")
            params.append(category)
        if after is not None:
            clauses.append(_AFTER)
            params += _after(after)
        return _metrics(reg, " AND ".join(clauses), params, limit)
    rows = [
        r
        for r in sight.keep_visible(reg, metrics_as_of(reg, as_of, at_position, valid_at))
        if (category is None or r["category"] == category)
        and (after is None or (r["category"], r["name"]) > tuple(_after(after)[1:]))
    ]
    return rows if limit is None else rows[:limit]


def categories(reg: Registry) -> list[str]:
    """The categories of the live metrics (those the caller may see), in order."""
    if sight.limited(reg):
        return sorted({str(r["category"]) for r in _metrics(reg)})
    rows = reg.conn.execute("SELECT DISTINCT category FROM metric_definitions ORDER BY 1")
    return [str(r[0]) for r in rows.fetchall()]


def last_changes(
    reg: Registry, subject: Subject, stream_ids: list[str], position: int | None = None
) -> dict[str, dict[str, Any]]:
    """Who changed each stream last (as of a position), when, and how: `{id: {version,
    event_type, actor, recorded_at, reason}}` (a renamed metric's by its id)."""
    streams = dict(zip(stream_ids, stream_ids, strict=True))
    if subject is METRIC:
        streams = identity.streams_of(reg, stream_ids)
    ids = {s: m for m, s in streams.items()}
    found = {
        ids.get(s, s): e
        for s, e in reg.store.last_events(
            subject.kind.stream_type, list(streams.values()), position
        ).items()
    }
    return {
        sid: {
            "version": e.version,
            "event_type": e.event_type,
            "actor": e.actor,
            "recorded_at": e.recorded_at,
            "reason": e.reason,
        }
        for sid, e in found.items()
    }


def resolve_position(reg: Registry, as_of: datetime | None, at_position: int | None) -> int:
    """The log position that `as_of` (a time) or `at_position` names; the head if neither.

    Raises NotFoundError for a position past the head: that state has not happened.
    """
    if at_position is not None:
        head = reg.store.head().position
        if at_position > head:
            raise NotFoundError(f"at_position: {at_position} is past the log's head ({head})")
        return at_position
    if as_of is not None:
        return reg.store.position_at(as_of)
    return reg.store.head().position


def metrics_as_of(
    reg: Registry,
    as_of: datetime | None = None,
    at_position: int | None = None,
    valid_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every metric a reader would have seen at a time or position (deleted ones excluded);
    with `valid_at`, the definitions in force at that business time as known then, each
    with the `version` that made it."""
    position = resolve_position(reg, as_of, at_position)
    rows = reg.projector.rows_at(METRIC.kind, position, valid_at)
    if valid_at is None:
        for row in rows:
            del row["version"]
    return sorted(rows, key=lambda r: (r["category"], r["name"]))


def metric_at(reg: Registry, metric_id: str, position: int) -> dict[str, Any] | None:
    """One metric as a reader would have seen it after a log position, with its version then
    (None if it did not exist, or was deleted, at that point). Folds that stream alone."""
    events = [
        e
        for e in reg.store.read_stream(METRIC.kind.stream_type, metric_id)
        if e.position <= position
    ]
    shown = next((e for e in reversed(events) if projects(METRIC.kind, e)), None)
    row = reg.projector.row_from_log(shown) if shown is not None else None
    return None if row is None else {**row, "version": events[-1].version}


def columns_as_of(
    reg: Registry, as_of: datetime | None = None, at_position: int | None = None
) -> list[dict[str, Any]]:
    """Every column's metadata as it stood at a time or position."""
    position = resolve_position(reg, as_of, at_position)
    rows = [
        r
        for r in reg.projector.rows_at(COLUMN.kind, position)
        if sight.sees_table(reg, r["table_id"]) and r.pop("version")
    ]
    return sorted(rows, key=lambda r: (r["table_id"], r["column_name"]))


def find_by_table(reg: Registry, table: str) -> list[dict[str, Any]]:
    """Metrics that read a table, as their `table_name` or one of their `tables`."""
    return _metrics(reg, "table_name = ? OR ? = ANY(tables)", [table, table])


def find_by_synonym(reg: Registry, term: str) -> list[dict[str, Any]]:
    """Metrics whose name or one of whose synonyms is `term` (case-insensitive)."""
    return _metrics(
        reg,
        "lower(name) = lower(?)"
        " OR lower(?) IN (SELECT lower(s) FROM unnest(synonyms) AS listed(s))",
        [term, term],
    )


def table_map(reg: Registry) -> dict[str, list[str]]:
    """`{table: [metric name, ...]}` over `table_name` and `tables`; tableless metrics left out."""
    return table_map_of(_metrics(reg))


def table_map_of(metrics: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The table map of some metric definitions (rows or YAML definitions alike)."""
    mapping: dict[str, list[str]] = {}
    for metric in metrics:
        tables = [metric.get("table_name"), *(metric.get("tables") or [])]
        for table in dict.fromkeys(t for t in tables if t):
            mapping.setdefault(table, []).append(metric["name"])
    return {t: sorted(names) for t, names in sorted(mapping.items())}


def get_column(reg: Registry, table_id: str, column_name: str) -> dict[str, Any] | None:
    """A column's current metadata, or None."""
    if not sight.sees_table(reg, table_id):
        return None
    rows = reg.conn.execute(
        _COLUMNS_SQL + " WHERE table_id = ? AND column_name = ?", [table_id, column_name]
    ).fetchall()
    return row_to_dict(COLUMN_TABLE, rows[0]) if rows else None


def list_columns(reg: Registry, table_id: str | None = None) -> list[dict[str, Any]]:
    """Current column metadata of one table (or all), ordered by table then column name."""
    where, params = (" WHERE table_id = ?", [table_id]) if table_id is not None else ("", [])
    rows = reg.conn.execute(
        _COLUMNS_SQL + where + " ORDER BY table_id, column_name", params
    ).fetchall()
    found = [row_to_dict(COLUMN_TABLE, r) for r in rows]
    return [r for r in found if sight.sees_table(reg, r["table_id"])]


# -- history, versions, diffs -----------------------------------------------------------------


_WHAT = {
    "Renamed": "renamed",
    "Created": "created",
    "Updated": "updated",
    "Deleted": "deleted",
    "Restored": "restored",
    "RolledBack": "rolled back",
    "Adopted": "adopted",
}
_FACTS = (*_WHAT, "Scheduled", "TookEffect")


def provenance(event_type: str, payload: dict[str, Any], source: str | None) -> dict[str, Any]:
    """Which door and which writer made an event, what it did in words, and a rollback's
    target: the same for history, the audit feed and every door that shows them.

    Events written before doors were recorded carry no `door`: they read as "unrecorded"
    (an upcast on reading; the log is never rewritten).
    """
    fact = next((f for f in _FACTS if event_type.endswith(f)), event_type)
    to_version = payload.get("to_version")
    what = _WHAT.get(fact, event_type)
    if to_version is not None:
        what = f"rolled back to v{to_version}"
    if fact == "Scheduled":  # a change not in force when recorded
        change = payload.get("change") or "Updated"
        what = f"{_WHAT.get(change, change)}, scheduled"
        if to_version is not None:
            what = f"rolled back to v{to_version}, scheduled"
    elif fact == "Renamed":
        what = f"renamed from {payload.get('renamed_from')} to {payload.get('renamed_to')}"
    elif fact == "TookEffect":
        what = f"v{payload.get('of_version')} took effect"
    return {
        "door": payload.get("door") or UNRECORDED,
        "writer": source or "manual",
        "to_version": to_version,
        "what": what,
        # A change applied by approving a proposal names it and the admin who approved it.
        "proposal": payload.get("proposal"),
        "approved_by": payload.get("approved_by"),
        # From when the change is in force, when it says (else: when it was recorded).
        "effective_from": payload.get("effective_from"),
    }


UNRECORDED = "unrecorded"
_PROVENANCE_KEYS = (
    "changed",
    "door",
    "to_version",
    "proposal",
    "approved_by",
    "effective_from",
    "change",
    "of_version",
    "renamed_from",
    "renamed_to",
)


@dataclass(frozen=True)
class HistoryEntry:
    """One version of a stream: who did what, when, why, through which door, as which
    writer, and which fields changed."""

    version: int
    event_type: str
    what: str  # "updated", "rolled back to v1", ...
    actor: str
    reason: str | None
    recorded_at: datetime
    batch_id: str | None
    door: str  # cli, api, console, mcp, python, migration; "unrecorded" before doors were
    writer: str  # manual, yaml_import, web_upload, dbt_import, ossie_import, profiler, ...
    source: str | None
    source_ref: str | None
    to_version: int | None
    changed: list[str]
    position: int
    proposal: int | None = None  # the proposal this change was applied from
    approved_by: str | None = None  # and the admin who approved it
    effective_from: str | None = None  # in force from then (None: when recorded)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def history(reg: Registry, subject: Subject, stream_id: str) -> list[HistoryEntry]:
    """Every version of a stream, oldest first; NotFoundError if it never existed."""
    # Only a few keys of each payload: a 100th version need not decode 99 definitions.
    events = reg.store.stream_summaries(subject.kind.stream_type, stream_id, _PROVENANCE_KEYS)
    if not events:
        raise NotFoundError(f"{subject.label} {stream_id!r} has no history")
    entries = []
    for e in events:
        told = provenance(e.event_type, e.payload, e.source)
        entries.append(
            HistoryEntry(
                version=e.version,
                event_type=e.event_type,
                what=told["what"],
                actor=e.actor,
                reason=e.reason,
                recorded_at=e.recorded_at,
                batch_id=e.batch_id,
                door=told["door"],
                writer=told["writer"],
                source=e.source,
                source_ref=e.source_ref,
                to_version=told["to_version"],
                changed=list(e.payload.get("changed") or []),
                position=e.position,
                proposal=told["proposal"],
                approved_by=told["approved_by"],
                effective_from=told["effective_from"],
            )
        )
    return entries


def get_version(reg: Registry, subject: Subject, stream_id: str, version: int) -> dict[str, Any]:
    """The definition a stream had at one version, with that version's event details."""
    event = reg.store.read_event(subject.kind.stream_type, stream_id, version)
    if event is None:
        raise NotFoundError(f"{subject.label} {stream_id!r} has no version {version}")
    return {
        "id": row_id(stream_id, event.payload),
        **event.payload.get("definition", {}),
        "version": event.version,
        "event_type": event.event_type,
        "deleted": event.event_type == subject.kind.tombstone,
        "actor": event.actor,
        "reason": event.reason,
        "recorded_at": event.recorded_at,
    }


@dataclass(frozen=True)
class FieldChange:
    """One field whose value differs between two versions."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class VersionDiff:
    """Field-level differences between two versions, and SQL as a unified text diff."""

    id: str
    from_version: int
    to_version: int
    changes: list[FieldChange]
    sql_diff: str | None
    # The SQL of both versions in two columns, row by row (None when the SQL is the same).
    sql_side_by_side: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_DEFINITION_ONLY = {"version", "event_type", "deleted", "actor", "reason", "recorded_at", "id"}


def _definition_at(reg: Registry, subject: Subject, stream_id: str, version: int) -> dict[str, Any]:
    if version == 0:
        return {}
    snapshot = get_version(reg, subject, stream_id, version)
    return {k: v for k, v in snapshot.items() if k not in _DEFINITION_ONLY}


def diff(
    reg: Registry,
    subject: Subject,
    stream_id: str,
    from_version: int | None = None,
    to_version: int | None = None,
) -> VersionDiff:
    """What changed between two versions (default: the previous one and the current one).

    Version 0 stands for "before the first version". Raises NotFoundError for unknown versions.
    """
    head = reg.store.stream_tip(subject.kind.stream_type, stream_id)
    if head is None:
        raise NotFoundError(f"{subject.label} {stream_id!r} has no history")
    to_version = head.version if to_version is None else to_version
    from_version = max(to_version - 1, 0) if from_version is None else from_version
    old = _definition_at(reg, subject, stream_id, from_version)
    new = _definition_at(reg, subject, stream_id, to_version)
    changes = [
        FieldChange(name, old.get(name), new.get(name))
        for name in subject.fields
        if old.get(name) != new.get(name)
    ]
    sql_diff = side = None
    if old.get("sql") != new.get("sql") and subject is METRIC:
        # Side by side, both laid out by one formatter: a change of layout alone shows no
        # line. The unified diff stays the texts' own (the file-tool view of what was typed).
        side = side_by_side(laid_out(old.get("sql") or ""), laid_out(new.get("sql") or ""))
        lines = difflib.unified_diff(
            (old.get("sql") or "").splitlines(keepends=True),
            (new.get("sql") or "").splitlines(keepends=True),
            fromfile=f"{stream_id}@v{from_version}",
            tofile=f"{stream_id}@v{to_version}",
        )
        sql_diff = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return VersionDiff(stream_id, from_version, to_version, changes, sql_diff, side)


def owned_metric_ids(reg: Registry, writer: str, label: str | None) -> list[str]:
    """Ids of live metrics last written by a writer under a label (no label is its own)."""
    rows = reg.conn.execute(
        "SELECT id FROM metric_definitions WHERE source = ? AND source_ref IS NOT DISTINCT FROM ?"
        " ORDER BY id",
        [writer, label],
    ).fetchall()
    return [str(r[0]) for r in rows]


def definition_of(row: dict[str, Any]) -> dict[str, Any]:
    """A metric row without the fields the registry derives (id and timestamps)."""
    return {k: v for k, v in row.items() if k not in ("id", "created_at", "updated_at")}


def metric_with_version(
    reg: Registry, metric_id: str, identity: str | None = None
) -> tuple[dict[str, Any], int]:
    """The current definition of a metric and its version; NotFoundError if missing.

    The canonical lookup that agents and services repeat: a server's registries keep answers
    in their read cache until the next write (a missing metric is not cached).
    """

    def read() -> tuple[dict[str, Any], int]:
        with reg.store.snapshot():  # row and version from one state, never a commit apart
            row = require_metric(reg, metric_id)
            # the metric's version and its certification's: one query
            kinds = [METRIC.kind.stream_type, CERTIFICATION]
            versions = reg.store.versions_of_id(identity or metric_id, kinds)
            version = versions[kinds[0]]
            given_at = versions.get(kinds[1])
            row["certification"] = certification_of(reg, identity or metric_id, version, given_at)
            return row, version

    if reg.cache is None:
        return read()
    row, version = reg.cache.get(("metric", metric_id), read)
    return _copy_row(row), version


def cached_metric_with_version(reg: Registry, metric_id: str) -> tuple[dict[str, Any], int] | None:
    """`metric_with_version`'s answer if the read cache holds it now, else None (no I/O)."""
    hit = None if reg.cache is None else reg.cache.peek(("metric", metric_id))
    return None if hit is None else (_copy_row(hit[0]), hit[1])


def _copy_row(row: dict[str, Any]) -> dict[str, Any]:
    """A copy a caller may change without touching the cached row (lists and maps too)."""
    return {k: copy.deepcopy(v) if isinstance(v, list | dict) else v for k, v in row.items()}


CERTIFICATION = "certification"  # the stream type of certifications (registry.governance)


def certifications(reg: Registry, versions: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The certifications of metrics at their versions now (`{id: version}`); uncertified
    metrics are left out. One is `certified` while the metric is at the version it was given
    for, else `lapsed` (it names that version): who gave it, when, and the note."""
    if not versions:
        return {}
    # Kept by each metric's identity (its stream): a renamed metric keeps its certification.
    streams = identity.streams_of(reg, list(versions))
    by_stream = {streams[m]: v for m, v in versions.items()}
    back = {s: m for m, s in streams.items()}
    if reg.cache is not None:  # a server: every certification, read once per commit
        kept = reg.cache.get(("certifications",), lambda: _every_certification(reg))
        return {
            back[s]: _certification(e, e, v) for s, v in by_stream.items() if (e := kept.get(s))
        }
    tips = reg.store.stream_tips(CERTIFICATION, list(by_stream))
    if not tips:
        return {}
    given = reg.store.last_events(CERTIFICATION, list(tips))
    return {back[s]: _certification(tip, given[s], by_stream[s]) for s, tip in tips.items()}


def _every_certification(reg: Registry) -> dict[str, RecordedEvent]:
    """Each certified metric's last certification event (lists and searches on a server
    read them from its cache rather than once a question)."""
    return {e.stream_id: e for e in reg.store.read(stream_type=CERTIFICATION)}


def certification_of(
    reg: Registry, metric_id: str, version: int, given_at: int | None
) -> dict[str, Any] | None:
    """`certifications` for one metric whose certification stream's version is known
    (None: never certified, and nothing more to read)."""
    if not given_at:
        return None
    given = reg.store.read_event(CERTIFICATION, metric_id, given_at)  # one index probe
    assert given is not None  # noqa: S101 - its version was just read, and events stay
    return _certification(given, given, version)


def _certification(
    tip: StreamTip | RecordedEvent, given: EventSummary | RecordedEvent, version: int
) -> dict[str, Any]:
    at = int(tip.payload["version"])
    return {
        "state": "certified" if at == version else "lapsed",
        "version": at,
        "by": given.actor,
        "at": given.recorded_at,
        "note": given.reason,
    }


def metric_versions(
    reg: Registry, position: int | None = None, ids: list[str] | None = None
) -> dict[str, int]:
    """Every metric's version (or only those of `ids`; up to a log position if given), for
    responses that show it; a renamed metric's under its id now."""
    if ids is not None:
        streams = identity.streams_of(reg, ids)
        back = {s: m for m, s in streams.items()}
        found = reg.store.versions_at(METRIC.kind.stream_type, position, list(streams.values()))
        return {back.get(s, s): v for s, v in found.items()}
    found = reg.store.versions_at(METRIC.kind.stream_type, position, None)
    now = identity.ids_now(reg)
    return {now.get(s, s): v for s, v in found.items()}


def version_at(reg: Registry, subject: Subject, stream_id: str, moment: datetime) -> int:
    """The version a stream had at a time (0 if it did not exist yet)."""
    position = reg.store.position_at(moment)
    versions = [
        e.version
        for e in reg.store.read_stream(subject.kind.stream_type, stream_id)
        if e.position <= position
    ]
    return max(versions, default=0)


def feed_event(event: RecordedEvent) -> dict[str, Any]:
    """An event as the feed serves it (and a webhook delivers it)."""
    return _told(event)


def _told(event: RecordedEvent) -> dict[str, Any]:
    """An event of the audit feed, with its door, writer and what it did in words (and a
    metric's id then: its stream's id is its identity, which a rename keeps)."""
    told = {**asdict(event), **provenance(event.event_type, event.payload, event.source)}
    if event.stream_type == METRIC.kind.stream_type:
        told["metric_id"] = row_id(event.stream_id, event.payload)
    return told


def event_page(reg: Registry, after: int, limit: int, **filters: Any) -> dict[str, Any]:
    """Events after a position, in log order; follow `next_after` to read on without gaps.

    The head is read first, so events appended meanwhile wait for the next page.
    """
    head = reg.store.head().position
    if not sight.limited(reg):
        found = reg.store.read(after, head, limit, **filters)
        next_after = found[-1].position if len(found) == limit else max(head, after)
        return {"events": [_told(e) for e in found], "next_after": next_after, "head": head}
    # Only what the caller may see: read on until the page is full or the head is reached.
    shown: list[RecordedEvent] = []
    scanned = after
    while len(shown) < limit and scanned < head:
        batch = reg.store.read(scanned, head, max(limit, 200), **filters)
        if not batch:
            scanned = head
            break
        for event in sight.visible_events(reg, batch):
            if len(shown) == limit:
                break
            shown.append(event)
        scanned = shown[-1].position if len(shown) == limit else batch[-1].position
    next_after = scanned if len(shown) == limit else max(head, after)
    return {"events": [_told(e) for e in shown], "next_after": next_after, "head": head}


def recent_events(
    reg: Registry, before: int | None, limit: int | None, **filters: Any
) -> dict[str, Any]:
    """The newest events (before a position, if given) first; `next_before` pages back to
    older ones and is None when there are none (with `limit` None: every event)."""
    head = reg.store.head().position
    until = head if before is None else min(before - 1, head)
    limited = sight.limited(reg)
    found = reg.store.read(
        0,
        until,
        None if limit is None or limited else limit + 1,
        **filters,
        newest_first=True,
    )
    if limited:  # only what the caller may see (pages made after the filter)
        found = sight.visible_events(reg, found)
    more = limit is not None and len(found) > limit
    shown = found[:limit] if limit is not None else found
    return {
        "events": [_told(e) for e in shown],
        "next_before": shown[-1].position if more else None,
        "head": head,
    }


def verify_log(reg: Registry, anchor: str | None = None) -> dict[str, Any]:
    """Verify the hash chain (against a `POSITION:HASH` anchor if given) as plain data."""
    try:
        kept = Anchor.parse(anchor) if anchor else None
    except ValueError as exc:
        raise InvalidDefinitionError([Issue("anchor", str(exc))]) from exc
    report = reg.store.verify(kept)
    return {**report.as_dict(), "log_ok": report.ok or report.anchor_only}
