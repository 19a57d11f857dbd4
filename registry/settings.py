"""One typed settings object, built by one function from the environment or a mapping."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.engine import Engine

DEFAULT_MAX_BODY_BYTES = 1_048_576
MEMORY = ":memory:"  # the database URL of a throwaway in-memory registry


@dataclass(frozen=True)
class Settings:
    """Where the registry keeps its data, and the limits of its HTTP API."""

    data_dir: Path = Path("data")
    # Another database than the file under `data_dir` (which then keeps only the demo data
    # and server.json): a URL one of the engines takes (storage/engine.py), or `:memory:`,
    # a throwaway registry that lives as long as the process.
    database_url: str | None = None
    analytics_db: Path | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    heavy_reads: int = 2  # exports, whole lists and validations served at once by the API
    run_timeout: float = 10.0  # seconds a metric's SQL may run (`da metrics run`, /run)
    session_hours: float = 8.0  # how long a console sign-in lasts
    database_connections: int = 20  # at most this many per server on PostgreSQL
    effect_interval: float = 1.0  # seconds between a server's looks for changes now due

    @property
    def db_path(self) -> Path:
        """The registry database: `$DATA_DIR/state/system.duckdb`."""
        return self.data_dir / "state" / "system.duckdb"

    @property
    def database(self) -> str:
        """Where the registry lives, as people read it (never with a password)."""
        return self.engine().shown

    def engine(self) -> Engine:
        """The engine of the registry database these settings name."""
        from storage.engine import engine_for

        return engine_for(self.database_url, self.db_path, self.data_dir)

    @property
    def demo_db_path(self) -> Path:
        """The demo analytics database the starter metrics run on."""
        return self.data_dir / "demo" / "analytics.duckdb"

    @property
    def validation_db(self) -> Path:
        """The analytics database metrics are validated against (the demo one by default)."""
        return self.analytics_db or self.demo_db_path

    @property
    def server_file(self) -> Path:
        """Where a running server says where it listens: `state/server.json`."""
        return self.data_dir / "state" / "server.json"


def load_settings(
    env: Mapping[str, str] | None = None,
    data_dir: str | Path | None = None,
    database_url: str | None = None,
) -> Settings:
    """Settings from `env` (default: the process environment); `data_dir` overrides DATA_DIR
    and `database_url` DA_DATABASE_URL.

    Reads DATA_DIR, DA_DATABASE_URL, DA_ANALYTICS_DB and DA_MAX_BODY_BYTES; raises ValueError
    naming a bad one.
    """
    source = os.environ if env is None else env
    chosen = data_dir if data_dir is not None else (source.get("DATA_DIR") or "data")
    analytics = source.get("DA_ANALYTICS_DB")
    limit = source.get("DA_MAX_BODY_BYTES") or str(DEFAULT_MAX_BODY_BYTES)
    if not limit.isdigit() or int(limit) < 1:
        raise ValueError(f"DA_MAX_BODY_BYTES={limit!r} is not a positive whole number of bytes")
    url = database_url or source.get("DA_DATABASE_URL") or None
    if url is not None:
        from storage.engine import URL_FORMS, url_is_valid

        if not url_is_valid(url):
            # Shown without what follows the scheme: it may hold a password.
            scheme = url.partition("://")[0] + "://..." if "://" in url else url[:40]
            raise ValueError(
                f"DA_DATABASE_URL={scheme!r} is not {URL_FORMS} (leave it unset for the"
                " DuckDB file under DATA_DIR)"
            )
    return Settings(
        database_url=url,
        data_dir=Path(chosen),
        analytics_db=Path(analytics) if analytics else None,
        max_body_bytes=int(limit),
    )


def tlog_key_settings(env: Mapping[str, str] | None = None) -> tuple[Path | None, str | None]:
    """DA_TLOG_KEY (the file of the log's signing key, instead of the engine's place for it)
    and DA_TLOG_ORIGIN (the log's name, given to a key when it is made)."""
    source = os.environ if env is None else env
    key = source.get("DA_TLOG_KEY") or None
    return (Path(key) if key else None), (source.get("DA_TLOG_ORIGIN") or None)


@dataclass(frozen=True)
class HookSettings:
    """How webhooks are delivered: DA_HOOKS_ALLOW_PRIVATE=1 lets targets on private,
    loopback or link-local addresses through (tests, a receiver on the same host);
    DA_HOOKS_KEY is the file of the key their secrets derive from (replicas share it);
    DA_HOOKS_RETRY_BASE the first retry's delay in seconds (doubling up to an hour)."""

    allow_private: bool = False
    key: Path | None = None
    retry_base: float = 2.0


def hook_settings(env: Mapping[str, str] | None = None) -> HookSettings:
    source = os.environ if env is None else env
    key = source.get("DA_HOOKS_KEY") or None
    try:
        base = float(source.get("DA_HOOKS_RETRY_BASE") or 2.0)
    except ValueError:
        base = 2.0
    return HookSettings(
        allow_private=source.get("DA_HOOKS_ALLOW_PRIVATE") == "1",
        key=Path(key) if key else None,
        retry_base=min(max(base, 0.01), 3600.0),
    )


def default_actor() -> str:
    """The OS user name, or `unknown` where there is none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def settings_elsewhere(settings: Settings, place: str) -> Settings:
    """Settings naming another database: a database URL (`da db copy --to URL`), or a data
    folder, whose own database file is meant."""
    from dataclasses import replace

    from storage.engine import url_is_valid

    if "://" in place and url_is_valid(place):
        return replace(settings, database_url=place)
    return replace(settings, data_dir=Path(place), database_url=None)
