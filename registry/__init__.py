"""The registry: the domain and the one place where every answer is made.

Its top-level modules are the domain (models, plans, commands, queries, search, errors,
settings, opening the database); its rooms are `access`, `interchange`, `analytics` and
`answers` (every door's way in). It imports `storage`, `projections` and `events`; the
doors import it.

Names are imported on first use (PEP 562), so that `da` pays at start-up only for the
modules a command needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DatabaseLockedError": "registry.database",
    "get_system_db": "registry.database",
    "open_registry": "registry.database",
    "ConflictError": "registry.errors",
    "InvalidDefinitionError": "registry.errors",
    "Issue": "registry.errors",
    "NotFoundError": "registry.errors",
    "RefusedError": "registry.errors",
    "RegistryError": "registry.errors",
    "UnknownFieldError": "registry.errors",
    "ColumnMetadata": "registry.models",
    "MetricDefinition": "registry.models",
    "MetricId": "registry.models",
    "ColumnMetadataRepository": "registry.answers.repository",
    "MetricRepository": "registry.answers.repository",
    "Registry": "storage.session",
    "attach": "storage.session",
    "Settings": "registry.settings",
    "load_settings": "registry.settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'registry' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:  # the same names, for type checkers and readers
    from registry.answers.repository import ColumnMetadataRepository as ColumnMetadataRepository
    from registry.answers.repository import MetricRepository as MetricRepository
    from registry.database import DatabaseLockedError as DatabaseLockedError
    from registry.database import get_system_db as get_system_db
    from registry.database import open_registry as open_registry
    from registry.errors import ConflictError as ConflictError
    from registry.errors import InvalidDefinitionError as InvalidDefinitionError
    from registry.errors import Issue as Issue
    from registry.errors import NotFoundError as NotFoundError
    from registry.errors import RefusedError as RefusedError
    from registry.errors import RegistryError as RegistryError
    from registry.errors import UnknownFieldError as UnknownFieldError
    from registry.models import ColumnMetadata as ColumnMetadata
    from registry.models import MetricDefinition as MetricDefinition
    from registry.models import MetricId as MetricId
    from registry.settings import Settings as Settings
    from registry.settings import load_settings as load_settings
    from storage.session import Registry as Registry
    from storage.session import attach as attach
