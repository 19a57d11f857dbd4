"""The log as a C2SP transparency log: its signing key, signed checkpoints, tiles and proofs.

Everything here reads the tree the store keeps in step with the log (events.merkle): an
outsider checks it with any tlog-tiles reader, the printed verifier key and a checkpoint
they kept, never with this program.

- `checkpoint`: the tree's size and root as a c2sp.org/tlog-checkpoint, signed as a
  c2sp.org/signed-note with the log's Ed25519 key (made on first use, owner-only).
- `tile`: the bytes of `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`.
- `prove`: an inclusion proof in the c2sp.org/tlog-proof@v1 text, with its checkpoint.
- `consistency`: whether today's log extends a checkpoint someone kept.
- `publish`: the same files in a folder, for a static host.
"""

from __future__ import annotations

import base64
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from events import merkle
from events.notes import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    check_name,
    keep,
    load_or_create,
    open_checkpoint,
    read_checkpoint,
    signed_checkpoint,
)
from registry.errors import (
    ConflictError,
    InvalidDefinitionError,
    Issue,
    NotFoundError,
    UnavailableError,
)
from registry.settings import tlog_key_settings
from storage.session import Registry

PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_SIGNER = "tlog_signer"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- the key ---------------------------------------------------------------------------------


def _key_path(reg: Registry) -> Path | None:
    return tlog_key_settings()[0] or reg.engine.key_file


def signer(reg: Registry) -> Signer:
    """The log's signing key: DA_TLOG_KEY's file, or the engine's place for it (made on first
    use, named DA_TLOG_ORIGIN or `<host>/metrics-registry`); kept in memory for a database
    that lives as long as the process."""
    path, origin = _key_path(reg), tlog_key_settings()[1]
    kept = reg.writer.memo.get(_SIGNER)
    if kept is not None and kept[0] == path and (origin is None or kept[1].name == origin):
        return kept[1]  # type: ignore[no-any-return]
    try:
        name = check_name(origin or f"{socket.gethostname()}/metrics-registry")
        found = Signer.generate(name) if path is None else load_or_create(path, name)
    except NoteError as exc:
        raise UnavailableError(str(exc)) from exc
    except OSError as exc:
        raise UnavailableError(f"the log's signing key {path} cannot be kept: {exc}") from exc
    if origin is not None and found.name != origin:
        raise UnavailableError(
            f"the log's signing key {path} names the log {found.name!r}, not DA_TLOG_ORIGIN"
            f" {origin!r}: unset DA_TLOG_ORIGIN, or point DA_TLOG_KEY at a new file"
        )
    reg.writer.memo[_SIGNER] = (path, found)
    return found


def carry_key(source: Registry, target: Registry) -> str:
    """Give a copy of a registry the source's signing key, so that checkpoints kept from the
    source verify against the copy: written where the target keeps its key, unless a key is
    there already. Says what became of it."""
    key = signer(source)
    path = _key_path(target)
    if path is None:  # a database that lives as long as the process
        target.writer.memo[_SIGNER] = (None, key)
        return "carried"
    if path == _key_path(source):
        return "shared"
    try:
        if keep(path, key):
            return "carried"
        there = Signer.parse(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError, NoteError) as exc:
        return f"not carried: {path} cannot hold it ({exc})"
    if there == key:
        return "already there"
    return (
        f"not carried: {path} holds another key, so checkpoints kept from the source will not"
        " verify against the copy"
    )


def verifier_key(reg: Registry) -> dict[str, Any]:
    """The verifier key in the signed-note vkey text, and the log's origin."""
    verifier = signer(reg).verifier
    return {"origin": verifier.name, "verifier_key": str(verifier)}


# -- checkpoints and tiles -------------------------------------------------------------------


def _size(reg: Registry, size: int | None) -> int:
    """The tree size asked for (default: the whole log); NotFoundError past the log's end."""
    head = reg.store.head().position
    if size is None:
        return head
    if not 0 <= size <= head:
        raise NotFoundError(f"the log holds {head} events: it has no tree of {size} (yet)")
    return size


