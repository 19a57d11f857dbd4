"""Upcasters for payload schemas the registry has outgrown.

Metric payload schema 1 stored the definition with the YAML file's keys: `table` for
`table_name`, and one `sql_by_X` key per variant instead of the `sql_variants` mapping, in the
definition and in the names of the changed fields.
Schema 2 stores the v4 column names. Schema-1 events stay as they were written; they are
converted whenever they are read.
"""

from __future__ import annotations

from typing import Any

from events import Upcasters
from projections.streams import METRICS


def metric_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Rename a schema-1 metric definition's YAML keys to the v4 column names."""
    definition = payload.get("definition")
    if not isinstance(definition, dict):
        return payload
    converted: dict[str, Any] = {}
    variants = dict(definition.get("sql_variants") or {})
    for key, value in definition.items():
        if key == "table":
            converted["table_name"] = value
        elif key.startswith("sql_by_"):
            variants[key.removeprefix("sql_")] = value
        else:
            converted[key] = value
    converted["sql_variants"] = variants or None
    upcast = {**payload, "definition": converted}
    if isinstance(payload.get("changed"), list):
        upcast["changed"] = list(dict.fromkeys(_v2_name(name) for name in payload["changed"]))
    return upcast


def _v2_name(name: str) -> str:
    if name == "table":
        return "table_name"
    return "sql_variants" if name.startswith("sql_by_") else name


def build_upcasters() -> Upcasters:
    """Every upcaster the registry knows, ready for an EventStore."""
    upcasters = Upcasters()
    for event_type in METRICS.event_types:
        upcasters.register(event_type, 1, metric_v1_to_v2)
    return upcasters
