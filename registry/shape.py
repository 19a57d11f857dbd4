"""How answers leave the registry (and webhooks their bodies): JSON-ready values and ETags."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any


def utc_text(moment: datetime) -> str:
    """A time as ISO text in UTC with `Z` (naive times are UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def jsonable(value: Any) -> Any:
    """A registry value as JSON data: times as UTC text, dataclasses and tuples unpacked,
    dates as ISO text, decimals as numbers (what an analytics query may return)."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return json_object(asdict(value))
    return value


def json_object(value: dict[str, Any]) -> dict[str, Any]:
    """`jsonable` for a mapping, typed as one."""
    out: dict[str, Any] = jsonable(value)
    return out


def etag(version: int) -> str:
    """The ETag of a version: `"v3"`."""
    return f'"v{version}"'
