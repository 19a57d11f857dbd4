"""Rendering shared by every command: JSON for scripts and agents, plain text for people."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import typer


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
