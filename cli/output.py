"""Rendering shared by every command: stable JSON for scripts and agents, tables for people."""

import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer


def parse_time_option(text: str) -> datetime:
    """A time option through the registry's one parser (as the API reads times)."""
    from registry.errors import InvalidDefinitionError
    from registry.times import parse_time

    try:
        return parse_time(text, "time")
    except InvalidDefinitionError as exc:
        raise typer.BadParameter(exc.issues[0].message) from exc


def time_option(name: str, help_text: str) -> Any:
    return typer.Option(
        name,
        parser=parse_time_option,
        metavar="TIME",
        help=f"{help_text} ISO 8601, e.g. 2026-01-31T12:00:00Z (no zone: UTC).",
    )


Reason = Annotated[str | None, typer.Option("--reason", help="Why: recorded in the history.")]
EffectiveFrom = Annotated[
    datetime | None,
    time_option(
        "--effective-from",
        "In force from this business date (past: a correction; future: scheduled)."
        " Default: when recorded.",
    ),
]
ExpectedVersion = Annotated[
    int | None,
    typer.Option(
        "--expected-version",
        min=0,
        help="Refuse the write unless the current version is this one (0: must not exist).",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        help="A retry of this write with the same key gets the first answer and writes nothing"
        " more; the key used for another change is refused.",
    ),
]
AnalyticsDb = Annotated[
    Path | None,
    typer.Option(
        "--db", exists=True, dir_okay=False, help="Analytics DuckDB file (default: the demo one)."
    ),
]


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def to_json(value: Any) -> str:
    """Stable JSON: sorted keys, ISO times, two-space indent."""
    return json.dumps(value, default=_default, indent=2, sort_keys=True, ensure_ascii=False)


def emit_json(value: Any) -> None:
    typer.echo(to_json(value))


def emit_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Rows as CSV with a header line."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    typer.echo(buffer.getvalue(), nl=False)


def emit(line: str = "") -> None:
    typer.echo(line)


def _bold(text: str) -> str:
    return typer.style(text, bold=True) if is_terminal() else text


# `da --wide`: tables show every value whole, whatever the terminal's width.
WIDE = False
# Columns of words (why, what changed, a finding) wrap onto more lines; other long values
# (ids, names, times) are cut with an ellipsis: `show` has them whole.
WRAPPED = frozenset({"reason", "changed", "message", "description", "matched", "what"})
# What names a row is never cut (it is what the next command needs): it wraps, whole.
WHOLE = frozenset(
    {"id", "metric_id", "stream_id", "version", "position", "column_name", "name", "table"}
)
_NARROWEST = 6
_NARROWEST_WORDS = 10
_NARROWEST_NAMES = 16  # an id or a name wraps below this, never before
_A_MINUTE = 16  # "2026-11-30 13:10": a time is never cut shorter


