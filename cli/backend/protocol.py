"""The one protocol every command's backend implements, and what commands pass to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from registry import Settings

Json = Any
Progress = Any  # a callable (done, total) -> None, or None


@dataclass(frozen=True)
class Target:
    """What the global options resolved to."""

    settings: Settings
    actor: str
    api_url: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class Write:
    """What a write command says about itself: why, the version it is based on, and the key
    that makes a retry of it return the first answer."""

    reason: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Source:
    """What an import reads: the registry's YAML, or a dbt project; strict or not."""

    format: str = "yaml"
    strict: bool = False
    idempotency_key: str | None = None  # a retried run with this key gets the first report


YAML = Source()


class Backend(Protocol):
    """Every command's one call, embedded or over HTTP; each returns the registry's answer."""

    remote: bool

    def release(self) -> None:
        """Let go of what the backend holds (the embedded database, a connection)."""
        ...

    def metric_list(self, category: str | None, as_of: datetime | None, at: int | None) -> Json: ...
    def metric(
        self, metric_id: str, version: int | None, as_of: datetime | None = None
    ) -> Json: ...
    def metric_search(self, text: str, limit: int = 20) -> Json: ...
    def create_metric(self, fields: dict[str, Any], write: Write) -> Json: ...
    def update_metric(self, metric_id: str, fields: dict[str, Any], write: Write) -> Json: ...
    def delete_metric(self, metric_id: str, write: Write) -> Json: ...
    def restore_metric(self, metric_id: str, write: Write) -> Json: ...
    def roll_back(self, metric_id: str, to_version: int, write: Write) -> Json: ...
    def metric_history(self, metric_id: str) -> Json: ...
    def metric_diff(
        self,
        metric_id: str,
        versions: tuple[int | None, int | None],
        times: tuple[datetime | None, datetime | None],
    ) -> Json: ...
    def import_path(
        self,
        path: Path,
        dry_run: bool,
        prune: bool,
        source_ref: str | None,
        progress: Progress,
        source: Source = YAML,
    ) -> Json: ...
    def export(
        self,
        directory: Path,
        as_of: datetime | None,
        at: int | None,
        overwrite: bool,
        progress: Progress,
        format: str = "yaml",
    ) -> Json: ...
    def validation(self, metric_id: str | None, database: Path | None) -> Json: ...
    def table_map(self) -> Json: ...
    def run_metric(
        self, metric_id: str, variant: str | None, limit: int, database: Path | None
    ) -> Json: ...
    def describe_table(self, table: str) -> Json: ...
    def column_list(self, table: str) -> Json: ...
    def column(self, table: str, column: str) -> Json: ...
    def set_column(self, table: str, column: str, fields: dict[str, Any], write: Write) -> Json: ...
    def delete_column(self, table: str, column: str, write: Write) -> Json: ...
    def column_history(self, table: str, column: str) -> Json: ...
    def recent_events(
        self, before: int | None, limit: int | None, filters: dict[str, Any]
    ) -> Json: ...
    def verify(self, anchor: str | None) -> Json: ...

    # column files, the profiler
    def import_columns(self, path: Path, write: Write) -> Json: ...
    def export_columns(self, table: str | None) -> Json: ...
    def profile_knowledge(self, tables: list[str], metrics_dir: Path | None) -> Any: ...
    def record_basetypes(self, profiles: list[Any]) -> Json: ...

    # tokens
    def token_list(self) -> Json: ...
    def new_token(self, name: str, role: str) -> Json: ...
    def revoke_token(self, name: str) -> Json: ...

    # upkeep of the registry's own database (where the server is not holding it)
    def demo(self) -> Json: ...
    def load_starter_pack(self) -> Json: ...
    def rebuild_projections(self) -> Json: ...
    def check_projections(self) -> Json: ...
    def database_info(self) -> Json: ...
    def copy_database(self, place: str, outward: bool) -> Json: ...
