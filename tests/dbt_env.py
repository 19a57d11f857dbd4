"""dbt and MetricFlow for the tests that check the dbt export by what it computes.

dbt-core 1.11 (1.12 downloads a binary at install time and fails offline), dbt-metricflow
0.15 and dbt-duckdb pin libraries this project does not share, so they live in their own
virtual environment, made on first use from the package registry and kept in the user's
cache for the next run (`DA_DBT_VENV` names another place).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

PACKAGES = ("dbt-core>=1.11,<1.12", "dbt-metricflow==0.15.0", "dbt-duckdb>=1.11,<1.12")


def dbt_bin() -> Path:
    """The `bin` folder holding `dbt` and `mf`, installing them once (processes take turns)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    home = Path(os.environ.get("DA_DBT_VENV") or cache / "metrics-registry" / "dbt-1.11-mf-0.15")
    home.parent.mkdir(parents=True, exist_ok=True)
    ready = home / "installed.txt"
    with open(home.parent / f".{home.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.is_file() or ready.read_text() != "\n".join(PACKAGES):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True)
            pip = [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet"]
            subprocess.run([*pip, *PACKAGES], check=True, timeout=1200)
            ready.write_text("\n".join(PACKAGES))
    return home / "bin"
