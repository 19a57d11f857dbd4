"""The last verification outlives a restart (issue 27: the console's badge reset to "Not
verified yet" whenever the server restarted)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from registry import answers, attach


def test_the_last_verdict_is_read_back_after_a_restart(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    first = attach(duckdb.connect(str(db_path)))
    assert answers.last_verification(first) is None
    report = answers.verify(first)
    first.conn.close()

    again = attach(duckdb.connect(str(db_path)))  # a new process would see the same
    again.writer.last_verify, again.writer.last_verify_read = None, False
    kept = answers.last_verification(again)
    assert kept is not None
    assert (kept["ok"], kept["verified_at"], kept["head"]) == (
        True,
        report["verified_at"],
        report["head"],
    )
    assert answers.health(again)["last_verify"] == kept
