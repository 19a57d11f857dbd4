"""Where a command runs: on the embedded database, or over HTTP when a server holds it.

Both backends answer with the same plain data (dicts and lists as the API returns them), so
every command renders one way whichever it talked to.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import Settings, open_registry, queries
from registry.errors import RegistryError
from registry.session import Registry
from registry.subjects import COLUMN, METRIC

if TYPE_CHECKING:  # commands load the pydantic models: only writes import them
    from registry.commands import WriteContext

Json = Any


class RemoteError(RegistryError):
    """The server refused a request; carries its message."""


@dataclass(frozen=True)
class Target:
    """What the global options resolved to."""

    settings: Settings
    actor: str
    api_url: str | None = None
    token: str | None = None


def _jsonable(value: Any) -> Json:
    """Registry answers as the API would send them (times as ISO text)."""
    return json.loads(
        json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))
    )


def running_server(settings: Settings) -> str | None:
    """The URL of a live server holding this data folder's database, if one says so."""
    try:
        found = json.loads(settings.server_file.read_text())
        os.kill(int(found["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(found["url"])


class LocalBackend:
    """Commands on the embedded database, through the registry's functions."""

    remote = False

    def __init__(self, target: Target) -> None:
        self.target = target
        self._registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = open_registry(self.target.settings)
        return self._registry

    def ctx(self, reason: str | None = None) -> WriteContext:
        from registry.commands import WriteContext

        return WriteContext(actor=self.target.actor, reason=reason)

    def with_version(self, metric_id: str) -> Json:
        row, version = queries.metric_with_version(self.registry, metric_id)
        return _jsonable({**row, "version": version})

    # metrics
    def list_metrics(self, category: str | None, as_of: datetime | None, at: int | None) -> Json:
        rows = queries.list_metrics(self.registry, category, as_of, at)
        position = (
            None
            if as_of is None and at is None
            else queries.resolve_position(self.registry, as_of, at)
        )
        versions = queries.metric_versions(self.registry, position)
        return _jsonable([{**r, "version": versions.get(r["id"], 0)} for r in rows])

    def get_metric(self, metric_id: str, version: int | None) -> Json:
        if version is not None:
            return _jsonable(queries.get_version(self.registry, METRIC, metric_id, version))
        return self.with_version(metric_id)

    def search(self, text: str) -> Json:
        return _jsonable(queries.search_metrics(self.registry, text))

    def create_metric(self, fields: dict[str, Any], reason: str | None) -> Json:
        from registry.commands import create_metric

        return self.with_version(create_metric(self.registry, fields, self.ctx(reason)).id)

    def update_metric(self, metric_id: str, fields: dict[str, Any], reason: str | None) -> Json:
        from registry.commands import update_metric

        update_metric(self.registry, metric_id, fields, self.ctx(reason))
        return self.with_version(metric_id)

    def delete_metric(self, metric_id: str, reason: str | None) -> Json:
        from registry.commands import delete_metric

        result = delete_metric(self.registry, metric_id, self.ctx(reason))
        return {"status": "deleted", "id": result.id, "version": result.version}

    def restore_metric(self, metric_id: str, reason: str | None) -> Json:
        from registry.commands import restore_metric

        restore_metric(self.registry, metric_id, self.ctx(reason))
        return self.with_version(metric_id)

    def roll_back(self, metric_id: str, to_version: int, reason: str | None) -> Json:
        from registry.commands import roll_back_metric

        roll_back_metric(self.registry, metric_id, to_version, self.ctx(reason))
        return self.with_version(metric_id)

    def history(self, metric_id: str) -> Json:
        return _jsonable([e.as_dict() for e in queries.history(self.registry, METRIC, metric_id)])

    def diff(
        self,
        metric_id: str,
        versions: tuple[int | None, int | None],
        times: tuple[datetime | None, datetime | None],
    ) -> Json:
        low, high = versions
        if times[0] is not None:
            low = queries.version_at(self.registry, METRIC, metric_id, times[0])
        if times[1] is not None:
            high = queries.version_at(self.registry, METRIC, metric_id, times[1])
        return _jsonable(queries.diff(self.registry, METRIC, metric_id, low, high).as_dict())

    def import_path(
        self, path: Path, dry_run: bool, prune: bool, source_ref: str | None, progress: Any = None
    ) -> Json:
        from registry.imports import ImportOptions, reconcile

        options = ImportOptions(
            actor=self.target.actor, label=source_ref, prune=prune, dry_run=dry_run
        )
        return _jsonable(reconcile(self.registry, path, options, progress).as_dict())

    def export(
        self,
        directory: Path,
        as_of: datetime | None,
        at: int | None,
        overwrite: bool,
        progress: Any = None,
    ) -> Json:
        from registry.exports import export_yaml

        files = export_yaml(self.registry, directory, as_of, at, overwrite, progress)
        return [str(f) for f in files]

    def validate(self, metric_id: str | None, database: Path | None) -> Json:
        from registry.validation import validate

        db = database or self.target.settings.validation_db
        if not db.exists() and database is None:
            raise FileNotFoundError(
                f"no analytics database at {db}: run `da demo` to build the demo one, or pass --db"
            )
        return [f.as_dict() for f in validate(self.registry, db, metric_id)]

    def table_map(self) -> Json:
        return queries.table_map(self.registry)

    # columns
    def list_columns(self, table: str) -> Json:
        return _jsonable(queries.list_columns(self.registry, table))

    def get_column(self, table: str, column: str) -> Json:
        row = queries.get_column(self.registry, table, column)
        if row is None:
            raise RegistryError(f"column {table}.{column} has no metadata")
        return _jsonable(row)

    def set_column(
        self, table: str, column: str, fields: dict[str, Any], reason: str | None
    ) -> Json:
        from registry.commands import set_column

        set_column(self.registry, table, column, fields, self.ctx(reason))
        return self.get_column(table, column)

    def delete_column(self, table: str, column: str, reason: str | None) -> Json:
        from registry.commands import delete_column

        result = delete_column(self.registry, table, column, self.ctx(reason))
        return {"status": "deleted", "id": result.id, "version": result.version}

    def column_history(self, table: str, column: str) -> Json:
        from projections import column_stream_id

        entries = queries.history(self.registry, COLUMN, column_stream_id(table, column))
        return _jsonable([e.as_dict() for e in entries])

    # audit
    def events(self, after: int, limit: int, filters: dict[str, Any]) -> Json:
        return _jsonable(queries.event_page(self.registry, after, limit, **filters))

    def verify(self, anchor: str | None) -> Json:
        return queries.verify_log(self.registry, anchor)


class RemoteBackend:
    """The same commands over the HTTP API of a running server."""

    remote = True

    def __init__(self, target: Target, url: str) -> None:
        if not target.token:
            raise RegistryError(
                f"a server at {url} holds the registry database: pass --token or set DA_TOKEN"
            )
        import httpx  # imported here: local commands do not pay for it

        self.url = url.rstrip("/")
        self.client = httpx.Client(
            base_url=self.url, timeout=120, headers={"Authorization": f"Bearer {target.token}"}
        )
        self.target = target

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach the server at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise RemoteError(f"server answered {response.status_code}: {detail}")
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Json:
        return self._call(method, path, **kwargs).json()

    @staticmethod
    def _path(metric_id: str) -> str:
        category, _, name = metric_id.partition("/")
        return f"/api/metrics/{category}/{name}"

    def list_metrics(self, category: str | None, as_of: datetime | None, at: int | None) -> Json:
        params = {
            k: v
            for k, v in {
                "category": category,
                "as_of": as_of.isoformat() if as_of else None,
                "at_position": at,
            }.items()
            if v is not None
        }
        return self._json("GET", "/api/metrics", params=params)["metrics"]

    def get_metric(self, metric_id: str, version: int | None) -> Json:
        suffix = f"/versions/{version}" if version is not None else ""
        return self._json("GET", self._path(metric_id) + suffix)

    def search(self, text: str) -> Json:
        return self._json("GET", "/api/metrics/search", params={"q": text})["metrics"]

    def create_metric(self, fields: dict[str, Any], reason: str | None) -> Json:
        return self._json("POST", "/api/admin/metrics", json={**fields, "reason": reason})

    def update_metric(self, metric_id: str, fields: dict[str, Any], reason: str | None) -> Json:
        return self._json(
            "PATCH",
            "/api/admin" + self._path(metric_id).removeprefix("/api"),
            json={**fields, "reason": reason},
        )

    def delete_metric(self, metric_id: str, reason: str | None) -> Json:
        params = {"reason": reason} if reason else {}
        return self._json(
            "DELETE", "/api/admin" + self._path(metric_id).removeprefix("/api"), params=params
        )

    def restore_metric(self, metric_id: str, reason: str | None) -> Json:
        return self._json(
            "POST",
            "/api/admin" + self._path(metric_id).removeprefix("/api") + "/restore",
            json={"reason": reason},
        )

    def roll_back(self, metric_id: str, to_version: int, reason: str | None) -> Json:
        return self._json(
            "POST",
            "/api/admin" + self._path(metric_id).removeprefix("/api") + "/rollback",
            json={"to_version": to_version, "reason": reason},
        )

    def history(self, metric_id: str) -> Json:
        return self._json("GET", self._path(metric_id) + "/history")["versions"]

    def diff(
        self,
        metric_id: str,
        versions: tuple[int | None, int | None],
        times: tuple[datetime | None, datetime | None],
    ) -> Json:
        params = {
            "from": versions[0],
            "to": versions[1],
            "from_time": times[0].isoformat() if times[0] else None,
            "to_time": times[1].isoformat() if times[1] else None,
        }
        return self._json(
            "GET",
            self._path(metric_id) + "/diff",
            params={k: v for k, v in params.items() if v is not None},
        )

    def import_path(
        self, path: Path, dry_run: bool, prune: bool, source_ref: str | None, progress: Any = None
    ) -> Json:
        """Over HTTP the server does the work in one request: there is no progress to show."""
        params: dict[str, Any] = {"dry_run": dry_run, "prune": prune, "source": "yaml_import"}
        if source_ref:
            params["source_ref"] = source_ref
        if path.is_file():
            params["category"] = path.parent.name
            return self._json(
                "POST",
                "/api/admin/metrics/import",
                params=params,
                content=path.read_bytes(),
                headers={"Content-Type": "application/yaml"},
            )
        from registry.yaml_io import metric_files

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in metric_files(path):
                archive.write(file, file.relative_to(path).as_posix())
        return self._json(
            "POST",
            "/api/admin/metrics/import",
            params=params,
            content=buffer.getvalue(),
            headers={"Content-Type": "application/zip"},
        )

    def export(
        self,
        directory: Path,
        as_of: datetime | None,
        at: int | None,
        overwrite: bool,
        progress: Any = None,
    ) -> Json:
        params = {
            k: v
            for k, v in {"as_of": as_of.isoformat() if as_of else None, "at_position": at}.items()
            if v is not None
        }
        from registry.exports import install_export

        archive = zipfile.ZipFile(
            io.BytesIO(self._call("GET", "/api/export", params=params).content)
        )
        files = {name: archive.read(name) for name in archive.namelist()}
        return [str(f) for f in install_export(files, directory, overwrite)]

    def validate(self, metric_id: str | None, database: Path | None) -> Json:
        if database is not None:
            raise RegistryError(
                "--db is not available over HTTP: the server validates against its own database"
            )
        path = self._path(metric_id) + "/validate" if metric_id else "/api/validate"
        return self._json("GET", path)["findings"]

    def table_map(self) -> Json:
        return self._json("GET", "/api/table-map")

    def list_columns(self, table: str) -> Json:
        return self._json("GET", f"/api/columns/{table}")["columns"]

    def get_column(self, table: str, column: str) -> Json:
        return self._json("GET", f"/api/columns/{table}/{column}")

    def set_column(
        self, table: str, column: str, fields: dict[str, Any], reason: str | None
    ) -> Json:
        return self._json(
            "PATCH", f"/api/admin/columns/{table}/{column}", json={**fields, "reason": reason}
        )

    def delete_column(self, table: str, column: str, reason: str | None) -> Json:
        return self._json(
            "DELETE",
            f"/api/admin/columns/{table}/{column}",
            params={"reason": reason} if reason else {},
        )

    def column_history(self, table: str, column: str) -> Json:
        return self._json("GET", f"/api/columns/{table}/{column}/history")["versions"]

    def events(self, after: int, limit: int, filters: dict[str, Any]) -> Json:
        names = {"stream_id": "stream", "event_type": "type"}
        params = {
            names.get(k, k): (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in filters.items()
            if v is not None
        }
        return self._json("GET", "/api/events", params={"after": after, "limit": limit, **params})

    def verify(self, anchor: str | None) -> Json:
        return self._json("GET", "/api/audit/verify", params={"anchor": anchor} if anchor else {})


Backend = LocalBackend | RemoteBackend


def backend_for(target: Target) -> Backend:
    """Over HTTP if asked (--api-url) or if a live server holds the database; else embedded."""
    url = target.api_url or running_server(target.settings)
    return RemoteBackend(target, url) if url else LocalBackend(target)
