"""Pure decisions: from a stream's current state and a request, the one event to append.

Nothing here reads or writes the database; `registry.commands` runs these plans.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events import NewEvent, RecordedEvent
from projections import StreamKind, effective_text, effective_time, in_force, projects, valid_winner
from registry.errors import (
    ConflictError,
    InvalidDefinitionError,
    Issue,
    NotFoundError,
    UnknownFieldError,
)
from registry.models import build
from registry.subjects import Subject


@dataclass(frozen=True)
class Current:
    """What a command needs to know of a stream: its version, definition, and if it is deleted."""

    version: int
    definition: dict[str, Any]
    deleted: bool


@dataclass(frozen=True)
class Plan:
    """The one event a command decided to append."""

    fact: str
    definition: dict[str, Any]
    changed: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)


Planner = Callable[[Current | None], Plan | None]


# -- pure decisions ---------------------------------------------------------------------------


_ABSENT: tuple[Any, ...] = (None, [], {})


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    """Names of the fields whose values differ (lists and mappings compared as values; a
    missing value, NULL and an empty list or mapping all mean "absent")."""
    return tuple(
        k
        for k in new
        if old.get(k) != new.get(k) and not (old.get(k) in _ABSENT and new.get(k) in _ABSENT)
    )


def plan_upsert(definition: dict[str, Any]) -> Planner:
    """Create the stream (or re-create a deleted one), or update it to this definition."""

    def plan(state: Current | None) -> Plan | None:
        if state is None or state.deleted:
            filled = tuple(k for k, v in definition.items() if v not in (None, [], {}))
            return Plan("Created", definition, filled)
        changed = changed_fields(state.definition, definition)
        return Plan("Updated", definition, changed) if changed else None

    return plan


def _live(subject: Subject, stream_id: str, state: Current | None) -> Current:
    if state is None or state.deleted:
        raise NotFoundError(f"{subject.label} {stream_id!r} does not exist")
    return state


def plan_update(subject: Subject, stream_id: str, fields: dict[str, Any]) -> Planner:
    """Change named fields of a live definition."""
    unknown = sorted(set(fields) - set(subject.fields))
    if unknown:
        raise UnknownFieldError(unknown, list(subject.fields))
    fixed = subject.id_fields(stream_id)
    moved = [
        Issue(f, "is part of the id and cannot change")
        for f in subject.fixed
        if f in fields and fields[f] != fixed[f]
    ]
    if moved:
        raise InvalidDefinitionError(moved, stream_id)

    def plan(state: Current | None) -> Plan | None:
        live = _live(subject, stream_id, state)
        merged = build(subject.model, {**live.definition, **fields}, stream_id).to_definition()
        changed = changed_fields(live.definition, merged)
        return Plan("Updated", merged, changed) if changed else None

    return plan


def plan_delete(subject: Subject, stream_id: str) -> Planner:
    """Tombstone a live definition; the tombstone keeps what it removed."""

    def plan(state: Current | None) -> Plan | None:
        live = _live(subject, stream_id, state)
        return Plan("Deleted", live.definition, ())

    return plan


def plan_restore(subject: Subject, stream_id: str) -> Planner:
    """Bring back a deleted definition as it was when deleted."""

    def plan(state: Current | None) -> Plan | None:
        if state is None:
            raise NotFoundError(f"{subject.label} {stream_id!r} does not exist")
        if not state.deleted:
            raise ConflictError(
                f"{subject.label} {stream_id!r} is not deleted", current_version=state.version
            )
        # The tombstone holds the last live definition: a restore changes no field of it.
        return Plan("Restored", state.definition, ())

    return plan


def plan_rename(subject: Subject, old_id: str, new_id: str) -> Planner:
    """Give a live metric a new id (`category/name`), keeping its whole history."""
    category, _, name = new_id.partition("/")

    def plan(state: Current | None) -> Plan | None:
        live = _live(subject, old_id, state)
        definition = {**live.definition, "category": category, "name": name}
        if live.definition.get("display_name") == live.definition.get("name"):
            definition["display_name"] = name  # a display name that was the name follows it
        renamed = build(subject.model, definition, new_id).to_definition()
        changed = changed_fields(live.definition, renamed)
        extra = {"id": new_id, "renamed_from": old_id, "renamed_to": new_id}
        return Plan("Renamed", renamed, changed, extra)

    return plan


def keeping_id(planner: Planner, metric_id: str) -> Planner:
    """A planner whose definition keeps a metric's id now (a rollback to a version from before
    a rename brings back that version's fields, under the name the metric has now)."""
    category, _, name = metric_id.partition("/")

    def plan(state: Current | None) -> Plan | None:
        found = planner(state)
        if found is None or (found.definition.get("category"), found.definition.get("name")) == (
            category,
            name,
        ):
            return found
        definition = {**found.definition, "category": category, "name": name}
        old = {} if state is None or state.deleted else state.definition
        changed = changed_fields(old, definition)
        if not changed and state is not None and not state.deleted:
            return None
        return Plan(found.fact, definition, changed, found.extra)

    return plan


