"""Errors of the registry. One root, RegistryError; the API and CLI map these to the outside."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem with an input: where it is, and what is wrong (and what would be accepted)."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class RegistryError(Exception):
    """Root of every error the registry raises."""


class NotFoundError(RegistryError, LookupError):
    """The metric, column or version does not exist (or is deleted)."""


class ConflictError(RegistryError):
    """The write conflicts with the current state (a version mismatch, a reused key, ...)."""

    def __init__(self, message: str, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class InvalidDefinitionError(RegistryError, ValueError):
    """The input is not a valid definition; carries every issue found, not just the first."""

    def __init__(self, issues: list[Issue], subject: str | None = None) -> None:
        self.issues = list(issues)
        head = f"{subject}: " if subject else ""
        lines = "; ".join(str(i) for i in self.issues)
        super().__init__(f"{head}{lines}")


class UnknownFieldError(InvalidDefinitionError):
    """Fields were named that the registry does not know."""

    def __init__(self, fields: list[str], known: list[str]) -> None:
        self.fields = list(fields)
        issues = [
            Issue(name, f"unknown field; known fields are {', '.join(known)}") for name in fields
        ]
        super().__init__(issues)


class StorageError(RegistryError):
    """The database could not store the change (disk full, I/O error); nothing was written."""


class UnavailableError(RegistryError):
    """Something the answer needs is not there (an analytics database, a file)."""


class TooLargeError(RegistryError, ValueError):
    """An input is larger than the registry accepts."""


class QueryFailedError(RegistryError):
    """A metric's SQL could not run, or was not allowed to; nothing was changed."""


class RefusedError(RegistryError, ValueError):
    """A run was refused as a whole, and nothing was written."""
