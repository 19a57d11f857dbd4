"""`da metrics ...`: every metric command, each one call to the backend and one rendering."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.backend import Backend, Source, Write, backend_for
from cli.governance import opened
from cli.output import (
    AnalyticsDb,
    EffectiveFrom,
    ExpectedVersion,
    IdempotencyKey,
    Reason,
    emit,
    emit_csv,
    emit_json,
    fields,
    is_terminal,
    table,
    time_option,
    unified_diff,
)
from projections import METRIC_TABLE
from registry.errors import InvalidDefinitionError, Issue, RegistryError

app = typer.Typer(help="Read and change metric definitions.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Stable JSON for scripts and AI agents.")]
AsOf = Annotated[datetime | None, time_option("--as-of", "As the registry was at this time.")]
At = Annotated[
    int | None, typer.Option("--at", min=0, help="As the registry was after this log position.")
]
ValidAt = Annotated[
    datetime | None,
    time_option("--valid-at", "The definitions in force at this business date (V)."),
]
MetricArg = Annotated[str, typer.Argument(help="The metric id, category/name.")]
SHOW_ORDER = [c for c in METRIC_TABLE.column_names] + ["version"]


def backend(ctx: typer.Context) -> Backend:
    return backend_for(ctx.obj)


@contextmanager
def progress_bar(message: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal, fed (done, total) by the registry; nothing when piped."""
    if not is_terminal():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(message, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def certified(metric: dict[str, Any]) -> str | None:
    """A metric's certification in words: `v3 by boss at ...: note`, or that it lapsed."""
    found = metric.get("certification")
    if not found:
        return None
    given = f"v{found['version']} by {found['by']} at {found['at']}: {found['note']}"
    if found["state"] == "certified":
        return given
    return f"lapsed (given for {given}; the metric has changed since)"


def show_metric(metric: dict[str, Any], as_json: bool) -> None:
    """A metric's answer; or, when the write became a proposal, what it proposed."""
    if as_json:
        emit_json(metric)
    elif metric.get("status") == "proposed":
        opened(metric)
    else:
        shown = {**metric, "certification": certified(metric)}
        order = [*SHOW_ORDER, "certification", "event_type", "actor", "reason", "recorded_at"]
        fields(shown, order)


Propose = Annotated[
    bool,
    typer.Option(
        "--propose", help="Propose the change for another admin's approval instead of making it."
    ),
]


@app.command("list")
def list_metrics(
    ctx: typer.Context,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    as_of: AsOf = None,
    at: At = None,
    valid_at: ValidAt = None,
    as_json: Json = False,
) -> None:
    """List live metrics (or as they were at a time or log position; or those in force at a
    business date, as known now or then)."""
    metrics = backend(ctx).metric_list(category, as_of, at, valid_at)["metrics"]
    if as_json:
        emit_json(metrics)
    else:
        rows = [{**m, "certified": _badge(m)} for m in metrics]
        columns = ["id", "display_name", "type", "unit", "table_name", "version"]
        if any(r["certified"] for r in rows):  # a column only where something is certified
            columns.append("certified")
        table(rows, columns, optional=("certified",))


def _badge(metric: dict[str, Any]) -> str | None:
    found = metric.get("certification")
    if not found:
        return None
    return (
        f"v{found['version']}" if found["state"] == "certified" else f"lapsed v{found['version']}"
    )


@app.command("show")
def show(
    ctx: typer.Context,
    metric_id: MetricArg,
    version: Annotated[int | None, typer.Option(min=1, help="That version's definition.")] = None,
    valid_at: ValidAt = None,
    as_of: AsOf = None,
    valid_from: Annotated[
        datetime | None,
        time_option("--valid-from", "With --valid-to: every definition in force in between."),
    ] = None,
    valid_to: Annotated[
        datetime | None, time_option("--valid-to", "The end of that range (not included).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Show a metric's canonical definition: current, at a version, as recorded at a time
    (--as-of), in force at a business date (--valid-at), or through a range of business
    dates, piece by piece (--valid-from A --valid-to B)."""
    if (valid_from is None) != (valid_to is None):
        raise typer.BadParameter("give --valid-from and --valid-to together")
    b = backend(ctx)
    if valid_from is not None and valid_to is not None:
        if version is not None or valid_at is not None:
            raise typer.BadParameter("a range takes neither --version nor --valid-at")
        show_periods(b.metric_periods(metric_id, valid_from, valid_to, as_of), as_json)
        return
    if version is not None and (valid_at is not None or as_of is not None):
        raise typer.BadParameter("--version takes neither --valid-at nor --as-of")
    found = b.metric(metric_id, version, as_of, valid_at)
    if found.get("id") not in (None, metric_id):  # an old id: said beside the answer
        typer.echo(f"{metric_id} was renamed to {found['id']}", err=True)
    show_metric(found, as_json)


def show_periods(answer: dict[str, Any], as_json: bool) -> None:
    """A metric through a business-time range: each stretch, and the version in force."""
    if as_json:
        emit_json(answer)
        return
    emit(f"{answer['id']} from {answer['valid_from']} to {answer['valid_to']}")
    for period in answer["periods"]:
        span = f"{_day(period['valid_from'])} -> {_day(period['valid_to'])}"
        if period["definition"] is None:
            emit(f"  {span}  not in force")
            continue
        emit(f"  {span}  v{period['version']} (effective from {_day(period['effective_from'])})")
        emit(f"      sql: {' '.join(period['definition']['sql'].split())}")


def _day(moment: str | None) -> str:
    """A time as a terminal shows it: the date alone at midnight, else to the minute."""
    if moment is None:
        return "..."
    day, _, clock = moment.partition("T")
    return day if clock in ("", "00:00:00") else f"{day} {clock[:5]}"


@app.command("timeline")
def timeline(ctx: typer.Context, metric_id: MetricArg, as_json: Json = False) -> None:
    """A metric's versions on both time axes: when each was recorded, from when it is in
    force, and what it governs as known now."""
    answer = backend(ctx).metric_timeline(metric_id)
    if as_json:
        emit_json(answer)
        return
    emit(f"{answer['id']}: recorded (system time) and in force (business time)")
    emit(f"{'ver':>4}  {'recorded':16}  {'in force from':16}  {'until':16}  status")
    for entry in answer["versions"]:
        spans = entry["in_force"] or [{"from": entry["effective_from"], "to": None}]
        for i, span in enumerate(spans):
            recorded = _day(entry["recorded_at"]) if i == 0 else ""
            version = f"v{entry['version']}" if i == 0 else ""
            until = _day(span["to"]) if span["to"] else ("open" if entry["in_force"] else "")
            status = entry["status"] if i == 0 else ""
            emit(f"{version:>4}  {recorded:16}  {_day(span['from']):16}  {until:16}  {status}")


@app.command("search")
def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help='Plain words, e.g. "revenue per month".')],
    as_json: Json = False,
) -> None:
    """Find the metric you mean from plain words, best match first, with why it matched."""
    found = backend(ctx).metric_search(text)["metrics"]
    if as_json:
        emit_json(found)
    elif found:
        rows = [{**m, "certified": _badge(m)} for m in found]
        columns = ["id", "display_name", "unit", "matched"]
        if any(r["certified"] for r in rows):
            columns.insert(3, "certified")
        table(rows, columns, optional=("certified",))
    else:
        emit("no metric matches: say so rather than computing one of your own")


def read_definition(path: Path) -> dict[str, Any]:
    """One metric from a YAML file (category defaulting to its folder), checked as an import
    checks files: every problem as `file:line: field: message`."""
    from registry.interchange.yaml_io import read_file

    metrics, issues = read_file(path, writer="manual", label=None)
    if issues:
        raise InvalidDefinitionError(issues)
    if len(metrics) != 1:
        raise InvalidDefinitionError([Issue(str(path), "must hold one metric (a mapping)")])
    return metrics[0].definition


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Option(
            "-f", "--file", exists=True, dir_okay=False, help="A YAML file holding one metric."
        ),
    ],
    reason: Reason = None,
    effective_from: EffectiveFrom = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    propose: Propose = False,
    as_json: Json = False,
) -> None:
    """Create a metric from a YAML file (or replace the definition of an existing id)."""
    write = Write(reason, expected_version, idempotency_key, effective_from)
    definition = read_definition(file)
    b = backend(ctx)
    if propose:
        show_metric(b.propose("create", None, definition, None, write), as_json)
    else:
        show_metric(b.create_metric(definition, write), as_json)


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """`field=value` pairs; a value in [..] or {..} is read as YAML (lists, mappings)."""
    import yaml

    from registry.interchange.loading import load_yaml
    from registry.interchange.yaml_io import from_yaml_keys

    parsed: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r} is not field=value", param_hint="--set")
        if value.startswith(("[", "{")):
            try:
                parsed[name] = load_yaml(value)
            except yaml.YAMLError as exc:
                raise typer.BadParameter(f"{name}: {exc}", param_hint="--set") from exc
        else:
            parsed[name] = None if value == "" else value
    return from_yaml_keys(parsed)


@app.command("update")
def update(
    ctx: typer.Context,
    metric_id: MetricArg,
    set_: Annotated[
        list[str],
        typer.Option("--set", help="field=value; lists as [a, b]. Repeat for more fields."),
    ],
    reason: Reason = None,
    effective_from: EffectiveFrom = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    propose: Propose = False,
    as_json: Json = False,
) -> None:
    """Change named fields of a metric."""
    write = Write(reason, expected_version, idempotency_key, effective_from)
    changes = parse_settings(set_)
    b = backend(ctx)
    if propose:
        show_metric(b.propose("update", metric_id, changes, None, write), as_json)
    else:
        show_metric(b.update_metric(metric_id, changes, write), as_json)


@app.command("delete")
def delete(
    ctx: typer.Context,
    metric_id: MetricArg,
    reason: Reason = None,
    effective_from: EffectiveFrom = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    propose: Propose = False,
    as_json: Json = False,
) -> None:
    """Delete a metric (a tombstone: its history stays readable, and it can be restored)."""
    write = Write(reason, expected_version, idempotency_key, effective_from)
    b = backend(ctx)
    result = (
        b.propose("delete", metric_id, {}, None, write)
        if propose
        else b.delete_metric(metric_id, write)
    )
    if as_json:
        emit_json(result)
    elif result.get("status") == "proposed":
        opened(result)
    else:
        emit(f"deleted {result['id']} (version {result['version']})")


@app.command("restore")
def restore(
    ctx: typer.Context,
    metric_id: MetricArg,
    reason: Reason = None,
    effective_from: EffectiveFrom = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    propose: Propose = False,
    as_json: Json = False,
) -> None:
    """Restore a deleted metric as it was."""
    write = Write(reason, expected_version, idempotency_key, effective_from)
    b = backend(ctx)
    if propose:
        show_metric(b.propose("restore", metric_id, {}, None, write), as_json)
    else:
        show_metric(b.restore_metric(metric_id, write), as_json)


def _run_editor(path: Path) -> None:
    """Open a file in the user's $VISUAL or $EDITOR and wait for it to close."""
    import os
    import shlex
    import subprocess

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise RegistryError("set $EDITOR (or $VISUAL) to the editor to open: nothing written")
    done = subprocess.run([*shlex.split(editor), str(path)], check=False)  # noqa: S603
    if done.returncode != 0:
        raise RegistryError(f"the editor exited with {done.returncode}: nothing written")


@app.command("edit")
def edit(
    ctx: typer.Context,
    metric_id: MetricArg,
    reason: Annotated[str, typer.Option("--reason", help="Why: recorded in the history.")],
    idempotency_key: IdempotencyKey = None,
    as_json: Json = False,
) -> None:
    """Open a metric's YAML in $EDITOR, then write what you changed (refused if the metric
    changed meanwhile)."""
    import tempfile

    from registry.interchange.exports import edited_fields, metric_yaml

    metric = backend(ctx).metric(metric_id, None)
    backend(ctx).release()  # nobody is locked out while the editor is open
    text = metric_yaml(metric)
    category, _, name = metric_id.partition("/")
    with tempfile.TemporaryDirectory(prefix="da-edit-") as folder:
        path = Path(folder) / category / f"{name}.yml"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        _run_editor(path)
        changes = edited_fields(metric, path)
    if not changes:
        emit(f"no change to {metric_id}: nothing written")
        return
    write = Write(reason, metric["version"], idempotency_key)
    show_metric(backend(ctx).update_metric(metric_id, changes, write), as_json)


@app.command("history")
def history(ctx: typer.Context, metric_id: MetricArg, as_json: Json = False) -> None:
    """Every version of a metric: who changed what, when and why."""
    entries = backend(ctx).metric_history(metric_id)["versions"]
    if as_json:
        emit_json(entries)
    else:
        table(
            entries,
            [
                "version",
                "what",
                "recorded_at",
                "actor",
                "reason",
                "door",
                "writer",
                "source_ref",
                "changed",
                "effective_from",
                "batch_id",
                "approved_by",
            ],
            optional=("source_ref", "effective_from", "batch_id", "approved_by"),
        )


@app.command("diff")
def diff(
    ctx: typer.Context,
    metric_id: MetricArg,
    from_version: Annotated[
        int | None, typer.Argument(min=0, help="Older version (default: the previous one).")
    ] = None,
    to_version: Annotated[
        int | None, typer.Argument(min=1, help="Newer version (default: the current one).")
    ] = None,
    as_of: Annotated[
        list[datetime] | None,
        time_option("--as-of", "Compare the versions at two times instead (give it twice)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Field-level differences between two versions; SQL as a unified diff."""
    times: tuple[datetime | None, datetime | None] = (None, None)
    if as_of:
        if len(as_of) != 2:
            raise typer.BadParameter(
                "give --as-of twice: the older time, then the newer", param_hint="--as-of"
            )
        times = (as_of[0], as_of[1])
    result = backend(ctx).metric_diff(metric_id, (from_version, to_version), times)
    if as_json:
        emit_json(result)
        return
    emit(f"{result['id']}: version {result['from_version']} -> {result['to_version']}")
    for change in result["changes"]:
        if change["field"] != "sql":
            emit(f"  {change['field']}: {change['old']!r} -> {change['new']!r}")
    if result["sql_diff"]:
        unified_diff(result["sql_diff"])
    if not result["changes"]:
        emit("  no differences")


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    metric_id: MetricArg,
    to: Annotated[int, typer.Option("--to", min=1, help="The version to make current again.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: required for a rollback.")],
    effective_from: EffectiveFrom = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    propose: Propose = False,
    as_json: Json = False,
) -> None:
    """Make an earlier version current again, as a new event (nothing is rewritten)."""
    write = Write(reason, expected_version, idempotency_key, effective_from)
    b = backend(ctx)
    if propose:
        show_metric(b.propose("rollback", metric_id, {}, to, write), as_json)
    else:
        show_metric(b.roll_back(metric_id, to, write), as_json)


@app.command("rename")
def rename(
    ctx: typer.Context,
    metric_id: MetricArg,
    new_id: Annotated[str, typer.Argument(help="The new id, category/name.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: required for a rename.")],
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    as_json: Json = False,
) -> None:
    """Give a metric a new id, keeping its whole history: its old id keeps resolving (reads
    answer with the new one; writes are refused naming it)."""
    write = Write(reason, expected_version, idempotency_key)
    answer = backend(ctx).rename_metric(metric_id, new_id, write)
    if as_json:
        emit_json(answer)
    else:
        emit(f"renamed {metric_id} to {answer['id']} (version {answer['version']})")


@app.command("propose")
def propose_change(
    ctx: typer.Context,
    metric_id: MetricArg,
    reason: Annotated[str, typer.Option("--reason", help="Why: the approver reads it.")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="field=value to change; repeat for more fields."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "-f", "--file", exists=True, dir_okay=False, help="Or: the whole definition (YAML)."
        ),
    ] = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
    as_json: Json = False,
) -> None:
    """Propose a change to a metric: applied only when another admin approves it."""
    if bool(set_) == (file is not None):
        raise typer.BadParameter("give --set field=value or -f FILE (one of them)")
    write = Write(reason, expected_version, idempotency_key)
    if file is not None:
        definition = read_definition(file)
        if (
            definition.get("category")
            and f"{definition['category']}/{definition['name']}" != metric_id
        ):
            raise typer.BadParameter(
                f"{file} defines {definition['category']}/{definition['name']}, not {metric_id}"
            )
        answer = backend(ctx).propose("create", None, definition, None, write)
    else:
        answer = backend(ctx).propose("update", metric_id, parse_settings(set_ or []), None, write)
    show_metric(answer, as_json)


@app.command("certify")
def certify(
    ctx: typer.Context,
    metric_id: MetricArg,
    note: Annotated[str, typer.Option("--note", help="What was checked, and by whom.")],
    as_json: Json = False,
) -> None:
    """Certify a metric at its current version (admins); its next change makes it lapse."""
    found = backend(ctx).certify(metric_id, note)
    if as_json:
        emit_json(found)
    else:
        emit(f"certified {metric_id}: {certified({'certification': found})}")


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(exists=True, help="A YAML file, or a folder of <category>/<name>.yml.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only; write nothing.")] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Delete this writer's and label's metrics the source no longer has."
        ),
    ] = False,
    source_ref: Annotated[
        str | None,
        typer.Option("--source-ref", help="A label for this source (e.g. finance, a git sha)."),
    ] = None,
    format_: Annotated[
        str,
        typer.Option(
            "--format",
            help="yaml (the registry's files), dbt (a dbt project, or its"
            " semantic_manifest.json) or ossie (Apache Ossie documents: a file or a folder).",
        ),
    ] = "yaml",
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse the run if anything cannot be imported.")
    ] = False,
    idempotency_key: IdempotencyKey = None,
    effective_from: EffectiveFrom = None,
    as_json: Json = False,
) -> None:
    """Import (reconcile) YAML metric files, or a dbt project's metrics, as one atomic batch."""
    if format_ not in ("yaml", "dbt", "ossie"):
        raise typer.BadParameter(f"{format_!r} is not yaml, dbt or ossie", param_hint="--format")
    source = Source(format_, strict, idempotency_key, effective_from)
    with progress_bar(f"importing {path}") as advance:
        report = backend(ctx).import_path(path, dry_run, prune, source_ref, advance, source)
    if as_json:
        emit_json(report)
    else:
        show_report(report)
    if report["unreadable"]:
        count = len(report["unreadable"])
        raise RegistryError(
            f"{count} file{'s' if count > 1 else ''} could not be read"
            + ("" if report["dry_run"] else " (the readable ones were imported)")
        )


