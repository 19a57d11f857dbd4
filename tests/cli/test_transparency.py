"""`da audit key|checkpoint|prove|publish` and `verify --checkpoint`, embedded and through a
real server: the same answers, checked by tlog-scales (a reader that is not ours)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tlog_scales import tlog as scales
from tlog_scales.backend import LocalBackend
from tlog_scales.reader import TilesReader
from tlog_scales.signing import Vkey

from events import merkle
from tests.cli.conftest import Run
from tests.served import check_served_tree, make_token, served


def check_proof(text: str, key: str) -> scales.Checkpoint:
    """An inclusion proof checked on its own, as an outsider holding only the key would."""
    head, _, note = text.partition("\n\n")
    header, extra, index, *path = head.split("\n")
    assert header == "c2sp.org/tlog-proof@v1"
    checkpoint = scales.Checkpoint.from_text(note)
    checkpoint.verify(Vkey.from_string(key))
    entry = base64.b64decode(extra.removeprefix("extra "))
    proof = scales.InclusionProof(
        int(index.removeprefix("index ")), checkpoint.size, [base64.b64decode(h) for h in path]
    )
    proof.check(merkle.leaf_hash(entry), checkpoint.root_hash)
    return checkpoint


def test_keep_a_checkpoint_prove_publish_and_verify_embedded_and_remote(
    da: Run, data: Path, tmp_path: Path
) -> None:
    key = da("audit", "key").stdout.strip()
    kept = tmp_path / "kept.checkpoint"
    kept.write_text(da("audit", "checkpoint").stdout)
    da("metrics", "update", "revenue/mrr", "--set", "unit=EUR", "--reason", "later")
    verified = da("audit", "verify", "--checkpoint", str(kept))
    assert verified.exit_code == 0
    assert verified.stdout.startswith("ok: 12 events verified")
    assert verified.stdout.strip().endswith("it extends the checkpoint of 11 events")
    proof = da("audit", "prove", "3").stdout
    assert check_proof(proof, key).size == 12
    published = da("audit", "publish", str(tmp_path / "site"))
    assert published.stdout.startswith("published a tree of 12 events to ")
    reader = TilesReader(LocalBackend(tmp_path / "site"))
    checkpoint = reader.get_checkpoint()
    checkpoint.verify(Vkey.from_string((tmp_path / "site" / "key").read_text().strip()))
    assert reader.calculate_root_hash() == checkpoint.root_hash

    token = make_token(data, "auditor-1", role="auditor")
    env = {"DA_TOKEN": token}
    embedded = {
        "key": da("audit", "key", "--json").stdout,
        "prove": da("audit", "prove", "3", "--size", "11", "--json").stdout,
    }
    with served(data) as url:
        assert check_served_tree(url, key) == 13  # an outsider, with no token at all
        assert da("audit", "key", "--json", env=env).stdout == embedded["key"]
        assert (
            da("audit", "prove", "3", "--size", "11", "--json", env=env).stdout
            == (embedded["prove"])
        )
        assert da("audit", "checkpoint", env=env).stdout.startswith(
            f"{json.loads(embedded['key'])['origin']}\n13\n"  # the auditor's token is an event
        )
        over_http = da("audit", "verify", "--checkpoint", str(kept), "--json", env=env)
        report = json.loads(over_http.stdout)
        assert over_http.exit_code == 0 and report["checkpoint"]["consistent"]
        # Publishing through the server mirrors its tree: only what the folder lacks is
        # fetched, and all of it is checked before it is written.
        mirrored = da("audit", "publish", str(tmp_path / "site"), env=env)
        assert mirrored.stdout.startswith("published a tree of 13 events to ")
    reader = TilesReader(LocalBackend(tmp_path / "site"))
    checkpoint = reader.get_checkpoint()
    checkpoint.verify(Vkey.from_string(key))
    assert checkpoint.size == 13 and reader.calculate_root_hash() == checkpoint.root_hash


def test_a_bad_checkpoint_file_is_one_line_and_exit_1(da: Run, tmp_path: Path) -> None:
    good = da("audit", "checkpoint").stdout
    cases = {
        "not UTF-8 text": b"\xff\xfe checkpoint",
        "over 64 KiB": b"x" * 70_000,
        "does not verify": good.replace("\n11\n", "\n10\n").encode(),
        "no signature by this log's key": good.split("\n\n")[0].encode() + b"\n\n",
    }
    for words, content in cases.items():
        path = tmp_path / "kept"
        path.write_bytes(content)
        result = da("audit", "verify", "--checkpoint", str(path))
        assert result.exit_code == 1, words
        assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1, words
    missing = da("audit", "verify", "--checkpoint", str(tmp_path / "none"))
    assert missing.exit_code == 1 and "cannot read" in missing.stderr
    far = da("audit", "prove", "99")
    assert far.exit_code == 1 and "no event at position 99" in far.stderr
    (tmp_path / "a-file").write_text("not a folder")
    unwritable = da("audit", "publish", str(tmp_path / "a-file" / "site"))
    assert unwritable.exit_code == 1 and "cannot write" in unwritable.stderr
    assert "Not a directory" in unwritable.stderr
    assert len(unwritable.stderr.strip().splitlines()) == 1


def test_a_rewrite_is_located_by_the_published_folder_embedded_and_remote(
    da: Run, data: Path, tmp_path: Path
) -> None:
    import duckdb

    from registry import attach
    from tests.registry.test_transparency import _edited, _rewrite

    site = tmp_path / "site"
    da("audit", "publish", str(site))
    for n in range(3):
        da("metrics", "update", "revenue/mrr", "--set", f"unit=U{n}", "--reason", "later")
    reg = attach(duckdb.connect(str(data / "state" / "system.duckdb")))
    _rewrite(reg, 5, _edited)  # an insider rewrites event 5 and every hash after it
    reg.conn.close()
    del reg
    kept = str(site / "checkpoint")
    expected = "the log differs from the tree the checkpoint was signed for at position 5:"
    embedded = da("audit", "verify", "--checkpoint", kept)
    assert embedded.exit_code == 1 and expected in embedded.stdout
    copied = tmp_path / "only-the-checkpoint"
    copied.write_text((site / "checkpoint").read_text())
    without_tiles = da("audit", "verify", "--checkpoint", str(copied))
    assert "at or before position 11" in without_tiles.stdout  # the checkpoint alone
    token = make_token(data, "auditor-2", role="auditor")
    with served(data):
        remote = da("audit", "verify", "--checkpoint", kept, "--json", env={"DA_TOKEN": token})
    found = json.loads(remote.stdout)["checkpoint"]
    assert remote.exit_code == 1 and found["diverges_at"] == 5
    assert found["problem"].startswith(expected)
