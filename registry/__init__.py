"""The domain: metric and column models, commands, queries and the compatibility facades."""

from registry.connection import DatabaseLockedError, get_system_db, open_registry
from registry.errors import (
    ConflictError,
    InvalidDefinitionError,
    Issue,
    NotFoundError,
    RefusedError,
    RegistryError,
    UnknownFieldError,
)
from registry.models import ColumnMetadata, MetricDefinition, MetricId
from registry.repository import ColumnMetadataRepository, MetricRepository
from registry.session import Registry, attach
from registry.settings import Settings, load_settings

__all__ = [
    "ColumnMetadata",
    "ColumnMetadataRepository",
    "ConflictError",
    "DatabaseLockedError",
    "InvalidDefinitionError",
    "Issue",
    "MetricDefinition",
    "MetricId",
    "MetricRepository",
    "NotFoundError",
    "RefusedError",
    "Registry",
    "RegistryError",
    "Settings",
    "UnknownFieldError",
    "attach",
    "get_system_db",
    "load_settings",
    "open_registry",
]
