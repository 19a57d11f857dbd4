"""Importing and reconciling YAML metric files (SPEC sections 2 and 2.1).

A run reads and validates every file first, then plans one event per changed metric against
the registry's current state and appends them as one atomic batch (one `batch_id`, the
writer as `source`, the label as `source_ref`). Unchanged metrics append nothing, so
importing the same files twice leaves the log as it was.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from events import utc_now
from registry import identity, proposals, replies
from registry.commands import WriteContext, apply_plans, current_states, run_atomically
from registry.errors import ConflictError, Issue, RefusedError
from registry.interchange.parse_cache import ParseCache
from registry.interchange.yaml_io import Progress, SourceMetric, YamlSource, read_source
from registry.models import ColumnMetadata, build_issues
from registry.plans import Current, Plan, changed_fields, plan_dated, plan_delete, plan_upsert
from registry.queries import owned_metric_ids
from registry.subjects import COLUMN, METRIC
from storage.session import Registry

YAML_IMPORT = "yaml_import"


@dataclass
class ReconcileReport:
    """What a run found and did, per metric id; `unreadable` lists files with their reasons."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # Metrics whose file names a known identity under a new id: "old -> new" (recorded as a
    # rename, its history kept; also listed as added, updated or unchanged by content).
    renamed: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    # Each unreadable file's issues (as text in `as_dict`, the report every door shows).
    problems: dict[str, list[Issue]] = field(default_factory=dict)
    dry_run: bool = False
    batch_id: str | None = None
    # Metrics of the source the registry cannot express faithfully, with why (dbt, Ossie).
    skipped: dict[str, str] = field(default_factory=dict)
    # Column metadata an Ossie import described (table:column), written in the same batch.
    columns_written: list[str] = field(default_factory=list)
    # The one proposal the run became, when approval is required (or was asked for): its
    # approval writes the whole batch at once.
    proposal: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        found = {k: v for k, v in vars(self).items() if k != "problems"}
        problems = {path: [str(i) for i in issues] for path, issues in self.problems.items()}
        return {**asdict(ReconcileReport(**found)), "problems": problems}

    @property
    def imported(self) -> int:
        """How many metrics of the source the registry now holds as the source says."""
        return len(self.added) + len(self.updated) + len(self.adopted) + len(self.unchanged)


@dataclass(frozen=True)
class ImportOptions:
    """Who imports, as which writer and label, and what the run may do."""

    actor: str
    door: str = "python"  # which door the run came through (registry.commands.DOORS)
    writer: str = YAML_IMPORT
    label: str | None = None
    reason: str | None = None
    prune: bool = False
    dry_run: bool = False
    idempotency_key: str | None = None  # a retried run with this key gets the first report
    format: str = "yaml"  # or "dbt" (a dbt project), or "ossie" (Apache Ossie documents)
    strict: bool = False  # refuse the run if anything of the source cannot be imported
    shown_root: Path | None = None  # messages name files relative to it (an upload's folder)
    shown_whole: str | None = None  # how messages name the whole source (default: the root's name)
    propose: bool = False  # ask for one proposal of the whole run instead of writing it
    effective_from: datetime | None = None  # every change in force from then (a file may say)


def _refuse_prune(path: Path, source: YamlSource, options: ImportOptions) -> None:
    root = options.shown_root
    shown = options.shown_whole if options.shown_whole and path == root else _shown(path, root)
    if path.is_file():
        raise RefusedError(
            f"prune refused: {shown} is a single file; prune needs the whole directory "
            "so that a metric missing from it really was removed. Nothing was written."
        )
    if source.unreadable:
        names = ", ".join(_relative(u.path, root or path) for u in source.unreadable)
        count = len(source.unreadable)
        raise RefusedError(
            f"prune refused: {count} file{'s' if count > 1 else ''} could not be read ({names});"
            " fix them or import without prune. Nothing was written."
        )
    if not source.metrics:
        raise RefusedError(f"prune refused: {shown} holds no metrics. Nothing was written.")


def _shown(path: Path, root: Path | None) -> str:
    """How a message names the import's path: relative to the shown root, if there is one."""
    if root is None:
        return str(path)
    return root.name if path == root else _relative(path, root)


def _relative(file: Path, root: Path) -> str:
    """A file's path relative to the import root, as the user named the root."""
    return file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)


def _request_digest(source: YamlSource, options: ImportOptions) -> str:
    """What a run asks for: the metrics it read, the files it could not, and its options."""
    return replies.request_digest(
        {
            "metrics": sorted((m.id, m.definition) for m in source.metrics),
            "unreadable": sorted(str(u) for u in source.unreadable),
            "writer": options.writer,
            "label": options.label,
            "prune": options.prune,
        }
    )


