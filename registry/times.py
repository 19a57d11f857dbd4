"""Times given by people and programs: one parser for every door, UTC out."""

from __future__ import annotations

from datetime import UTC, datetime

from registry.errors import InvalidDefinitionError, Issue


def parse_time(text: str, field: str = "time") -> datetime:
    """An ISO 8601 date or time (`Z` or an offset; none means UTC) as a naive UTC datetime.

    Raises InvalidDefinitionError naming `field` for anything else (numbers included).
    """
    value = text.strip()
    try:
        if not value or value[0] not in "0123456789" or len(value) < 10:
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidDefinitionError(
            [Issue(field, f"{text!r} is not a time such as 2026-01-31 or 2026-01-31T12:00:00Z")]
        ) from exc
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # within a day of year 1 or 9999: before or after everything
            return datetime.min if moment.year == 1 else datetime.max
    return moment
