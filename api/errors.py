"""Registry errors to HTTP statuses: the one table every web door maps them with."""

from __future__ import annotations

from registry import (
    ConflictError,
    InvalidDefinitionError,
    NotFoundError,
    RefusedError,
    RegistryError,
)
from registry.errors import (
    NotAllowedError,
    QueryFailedError,
    StorageError,
    TooLargeError,
    UnavailableError,
)

# Most specific first.
STATUS_OF: tuple[tuple[type[RegistryError], int], ...] = (
    (InvalidDefinitionError, 422),
    (QueryFailedError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (TooLargeError, 413),
    (NotAllowedError, 403),
    (RefusedError, 400),
    (StorageError, 507),
    (UnavailableError, 503),
    (RegistryError, 400),
)


def status_of(exc: RegistryError) -> int:
    return next(code for kind, code in STATUS_OF if isinstance(exc, kind))
