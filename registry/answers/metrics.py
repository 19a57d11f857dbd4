"""Answers about metrics: reading them, writing them, importing them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registry import identity, queries, sight, validity
from registry.errors import InvalidDefinitionError, Issue, NotFoundError
from registry.shape import json_object, jsonable, utc_text
from registry.subjects import METRIC
from storage.session import Registry

MAX_SEARCH_LIMIT = 100  # the most results one question gets, at every door

if TYPE_CHECKING:  # commands load pydantic: writes import them when called
    from registry.commands import WriteContext, WriteResult
    from registry.search import Index


# -- metrics: reading ---------------------------------------------------------------------------


def _not_in_force(metric_id: str, valid_at: datetime, as_of: datetime | None) -> NotFoundError:
    known = "" if as_of is None else f" as recorded at {utc_text(as_of)}"
    return NotFoundError(f"metric {metric_id!r} was not in force at {utc_text(valid_at)}{known}")


def named(reg: Registry, metric_id: str, missing: str | None = None) -> identity.Named:
    """The metric an id names now (an old id resolves to the renamed metric), if the caller
    may see it; NotFoundError worded as `missing` (or "does not exist") if not."""
    found = identity.resolve(reg, metric_id)
    sight.require_metric(reg, found.identity, missing or f"metric {metric_id!r} does not exist")
    return found


def _told(found: identity.Named, answer: dict[str, Any]) -> dict[str, Any]:
    """An answer about a renamed metric asked for by an old id says so (`renamed_from`)."""
    if not found.renamed:
        return answer
    return {**answer, "renamed_from": found.asked, "renamed_to": found.metric_id}


def metric(
    reg: Registry,
    metric_id: str,
    version: int | None = None,
    as_of: datetime | None = None,
    valid_at: datetime | None = None,
) -> dict[str, Any]:
    """A metric's current definition with its version (or the definition at a version, or
    as it stood at a time; or the one in force at business time `valid_at`, as known now
    or at `as_of`). Raises NotFoundError when there is no such metric (then), or the
    caller may not see it (in the same words)."""
    found_id = identity.resolve(reg, metric_id)
    stream = found_id.identity
    if not sight.sees_metric(reg, stream):
        if valid_at is not None:
            raise _not_in_force(metric_id, valid_at, as_of)
        if as_of is not None:
            raise NotFoundError(f"metric {metric_id!r} did not exist at {utc_text(as_of)}")
        if version is not None:
            raise NotFoundError(f"metric {metric_id!r} has no version {version}")
        raise NotFoundError(f"metric {metric_id!r} does not exist")
    if valid_at is not None:
        with reg.store.snapshot():
            position = None if as_of is None else reg.store.position_at(as_of)
            found = validity.metric_valid_at(reg, stream, valid_at, position)
        if found is None:
            raise _not_in_force(metric_id, valid_at, as_of)
        return _told(found_id, json_object({**found, "certification": None}))
    if as_of is not None:
        with reg.store.snapshot():
            found = queries.metric_at(reg, stream, reg.store.position_at(as_of))
        if found is None:
            moment = utc_text(as_of)
            raise NotFoundError(f"metric {metric_id!r} did not exist at {moment}")
        # certifications are shown now
        return _told(found_id, json_object({**found, "certification": None}))
    if version is not None:
        return _told(found_id, json_object(queries.get_version(reg, METRIC, stream, version)))
    row, current = queries.metric_with_version(reg, found_id.metric_id, stream)
    return _told(found_id, json_object({**row, "version": current}))


def cached_metric(reg: Registry, metric_id: str) -> dict[str, Any] | None:
    """`metric`'s answer when the server's read cache holds it (no I/O), else None (always
    for a caller who may see only some tables: `metric` decides)."""
    if sight.limited(reg):
        return None
    found = queries.cached_metric_with_version(reg, metric_id)
    return None if found is None else jsonable({**found[0], "version": found[1]})


def _listing(
    rows: list[dict[str, Any]],
    versions: dict[str, int],
    limit: int | None = None,
    certified: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A page of metrics with their versions (and certifications, when read now); `next` is
    the cursor of the next page (the last id shown) while more remain, else None."""
    more = limit is not None and len(rows) > limit
    shown = rows[:limit] if limit is not None else rows
    given = certified or {}
    metrics = [
        {**r, "version": versions.get(r["id"], 0), "certification": given.get(r["id"])}
        for r in shown
    ]
    return {
        "metrics": jsonable(metrics),
        "count": len(metrics),
        "next": shown[-1]["id"] if more else None,
    }