_ID_FIELDS = {"category", "name", "display_name"}


def _identities(
    reg: Registry, metrics: list[SourceMetric]
) -> tuple[dict[str, str], dict[str, str]]:
    """Each source metric's stream, and the metrics a file renames (`{new id: old id}`).

    A file's `identity` the registry holds under another id now renames that metric to the
    file's id (refused, naming both, if that id is, or was, another metric's); an unknown
    identity is a new metric's. A file without one is named by its id (an old id of a
    renamed metric is refused, naming the new one)."""
    streams: dict[str, str] = {}
    renames: dict[str, str] = {}
    for metric in metrics:
        known = metric.identity and identity.current_id(reg, metric.identity)
        if not known or known == metric.id:
            streams[metric.id] = identity.for_write(reg, metric.id).identity
            continue
        taken = identity.resolve(reg, metric.id)
        if taken.identity != metric.identity and (
            taken.renamed or reg.store.stream_tip(METRIC.kind.stream_type, taken.identity)
        ):
            raise ConflictError(
                f"{metric.path}: renames {known} to {metric.id}, which is another metric's id"
                " (or was): nothing was written"
            )
        streams[metric.id] = str(metric.identity)
        renames[metric.id] = known
    return streams, renames


def _plan_rename(
    current: Current | None,
    desired: dict[str, Any],
    old_id: str,
    new_id: str,
    dated: datetime | None,
) -> Plan | None:
    """A rename to the file's id, with the file's definition in the same event."""
    if dated is not None:
        raise RefusedError(f"{new_id}: a rename takes effect when it is recorded (no date)")
    if current is None or current.deleted:
        raise ConflictError(f"{new_id}: renames {old_id}, which is deleted; restore it first")
    changed = changed_fields(current.definition, desired)
    extra = {"renamed_from": old_id, "renamed_to": new_id}
    return Plan("Renamed", desired, changed, extra)


def _status(current: Current | None, desired: dict[str, Any], plan: Plan | None) -> str:
    if current is None or current.deleted:
        return "added"
    if plan is None:
        return "unchanged"
    owner = (current.definition.get("source"), current.definition.get("source_ref"))
    if owner != (desired.get("source"), desired.get("source_ref")):
        return "adopted"
    return "updated"


def _column_plans(
    reg: Registry, columns: list[dict[str, Any]], report: ReconcileReport
) -> tuple[list[tuple[str, Plan]], dict[str, int]]:
    """Plans for the column metadata an import describes (unchanged ones plan nothing); an
    invalid one is reported under `skipped`."""
    if not columns:
        return [], {}
    wanted = {}
    for column in columns:
        built = build_issues(ColumnMetadata, column)
        if isinstance(built, list):
            shown = f"column {column.get('table_id')}:{column.get('column_name')}"
            report.skipped[shown] = "; ".join(str(i) for i in built)
        else:
            wanted[COLUMN.stream_id(built)] = built.to_definition()
    currents = current_states(reg, COLUMN, list(wanted))
    plans = [(sid, p) for sid, d in wanted.items() if (p := plan_upsert(d)(currents.get(sid)))]
    return plans, {sid: c.version for sid, c in currents.items()}


