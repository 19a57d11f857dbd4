"""Answers that move definitions in and out: imports (a folder, a file, an upload) and exports
(YAML, a dbt project), each with the report every door shows."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from registry import identity, queries
from registry.shape import json_object
from storage.session import Registry

if TYPE_CHECKING:  # the import's modules load pydantic: only imports pay for them
    from registry.interchange.imports import ImportOptions
    from registry.interchange.yaml_io import Progress


def import_metrics(
    reg: Registry,
    path: Path,
    options: ImportOptions,
    progress: Progress | None = None,
    shown_root: Path | None = None,
) -> dict[str, Any]:
    """Reconcile with a YAML file or folder: the report, with paths relative to the folder
    (or to `shown_root`, the folder an upload was unpacked in)."""
    from dataclasses import replace

    from registry.interchange.imports import reconcile

    root = shown_root or (path if path.is_dir() else path.parent.parent)
    whole = None if shown_root else str(path)  # the user's own words for it, not an upload's
    shown = replace(options, shown_root=root, shown_whole=whole)
    report = json_object(reconcile(reg, path, shown, progress).as_dict())
    prefix = str(root).rstrip("/") + "/"
    if prefix != "/":
        report["unreadable"] = [p.removeprefix(prefix) for p in report["unreadable"]]
        report["problems"] = {
            k.removeprefix(prefix): [m.replace(prefix, "") for m in v]
            for k, v in report["problems"].items()
        }
    return report


def import_upload(
    reg: Registry, data: bytes, zipped: bool, file_name: str, options: ImportOptions
) -> dict[str, Any]:
    """Reconcile with uploaded YAML (one file, named `<category>/<file>.yml`, or a zip of
    them); the report names files relative to the upload."""
    from registry.interchange.uploads import unpack_upload

    with tempfile.TemporaryDirectory(prefix="da-upload-") as folder:
        root = Path(folder) / "the upload"
        if zipped:
            unpack_upload(data, root)
            path = root
        else:
            path = root.joinpath(*PurePosixPath(file_name).parts)
            path.parent.mkdir(parents=True)
            path.write_bytes(data)
        return import_metrics(reg, path, options, shown_root=root)


def export_zip(
    reg: Registry,
    as_of: datetime | None = None,
    at_position: int | None = None,
    format: str = "yaml",
    valid_at: datetime | None = None,
) -> bytes:
    """The registry (now, or as of a time or position; the definitions in force at business
    time `valid_at` if given) as a zip of `<category>/<name>.yml`, or (format `dbt`) of a dbt
    project's Semantic Layer YAML, or (`ossie`) of Apache Ossie documents."""
    from registry.interchange.exports import export_zip as build
    from registry.interchange.exports import zip_files

    if format == "dbt":
        return zip_files(dbt_files(reg, as_of, at_position, valid_at))
    if format == "ossie":
        return zip_files(ossie_files(reg, as_of, at_position, valid_at))
    return build(reg, as_of, at_position, valid_at)


def ossie_files(
    reg: Registry,
    as_of: datetime | None = None,
    at_position: int | None = None,
    valid_at: datetime | None = None,
) -> dict[str, str]:
    """The registry (now, or as of a time or position) as Apache Ossie documents, one per
    category, its column metadata in the datasets."""
    from registry.interchange.ossie import export_documents

    metrics = identity.with_identities(
        reg, queries.list_metrics(reg, as_of=as_of, at_position=at_position, valid_at=valid_at)
    )
    columns = queries.columns_as_of(reg, as_of, at_position)
    return export_documents(metrics, columns).files


def installed_interchange(
    files: dict[str, str], directory: Path, overwrite: bool, format: str
) -> dict[str, Any]:
    """Write a dbt or Ossie export's files into a folder: the files written, the metrics
    exported as the other tool's metrics, and those kept as metadata only, with why (each
    format reads its report back from its own files)."""
    from registry.interchange import dbt_export, ossie
    from registry.interchange.exports import install_files

    report = dbt_export.export_report if format == "dbt" else ossie.export_report
    written = [str(f) for f in install_files(files, directory, overwrite)]
    return {"files": written, **report(files)}


def dbt_files(
    reg: Registry,
    as_of: datetime | None = None,
    at_position: int | None = None,
    valid_at: datetime | None = None,
) -> dict[str, str]:
    """The registry (now, or as of a time or position; in force at `valid_at` if given) as
    dbt Semantic Layer YAML files."""
    from registry.interchange.dbt_export import export_project

    rows = queries.list_metrics(reg, as_of=as_of, at_position=at_position, valid_at=valid_at)
    return export_project(identity.with_identities(reg, rows)).files


def export_folder(
    reg: Registry,
    directory: Path,
    as_of: datetime | None = None,
    at_position: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    format: str = "yaml",
    valid_at: datetime | None = None,
) -> list[str] | dict[str, Any]:
    """Write `<dir>/<category>/<name>.yml` for every metric: the files written; or, format
    `dbt` or `ossie`, that tool's files: `installed_interchange`'s report."""
    from registry.interchange.exports import export_yaml

    if format in ("dbt", "ossie"):
        made = dbt_files if format == "dbt" else ossie_files
        files = made(reg, as_of, at_position, valid_at)
        return installed_interchange(files, directory, overwrite, format)
    written = export_yaml(reg, directory, as_of, at_position, overwrite, progress, valid_at)
    return [str(f) for f in written]
