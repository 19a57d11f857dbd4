"""Compatibility facades over the registry: the interfaces SPEC section 4 promises.

They only delegate to commands and queries; every write goes through the event log. One
connection may be shared by threads: the facades on it take turns (a database connection
runs one statement at a time, and two threads interleaving transactions on one connection
read each other's half-done work). For work in parallel, give each thread its own
connection (`conn.cursor()`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from events import Connection
from projections import column_stream_id
from registry import commands, queries
from registry.commands import WriteContext, WriteResult, write_request
from registry.errors import NotFoundError, ProposedError
from registry.interchange import exports, imports
from registry.interchange.imports import ImportOptions
from registry.settings import default_actor
from registry.subjects import COLUMN, METRIC
from storage.session import Registry, attach

Rows = list[dict[str, Any]]
Names = list[str]  # aliases: inside the class `list` names the method


_TURNS: dict[int, threading.RLock] = {}
_TURNS_GUARD = threading.Lock()


def _turns_of(conn: Connection) -> threading.RLock:
    """The lock every facade on one connection takes turns on."""
    with _TURNS_GUARD:
        return _TURNS.setdefault(id(conn), threading.RLock())


def _in_turn(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: _Facade, *args: Any, **kwargs: Any) -> Any:
        with self._turns:
            return method(self, *args, **kwargs)

    return call


class _Facade:
    def __init__(self, conn: Connection, actor: str | None = None) -> None:
        self._conn = conn  # kept alive as long as the facade: its id keys the turns
        self._turns = _turns_of(conn)
        with self._turns:
            self.registry: Registry = attach(conn)
        self.actor = actor or default_actor()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every public method of a facade runs in its connection's turn."""
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if callable(member) and not name.startswith("_"):
                setattr(cls, name, _in_turn(member))

    def _ctx(self, actor: str | None = None, reason: str | None = None) -> WriteContext:
        return write_request(actor or self.actor, door="python", reason=reason)[1]


def _applied(result: WriteResult) -> WriteResult:
    """The write's result; ProposedError when the approval policy made it a proposal."""
    if result.proposal is not None:
        raise ProposedError(result.proposal)
    return result