def _signed(reg: Registry, size: int) -> str:
    key = signer(reg)
    root = merkle.TreeReader(size, reg.store.tile).root()
    return signed_checkpoint(key, Checkpoint(key.name, size, root))


def checkpoint(reg: Registry, size: int | None = None) -> str:
    """The signed checkpoint of the tree of the whole log (or of its first `size` events).
    A server signs the whole log's once per commit (it is public: asking again costs
    nothing)."""

    def read() -> str:
        with reg.store.snapshot():
            return _signed(reg, _size(reg, size))

    if size is None and reg.cache is not None:
        return reg.cache.get(("tlog_checkpoint",), read)
    return read()


def tile(reg: Registry, level_text: str, rest: str) -> bytes:
    """A tile's or entry bundle's bytes, as tlog-tiles lays them out; NotFoundError for a
    path the spec does not allow or a tile the tree does not have (yet)."""
    try:
        level, n, width = merkle.parse_tile_path(level_text, rest)
    except ValueError as exc:
        raise NotFoundError(str(exc)) from exc
    wanted = width or merkle.WIDTH
    path = merkle.tile_path(level, n, width)
    with reg.store.snapshot():
        if level is None:
            first = n * merkle.WIDTH
            rows = reg.store.chain_hashes(first, first + wanted)
            if len(rows) == wanted:
                return merkle.bundle(merkle.entry(p, h) for p, h in rows)
        else:
            data = reg.store.tile(level, n)
            if len(data) >= wanted * merkle.HASH_SIZE:
                return data[: wanted * merkle.HASH_SIZE]
    raise NotFoundError(f"the tree has no {path} (yet)")


# -- proofs ------------------------------------------------------------------------------------


def prove(reg: Registry, position: int, size: int | None = None) -> dict[str, Any]:
    """The inclusion proof of the event at `position` in the tree of `size` events (default:
    the whole log), as c2sp.org/tlog-proof@v1 text: its `extra` line is the leaf's entry, then
    the index, the audit path, a blank line and the signed checkpoint."""
    with reg.store.snapshot():
        size = _size(reg, size)
        if not 1 <= position <= size:
            raise NotFoundError(f"no event at position {position} in a tree of {size} events")
        [(_, chain_hash)] = reg.store.chain_hashes(position - 1, position)
        path = merkle.TreeReader(size, reg.store.tile).inclusion(position - 1)
        note = _signed(reg, size)
    entry = merkle.entry(position, chain_hash)
    lines = [PROOF_HEADER, f"extra {_b64(entry)}", f"index {position - 1}"]
    lines += [_b64(h) for h in path]
    return {
        "position": position,
        "size": size,
        "entry": entry.decode(),
        "proof": "\n".join(lines) + "\n\n" + note,
    }


def consistency(reg: Registry, text: str, kept_folder: Path | None = None) -> dict[str, Any]:
    """Whether today's log extends the tree of a checkpoint someone kept (its signature by
    this log's key checked first), with the consistency proof; `problem` says where not.

    With the folder the checkpoint was published in (`da audit publish`), a log that no
    longer extends it is compared with the kept tiles, and `diverges_at` names the first
    position that differs.
    """
    verifier: Verifier = signer(reg).verifier
    try:
        kept = open_checkpoint(text, verifier)
    except NoteError as exc:
        raise InvalidDefinitionError([Issue("checkpoint", str(exc))]) from exc
    if kept.origin != verifier.name:
        raise InvalidDefinitionError(
            [Issue("checkpoint", f"it is of the log {kept.origin!r}, not of {verifier.name!r}")]
        )
    with reg.store.snapshot():
        head = reg.store.head().position
        report: dict[str, Any] = {"checkpoint_size": kept.size, "size": head, "proof": []}
        if kept.size > head:
            return {
                **report,
                "consistent": False,
                "problem": f"the checkpoint is of {kept.size} events and the log holds only"
                f" {head}: events after position {head} were removed",
            }
        reader = merkle.TreeReader(head, reg.store.tile)
        proof = reader.consistency(kept.size)
        ok = merkle.consistent(kept.size, head, kept.root, reader.root(), proof)
        report["proof"] = [_b64(h) for h in proof]
        report["consistent"] = ok
        report["problem"] = (
            None
            if ok
            else f"the log's first {kept.size} events are not those the checkpoint was signed"
            f" for: an event at or before position {kept.size} was changed, removed or inserted"
        )
        if not ok and kept_folder is not None:
            report.update(divergence(kept_folder, kept, reg.store.tile))
    return report


