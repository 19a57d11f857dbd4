"""Uploaded YAML: one file, or a zip of `<category>/<name>.yml`, unpacked safely."""

from __future__ import annotations

import zipfile
import zlib
from io import BytesIO
from pathlib import Path, PurePosixPath

from registry.errors import RefusedError, TooLargeError
from registry.interchange.yaml_io import YAML_SUFFIXES

MAX_UNZIPPED = 64 * 1024 * 1024


def unpack_upload(data: bytes, root: Path) -> None:
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
