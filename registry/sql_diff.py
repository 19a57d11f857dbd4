"""Two texts side by side, line by line, with each row marked as kept, changed, removed or added.

What a reader comparing two versions of a metric's SQL looks at: a unified diff is the
file-tool view; this is the one people read in two columns. SQL is first laid out by one
formatter on both sides (sqlglot's, in DuckDB's dialect), so a change of layout alone is no
change; a changed line says which words changed.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import sqlglot
from sqlglot.errors import ParseError, TokenError

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def laid_out(sql: str) -> str:
    """SQL as one formatter lays it out (the text as it is, if it does not parse)."""
    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except (ParseError, TokenError):
        return sql
    if len(statements) != 1 or statements[0] is None:
        return sql
    return str(statements[0].sql(dialect="duckdb", pretty=True))


def words_changed(old: str, new: str) -> tuple[list[list[Any]], list[list[Any]]]:
    """Each side of a changed line as `[text, changed]` pieces, word by word."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    left: list[list[Any]] = []
    right: list[list[Any]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        _piece(left, "".join(a[i1:i2]), tag != "equal")
        _piece(right, "".join(b[j1:j2]), tag != "equal")
    return left, right


def _piece(pieces: list[list[Any]], text: str, changed: bool) -> None:
    if not text:
        return
    if pieces and pieces[-1][1] == changed:
        pieces[-1][0] += text
    else:
        pieces.append([text, changed])


def _row(kind: str, old: tuple[int, str] | None, new: tuple[int, str] | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": kind,
        "old_line": old[0] if old else None,
        "old": old[1] if old else None,
        "new_line": new[0] if new else None,
        "new": new[1] if new else None,
    }
    if kind == "changed" and old and new:
        row["old_words"], row["new_words"] = words_changed(old[1], new[1])
    return row


def side_by_side(old_text: str, new_text: str) -> list[dict[str, Any]]:
    """Rows of `{kind, old_line, old, new_line, new}`, kind one of same, changed, removed,
    added; line numbers count from 1 and are None where a side has no line. A changed row
    also has `old_words` and `new_words`: its line as `[text, changed]` pieces."""
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