def metric_list(
    reg: Registry,
    category: str | None = None,
    as_of: datetime | None = None,
    at_position: int | None = None,
    after: str | None = None,
    limit: int | None = None,
    valid_at: datetime | None = None,
) -> dict[str, Any]:
    """Live metrics by category and name, each with its version; rows and versions read in
    one snapshot (now), or both as of one log position (a time or a position); with
    `valid_at`, the definitions in force at that business time, each with the version that
    made it. A page of at most `limit` after the cursor `after`; follow `next` for the rest."""
    one_more = None if limit is None else limit + 1
    with reg.store.snapshot():
        position = None
        if as_of is not None or at_position is not None or valid_at is not None:
            position = queries.resolve_position(reg, as_of, at_position)
        rows = queries.list_metrics(
            reg, category, at_position=position, after=after, limit=one_more, valid_at=valid_at
        )
        if valid_at is not None:
            made = {r["id"]: r.pop("version") for r in rows}
            return _listing(rows, made, limit)
        # A page reads the versions of its own metrics only, however many others there are.
        # As of a past position, by the ids then (a metric renamed since had another).
        every = limit is None and position is None
        shown = None if every else [r["id"] for r in rows]
        versions = queries.metric_versions(reg, position, shown)
        certified = None if position is not None else _certified(reg, rows[:limit], versions)
        return _listing(rows, versions, limit, certified)


