"""Answers about the registry's own database: the demo, the starter pack, the projections'
rebuild and check, which database holds it, and copying it to another one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storage.session import Registry


def demo(reg: Registry, analytics: Path, actor: str, door: str = "python") -> dict[str, Any]:
    """Build the demo analytics database, load the starter pack and validate it against the
    demo data: where each is, and what was loaded and found."""
    from registry.analytics.validation import validate
    from registry.interchange.starter import build_demo, load_starter_pack

    database = build_demo(analytics)
    report = load_starter_pack(reg, actor=actor, reason="da demo", door=door)
    loaded = len(report.added) + len(report.updated) + len(report.adopted) + len(report.unchanged)
    return {
        "analytics_database": str(database),
        "loaded": loaded,
        "written": len(report.written),
        "findings": len(validate(reg, database)),
        "registry_database": reg.engine.shown,
    }


def starter_pack(reg: Registry, actor: str, door: str = "python") -> dict[str, Any]:
    """Load the starter pack (label `starter_pack`): the reconcile report."""
    from registry.interchange.starter import load_starter_pack

    return load_starter_pack(reg, actor=actor, door=door).as_dict()


def rebuilt_projections(reg: Registry) -> dict[str, int]:
    """Drop the v4 tables and refill them from the log: `{"rows": rows written}`."""
    return {"rows": reg.projector.rebuild()}


def projection_check(reg: Registry) -> dict[str, Any]:
    """Every difference between the v4 tables and a fresh fold of the log, as text."""
    differences = [str(d) for d in reg.projector.check()]
    return {"in_step": not differences, "differences": differences}


def database_info(reg: Registry) -> dict[str, Any]:
    """Which engine and database hold the registry, its schema version, and its log's head."""
    from registry.transfer import database_info as info

    return info(reg)


def copied_registry(source: Registry, target: Registry) -> dict[str, Any]:
    """Copy a registry into an empty database unchanged and verify the copy (its report)."""
    from registry.errors import RegistryError
    from registry.transfer import copy_registry

    if source.engine.writer_key(source.conn) == target.engine.writer_key(target.conn):
        raise RegistryError("the source and the target are the same database")
    report = copy_registry(source, target)
    return {**report, "target": target.engine.shown}
