"""Rendering shared by every command: stable JSON for scripts and agents, tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

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


def emit(line: str = "") -> None:
    typer.echo(line)


def _console() -> Any:
    from rich.console import Console  # imported here: --json and plain output never pay for it

    # Piped output is not squeezed into 80 columns: scripts and logs read whole lines.
    return Console(highlight=False, soft_wrap=True, width=None if is_terminal() else 200)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    """Rows as a table (plain, uncoloured text when piped)."""
    from rich.table import Table

    grid = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*(_cell(row.get(c)) for c in columns))
    _console().print(grid)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def fields(record: dict[str, Any], order: Sequence[str]) -> None:
    """One record as `name: value` lines (multi-line values indented below their name)."""
    console = _console()
    for name in order:
        value = record.get(name)
        if value in (None, [], {}):
            continue
        if isinstance(value, dict):
            console.print(f"[bold]{name}[/bold]:")
            for key, text in value.items():
                console.print(f"  [bold]{key}[/bold]:")
                console.print(_indent(str(text), 4), markup=False)
        elif isinstance(value, str) and "\n" in value:
            console.print(f"[bold]{name}[/bold]:")
            console.print(_indent(value, 2), markup=False)
        else:
            console.print(f"[bold]{name}[/bold]: ", end="")
            console.print(_cell(value), markup=False)


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.rstrip("\n").splitlines())


def unified_diff(text: str) -> None:
    """A unified diff, coloured on a terminal."""
    console = _console()
    for line in text.splitlines():
        style = None
        if line.startswith("+") and not line.startswith("+++"):
            style = "green"
        elif line.startswith("-") and not line.startswith("---"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        console.print(line, style=style, markup=False)


def is_terminal() -> bool:
    return sys.stdout.isatty()