class FolderTiles:
    """The tiles of a folder `publish` wrote, read at their tlog-tiles paths (the widest
    partial tile when there is no full one). Every path is made of numbers under the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, level: int, n: int) -> bytes:
        full = self.folder / merkle.tile_path(level, n)
        partial = full.parent / (full.name + ".p")
        if full.is_file():
            return full.read_bytes()[: merkle.FULL_TILE]
        widths = (
            [int(p.name) for p in partial.glob("*") if p.name.isdigit()] if partial.is_dir() else []
        )
        if not widths:
            return b""
        return (partial / str(max(widths))).read_bytes()[: merkle.FULL_TILE]


def kept_divergence(folder: Path, text: str, current: merkle.TileSource) -> dict[str, Any]:
    """`divergence` for a checkpoint's text whose signature was checked already (by a server
    that answered it does not hold)."""
    try:
        kept = read_checkpoint(text)
    except NoteError as exc:
        raise InvalidDefinitionError([Issue("checkpoint", str(exc))]) from exc
    return divergence(folder, kept, current)


def divergence(folder: Path, kept: Checkpoint, current: merkle.TileSource) -> dict[str, Any]:
    """Where the tree of a kept checkpoint, whose tiles are in `folder`, and the current one
    (`current`, a tile source) first differ: `diverges_at` (a position) and `problem`."""
    tiles = FolderTiles(folder)
    try:
        if merkle.TreeReader(kept.size, tiles).root() != kept.root:
            return {"problem": f"the tiles in {folder} are not those of the checkpoint"}
        index = merkle.first_divergence(kept.size, tiles, current)
    except (OSError, ValueError) as exc:
        return {"problem": f"the tiles in {folder} cannot be read whole: {exc}"}
    if index is None:
        return {}
    position = index + 1
    return {
        "diverges_at": position,
        "problem": f"the log differs from the tree the checkpoint was signed for at position"
        f" {position}: that event was changed, removed or inserted (the kept tiles in {folder}"
        " show what it was)",
    }


# -- publishing --------------------------------------------------------------------------------


def publish(reg: Registry, folder: Path) -> dict[str, Any]:
    """Write the checkpoint, every tile and entry bundle, and the verifier key under a folder
    as tlog-tiles lays them out (a static host serves it as it is).

    Full tiles never change: one already there is kept, and one that differs is refused
    (ConflictError: the folder holds another log, or this one was rewritten). The checkpoint
    is written last, so a reader never sees one whose tiles are missing.
    """
    with reg.store.snapshot():
        size = reg.store.head().position
        note = _signed(reg, size)
        files: list[tuple[str, bytes, bool]] = []
        for level, n, data in _tiles(reg):
            full = len(data) == merkle.FULL_TILE
            width = 0 if full else len(data) // merkle.HASH_SIZE
            files.append((merkle.tile_path(level, n, width), data, full))
        rows = reg.store.chain_hashes(0, size)
    for start in range(0, size, merkle.WIDTH):
        chunk = rows[start : start + merkle.WIDTH]
        width = 0 if len(chunk) == merkle.WIDTH else len(chunk)
        data = merkle.bundle(merkle.entry(p, h) for p, h in chunk)
        files.append((merkle.tile_path(None, start // merkle.WIDTH, width), data, not width))
    key = verifier_key(reg)["verifier_key"]
    written = _write_folder(folder, files, key, note)
    return {"folder": str(folder), "size": size, "files_written": written, "checkpoint": note}


def mirror(
    folder: Path, note: str, key: str, fetch: Callable[[str], bytes | None]
) -> dict[str, Any]:
    """Write another registry's published tree (a server's /tlog) into a folder as `publish`
    does: its checkpoint's signature checked with its key, every tile it lacks fetched (full
    tiles already in the folder are kept, never fetched again), and the whole checked before
    anything is written: the tiles make the checkpoint's root, and each entry bundle hashes
    to its level-0 tile. A server whose log no longer extends the folder's is refused."""
    try:
        checkpoint = open_checkpoint(note, Verifier.parse(key))
    except NoteError as exc:
        raise ConflictError(f"the server's checkpoint does not verify with its key: {exc}") from exc
    files: list[tuple[str, bytes, bool]] = []
    tiles: dict[tuple[int | None, int], bytes] = {}
    for level, n, width in merkle.tiles_at(checkpoint.size):
        for layer in (level, None) if level == 0 else (level,):
            path = merkle.tile_path(layer, n, width)
            kept = folder / path
            data = kept.read_bytes() if not width and kept.is_file() else fetch(path)
            if data is None:
                raise UnavailableError(f"the server does not serve {path}: nothing was written")
            files.append((path, data, not width))
            tiles[(layer, n)] = data
    reader = merkle.TreeReader(checkpoint.size, lambda level, n: tiles.get((level, n), b""))
    if reader.root() != checkpoint.root or not _levels_agree(tiles):
        raise ConflictError(
            f"the server's tree of {checkpoint.size} events does not extend the one kept in"
            f" {folder} (it was rewritten), or its tiles do not make its checkpoint: nothing"
            " was written"
        )
    for (layer, n), data in tiles.items():
        if layer is None:
            leaves = b"".join(merkle.leaf_hash(e) for e in merkle.unbundle(data))
            if leaves != tiles[(0, n)]:
                raise ConflictError(f"the server's entry bundle {n} does not hash to its tile")
    written = _write_folder(folder, files, key, note)
    return {
        "folder": str(folder),
        "size": checkpoint.size,
        "files_written": written,
        "checkpoint": note,
    }