def terminal_width() -> int | None:
    """The width tables must fit: `$COLUMNS`, else the terminal's; None when the output is
    not a terminal (piped output keeps whole values, one record per line) or with `--wide`."""
    import os
    import shutil

    if WIDE:
        return None
    given = os.environ.get("COLUMNS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return shutil.get_terminal_size().columns if is_terminal() else None


def _floor_sum(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> int:
    """The narrowest a table of these columns can be."""
    widths = [max([len(c), *(len(_cell(r.get(c), True)) for r in rows)]) for c in columns]
    floors = _floors(columns, widths)
    return sum(floors) + 2 * (len(columns) - 1)


def _floors(columns: Sequence[str], widths: list[int]) -> list[int]:
    def floor(column: str, width: int) -> int:
        if column.endswith("_at"):
            return min(width, max(len(column), _A_MINUTE))
        if column in WHOLE:
            return max(len(column), min(width, _NARROWEST_NAMES))
        narrowest = _NARROWEST_WORDS if column in WRAPPED else _NARROWEST
        return max(len(column), min(width, narrowest))

    return [floor(c, w) for c, w in zip(columns, widths, strict=True)]


def _fitted(columns: Sequence[str], widths: list[int], room: int) -> list[int]:
    """Column widths that fit `room` characters: columns of words give way first (they wrap),
    then the widest of the others (cut with an ellipsis); the columns that name a row never."""
    widths = list(widths)
    floors = _floors(columns, widths)
    for turn in (WRAPPED, frozenset(c for c in columns if c not in WHOLE), None):
        while sum(widths) + 2 * (len(widths) - 1) > room:
            shrinkable = [
                i
                for i, w in enumerate(widths)
                if w > floors[i] and (turn is None or columns[i] in turn)
            ]
            if not shrinkable:
                break
            widest = max(shrinkable, key=lambda i: widths[i])
            widths[widest] -= 1
    return widths


def _pieces(text: str, width: int, wrap: bool) -> list[str]:
    if len(text) <= width:
        return [text]
    if not wrap:
        return [text[: width - 1] + "…"]
    import textwrap

    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    title: str | None = None,
    optional: Sequence[str] = (),
) -> None:
    """Rows as an aligned text table, like `docker ps`: one header line, one line per row.

    On a terminal the table fits its width: words (reasons, changed fields, findings) wrap,
    other long values are cut with an ellipsis; `--wide` (or piped output) shows every value
    whole on one line per record, for grep and awk. Written by hand rather than with rich:
    rendering a rich table costs about 100 ms of start-up.
    """
    room = terminal_width()
    if room is not None:  # `optional` columns give way first, whole: --wide shows them
        dropped = list(optional)
        while dropped and _floor_sum(rows, columns) > room:
            gone = dropped.pop()
            columns = [c for c in columns if c != gone]
    fitted = room is not None
    cells = [[_cell(row.get(c), fitted).replace("\n", " ") for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    if room is not None:
        widths = _fitted(columns, widths, room)

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    if title:
        emit(_bold(title))
    emit(_bold(line([c.upper() for c in columns])))
    for values in cells:
        parts = [
            _pieces(v, w, c in WRAPPED or c in WHOLE)
            for v, w, c in zip(values, widths, columns, strict=True)
        ]
        for n in range(max(len(p) for p in parts)):
            emit(line([p[n] if n < len(p) else "" for p in parts]))


def _cell(value: Any, fitted: bool = False) -> str:
    """A value as a table shows it (a time to the minute when the table fits a terminal)."""
    if value is None:
        return ""
    if fitted and isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if fitted and isinstance(value, str) and len(value) >= 19 and value[10:11] in ("T", " "):
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            pass
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def fields(record: dict[str, Any], order: Sequence[str]) -> None:
    """One record as `name: value` lines (multi-line values indented below their name)."""
    for name in order:
        value = record.get(name)
        if value in (None, [], {}):
            continue
        if isinstance(value, dict):
            emit(f"{_bold(name)}:")
            for key, text in value.items():
                emit(f"  {_bold(key)}:")
                emit(_indent(str(text), 4))
        elif isinstance(value, str) and "\n" in value:
            emit(f"{_bold(name)}:")
            emit(_indent(value, 2))
        elif isinstance(value, list) and len(value) > 1:  # one item per line, never joined
            emit(f"{_bold(name)}:")
            for item in value:
                emit(f"  - {item}")
        else:
            emit(f"{_bold(name)}: {_cell(value)}")


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.rstrip("\n").splitlines())


DIFF_COLOURS = {"+": "green", "-": "red", "@": "cyan"}


def unified_diff(text: str) -> None:
    """A unified diff, coloured on a terminal."""
    colour = is_terminal()
    for line in text.splitlines():
        fg = None if line.startswith(("+++", "---")) else DIFF_COLOURS.get(line[:1])
        emit(typer.style(line, fg=fg) if colour and fg else line)


def is_terminal() -> bool:
    return sys.stdout.isatty()
