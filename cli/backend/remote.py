"""The same commands over the HTTP API of a running server; URLs from quoted segments."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cli.backend.protocol import YAML, Json, Progress, Source, Target, Write
from registry.errors import RegistryError


class RemoteError(RegistryError):
    """The server refused a request; carries its words and status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def url_path(*segments: str) -> str:
    """A URL path from segments, each quoted whole (`/`, `?`, `#`, `%` and spaces included)."""
    return "/" + "/".join(quote(s, safe="") for s in segments)


def _metric(metric_id: str, *rest: str, admin: bool = False) -> str:
    category, _, name = metric_id.partition("/")
    return url_path("api", *(["admin"] if admin else []), "metrics", category, name, *rest)


def _column(table: str, column: str, *rest: str, admin: bool = False) -> str:
    return url_path("api", *(["admin"] if admin else []), "columns", table, column, *rest)


def _params(**values: Any) -> dict[str, Any]:
    """Query parameters without the unset ones; times as ISO text."""
    return {
        k: v.isoformat() if isinstance(v, datetime) else v
        for k, v in values.items()
        if v is not None
    }


def _meta(write: Write) -> dict[str, Any]:
    """A write's own fields in a request body: why, and from when it is in force."""
    meta: dict[str, Any] = {"reason": write.reason}
    if write.effective_from is not None:
        meta["effective_from"] = write.effective_from.isoformat()
    return meta


def _write_headers(write: Write) -> dict[str, str]:
    headers = {}
    if write.expected_version is not None:
        headers["If-Match"] = f'"v{write.expected_version}"'
    if write.idempotency_key is not None:
        headers["Idempotency-Key"] = write.idempotency_key
    return headers


