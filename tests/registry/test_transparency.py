"""The log as a C2SP transparency log, checked by a reader that is not ours: `tlog-scales`
reads the published tiles, verifies the checkpoint's signature with the printed key,
recomputes the root and checks inclusion and consistency proofs; then the log is tampered
with in every way an insider could, and the kept checkpoint catches each."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tlog_scales import tlog as scales
from tlog_scales.backend import LocalBackend
from tlog_scales.reader import TilesReader
from tlog_scales.signing import Vkey

from events import NewEvent, merkle
from events.chain import CANONICAL_FIELDS, epoch_us, event_hash
from events.notes import Signer
from events.schema import EVENT_COLUMNS, INSERT_EVENT_SQL
from registry import ConflictError, InvalidDefinitionError, NotFoundError, Registry, answers
from registry.transfer import copy_registry
from storage.session import attach

Rows = list[list[Any]]


def fill(reg: Registry, count: int, start: int = 0) -> None:
    """Events of a stream type the projections ignore, projected like every append."""
    with reg.store.transaction():
        appended = reg.store.append(
            [
                NewEvent(
                    stream_type="note",
                    stream_id=f"n/{i % 5}",
                    event_type="Noted",
                    payload={"i": i},
                    actor="tester",
                )
                for i in range(start, start + count)
            ]
        )
        reg.projector.apply(appended)


def reader_of(folder: Path) -> tuple[TilesReader, scales.Checkpoint]:
    """tlog-scales on a published folder: the checkpoint verified with the published key."""
    reader = TilesReader(LocalBackend(folder))
    kept = reader.get_checkpoint()
    kept.verify(Vkey.from_string((folder / "key").read_text().strip()))
    return reader, kept


def test_an_outsider_reads_the_published_log_and_checks_every_proof(
    registry: Registry, tmp_path: Path
) -> None:
    fill(registry, 300)
    first = tmp_path / "first"
    answers.published_tlog(registry, first)
    old_reader, old = reader_of(first)
    assert old.size == 300 and old_reader.calculate_root_hash() == old.root_hash
    fill(registry, 70_000 - 300, start=300)  # three levels of tiles, partial ones at each
    later = tmp_path / "later"
    answers.published_tlog(registry, later)
    reader, new = reader_of(later)
    assert new.size == 70_000 and reader.calculate_root_hash() == new.root_hash
    # Each entry names its event's position and chain hash, as /api/events shows them.
    events = {e.position: e.hash for e in registry.store.read(after=68_000, until_position=68_300)}
    for index in (68_000, 68_255, 68_299):
        entry = reader.get_entry(index)
        assert entry == merkle.entry(index + 1, events[index + 1])
        proof = reader.get_inclusion_proof(index, new.size)
        proof.check(merkle.leaf_hash(entry), new.root_hash)
        ours = answers.inclusion_proof(registry, index + 1)["proof"]
        assert [base64.b64decode(h) for h in ours.split("\n\n")[0].split("\n")[3:]] == (
            proof.node_hashes
        )
    # The later tree extends the earlier checkpoint, by tlog-scales' consistency proof.
    reader.get_consistency_proof(old.size, new.size).check(old.root_hash, new.root_hash)
    kept = (first / "checkpoint").read_text()
    report = answers.verify(registry, checkpoint=kept)
    assert report["ok"] and report["checkpoint"]["consistent"]
    assert [base64.b64decode(h) for h in report["checkpoint"]["proof"]] == (
        reader.get_consistency_proof(old.size, new.size).node_hashes
    )
    # Publishing again keeps every full tile and rewrites only what grew.
    fill(registry, 1, start=70_000)
    again = answers.published_tlog(registry, later)
    assert again["size"] == 70_001 and again["files_written"] < 10


def test_a_proof_is_the_c2sp_text_an_outsider_checks_alone(registry: Registry) -> None:
    fill(registry, 513)
    found = answers.inclusion_proof(registry, 257, size=300)
    head, _, note = found["proof"].partition("\n\n")
    lines = head.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    entry = base64.b64decode(lines[1].removeprefix("extra "))
    assert entry.decode() == found["entry"] and lines[2] == "index 256"
    checkpoint = scales.Checkpoint.from_text(note)
    key = Vkey.from_string(answers.tlog_key(registry)["verifier_key"])
    checkpoint.verify(key)
    assert checkpoint.size == 300
    path = [base64.b64decode(h) for h in lines[3:]]
    scales.InclusionProof(256, 300, path).check(merkle.leaf_hash(entry), checkpoint.root_hash)
    with pytest.raises(NotFoundError, match="no event at position 301"):
        answers.inclusion_proof(registry, 301, size=300)
    with pytest.raises(NotFoundError, match="the log holds 513 events: it has no tree of 514"):
        answers.inclusion_proof(registry, 1, size=514)


def test_tiles_are_served_at_their_spec_paths_and_nothing_else(registry: Registry) -> None:
    fill(registry, 257)
    assert len(answers.tlog_tile(registry, "0", "000")) == 8192
    assert len(answers.tlog_tile(registry, "0", "001.p/1")) == 32
    assert len(answers.tlog_tile(registry, "1", "000.p/1")) == 32
    assert (
        answers.tlog_tile(registry, "0", "000.p/3") == answers.tlog_tile(registry, "0", "000")[:96]
    )
    bundle = answers.tlog_tile(registry, "entries", "001.p/1")
    assert bundle[2:] == merkle.entry(257, registry.store.head().hash)
    assert int.from_bytes(bundle[:2], "big") == len(bundle) - 2
    for level, rest in [("0", "001"), ("0", "001.p/2"), ("1", "000"), ("entries", "002.p/1")]:
        with pytest.raises(NotFoundError, match="the tree has no"):
            answers.tlog_tile(registry, level, rest)
    for level, rest in [("0", "../../etc/passwd"), ("x", "000"), ("0", "000.p/0")]:
        with pytest.raises(NotFoundError):
            answers.tlog_tile(registry, level, rest)


def test_the_signing_key_is_made_once_owner_only_and_keeps_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    key_file = tmp_path / "keys" / "tlog.key"
    monkeypatch.setenv("DA_TLOG_KEY", str(key_file))
    monkeypatch.setenv("DA_TLOG_ORIGIN", "registry.example.com/finance")
    reg = attach(duckdb.connect(str(tmp_path / "a.duckdb")))
    fill(reg, 3)
    key = answers.tlog_key(reg)
    assert key["origin"] == "registry.example.com/finance"
    assert key["verifier_key"].startswith("registry.example.com/finance+")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert key_file.read_text().startswith("PRIVATE+KEY+registry.example.com/finance+")
    assert answers.tlog_checkpoint(reg).startswith("registry.example.com/finance\n3\n")
    other = attach(duckdb.connect(str(tmp_path / "b.duckdb")))
    assert answers.tlog_key(other) == key  # the same file, the same key
    monkeypatch.setenv("DA_TLOG_ORIGIN", "elsewhere")
    with pytest.raises(Exception, match="names the log 'registry.example.com/finance'"):
        answers.tlog_key(reg)
    monkeypatch.setenv("DA_TLOG_ORIGIN", "has space")
    monkeypatch.setenv("DA_TLOG_KEY", str(tmp_path / "new.key"))
    with pytest.raises(Exception, match="cannot name a log"):
        answers.tlog_key(reg)


def test_a_checkpoint_not_ours_or_mangled_is_refused_by_name(registry: Registry) -> None:
    fill(registry, 5)
    good = answers.tlog_checkpoint(registry)
    from events.notes import Checkpoint, Signer, signed_checkpoint

    stranger = signed_checkpoint(
        Signer.generate(good.split("\n")[0]), Checkpoint("x", 5, b"1" * 32)
    )
    cases = {
        "no signature by this log's key": stranger,
        "does not verify": good.replace("\n5\n", "\n4\n"),
        "is not a number": good.replace("\n5\n", "\nfive\n"),
        "a blank line": "just text",
    }
    for message, text in cases.items():
        with pytest.raises(InvalidDefinitionError, match=message) as caught:
            answers.verify(registry, checkpoint=text)
        assert caught.value.issues[0].location == "checkpoint"


# -- tampering -----------------------------------------------------------------------------------


def _rows_from(reg: Registry, position: int) -> Rows:
    return [list(r) for r in reg.store.raw_rows(position - 1, 10**9)]


def _rewrite(reg: Registry, position: int, change: Callable[[Rows], Rows]) -> None:
    """What an insider with the database could do: change the log from a position, recompute
    every chain hash after it, and rebuild the tree, so that the log verifies on its own."""
    at = {c: i for i, c in enumerate(EVENT_COLUMNS)}
    rows = change(_rows_from(reg, position))
    prev = reg.store.chain_hashes(position - 2, position - 1)[0][1] if position > 1 else "0" * 64
    with reg.store.transaction():
        reg.conn.execute("DELETE FROM event_log WHERE position >= ?", [position])
        for offset, row in enumerate(rows):
            row[at["position"]] = position + offset
            fields = {c: row[at[c]] for c in CANONICAL_FIELDS}
            fields["recorded_at"] = epoch_us(row[at["recorded_at"]])
            row[at["prev_hash"]], row[at["hash"]] = prev, event_hash(prev, fields)
            prev = row[at["hash"]]
            payload = row[at["payload"]]
            row[at["payload"]] = payload if isinstance(payload, str) else _json(payload)
            reg.conn.execute(INSERT_EVENT_SQL, row)
    reg.store._head.value = None
    reg.store.rebuild_tree()


def _json(value: Any) -> str:
    from events.store import encode_payload

    return encode_payload(value)


def _edited(rows: Rows) -> Rows:
    rows[0][EVENT_COLUMNS.index("reason")] = "forged"
    return rows


def _deleted(rows: Rows) -> Rows:
    return rows[1:]


def _inserted(rows: Rows) -> Rows:
    forged = list(rows[0])
    forged[EVENT_COLUMNS.index("stream_id")] = "forged/1"
    forged[EVENT_COLUMNS.index("version")] = 1
    return [forged, *rows]


@pytest.mark.parametrize("change", [_edited, _deleted, _inserted], ids=["edit", "delete", "insert"])
def test_a_rewrite_before_a_kept_checkpoint_is_caught_by_it_and_by_an_outsider(
    registry: Registry, tmp_path: Path, change: Callable[[Rows], Rows]
) -> None:
    fill(registry, 600)
    kept_folder = tmp_path / "kept"
    answers.published_tlog(registry, kept_folder)
    kept = (kept_folder / "checkpoint").read_text()
    fill(registry, 20, start=600)
    _rewrite(registry, 300, change)
    alone = answers.verify(registry)
    assert alone["chain_ok"]  # on its own, the rewritten log verifies...
    report = answers.verify(registry, checkpoint=kept)
    assert not report["ok"] and not report["checkpoint"]["consistent"]  # ...not against it
    assert "at or before position 600" in report["checkpoint"]["problem"]
    # With the tiles published beside the checkpoint, the first position that differs.
    located = answers.verify(registry, checkpoint=kept, kept_folder=kept_folder)["checkpoint"]
    assert located["diverges_at"] == 300
    assert located["problem"].startswith(
        "the log differs from the tree the checkpoint was signed for at position 300:"
    )
    # The tree published now is not consistent with the checkpoint kept before.
    with pytest.raises(ConflictError, match="differs from this log's"):
        answers.published_tlog(registry, kept_folder)  # the kept folder is evidence
    fresh = tmp_path / "now"
    answers.published_tlog(registry, fresh)
    reader, now = reader_of(fresh)
    old = scales.Checkpoint.from_text(kept)
    with pytest.raises(scales.ConsistencyProofInvalid):
        reader.get_consistency_proof(old.size, now.size).check(old.root_hash, now.root_hash)


def test_an_edit_that_leaves_the_hashes_is_named_by_position(registry: Registry) -> None:
    fill(registry, 600)
    kept = answers.tlog_checkpoint(registry)
    registry.conn.execute("UPDATE event_log SET reason = 'forged' WHERE position = 300")
    report = answers.verify(registry, checkpoint=kept)
    assert not report["ok"] and report["broken_at"] == 300
    assert "hash does not match" in report["problem"]


def test_a_tile_changed_in_the_database_is_named_by_position(registry: Registry) -> None:
    fill(registry, 600)
    tile = registry.store.stored_tile(0, 1)
    forged = tile[:64] + bytes(32) + tile[96:]
    registry.conn.execute("UPDATE tlog_tiles SET hashes = ? WHERE level = 0 AND n = 1", [forged])
    report = answers.verify(registry)
    assert not report["ok"] and report["broken_at"] == 256 + 2 + 1
    assert report["problem"] == (
        "the Merkle tree's tile 0/1 does not match the log at position 259"
    )
    registry.store.rebuild_tree()
    assert answers.verify(registry)["ok"]


def test_a_copy_carries_the_tree_and_the_key(registry: Registry, tmp_path: Path) -> None:
    import duckdb

    fill(registry, 700)
    (tmp_path / "copy").mkdir()
    target = attach(duckdb.connect(str(tmp_path / "copy" / "copy.duckdb")))
    assert copy_registry(registry, target)["signing_key"] == "carried"
    assert target.store.stored_tiles() == registry.store.stored_tiles()
    # The same tree and the same key: a checkpoint kept from the source holds on the copy.
    kept = answers.tlog_checkpoint(registry)
    assert answers.tlog_checkpoint(target) == kept
    assert answers.verify(target, checkpoint=kept)["checkpoint"]["consistent"]
    assert stat.S_IMODE(os.stat(tmp_path / "copy" / "tlog.key").st_mode) == 0o600
    # A target that keeps another key already says so, and keeps it.
    other = tmp_path / "other"
    other.mkdir()
    (other / "tlog.key").write_text(Signer.generate("elsewhere").text())
    again = attach(duckdb.connect(str(other / "copy.duckdb")))
    assert copy_registry(registry, again)["signing_key"].startswith("not carried: ")
    assert answers.tlog_key(again)["origin"] == "elsewhere"


def test_a_database_from_before_the_tree_gets_it_when_opened(tmp_path: Path) -> None:
    import duckdb

    path = str(tmp_path / "old.duckdb")
    reg = attach(duckdb.connect(path))
    fill(reg, 700)
    root = answers.tlog_checkpoint(reg).split("\n")[2]
    reg.conn.execute("DROP TABLE tlog_tiles")  # as a registry from before issue 25 was
    reg.conn.close()
    again = attach(duckdb.connect(path))
    assert again.store.tree_in_step()
    assert answers.tlog_checkpoint(again).split("\n")[2] == root
    assert answers.verify(again)["ok"]


def _served_by(reg: Registry) -> Callable[[str], bytes | None]:
    """A server's /tlog/<path>, as a door that mirrors it fetches it."""

    def fetch(path: str) -> bytes | None:
        _, level, rest = path.split("/", 2)
        try:
            return answers.tlog_tile(reg, level, rest)
        except NotFoundError:
            return None

    return fetch


