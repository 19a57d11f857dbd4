"""One typed settings object, built by one function from the environment or a mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Where the registry keeps its data."""

    data_dir: Path = Path("data")

    @property
    def db_path(self) -> Path:
        """The registry database: `$DATA_DIR/state/system.duckdb`."""
        return self.data_dir / "state" / "system.duckdb"

    @property
    def demo_db_path(self) -> Path:
        """The demo analytics database the starter metrics run on."""
        return self.data_dir / "demo" / "analytics.duckdb"


def load_settings(
    env: Mapping[str, str] | None = None, data_dir: str | Path | None = None
) -> Settings:
    """Settings from `env` (default: the process environment); `data_dir` overrides DATA_DIR."""
    source = os.environ if env is None else env
    chosen = data_dir if data_dir is not None else (source.get("DATA_DIR") or "data")
    return Settings(data_dir=Path(chosen))
