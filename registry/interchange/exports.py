"""Exporting the registry (now, or as of a time or log position) as YAML files."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from registry import identity
from registry.errors import RefusedError
from registry.interchange.yaml_io import (
    Progress,
    dump_metric,
    export_paths,
    metric_files,
    write_atomically,
)
from registry.queries import definition_of, list_metrics
from registry.subjects import METRIC
from storage.session import Registry


def export_yaml(
    reg: Registry,
    directory: Path,
    as_of: datetime | None = None,
    at_position: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    valid_at: datetime | None = None,
) -> list[Path]:
    """Write `<dir>/<category>/<name>.yml` for every live metric; returns the files written.

    Refuses a non-empty directory unless `overwrite`; then metric files of metrics no longer
    in the registry are removed, so that the folder mirrors what was exported. Every file is
    written atomically, and no path can leave the directory whatever an id holds.
    """
    if directory.exists() and not directory.is_dir():
        raise RefusedError(f"export refused: {directory} is not a directory")
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise _not_empty(directory)
    rows = identity.with_identities(
        reg, list_metrics(reg, as_of=as_of, at_position=at_position, valid_at=valid_at)
    )
    try:
        targets = list(export_paths(directory, (definition_of(r) for r in rows)))
    except ValueError as exc:
        raise RefusedError(f"export refused: {exc}. Nothing was written.") from exc
    stale = {p.resolve() for p in metric_files(directory)} if directory.exists() else set()
    for done, (target, definition) in enumerate(targets, start=1):
        write_atomically(target, dump_metric(definition))
        if progress is not None:
            progress(done, len(targets))
    written = {t for t, _ in targets}
    for leftover in stale - written:
        leftover.unlink()
    return [t for t, _ in targets]


def metric_yaml(metric: dict[str, Any]) -> str:
    """One metric (a definition, a row or a version's answer) as the YAML of its export file."""
    return dump_metric({k: metric.get(k) for k in METRIC.fields})


def edited_fields(metric: dict[str, Any], path: Path) -> dict[str, Any]:
    """The fields an edit of a metric's YAML (`metric_yaml`, saved at `path`) changed, read
    as an import reads a file (every problem as `file:line: field: message`); a key taken out
    clears its field. InvalidDefinitionError if the file is not one metric."""
    from registry.errors import InvalidDefinitionError, Issue
    from registry.interchange.yaml_io import read_file

    metrics, issues = read_file(path, writer="manual", label=None)
    if issues:
        raise InvalidDefinitionError(issues)
    if len(metrics) != 1:
        raise InvalidDefinitionError([Issue(str(path), "must hold one metric (a mapping)")])
    after = metrics[0].definition
    before = {k: metric.get(k) for k in METRIC.fields}
    owner = ("source", "source_ref")  # the writer is the registry's to set, not the file's
    return {
        k: after.get(k)
        for k in METRIC.fields
        if k not in owner and after.get(k) != before.get(k) and (after.get(k) or before.get(k))
    }


def export_zip(
    reg: Registry,
    as_of: datetime | None = None,
    at_position: int | None = None,
    valid_at: datetime | None = None,
) -> bytes:
    """The registry (now, or as of a time or position; in force at `valid_at` if given) as
    a zip of `<category>/<name>.yml`."""
    rows = identity.with_identities(
        reg, list_metrics(reg, as_of=as_of, at_position=at_position, valid_at=valid_at)
    )
    root = Path("/export")  # names are checked as paths below a folder, as export_yaml does
    try:
        targets = list(export_paths(root, (definition_of(r) for r in rows)))
    except ValueError as exc:
        raise RefusedError(f"export refused: {exc}") from exc
    return zip_files({t.relative_to(root).as_posix(): dump_metric(d) for t, d in targets})


def zip_files(files: dict[str, str]) -> bytes:
    """Files (relative path -> text) as the bytes of a zip archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in sorted(files.items()):
            archive.writestr(name, text)
    return buffer.getvalue()


def install_export(files: dict[str, bytes], directory: Path, overwrite: bool = False) -> list[Path]:
    """Write the files of an export archive (`<category>/<name>.yml` -> bytes) into a folder,
    with the same refusals and path checks as `export_yaml`."""
    entries = []
    for member in files:
        category, _, file_name = member.partition("/")
        entries.append({"category": category, "name": file_name.removesuffix(".yml")})
    try:
        list(export_paths(directory, entries))
    except ValueError as exc:
        raise RefusedError(f"export refused: {exc}. Nothing was written.") from exc
    texts = {name: data.decode("utf-8") for name, data in files.items()}
    return install_files(texts, directory, overwrite)


def install_files(files: dict[str, str], directory: Path, overwrite: bool = False) -> list[Path]:
    """Write files (relative path -> text) below a folder, each atomically; refuses a
    non-empty folder unless `overwrite`, and any path that would leave the folder."""
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise _not_empty(directory)
    root = directory.resolve()
    targets = []
    for name, text in sorted(files.items()):
        target = (root / name).resolve()
        if not target.is_relative_to(root) or ".." in Path(name).parts:
            raise RefusedError(f"export refused: {name} would leave {directory}")
        targets.append((target, text))
    for target, text in targets:
        write_atomically(target, text)
    return [t for t, _ in targets]


def _not_empty(directory: Path) -> RefusedError:
    return RefusedError(
        f"export refused: {directory} is not empty (export to an empty folder, or pass"
        " --overwrite to replace its metric files)"
    )
