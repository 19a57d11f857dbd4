"""Imports of uploaded YAML: one file, or a zip of `<category>/<name>.yml`, unpacked safely."""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any

from registry.errors import RefusedError, TooLargeError
from registry.imports import ImportOptions
from registry.session import Registry
from registry.yaml_io import YAML_SUFFIXES

MAX_UNZIPPED = 64 * 1024 * 1024


def _unpack(data: bytes, root: Path) -> None:
    """Extract the YAML files of a zip below `root`, refusing anything unsafe or broken."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
        if sum(m.file_size for m in members) > MAX_UNZIPPED:
            raise TooLargeError("the archive unpacks to more than 64 MiB")
        for member in members:
            name = PurePosixPath(member.filename)
            if name.is_absolute() or ".." in name.parts or "\\" in member.filename:
                raise RefusedError(f"unsafe path in archive: {member.filename}")
            if name.suffix not in YAML_SUFFIXES:
                continue
            target = root.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Read at most the declared size plus one byte: headers may lie about sizes.
            with archive.open(member) as source:
                content = source.read(member.file_size + 1)
            if len(content) > member.file_size:
                raise RefusedError(f"{member.filename}: larger than the archive says")
            target.write_bytes(content)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise RefusedError(f"the upload is not a valid zip archive: {exc}") from exc


def import_upload(
    reg: Registry, data: bytes, zipped: bool, file_name: str, options: ImportOptions
) -> dict[str, Any]:
    """Reconcile with uploaded YAML (one file, named `<category>/<file>.yml`, or a zip of
    them); the report names files relative to the upload."""
    from registry.answers import import_metrics

    with tempfile.TemporaryDirectory(prefix="da-upload-") as folder:
        root = Path(folder) / "the upload"
        if zipped:
            _unpack(data, root)
            path = root
        else:
            path = root.joinpath(*PurePosixPath(file_name).parts)
            path.parent.mkdir(parents=True)
            path.write_bytes(data)
        return import_metrics(reg, path, options, shown_root=root)
