"""Commands on the embedded database: each one call to `registry.answers`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.backend.protocol import YAML, Json, Progress, Source, Target, Write
from registry import answers, open_registry
from storage.session import Registry

if TYPE_CHECKING:  # commands load the pydantic models: only writes import them
    from registry.commands import WriteContext


class LocalBackend:
    """The registry's answers, computed in this process."""

    remote = False

    def __init__(self, target: Target) -> None:
        self.target = target
        self._registry: Registry | None = None

    def release(self) -> None:
        """Close the embedded database, so that other processes may open it; the next call
        opens it again."""
        if self._registry is not None:
            registry, self._registry = self._registry, None
            registry.conn.close()

    @property
    def registry(self) -> Registry:
        """The registry to write to: created on first use."""
        if self._registry is None:
            self._registry = self._opened(open_registry(self.target.settings))
        return self._registry

    @property
    def existing(self) -> Registry:
        """The registry to read: there must be one (reading never creates an empty one)."""
        if self._registry is None:
            self._registry = self._opened(open_registry(self.target.settings, must_exist=True))
        return self._registry

    def _opened(self, registry: Registry) -> Registry:
        """A registry just opened, with the scheduled changes whose date has come brought
        into its v4 tables (nobody else keeps the embedded file's clock)."""
        try:
            answers.bring_in_due(registry, self.target.door)
        except BaseException:
            registry.conn.close()
            raise
        return registry

    def ctx(self, write: Write) -> WriteContext:
        from registry.commands import write_request

        _, context = write_request(
            self.target.actor,
            door=self.target.door,
            reason=write.reason,
            expected_version=write.expected_version,
            idempotency_key=write.idempotency_key,
            effective_from=write.effective_from,
        )
        return context

    # metrics
    def metric_list(
        self,
        category: str | None,
        as_of: datetime | None,
        at: int | None,
        valid_at: datetime | None = None,
    ) -> Json:
        return answers.metric_list(self.existing, category, as_of, at, valid_at=valid_at)

    def metric(
        self,
        metric_id: str,
        version: int | None,
        as_of: datetime | None = None,
        valid_at: datetime | None = None,
    ) -> Json:
        return answers.metric(self.existing, metric_id, version, as_of, valid_at)

    def metric_periods(
        self, metric_id: str, valid_from: datetime, valid_to: datetime, as_of: datetime | None
    ) -> Json:
        return answers.metric_periods(self.existing, metric_id, valid_from, valid_to, as_of)

    def metric_timeline(self, metric_id: str) -> Json:
        return answers.metric_timeline(self.existing, metric_id)

    def rename_metric(self, metric_id: str, new_id: str, write: Write) -> Json:
        return answers.rename_metric(self.registry, metric_id, new_id, self.ctx(write))

    def metric_search(self, text: str, limit: int = 20) -> Json:
        return answers.metric_search(self.existing, text, limit)

    def create_metric(self, fields: dict[str, Any], write: Write) -> Json:
        return answers.create_metric(self.registry, fields, self.ctx(write))

    def update_metric(self, metric_id: str, fields: dict[str, Any], write: Write) -> Json:
        return answers.update_metric(self.registry, metric_id, fields, self.ctx(write))

    def delete_metric(self, metric_id: str, write: Write) -> Json:
        return answers.delete_metric(self.registry, metric_id, self.ctx(write))

    def restore_metric(self, metric_id: str, write: Write) -> Json:
        return answers.restore_metric(self.registry, metric_id, self.ctx(write))

    def roll_back(self, metric_id: str, to_version: int, write: Write) -> Json:
        return answers.roll_back_metric(self.registry, metric_id, to_version, self.ctx(write))

    def metric_history(self, metric_id: str) -> Json:
        return answers.metric_history(self.existing, metric_id)

    def metric_diff(
        self,
        metric_id: str,
        versions: tuple[int | None, int | None],
        times: tuple[datetime | None, datetime | None],
    ) -> Json:
        return answers.metric_diff(self.existing, metric_id, *versions, *times)

    def import_path(
        self,
        path: Path,
        dry_run: bool,
        prune: bool,
        source_ref: str | None,
        progress: Progress,
        source: Source = YAML,
    ) -> Json:
        from registry.interchange.imports import ImportOptions

        options = ImportOptions(
            actor=self.target.actor,
            door=self.target.door,
            label=source_ref,
            prune=prune,
            dry_run=dry_run,
            format=source.format,
            strict=source.strict,
            idempotency_key=source.idempotency_key,
            effective_from=source.effective_from,
        )
        return answers.import_metrics(self.registry, path, options, progress)

    def export(
        self,
        directory: Path,
        as_of: datetime | None,
        at: int | None,
        overwrite: bool,
        progress: Progress,
        format: str = "yaml",
        valid_at: datetime | None = None,
    ) -> Json:
        return answers.export_folder(
            self.existing, directory, as_of, at, overwrite, progress, format, valid_at
        )

    def validation(self, metric_id: str | None, database: Path | None) -> Json:
        db = database or self.target.settings.validation_db
        return answers.validation(self.existing, db, metric_id)

    def table_map(self) -> Json:
        return answers.table_map(self.existing)

    def run_metric(
        self,
        metric_id: str,
        variant: str | None,
        limit: int,
        database: Path | None,
        valid_at: datetime | None = None,
    ) -> Json:
        settings = self.target.settings
        db = database or settings.validation_db
        return answers.run_metric(
            self.existing, db, metric_id, variant, limit, settings.run_timeout, valid_at
        )

    def describe_table(self, table: str) -> Json:
        return answers.describe_table(self.existing, table)

    # columns
    def column_list(self, table: str) -> Json:
        return answers.column_list(self.existing, table)

    def column(self, table: str, column: str) -> Json:
        return answers.column(self.existing, table, column)

    def set_column(self, table: str, column: str, fields: dict[str, Any], write: Write) -> Json:
        return answers.set_column(self.registry, table, column, fields, self.ctx(write))

    def delete_column(self, table: str, column: str, write: Write) -> Json:
        return answers.delete_column(self.registry, table, column, self.ctx(write))

    def column_history(self, table: str, column: str) -> Json:
        return answers.column_history(self.existing, table, column)

    def column_diff(self, table: str, column: str, versions: tuple[int | None, int | None]) -> Json:
        return answers.column_diff(self.existing, table, column, *versions)

    def restore_column(self, table: str, column: str, write: Write) -> Json:
        return answers.restore_column(self.registry, table, column, self.ctx(write))

    def roll_back_column(self, table: str, column: str, to_version: int, write: Write) -> Json:
        return answers.roll_back_column(self.registry, table, column, to_version, self.ctx(write))

    # audit
    def recent_events(self, before: int | None, limit: int | None, filters: dict[str, Any]) -> Json:
        return answers.recent_events(self.existing, before, limit, **filters)

    def verify(
        self, anchor: str | None, checkpoint: str | None = None, kept: Path | None = None
    ) -> Json:
        return answers.verify(self.existing, anchor, checkpoint, kept)

    def tlog_key(self) -> Json:
        return answers.tlog_key(self.existing)

    def tlog_checkpoint(self) -> str:
        return answers.tlog_checkpoint(self.existing)

    def prove(self, position: int, size: int | None) -> Json:
        return answers.inclusion_proof(self.existing, position, size)

    def publish_tlog(self, folder: Path) -> Json:
        return answers.published_tlog(self.existing, folder)

    # column files, the profiler
    def import_columns(self, path: Path, write: Write) -> Json:
        return answers.imported_columns(self.registry, path, self.ctx(write))

    def export_columns(self, table: str | None) -> Json:
        return answers.column_file(self.existing, table)

    def profile_knowledge(self, tables: list[str], metrics_dir: Path | None) -> Any:
        """The registry's metrics and column meanings, read-only; a YAML folder's metrics
        (with a note saying why) when there is no registry to read."""
        from dataclasses import replace

        import starter_pack
        from registry.analytics.profiler import knowledge_from_registry, knowledge_from_yaml
        from registry.database import RegistryUnavailableError, open_registry_read_only

        try:
            return knowledge_from_registry(open_registry_read_only(self.target.settings))
        except RegistryUnavailableError as exc:
            folder = metrics_dir or starter_pack.METRICS_DIR
            note = f"{exc}; reading metrics from {folder} instead"
            return replace(knowledge_from_yaml(folder), note=note)

    def record_basetypes(self, profiles: list[Any]) -> Json:
        target = self.target
        return answers.recorded_basetypes(self.registry, profiles, target.actor, target.door)

    # governed changes
    def propose(
        self,
        action: str,
        metric_id: str | None,
        fields: dict[str, Any],
        to_version: int | None,
        write: Write,
    ) -> Json:
        return answers.propose(
            self.registry, action, metric_id, fields, to_version, self.ctx(write)
        )

    def proposal_list(self, state: str | None) -> Json:
        return answers.proposal_list(self.existing, state)

    def proposal(self, number: int) -> Json:
        return answers.proposal(self.existing, number)

    def decide(self, number: int, decision: str, reason: str) -> Json:
        ctx = self.ctx(Write(reason))
        return answers.decided_proposal(self.registry, number, decision, ctx)

    def policy(self) -> Json:
        return answers.approval_policy(self.existing)

    def set_policy(self, approval: str, category: str | None, reason: str | None) -> Json:
        ctx = self.ctx(Write(reason))
        return answers.set_approval_policy(self.registry, approval, category, ctx)

    def certify(self, metric_id: str, note: str) -> Json:
        return answers.certified_metric(self.registry, metric_id, self.ctx(Write(note)))

    # tokens
    def token_list(self) -> Json:
        return answers.token_list(self.existing)

    def new_token(self, name: str, role: str, tables: list[str] | None = None) -> Json:
        return answers.new_token(self.registry, name, role, self.target.actor, tables)

    def grant_tables(self, name: str, tables: list[str] | None, reason: str | None) -> Json:
        return answers.granted_token(self.registry, name, tables, self.target.actor, reason)

    def revoke_token(self, name: str) -> Json:
        return answers.revoked_token(self.registry, name, self.target.actor)

    # webhooks (delivered by `da serve`)
    def hook_list(self) -> Json:
        return answers.hook_list(self.existing)

    def new_hook(
        self, url: str, events: list[str], category: str | None, tables: list[str]
    ) -> Json:
        return answers.new_hook(self.registry, url, events, category, tables, self.target.actor)

    def remove_hook(self, hook_id: str) -> Json:
        return answers.removed_hook(self.registry, hook_id, self.target.actor)

    def test_hook(self, hook_id: str) -> Json:
        return answers.hook_test(self.registry, hook_id)

    def hook_deliveries(self, hook_id: str, limit: int) -> Json:
        return answers.hook_deliveries(self.existing, hook_id, limit)

    # upkeep
    def demo(self) -> Json:
        target = self.target
        return answers.demo(self.registry, target.settings.demo_db_path, target.actor, target.door)

    def load_starter_pack(self) -> Json:
        return answers.starter_pack(self.registry, self.target.actor, door=self.target.door)

    def rebuild_projections(self) -> Json:
        return answers.rebuilt_projections(self.registry)

    def check_projections(self) -> Json:
        return answers.projection_check(self.registry)

    def database_info(self) -> Json:
        return answers.database_info(self.existing)

    def copy_database(self, place: str, outward: bool) -> Json:
        from registry.settings import settings_elsewhere

        there = settings_elsewhere(self.target.settings, place)
        if outward:
            return answers.copied_registry(self.existing, open_registry(there))
        return answers.copied_registry(open_registry(there, must_exist=True), self.registry)
