"""The domain: metric and column models, commands, queries and the compatibility facades.

Names are imported on first use (PEP 562), so that `da` pays at start-up only for the
modules a command needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DatabaseLockedError": "registry.connection",
    "get_system_db": "registry.connection",
    "open_registry": "registry.connection",
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
    "ColumnMetadataRepository": "registry.repository",
    "MetricRepository": "registry.repository",
    "Registry": "registry.session",
    "attach": "registry.session",
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
    from registry.connection import DatabaseLockedError as DatabaseLockedError
    from registry.connection import get_system_db as get_system_db
    from registry.connection import open_registry as open_registry
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
    from registry.repository import ColumnMetadataRepository as ColumnMetadataRepository
    from registry.repository import MetricRepository as MetricRepository
    from registry.session import Registry as Registry
    from registry.session import attach as attach
    from registry.settings import Settings as Settings
    from registry.settings import load_settings as load_settings