def plan_rollback(
    subject: Subject, stream_id: str, target: RecordedEvent | None, to_version: int
) -> Planner:
    """Make version `to_version`'s definition current again (restoring a deleted stream too)."""

    def plan(state: Current | None) -> Plan | None:
        if state is None:
            raise NotFoundError(f"{subject.label} {stream_id!r} does not exist")
        if target is None:
            raise NotFoundError(
                f"{subject.label} {stream_id!r} has no version {to_version} "
                f"(its versions are 1 to {state.version})"
            )
        if target.event_type == subject.kind.tombstone:
            raise InvalidDefinitionError(
                [
                    Issue(
                        "to_version",
                        f"version {to_version} is a deletion; roll back to a "
                        "version that holds a definition",
                    )
                ],
                stream_id,
            )
        definition = dict(target.payload["definition"])
        old = {} if state.deleted else state.definition
        changed = changed_fields(old, definition)
        if not changed and not state.deleted:
            return None
        return Plan("RolledBack", definition, changed, {"to_version": to_version})

    return plan


# -- dated writes: two time axes (see projections.fold and registry.validity) ----------------


ACTOR = "registry"  # who brings a scheduled change in: nobody decides it then


# -- deciding a dated write -------------------------------------------------------------------


def current_at(kind: StreamKind, events: Sequence[RecordedEvent], at: datetime) -> Current | None:
    """What a write from business time `at` is based on: the state in force then as known
    now (None if the stream has no events; deleted if nothing was in force then)."""
    if not events:
        return None
    winner = valid_winner(kind, events, at)
    if winner is None:
        return Current(events[-1].version, {}, deleted=True)
    definition = dict(winner.payload.get("definition") or {})  # a deletion keeps what it removed
    return Current(events[-1].version, definition, kind.removes(winner.event_type, winner.payload))


def plan_dated(
    kind: StreamKind,
    events: Sequence[RecordedEvent],
    planner: Planner,
    effective_from: datetime | None,
    now: datetime,
) -> Plan | None:
    """A write's plan when time matters: based on the state in force at its date, and
    scheduled unless it is in force when recorded."""
    try:
        plan = planner(current_at(kind, events, effective_from or now))
    except NotFoundError as exc:
        first = min(
            (effective_time(e.payload, e.recorded_at) for e in events if projects(kind, e)),
            default=None,
        )
        if effective_from is None or first is None or effective_from >= first:
            raise
        raise NotFoundError(
            f"{exc}: nothing was in force at {effective_text(effective_from)}"
            f" (the first version is in force from {effective_text(first)}); to say what"
            " was in force before, create it with that date"
        ) from exc
    if plan is None or effective_from is None:
        return plan
    extra = {**plan.extra, "effective_from": effective_text(effective_from)}
    shown = in_force(kind, events)
    later = shown is not None and effective_from < effective_time(shown.payload, shown.recorded_at)
    if effective_from <= now and not later:
        return Plan(plan.fact, plan.definition, plan.changed, extra)
    extra["change"] = plan.fact
    if plan.fact == "Deleted":
        extra["deleted"] = True
    return Plan("Scheduled", plan.definition, plan.changed, extra)


def took_effect(
    kind: StreamKind, events: Sequence[RecordedEvent], now: datetime, door: str
) -> NewEvent | None:
    """The TookEffect event a stream needs at `now` (None if the v4 row already shows the
    change in force then)."""
    if not events:
        return None
    winner = valid_winner(kind, events, now)
    shown = in_force(kind, events)
    if winner is None or (shown is not None and shown.position == winner.position):
        return None
    removes = kind.removes(winner.event_type, winner.payload)
    shown_gone = shown is None or kind.removes(shown.event_type, shown.payload)
    if removes and shown_gone:
        return None
    before = {} if shown is None or shown_gone else dict(shown.payload.get("definition") or {})
    definition = dict(winner.payload.get("definition") or {})
    named = events[-1].payload.get("id")  # a renamed metric's id now (registry.identity)
    if isinstance(named, str) and "/" in named:
        category, _, name = named.partition("/")
        definition.update(category=category, name=name)
    effective = effective_time(winner.payload, winner.recorded_at)
    payload: dict[str, Any] = {
        "definition": definition,
        "changed": [] if removes else list(changed_fields(before, definition)),
        **({"id": named} if isinstance(named, str) else {}),
        "of_version": winner.version,
        "effective_from": effective_text(effective),
        "door": door,
    }
    if removes:
        payload["deleted"] = True
    return NewEvent(
        stream_type=kind.stream_type,
        stream_id=events[-1].stream_id,
        event_type=kind.took_effect,
        event_schema=kind.payload_schema,
        payload=payload,
        actor=ACTOR,
        reason=f"v{winner.version} is in force from {effective_text(effective)}",
        source=winner.source,
    )
