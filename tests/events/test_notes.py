"""Signed checkpoints (events.notes) against tlog-scales' own signed-note code: the same key
texts, key ids and signature lines, and refusals of what was not signed."""

from __future__ import annotations

import pytest
from tlog_scales import tlog as scales
from tlog_scales.signing import PlainEd25519Signer, Vkey

from events.notes import Checkpoint, NoteError, Signer, open_checkpoint, signed_checkpoint


def test_keys_and_signatures_are_the_ones_standard_tools_write() -> None:
    signer = Signer.generate("log.example.com/metrics")
    assert Signer.parse(signer.text()) == signer
    theirs = PlainEd25519Signer("log.example.com/metrics", signer.seed)
    assert str(signer.verifier) == theirs.vkey.serialize()
    checkpoint = Checkpoint("log.example.com/metrics", 42, bytes(range(32)))
    note = signed_checkpoint(signer, checkpoint)
    made = scales.Checkpoint.make_signed(checkpoint.origin, 42, checkpoint.root, [theirs])
    assert note == made.serialize()
    scales.Checkpoint.from_text(note).verify(Vkey.from_string(str(signer.verifier)))
    assert open_checkpoint(note, signer.verifier) == checkpoint


def test_what_was_not_signed_by_the_key_is_refused() -> None:
    signer = Signer.generate("a")
    note = signed_checkpoint(signer, Checkpoint("a", 7, bytes(32)))
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(note.replace("\n7\n", "\n8\n"), signer.verifier)
    with pytest.raises(NoteError, match="no signature by this log's key"):
        open_checkpoint(note, Signer.generate("a").verifier)
    with pytest.raises(NoteError, match="cannot name a log"):
        Signer.generate("two words")
    with pytest.raises(NoteError, match="id does not match"):
        Signer.parse(signer.text().replace("PRIVATE+KEY+a+", "PRIVATE+KEY+b+"))
