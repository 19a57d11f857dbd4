"""Errors of the registry. One root, RegistryError; the API and CLI map these to the outside."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    """One problem found in a definition or an input: the one type every check reports (a
    write's or an import's validation, an unreadable file, `validate` against the data, the
    API's 422s). Modelled on dbt-semantic-interfaces' ValidationIssue: a level, a location
    and a message.

    `location` is where inside the subject: a field path (`unit`, `sql_variants.by_plan`) or
    `file:line: field`; `subject` is what the issue is about (a metric id), when the location
    alone does not say; `level` is `error` or `warning`.
    """

    location: str
    message: str
    level: str = ERROR
    subject: str | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message

    def as_dict(self) -> dict[str, str | None]:
        return {
            "level": self.level,
            "subject": self.subject,
            "location": self.location,
            "message": self.message,
        }

    def as_finding(self) -> dict[str, str | None]:
        """The shape `validate` answers with: metric id, field, severity, message."""
        return {
            "metric_id": self.subject,
            "field": self.location,
            "severity": self.level,
            "message": self.message,
        }


class RegistryError(Exception):
    """Root of every error the registry raises."""


class NotFoundError(RegistryError, LookupError):
    """The metric, column or version does not exist (or is deleted)."""


class ProposedError(RegistryError):
    """A write through a door that can only answer with what it wrote (the Python facade)
    became a proposal, because the approval policy requires one: `proposal` is it. The
    proposal is recorded; the change waits for another admin's approval."""

    def __init__(self, proposal: dict[str, object]) -> None:
        super().__init__(
            f"approval is required: the change is proposal {proposal['number']},"
            " to be approved by another admin"
        )
        self.proposal = proposal


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


class NotAllowedError(RefusedError):
    """The caller may not do this, whatever their role: decide their own proposal (four
    eyes), or withdraw someone else's. Nothing was written."""