def show_report(report: dict[str, Any]) -> None:
    waiting = " (proposed)" if report.get("proposal") else ""
    for key in ("added", "updated", "adopted", "deleted"):
        for metric_id in report[key]:
            emit(f"{key:<9} {metric_id}{waiting}")
    for name, reason in report.get("skipped", {}).items():
        emit(f"not imported {name}: {reason}")
    for path_text in report["unreadable"]:
        for problem in report["problems"].get(path_text, []):
            emit(f"skipped   {problem}")
    if report.get("proposal"):
        opened(report)
    planned = sum(len(report[k]) for k in ("added", "updated", "adopted", "deleted"))
    wrote = f"would write {planned}" if report["dry_run"] else f"wrote {len(report['written'])}"
    if report.get("columns_written"):
        emit(f"described {len(report['columns_written'])} columns")
    emit(f"{len(report['unchanged'])} unchanged; {wrote}; {len(report['unreadable'])} unreadable")


@app.command("export")
def export(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("--dir", help="Target folder (empty, unless --overwrite).")
    ] = Path("metrics-export"),
    as_of: AsOf = None,
    at: At = None,
    valid_at: ValidAt = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Write into a non-empty folder, mirroring the registry."),
    ] = False,
    version: Annotated[
        str | None,
        typer.Option("--metric", help="Print one metric's YAML instead (ID or ID@VERSION)."),
    ] = None,
    format_: Annotated[
        str,
        typer.Option(
            "--format",
            help="yaml (one file a metric), dbt (a dbt Semantic Layer project) or ossie"
            " (Apache Ossie documents, one per category).",
        ),
    ] = "yaml",
    as_json: Json = False,
) -> None:
    """Export metrics as <dir>/<category>/<name>.yml (now, or as of a time or position)."""
    if version is not None:
        from registry.interchange.exports import metric_yaml

        metric_id, at_sign, number = version.partition("@")
        if at_sign and not number.isdigit():
            raise typer.BadParameter(
                f"{version!r} is not ID or ID@VERSION (a version is 1, 2, ...)",
                param_hint="--metric",
            )
        metric = backend(ctx).metric(metric_id, int(number) if at_sign else None)
        emit(metric_yaml(metric).rstrip())
        return
    if format_ not in ("yaml", "dbt", "ossie"):
        raise typer.BadParameter(f"{format_!r} is not yaml, dbt or ossie", param_hint="--format")
    with progress_bar(f"exporting to {directory}") as advance:
        written = backend(ctx).export(directory, as_of, at, overwrite, advance, format_, valid_at)
    if as_json:
        emit_json(written)
    elif format_ in _INTERCHANGE_WORDS:
        files, exported, missing = _INTERCHANGE_WORDS[format_]
        emit(
            f"exported {len(written['files'])} {files} to {directory}:"
            f" {len(written['exported'])} metrics {exported}"
        )
        for metric_id, why in written["not_exported"].items():
            emit(f"{missing}: {metric_id}: {why}")
    else:
        emit(f"exported {len(written)} metrics to {directory}")


