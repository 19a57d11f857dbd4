"""Two texts side by side, line by line, with each row marked as kept, changed, removed or added.

What a reader comparing two versions of a metric's SQL looks at: a unified diff is the
file-tool view; this is the one people read in two columns.
"""

from __future__ import annotations

import difflib
from typing import Any


def _row(kind: str, old: tuple[int, str] | None, new: tuple[int, str] | None) -> dict[str, Any]:
    return {
        "kind": kind,
        "old_line": old[0] if old else None,
        "old": old[1] if old else None,
        "new_line": new[0] if new else None,
        "new": new[1] if new else None,
    }


def side_by_side(old_text: str, new_text: str) -> list[dict[str, Any]]:
    """Rows of `{kind, old_line, old, new_line, new}`, kind one of same, changed, removed,
    added; line numbers count from 1 and are None where a side has no line."""
    old, new = old_text.splitlines(), new_text.splitlines()
    rows: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        olds = [(i + 1, old[i]) for i in range(i1, i2)]
        news = [(j + 1, new[j]) for j in range(j1, j2)]
        if tag == "equal":
            rows += [_row("same", o, n) for o, n in zip(olds, news, strict=True)]
            continue
        # A replaced block pairs its lines in order; the longer side's rest stands alone.
        for k in range(max(len(olds), len(news))):
            o = olds[k] if k < len(olds) else None
            n = news[k] if k < len(news) else None
            rows.append(_row("changed" if o and n else "removed" if o else "added", o, n))
    return rows