class RemoteBackend:
    """The registry's answers, as the server sends them."""

    remote = True

    def __init__(self, target: Target, url: str) -> None:
        if not target.token:
            raise RegistryError(
                f"a server at {url} holds the registry database: pass --token or set DA_TOKEN"
            )
        import httpx  # imported here: local commands do not pay for it

        self.url = url.rstrip("/")
        # A renamed metric's old id answers with a 308 to its new one: followed.
        self.client = httpx.Client(
            base_url=self.url,
            timeout=120,
            headers={"Authorization": f"Bearer {target.token}"},
            follow_redirects=True,
        )
        self.target = target

    def release(self) -> None:
        self.client.close()

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
            raise RemoteError(str(detail), response.status_code)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Json:
        return self._call(method, path, **kwargs).json()

    # metrics
    def _all_pages(self, path: str, key: str, params: dict[str, Any]) -> Json:
        """Every page of a paged answer (`next` passed back as `after`), joined into one."""
        page = self._json("GET", path, params=params)
        items = list(page[key])
        while page.get("next") is not None:
            page = self._json("GET", path, params={**params, "after": page["next"]})
            items += page[key]
        return {**page, key: items, "count": len(items)}

    def metric_list(
        self,
        category: str | None,
        as_of: datetime | None,
        at: int | None,
        valid_at: datetime | None = None,
    ) -> Json:
        params = _params(category=category, as_of=as_of, at_position=at, valid_at=valid_at)
        return self._all_pages("/api/metrics", "metrics", params)

    def metric(
        self,
        metric_id: str,
        version: int | None,
        as_of: datetime | None = None,
        valid_at: datetime | None = None,
    ) -> Json:
        suffix = ("versions", str(version)) if version is not None else ()
        params = _params(as_of=as_of, valid_at=valid_at)
        return self._json("GET", _metric(metric_id, *suffix), params=params)

    def metric_periods(
        self, metric_id: str, valid_from: datetime, valid_to: datetime, as_of: datetime | None
    ) -> Json:
        params = _params(valid_from=valid_from, valid_to=valid_to, as_of=as_of)
        return self._json("GET", _metric(metric_id, "periods"), params=params)

    def metric_timeline(self, metric_id: str) -> Json:
        return self._json("GET", _metric(metric_id, "timeline"))

    def rename_metric(self, metric_id: str, new_id: str, write: Write) -> Json:
        return self._json(
            "POST",
            _metric(metric_id, "rename", admin=True),
            json={"to": new_id, "reason": write.reason},
            headers=_write_headers(write),
        )

    def metric_search(self, text: str, limit: int = 20) -> Json:
        return self._json("GET", "/api/metrics/search", params={"q": text, "limit": limit})

    def create_metric(self, fields: dict[str, Any], write: Write) -> Json:
        body = {**fields, **_meta(write)}
        return self._json("POST", "/api/admin/metrics", json=body, headers=_write_headers(write))

    def update_metric(self, metric_id: str, fields: dict[str, Any], write: Write) -> Json:
        body = {**fields, **_meta(write)}
        return self._json(
            "PATCH", _metric(metric_id, admin=True), json=body, headers=_write_headers(write)
        )

    def delete_metric(self, metric_id: str, write: Write) -> Json:
        return self._json(
            "DELETE",
            _metric(metric_id, admin=True),
            params=_params(reason=write.reason, effective_from=write.effective_from),
            headers=_write_headers(write),
        )

    def restore_metric(self, metric_id: str, write: Write) -> Json:
        return self._json(
            "POST",
            _metric(metric_id, "restore", admin=True),
            json=_meta(write),
            headers=_write_headers(write),
        )

    def roll_back(self, metric_id: str, to_version: int, write: Write) -> Json:
        return self._json(
            "POST",
            _metric(metric_id, "rollback", admin=True),
            json={"to_version": to_version, **_meta(write)},
            headers=_write_headers(write),
        )

    def metric_history(self, metric_id: str) -> Json:
        return self._json("GET", _metric(metric_id, "history"))

    def metric_diff(
        self,
        metric_id: str,
        versions: tuple[int | None, int | None],
        times: tuple[datetime | None, datetime | None],
    ) -> Json:
        params = _params(
            **{"from": versions[0], "to": versions[1], "from_time": times[0], "to_time": times[1]}
        )
        return self._json("GET", _metric(metric_id, "diff"), params=params)

    def import_path(
        self,
        path: Path,
        dry_run: bool,
        prune: bool,
        source_ref: str | None,
        progress: Progress,
        source: Source = YAML,
    ) -> Json:
        """Over HTTP the server does the work in one request: there is no progress to show."""
        params = _params(
            dry_run=dry_run,
            prune=prune,
            source="yaml_import",
            source_ref=source_ref,
            format=source.format,
            strict=source.strict,
            effective_from=source.effective_from,
        )
        if path.is_file():
            params.update(category=path.parent.name, filename=path.name)
            body, kind = path.read_bytes(), "application/yaml"
        else:
            from registry.interchange.yaml_io import metric_files

            every_file = sorted(f for f in path.rglob("*") if f.is_file())
            files = every_file if source.format in ("dbt", "ossie") else metric_files(path)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in files:
                    archive.write(file, file.relative_to(path).as_posix())
            body, kind = buffer.getvalue(), "application/zip"
        return self._json(
            "POST",
            "/api/admin/metrics/import",
            params=params,
            content=body,
            headers={
                "Content-Type": kind,
                **_write_headers(Write(idempotency_key=source.idempotency_key)),
            },
        )

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
        from registry.interchange.exports import install_export

        params = _params(as_of=as_of, at_position=at, format=format, valid_at=valid_at)
        content = self._call("GET", "/api/export", params=params).content
        archive = zipfile.ZipFile(io.BytesIO(content))
        files = {name: archive.read(name) for name in archive.namelist()}
        if format in ("dbt", "ossie"):
            from registry import answers

            texts = {name: data.decode("utf-8") for name, data in files.items()}
            return answers.installed_interchange(texts, directory, overwrite, format)
        return [str(f) for f in install_export(files, directory, overwrite)]

    def validation(self, metric_id: str | None, database: Path | None) -> Json:
        if database is not None:
            raise RegistryError(
                "--db is not available over HTTP: the server validates against its own database"
            )
        if metric_id:
            return self._json("GET", _metric(metric_id, "validate"))
        return self._all_pages("/api/validate", "findings", {})

    def table_map(self) -> Json:
        return self._json("GET", "/api/table-map")

    def run_metric(
        self,
        metric_id: str,
        variant: str | None,
        limit: int,
        database: Path | None,
        valid_at: datetime | None = None,
    ) -> Json:
        if database is not None:
            raise RegistryError(
                "--db is not available over HTTP: the server runs metrics on its own database"
            )
        return self._json(
            "GET",
            _metric(metric_id, "run"),
            params=_params(variant=variant, limit=limit, valid_at=valid_at),
        )

    def describe_table(self, table: str) -> Json:
        return self._json("GET", url_path("api", "tables", table))

    # columns
    def column_list(self, table: str) -> Json:
        return self._json("GET", url_path("api", "columns", table))

    def column(self, table: str, column: str) -> Json:
        return self._json("GET", _column(table, column))

    def set_column(self, table: str, column: str, fields: dict[str, Any], write: Write) -> Json:
        return self._json(
            "PATCH",
            _column(table, column, admin=True),
            json={**fields, **_meta(write)},
            headers=_write_headers(write),
        )

    def delete_column(self, table: str, column: str, write: Write) -> Json:
        return self._json(
            "DELETE",
            _column(table, column, admin=True),
            params=_params(reason=write.reason, effective_from=write.effective_from),
            headers=_write_headers(write),
        )

    def column_history(self, table: str, column: str) -> Json:
        return self._json("GET", _column(table, column, "history"))

    def column_diff(self, table: str, column: str, versions: tuple[int | None, int | None]) -> Json:
        params = _params(**{"from": versions[0], "to": versions[1]})
        return self._json("GET", _column(table, column, "diff"), params=params)

    def restore_column(self, table: str, column: str, write: Write) -> Json:
        return self._json(
            "POST",
            _column(table, column, "restore", admin=True),
            json=_meta(write) or None,
            headers=_write_headers(write),
        )

    def roll_back_column(self, table: str, column: str, to_version: int, write: Write) -> Json:
        return self._json(
            "POST",
            _column(table, column, "rollback", admin=True),
            json={"to_version": to_version, **_meta(write)},
            headers=_write_headers(write),
        )

    # audit
    def recent_events(self, before: int | None, limit: int | None, filters: dict[str, Any]) -> Json:
        """The server pages by at most 1,000 events: follow `next_before` up to `limit`."""
        names = {"stream_id": "stream", "event_type": "type", "batch_id": "batch"}
        params = _params(**{names.get(k, k): v for k, v in filters.items()})
        events: list[Json] = []
        while True:
            want = 1000 if limit is None else min(1000, limit - len(events))
            page = self._json(
                "GET", "/api/audit/log", params={**params, **_params(before=before, limit=want)}
            )
            events += page["events"]
            before = page["next_before"]
            if before is None or (limit is not None and len(events) >= limit):
                return {**page, "events": events}

    def verify(
        self, anchor: str | None, checkpoint: str | None = None, kept: Path | None = None
    ) -> Json:
        if checkpoint is None:
            return self._json("GET", "/api/audit/verify", params=_params(anchor=anchor))
        body = {"anchor": anchor, "checkpoint": checkpoint}
        report: Json = self._json("POST", "/api/audit/verify", json=body)
        found = report["checkpoint"]
        if kept is not None and not found["consistent"]:
            # The kept tiles are here and the tree is on the server: compared here, by the
            # registry's own function, against the tiles the server publishes.
            from registry import answers

            found.update(answers.kept_divergence(kept, checkpoint, self._tile_of(found["size"])))
        return report

    def _tile_of(self, size: int) -> Callable[[int, int], bytes]:
        """The server's tiles of its tree of `size` events (GET /tlog/tile/...)."""
        from events import merkle

        def tile(level: int, n: int) -> bytes:
            width = (size // merkle.WIDTH**level) % merkle.WIDTH
            partial = n == size // merkle.WIDTH ** (level + 1) and width
            return self._tlog_file(merkle.tile_path(level, n, width if partial else 0)) or b""

        return tile

    def _tlog_file(self, path: str) -> bytes | None:
        """A file of the server's published tree (`tile/...`), None if it has none."""
        response = self.client.get(f"/tlog/{path}")
        return bytes(response.content) if response.status_code == 200 else None

    def tlog_key(self) -> Json:
        return self._json("GET", "/api/audit/key")

    def tlog_checkpoint(self) -> str:
        return str(self._call("GET", "/tlog/checkpoint").text)

    def prove(self, position: int, size: int | None) -> Json:
        params = _params(position=position, size=size)
        return self._json("GET", "/api/audit/proof", params=params)

    def publish_tlog(self, folder: Path) -> Json:
        """The server's published tree (/tlog) mirrored into a folder, checked before it is
        written (by the registry's own function)."""
        from registry import answers

        note = self.tlog_checkpoint()
        key = str(self.tlog_key()["verifier_key"])
        return answers.mirrored_tlog(folder, note, key, self._tlog_file)

    # column files, the profiler
    def import_columns(self, path: Path, write: Write) -> Json:
        raise _embedded_only("columns import")

    def export_columns(self, table: str | None) -> Json:
        raise _embedded_only("columns export")

    def profile_knowledge(self, tables: list[str], metrics_dir: Path | None) -> Any:
        """The server's metrics, and its column meanings of the profiled tables."""
        from registry.analytics.profiler import Knowledge

        columns = {
            (c["table_id"], c["column_name"]): c
            for t in tables
            for c in self.column_list(t)["columns"]
        }
        metrics = self.metric_list(None, None, None)["metrics"]
        return Knowledge(f"server:{self.url}", metrics, columns)

    def record_basetypes(self, profiles: list[Any]) -> Json:
        raise _embedded_only("profile --record-basetypes")

    # governed changes
    def propose(
        self,
        action: str,
        metric_id: str | None,
        fields: dict[str, Any],
        to_version: int | None,
        write: Write,
    ) -> Json:
        body = {
            "action": action,
            "metric": metric_id,
            "fields": fields,
            "to_version": to_version,
            "reason": write.reason or "",
            "expected_version": write.expected_version,
        }
        headers = (
            {} if write.idempotency_key is None else {"Idempotency-Key": write.idempotency_key}
        )
        return self._json("POST", "/api/proposals", json=body, headers=headers)

    def proposal_list(self, state: str | None) -> Json:
        return self._json("GET", "/api/proposals", params=_params(state=state))

    def proposal(self, number: int) -> Json:
        return self._json("GET", url_path("api", "proposals", str(number)))

    def decide(self, number: int, decision: str, reason: str) -> Json:
        path = url_path("api", "proposals", str(number), decision)
        return self._json("POST", path, json={"reason": reason})

    def policy(self) -> Json:
        return self._json("GET", "/api/policy")

    def set_policy(self, approval: str, category: str | None, reason: str | None) -> Json:
        body = {"approval": approval, "category": category, "reason": reason}
        return self._json("PUT", "/api/admin/policy", json=body)

    def certify(self, metric_id: str, note: str) -> Json:
        return self._json(
            "POST", _metric(metric_id, "certification", admin=True), json={"note": note}
        )

    # tokens
    def token_list(self) -> Json:
        return self._json("GET", "/api/admin/tokens")

    def new_token(self, name: str, role: str, tables: list[str] | None = None) -> Json:
        body = {"name": name, "role": role, "tables": tables}
        return self._json("POST", "/api/admin/tokens", json=body)

    def grant_tables(self, name: str, tables: list[str] | None, reason: str | None) -> Json:
        path = url_path("api", "admin", "tokens", name, "tables")
        return self._json("PUT", path, json={"tables": tables, "reason": reason})

    def revoke_token(self, name: str) -> Json:
        return self._json("DELETE", url_path("api", "admin", "tokens", name))

    # webhooks
    def hook_list(self) -> Json:
        return self._json("GET", "/api/admin/hooks")

    def new_hook(
        self, url: str, events: list[str], category: str | None, tables: list[str]
    ) -> Json:
        body = {"url": url, "events": events, "category": category, "tables": tables}
        return self._json("POST", "/api/admin/hooks", json=body)

    def remove_hook(self, hook_id: str) -> Json:
        return self._json("DELETE", url_path("api", "admin", "hooks", hook_id))

    def test_hook(self, hook_id: str) -> Json:
        return self._json("POST", url_path("api", "admin", "hooks", hook_id, "test"))

    def hook_deliveries(self, hook_id: str, limit: int) -> Json:
        path = url_path("api", "admin", "hooks", hook_id, "deliveries")
        return self._json("GET", path, params={"limit": limit})

    # upkeep: the server holds the database
    def demo(self) -> Json:
        raise _embedded_only("demo")

    def load_starter_pack(self) -> Json:
        raise _embedded_only("starter-pack load")

    def rebuild_projections(self) -> Json:
        raise _embedded_only("projections rebuild")

    def check_projections(self) -> Json:
        raise _embedded_only("projections check")

    def database_info(self) -> Json:
        raise _embedded_only("db info")

    def copy_database(self, place: str, outward: bool) -> Json:
        raise _embedded_only("db copy")


def _embedded_only(command: str) -> RegistryError:
    return RegistryError(
        f"`da {command}` works on the embedded database only; stop the server first"
    )