def test_a_mirror_writes_what_publish_writes_and_refuses_a_rewritten_server(
    registry: Registry, tmp_path: Path
) -> None:
    fill(registry, 600)
    key = answers.tlog_key(registry)["verifier_key"]
    answers.published_tlog(registry, tmp_path / "published")
    mirrored = tmp_path / "mirrored"
    note = answers.tlog_checkpoint(registry)
    answers.mirrored_tlog(mirrored, note, key, _served_by(registry))
    files = sorted(p.relative_to(mirrored) for p in mirrored.rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(tmp_path / "published")
        for p in (tmp_path / "published").rglob("*")
        if p.is_file()
    )
    for relative in files:
        assert (mirrored / relative).read_bytes() == (
            tmp_path / "published" / relative
        ).read_bytes()
    reader, _ = reader_of(mirrored)
    assert reader.calculate_root_hash() == scales.Checkpoint.from_text(note).root_hash
    # The server grows: only what is new is fetched.
    fill(registry, 300, start=600)
    fetched: list[str] = []

    def counted(path: str) -> bytes | None:
        fetched.append(path)
        return _served_by(registry)(path)

    answers.mirrored_tlog(mirrored, answers.tlog_checkpoint(registry), key, counted)
    assert "tile/0/000" not in fetched and "tile/entries/001" not in fetched
    assert "tile/0/003.p/132" in fetched
    # A server that rewrote its log is refused, and the folder keeps what it had.
    kept = (mirrored / "checkpoint").read_text()
    _rewrite(registry, 10, _edited)
    with pytest.raises(ConflictError, match="does not extend the one kept"):
        answers.mirrored_tlog(
            mirrored, answers.tlog_checkpoint(registry), key, _served_by(registry)
        )
    assert (mirrored / "checkpoint").read_text() == kept
    with pytest.raises(ConflictError, match="does not verify with its key"):
        answers.mirrored_tlog(tmp_path / "x", kept.replace("\n900\n", "\n901\n"), key, counted)
    (mirrored / "key").write_text(str(Signer.generate("other").verifier) + "\n")
    with pytest.raises(ConflictError, match="another log's key"):
        answers.published_tlog(registry, mirrored)
    assert (mirrored / "checkpoint").read_text() == kept
