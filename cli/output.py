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


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    """Rows as an aligned text table, like `docker ps`: one header line, one line per row.

    Written by hand rather than with rich: rendering a rich table costs about 100 ms of
    start-up, half of what `da metrics list` may take in all. Cells never wrap, so piped
    output keeps one record per line for grep and awk.
    """
    cells = [[_cell(row.get(c)).replace("\n", " ") for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    if title:
        emit(_bold(title))
    emit(_bold(line([c.upper() for c in columns])))
    for values in cells:
        emit(line(values))


def _cell(value: Any) -> str:
    if value is None:
        return ""
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