def _certified(
    reg: Registry, rows: list[dict[str, Any]], versions: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """The certifications of the metrics shown, at their versions now."""
    return queries.certifications(reg, {r["id"]: versions.get(r["id"], 0) for r in rows})


def metric_search(
    reg: Registry,
    text: str,
    limit: int = 20,
    category: str | None = None,
    at_position: int | None = None,
) -> dict[str, Any]:
    """The metrics a plain-words question most likely means, best first, each with its
    version, its score and the words that matched where (`registry.search`); at most `limit`
    (1 to MAX_SEARCH_LIMIT); only those of one category, if given; among the metrics live at
    a log position, if given."""
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise InvalidDefinitionError(
            [Issue("limit", f"{limit} is not between 1 and {MAX_SEARCH_LIMIT}")]
        )
    from registry.search import Index, rank

    def read() -> tuple[Index, dict[str, int]]:
        with reg.store.snapshot():
            rows = queries.list_metrics(reg, at_position=at_position)
            return Index.of(rows), queries.metric_versions(reg, at_position)

    # A server keeps the index of the whole registry between commits (its read cache empties
    # on each): every question is ranked against it without reading the database again.
    # Embedded, the index is kept in the database under the log's head, between calls.
    # (A caller who may see only some tables gets an index of its own metrics, never kept.)
    if reg.cache is not None and at_position is None and not sight.limited(reg):
        index, versions = reg.cache.get(("search",), read)
    elif at_position is None and not sight.limited(reg):
        index, versions = _kept_index(reg, read)
    else:
        index, versions = read()
    # rank reads the rows, never changes them; a category keeps the best of its own
    hits = rank(index, text, limit if category is None else _EVERY)
    chosen = [h for h in hits if category is None or h.metric["category"] == category][:limit]
    certified = (
        {} if at_position is not None else _certified(reg, [h.metric for h in chosen], versions)
    )
    metrics = [
        {
            **_whole(reg, hit.metric),
            "version": versions.get(hit.metric["id"], 0),
            "certification": certified.get(hit.metric["id"]),
            "score": round(hit.score, 3),
            "matched": hit.reason(),
        }
        for hit in chosen
    ]
    return {"metrics": jsonable(metrics), "count": len(metrics)}


_EVERY = 2**31


def _whole(reg: Registry, metric: dict[str, Any]) -> dict[str, Any]:
    """A hit's whole row (an index read back from the database holds ids only)."""
    return metric if "sql" in metric else queries.require_metric(reg, metric["id"])


def _kept_index(
    reg: Registry, read: Callable[[], tuple[Index, dict[str, int]]]
) -> tuple[Index, dict[str, int]]:
    """The index kept in the database for the log's head, or a new one, kept for next time."""
    from events import ConcurrentWriteError, DatabaseUnavailableError, StorageFailedError
    from registry import search_index
    from registry.search import Index

    with reg.store.snapshot():
        head = reg.store.head().position
        data = search_index.kept(reg.conn, head)
        if data is not None:
            return Index.from_data(data), queries.metric_versions(reg, None)
    index, versions = read()
    try:
        with reg.write_lock, reg.store.transaction():
            search_index.keep(reg.conn, head, index.data())
    except (ConcurrentWriteError, StorageFailedError, DatabaseUnavailableError):
        pass  # a cache: the next call builds it again
    return index, versions


def catalog(
    reg: Registry,
    text: str | None = None,
    category: str | None = None,
    as_of: datetime | None = None,
    at_position: int | None = None,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The registry as a reader browses it: a page of live metrics (or a search's best
    matches), each with its version and its last change (who, when, how); now, or as of a
    time or log position (`position` then names it, else None). `next` pages on."""
    with reg.store.snapshot():
        head = reg.store.head()
        past = as_of is not None or at_position is not None
        position = queries.resolve_position(reg, as_of, at_position) if past else None
        categories = queries.categories(reg)
        if not text:
            rows = queries.list_metrics(
                reg, category or None, at_position=position, after=after, limit=limit + 1
            )
            changes = queries.last_changes(reg, METRIC, [r["id"] for r in rows[:limit]], position)
            versions = {k: v["version"] for k, v in changes.items()}
            certified = None if past else _certified(reg, rows[:limit], versions)
            page = _listing(rows, versions, limit, certified)
    if text:
        page = {**metric_search(reg, text, limit, category, position), "next": None}
        changes = queries.last_changes(reg, METRIC, [m["id"] for m in page["metrics"]], position)
    for shown in page["metrics"]:
        shown["last_change"] = jsonable(changes.get(shown["id"]))
    return {
        **page,
        "categories": categories,
        "position": position,
        "head": {"position": head.position, "recorded_at": jsonable(head.recorded_at)},
    }


def metric_record(reg: Registry, metric_id: str) -> dict[str, Any]:
    """Everything known of a metric, deleted or not: its current definition (None once
    deleted), its version, and every version of its history, newest first."""
    found = named(reg, metric_id, f"metric {metric_id!r} has no history")
    metric_id = found.metric_id
    with reg.store.snapshot():
        # NotFoundError if it never existed
        entries = queries.history(reg, METRIC, found.identity)
        current = queries.get_metric(reg, metric_id)
        version = entries[-1].version
        given = queries.certifications(reg, {metric_id: version}).get(metric_id)
    shown = None if current is None else {**current, "version": version, "certification": given}
    return {
        "identity": found.identity,
        "renamed_from": found.asked if found.renamed else None,
        "id": metric_id,
        "metric": None if shown is None else json_object(shown),
        "deleted": current is None,
        "version": version,
        "versions": jsonable([e.as_dict() for e in reversed(entries)]),
    }


def metrics_reading(reg: Registry, table: str) -> dict[str, Any]:
    """Metrics whose `table_name` or `tables` names a table, each with its version."""
    with reg.store.snapshot():
        rows = queries.find_by_table(reg, table)
        versions = queries.metric_versions(reg)
        return _listing(rows, versions, None, _certified(reg, rows, versions))


def table_map(reg: Registry) -> dict[str, list[str]]:
    """`{table: [metric names]}` over `table_name` and `tables` (of the metrics the caller
    may see, which read only tables it may see)."""
    return queries.table_map(reg)


def metric_history(reg: Registry, metric_id: str) -> dict[str, Any]:
    """Every version of a metric: who, when, why, which batch, which fields."""
    found = named(reg, metric_id, f"metric {metric_id!r} has no history")
    entries = queries.history(reg, METRIC, found.identity)
    answer = {"id": found.metric_id, "versions": jsonable([e.as_dict() for e in entries])}
    return _told(found, answer)


def metric_diff(
    reg: Registry,
    metric_id: str,
    from_version: int | None = None,
    to_version: int | None = None,
    from_time: datetime | None = None,
    to_time: datetime | None = None,
) -> dict[str, Any]:
    """Field-level changes between two versions, or the versions in force at two times."""
    found = named(reg, metric_id, f"metric {metric_id!r} has no history")
    stream = found.identity
    if from_time is not None:
        from_version = queries.version_at(reg, METRIC, stream, from_time)
    if to_time is not None:
        to_version = queries.version_at(reg, METRIC, stream, to_time)
    changes = queries.diff(reg, METRIC, stream, from_version, to_version).as_dict()
    return _told(found, json_object({**changes, "id": found.metric_id}))


# -- writes -------------------------------------------------------------------------------------


def written(result: WriteResult) -> dict[str, Any]:
    """A write's answer from what it wrote: the row and its version, or the deletion; or the
    proposal the write became (`status` "proposed")."""
    if result.proposal is not None:
        return {
            "status": "proposed",
            "id": result.id,
            "version": result.version,
            "proposal": json_object(result.proposal),
        }
    if result.row is None:
        return {"status": "deleted", "id": result.id, "version": result.version}
    return json_object({**result.row, "version": result.version})


def create_metric(reg: Registry, fields: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
    """Create a metric (or replace an existing id's definition); its answer."""
    from registry import commands

    return written(commands.create_metric(reg, fields, ctx))


def update_metric(
    reg: Registry, metric_id: str, fields: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """Change named fields of a metric; its answer."""
    from registry import commands

    return written(commands.update_metric(reg, metric_id, fields, ctx))


def delete_metric(reg: Registry, metric_id: str, ctx: WriteContext) -> dict[str, Any]:
    """Delete a metric: `{"status": "deleted", "id", "version"}`."""
    from registry import commands

    return written(commands.delete_metric(reg, metric_id, ctx))


def restore_metric(reg: Registry, metric_id: str, ctx: WriteContext) -> dict[str, Any]:
    """Restore a deleted metric; its answer."""
    from registry import commands

    return written(commands.restore_metric(reg, metric_id, ctx))


def roll_back_metric(
    reg: Registry, metric_id: str, to_version: int, ctx: WriteContext
) -> dict[str, Any]:
    """Make an earlier version current again (a new event); its answer."""
    from registry import commands

    return written(commands.roll_back_metric(reg, metric_id, to_version, ctx))


def rename_metric(reg: Registry, metric_id: str, new_id: str, ctx: WriteContext) -> dict[str, Any]:
    """Give a metric a new id, keeping its history: its answer under the new id, with the
    old one (`renamed_from`)."""
    from registry import commands

    return {
        **written(commands.rename_metric(reg, metric_id, new_id, ctx)),
        "renamed_from": metric_id,
    }


def bring_in_due(reg: Registry, door: str) -> int:
    """Bring in the scheduled changes whose date has come (`registry.schedule`): what an
    embedded door does on opening the registry. One small query when none is due; the
    write path (and pydantic) is loaded only when one is."""
    from events import utc_now

    if not reg.projector.due(utc_now()):
        return 0
    from registry import schedule

    return schedule.bring_in_due(reg, door)


def metric_periods(
    reg: Registry,
    metric_id: str,
    valid_from: datetime,
    valid_to: datetime,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """A metric through a business-time range, piecewise: each definition in force with the
    sub-range it covers (`definition` None where none was), as known now or at `as_of`."""
    asked = named(reg, metric_id)
    with reg.store.snapshot():
        position = None if as_of is None else reg.store.position_at(as_of)
        found = validity.metric_periods(reg, asked.identity, valid_from, valid_to, position)
    return json_object(
        {
            "id": asked.metric_id,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "as_of": as_of,
            "periods": found,
        }
    )


def metric_timeline(reg: Registry, metric_id: str) -> dict[str, Any]:
    """Every version of a metric on both axes: recorded when, in force from when, the
    stretches it governs as known now, and its status (`registry.validity.timeline`)."""
    found = named(reg, metric_id, f"metric {metric_id!r} has no history")
    versions = validity.timeline(reg, METRIC, found.identity)
    return _told(found, json_object({"id": found.metric_id, "versions": versions}))