class MetricRepository(_Facade):
    """Metric definitions: CRUD on the current projection, plus history, diff and rollback."""

    def create(self, *, reason: str | None = None, **fields: Any) -> dict[str, Any]:
        """Create a metric, or update it if the id exists; returns the stored row."""
        ctx = self._ctx(reason=reason)
        result = _applied(commands.create_metric(self.registry, fields, ctx))
        return queries.require_metric(self.registry, result.id)

    def get(self, metric_id: str) -> dict[str, Any] | None:
        return queries.get_metric(self.registry, metric_id)

    def list(self, category: str | None = None, as_of: datetime | None = None) -> Rows:
        return queries.list_metrics(self.registry, category, as_of)

    def update(
        self, metric_id: str, *, reason: str | None = None, **fields: Any
    ) -> dict[str, Any] | None:
        """Change named fields; None if the metric does not exist; unknown fields raise."""
        try:
            _applied(
                commands.update_metric(self.registry, metric_id, fields, self._ctx(reason=reason))
            )
        except NotFoundError:
            return None
        return queries.get_metric(self.registry, metric_id)

    def delete(self, metric_id: str, reason: str | None = None) -> bool:
        try:
            _applied(commands.delete_metric(self.registry, metric_id, self._ctx(reason=reason)))
        except NotFoundError:
            return False
        return True

    def find_by_table(self, table: str) -> Rows:
        return queries.find_by_table(self.registry, table)

    def find_by_synonym(self, term: str) -> Rows:
        return queries.find_by_synonym(self.registry, term)

    def get_table_map(self) -> dict[str, Names]:
        return queries.table_map(self.registry)

    def history(self, metric_id: str) -> Rows:
        return [e.as_dict() for e in queries.history(self.registry, METRIC, metric_id)]

    def get_version(self, metric_id: str, version: int) -> dict[str, Any]:
        return queries.get_version(self.registry, METRIC, metric_id, version)

    def diff(
        self, metric_id: str, from_version: int | None = None, to_version: int | None = None
    ) -> dict[str, Any]:
        return queries.diff(self.registry, METRIC, metric_id, from_version, to_version).as_dict()

    def rollback(
        self, metric_id: str, to_version: int, actor: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """Make version `to_version` current again (a new event); returns the row."""
        _applied(
            commands.roll_back_metric(
                self.registry, metric_id, to_version, self._ctx(actor, reason)
            )
        )
        return queries.require_metric(self.registry, metric_id)

    def import_from_yaml(self, path: str | Path, source_ref: str | None = None) -> int:
        """Import a YAML file or directory, skipping unreadable files.

        Returns how many metrics of the source the registry now holds (changed or not).
        """
        options = ImportOptions(actor=self.actor, label=source_ref)
        return imports.reconcile(self.registry, Path(path), options).imported

    def reconcile_from_yaml(
        self,
        path: str | Path,
        prune: bool = False,
        dry_run: bool = False,
        source_ref: str | None = None,
    ) -> dict[str, Names]:
        """Reconcile with a YAML source (SPEC 2.1); a refused run raises RefusedError."""
        options = ImportOptions(actor=self.actor, label=source_ref, prune=prune, dry_run=dry_run)
        report = imports.reconcile(self.registry, Path(path), options)
        keys = ("added", "updated", "adopted", "unchanged", "deleted", "written", "unreadable")
        return {k: list(getattr(report, k)) for k in keys}

    def export_to_yaml(self, directory: str | Path, as_of: datetime | None = None) -> int:
        """Export every live metric (or as of a time) to `<dir>/<category>/<name>.yml`.

        The folder may hold an earlier export: it is brought in line with this one.
        """
        return len(exports.export_yaml(self.registry, Path(directory), as_of, overwrite=True))

    def export_to_ossie(
        self, directory: str | Path, as_of: datetime | None = None, overwrite: bool = False
    ) -> dict[str, Any]:
        """Write Apache Ossie documents (one per category) to a folder: the files written,
        the metrics with an Ossie expression, and those kept as metadata with why."""
        from registry.answers.interchange import installed_interchange, ossie_files

        files = ossie_files(self.registry, as_of)
        return installed_interchange(files, Path(directory), overwrite, "ossie")

    def import_from_ossie(
        self, path: str | Path, source_ref: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Import Apache Ossie documents (a file or a folder), their column metadata in the
        same batch: the reconcile report, `skipped` naming what could not be expressed."""
        from registry.answers.interchange import import_metrics

        options = ImportOptions(
            actor=self.actor, door="python", label=source_ref, dry_run=dry_run, format="ossie"
        )
        return import_metrics(self.registry, Path(path), options)

    def restore(
        self, metric_id: str, actor: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """Bring back a deleted metric; returns the row."""
        _applied(commands.restore_metric(self.registry, metric_id, self._ctx(actor, reason)))
        return queries.require_metric(self.registry, metric_id)


class ColumnMetadataRepository(_Facade):
    """What each table column means, written through the event log."""

    def save(
        self,
        table_id: str,
        column_name: str,
        basetype: str | None = None,
        description: str | None = None,
        confidence: str = "manual",
        source: str = "manual",
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Create or replace a column's metadata; returns the stored row."""
        fields = {
            "table_id": table_id,
            "column_name": column_name,
            "basetype": basetype,
            "description": description,
            "confidence": confidence,
            "source": source,
        }
        _applied(commands.save_column(self.registry, fields, self._ctx(reason=reason)))
        found = queries.get_column(self.registry, table_id, column_name)
        assert found is not None  # noqa: S101 - just written in the same process
        return found

    def get(self, table_id: str, column_name: str) -> dict[str, Any] | None:
        return queries.get_column(self.registry, table_id, column_name)

    def list_for_table(self, table_id: str) -> Rows:
        return queries.list_columns(self.registry, table_id)

    def delete(self, table_id: str, column_name: str, reason: str | None = None) -> bool:
        try:
            commands.delete_column(self.registry, table_id, column_name, self._ctx(reason=reason))
        except NotFoundError:
            return False
        return True

    def history(self, table_id: str, column_name: str) -> Rows:
        stream_id = column_stream_id(table_id, column_name)
        return [e.as_dict() for e in queries.history(self.registry, COLUMN, stream_id)]

    def get_version(self, table_id: str, column_name: str, version: int) -> dict[str, Any]:
        stream_id = column_stream_id(table_id, column_name)
        return queries.get_version(self.registry, COLUMN, stream_id, version)

    def diff(
        self,
        table_id: str,
        column_name: str,
        from_version: int | None = None,
        to_version: int | None = None,
    ) -> dict[str, Any]:
        stream_id = column_stream_id(table_id, column_name)
        return queries.diff(self.registry, COLUMN, stream_id, from_version, to_version).as_dict()

    def rollback(
        self,
        table_id: str,
        column_name: str,
        to_version: int,
        actor: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any] | None:
        commands.roll_back_column(
            self.registry, table_id, column_name, to_version, self._ctx(actor, reason)
        )
        return queries.get_column(self.registry, table_id, column_name)

    def restore(
        self, table_id: str, column_name: str, actor: str | None = None, reason: str | None = None
    ) -> dict[str, Any] | None:
        commands.restore_column(self.registry, table_id, column_name, self._ctx(actor, reason))
        return queries.get_column(self.registry, table_id, column_name)