# How an interchange export's report is said: what the files are, what the exported metrics
# are, and what a metric that is not one is.
_INTERCHANGE_WORDS = {
    "dbt": (
        "files of a dbt project",
        "as dbt metrics",
        "not a dbt metric (kept as metadata in metrics_registry.yml)",
    ),
    "ossie": (
        "Apache Ossie documents",
        "with an ANSI_SQL expression",
        "no Ossie expression (kept as metadata in its model)",
    ),
}


@app.command("validate")
def validate(
    ctx: typer.Context,
    metric_id: Annotated[str | None, typer.Argument(help="One metric (default: all).")] = None,
    db: AnalyticsDb = None,
    as_json: Json = False,
) -> None:
    """Check metrics against an analytics database (SQL bound, structured fields computed
    beside the SQL); exit 1 on errors."""
    findings = backend(ctx).validation(metric_id, db)["findings"]
    if as_json:
        emit_json(findings)
    elif findings:
        table(findings, ["severity", "metric_id", "field", "message"])
    else:
        emit("all metrics validate clean")
    if any(f["severity"] == "error" for f in findings):
        raise typer.Exit(1)


@app.command("run")
def run(
    ctx: typer.Context,
    metric_id: MetricArg,
    variant: Annotated[
        str | None, typer.Option("--variant", help="Run a variant instead, e.g. by_plan.")
    ] = None,
    db: AnalyticsDb = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many rows.")] = 100,
    valid_at: ValidAt = None,
    as_json: Json = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="The rows as CSV, with a header.")] = False,
) -> None:
    """Run a metric's canonical SQL (or a variant) unchanged, read-only, and show the rows."""
    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv")
    result = backend(ctx).run_metric(metric_id, variant, limit, db, valid_at)
    if as_json:
        emit_json(result)
    elif as_csv:
        emit_csv(result["columns"], result["rows"])
    else:
        table(
            [dict(zip(result["columns"], r, strict=True)) for r in result["rows"]],
            result["columns"],
        )
        more = " (more rows exist: raise --limit)" if result["truncated"] else ""
        emit(f"{result['row_count']} rows from {result['id']} v{result['version']}{more}")


@app.command("table-map")
def table_map(ctx: typer.Context, as_json: Json = False) -> None:
    """Which metrics read which table (table_name and tables)."""
    mapping = backend(ctx).table_map()
    if as_json:
        emit_json(mapping)
    else:
        for name, metrics in mapping.items():
            emit(f"{name}: {', '.join(metrics)}")