def reconcile(
    reg: Registry, path: Path, options: ImportOptions, progress: Progress | None = None
) -> ReconcileReport:
    """Bring the registry in line with a YAML file or directory; all or nothing.

    Without prune this is a plain import: unreadable files are skipped and reported. With
    prune, metrics of this writer and label that the source no longer holds are deleted, and
    the run is refused (RefusedError, nothing written) for a single file, an empty source or
    any unreadable file.
    """
    skipped: dict[str, str] = {}
    columns: list[dict[str, Any]] = []
    if options.format == "dbt":
        from registry.interchange.dbt import DBT_IMPORT, read_dbt_source

        source, skipped, label = read_dbt_source(path, options.label)
        options = replace(options, writer=DBT_IMPORT, label=label)
    elif options.format == "ossie":
        from registry.interchange.ossie import OSSIE_IMPORT, read_ossie_source

        found = read_ossie_source(path)
        source, skipped, columns = found.metrics, found.skipped, found.columns
        options = replace(options, writer=OSSIE_IMPORT)  # no label unless one is given
    else:
        source = read_source(path, options.writer, options.label, ParseCache(reg.conn), progress)
    if options.strict and (skipped or source.unreadable):
        left = [
            *skipped,
            *(_relative(u.path, options.shown_root or path) for u in source.unreadable),
        ]
        raise RefusedError(
            f"strict import refused: {len(left)} of the source cannot be imported"
            f" ({', '.join(left)}). Nothing was written."
        )
    if options.prune:
        _refuse_prune(path, source, options)
    batch_id = f"import-{uuid.uuid4()}"
    ctx = WriteContext(
        actor=options.actor,
        door=options.door,
        reason=options.reason,
        batch_id=batch_id,
        source=options.writer,
        source_ref=options.label,
        idempotency_key=options.idempotency_key,
    )
    key = None if options.dry_run else options.idempotency_key
    digest = _request_digest(source, options) if key is not None else ""

    def work() -> ReconcileReport:
        if key is not None and (first := replies.recall(reg.conn, key, digest)) is not None:
            return ReconcileReport(**first)
        report = ReconcileReport(dry_run=options.dry_run, batch_id=batch_id, skipped=skipped)
        for unreadable in source.unreadable:
            report.unreadable.append(str(unreadable.path))
            report.problems[str(unreadable.path)] = list(unreadable.issues)
        wanted = {m.id: m.definition for m in source.metrics}
        dates = {
            m.id: datetime.fromisoformat(m.effective_from) if m.effective_from else None
            for m in source.metrics
        }
        # Each metric's identity (its stream): the file's `identity` if the registry knows
        # it (a new id for it is a rename), else what its id names (never an old id).
        streams, renames = _identities(reg, source.metrics)
        currents = current_states(reg, METRIC, list(streams.values()))
        plans: list[tuple[str, Plan]] = []
        for metric_id, desired in wanted.items():
            stream = streams[metric_id]
            current = currents.get(stream)
            dated = dates.get(metric_id) or options.effective_from
            if metric_id in renames:
                plan = _plan_rename(current, desired, renames[metric_id], metric_id, dated)
                report.renamed.append(f"{renames[metric_id]} -> {metric_id}")
            elif dated is None:
                plan = plan_upsert(desired)(current)
            else:  # based on what was in force at its date; scheduled unless in force now
                events = reg.store.read_stream(METRIC.kind.stream_type, stream)
                plan = plan_dated(METRIC.kind, events, plan_upsert(desired), dated, utc_now())
            status = _status(current, desired, plan)
            if metric_id in renames and plan is not None and set(plan.changed) <= _ID_FIELDS:
                status = "unchanged"  # only its id moved
            getattr(report, status).append(metric_id)
            if plan is not None:
                if stream != metric_id:  # a renamed metric's events carry its id now
                    plan = replace(plan, extra={**plan.extra, "id": metric_id})
                plans.append((stream, plan))
        if options.prune:
            kept = set(streams.values())
            owned = set(owned_metric_ids(reg, options.writer, options.label)) - set(wanted)
            gone = {m: identity.resolve(reg, m).identity for m in sorted(owned)}
            gone = {m: s for m, s in gone.items() if s not in kept}  # renamed, not removed
            states = current_states(reg, METRIC, list(gone.values()))
            for metric_id, stream in gone.items():
                plan = plan_delete(METRIC, metric_id)(states.get(stream))
                if plan is not None and stream != metric_id:
                    plan = replace(plan, extra={**plan.extra, "id": metric_id})
                if plan is not None:
                    plans.append((stream, plan))
                    report.deleted.append(metric_id)
            currents.update(states)
        column_plans = _column_plans(reg, columns, report)
        versions = {sid: c.version for sid, c in currents.items()}
        column_ids = [sid for sid, _ in column_plans[0]]
        required = proposals.approval_required(reg, METRIC, wanted) or proposals.approval_required(
            reg, COLUMN, column_ids
        )
        if options.dry_run:
            pass  # planned and reported, nothing written
        elif (options.propose or required) and (plans or column_ids):
            if any(p.extra.get("effective_from") for _, p in plans):
                raise RefusedError(
                    "effective_from: an import that goes through a proposal cannot carry a"
                    " date yet. Nothing was written."
                )
            changes = [proposals.change(METRIC, s, p, versions.get(s, 0)) for s, p in plans]
            changes += [
                proposals.change(COLUMN, s, p, column_plans[1].get(s, 0))
                for s, p in column_plans[0]
            ]
            shown = replace(ctx, reason=ctx.reason or f"{options.format} import of {path.name}")
            report.proposal = proposals.open_proposal(reg, changes, shown, required)
        else:
            report.written = [r.id for r in apply_plans(reg, METRIC, plans, versions, ctx)]
            report.columns_written = [r.id for r in apply_plans(reg, COLUMN, *column_plans, ctx)]
        if key is not None:
            replies.remember(reg.conn, key, digest, report.as_dict())
        return report

    return run_atomically(reg, work, f"import of {path}")