def _levels_agree(tiles: dict[tuple[int | None, int], bytes]) -> bool:
    """Whether each full tile's root is the hash the level above holds for it (a root is read
    from the highest tiles, so a kept lower tile would otherwise go unchecked)."""
    for (level, n), data in tiles.items():
        if level is None or len(data) != merkle.FULL_TILE:
            continue
        upper = tiles.get((level + 1, n // merkle.WIDTH), b"")
        at = (n % merkle.WIDTH) * merkle.HASH_SIZE
        if upper[at : at + merkle.HASH_SIZE] != merkle.tile_root(data):
            return False
    return True


def _write_folder(folder: Path, files: list[tuple[str, bytes, bool]], key: str, note: str) -> int:
    """Write a published tree's files, refusing before anything is written when the folder
    holds another key or another full tile (ConflictError); the checkpoint goes last. A folder
    that cannot be written is an InvalidDefinitionError naming it."""
    try:
        return _write_files(folder, files, key, note)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidDefinitionError(
            [Issue("folder", f"cannot write {exc.filename or folder}: {reason}")]
        ) from exc


def _write_files(folder: Path, files: list[tuple[str, bytes, bool]], key: str, note: str) -> int:
    kept_key = folder / "key"
    if kept_key.is_file() and kept_key.read_text(errors="replace").strip() != key:
        raise ConflictError(f"{kept_key} is another log's key: publish into another folder")
    pending = []
    for relative, data, immutable in files:
        target = folder / relative
        if immutable and target.is_file():
            if target.read_bytes() != data:
                raise ConflictError(
                    f"{target} differs from this log's: the folder holds another log's tree,"
                    " or this log was rewritten (keep the folder: it is the evidence)"
                )
            continue
        pending.append((target, data))
    for target, data in pending:
        _write(target, data)
    _write(kept_key, (key + "\n").encode())
    _write(folder / "checkpoint", note.encode())
    return len(pending) + 2


def _tiles(reg: Registry) -> list[tuple[int, int, bytes]]:
    """Every tile of the tree now: the stored ones and level 0's partial one."""
    found = reg.store.stored_tiles()
    size = reg.store.head().position
    if size % merkle.WIDTH:
        found.append((0, size // merkle.WIDTH, reg.store.tile(0, size // merkle.WIDTH)))
    return found


def _write(target: Path, data: bytes) -> None:
    """Write a file whole or not at all (a temporary file renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
