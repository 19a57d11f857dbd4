"""The starter pack in one call: its metrics into the registry, and its demo database."""

from __future__ import annotations

from pathlib import Path

import starter_pack
from registry.interchange.imports import ImportOptions, ReconcileReport, reconcile
from starter_pack.demo_db import build_demo_database
from storage.session import Registry


def load_starter_pack(
    reg: Registry, actor: str, reason: str | None = None, door: str = "python"
) -> ReconcileReport:
    """Import the 11 starter metrics (label `starter_pack`); a second load changes nothing."""
    options = ImportOptions(actor=actor, door=door, label=starter_pack.LABEL, reason=reason)
    return reconcile(reg, starter_pack.METRICS_DIR, options)


def build_demo(path: Path) -> Path:
    """Build (or rebuild) the demo analytics database at `path`."""
    return build_demo_database(path)
