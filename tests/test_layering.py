"""Dependencies point one way: api/cli -> registry -> projections -> events.

duckdb is imported only in events/, projections/ and the registry's connection factory.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["events", "projections", "registry", "api", "cli"]
ALLOWED = {
    "events": set(),
    "projections": {"events"},
    "registry": {"events", "projections", "starter_pack"},
    "api": {"registry", "events", "projections"},
    # cli is the outermost adapter: `da serve` starts the API, so it may import api (not back).
    "cli": {"registry", "events", "projections", "starter_pack", "api"},
    "starter_pack": set(),
}
DUCKDB_ALLOWED = ("events/", "projections/", "registry/connection.py", "starter_pack/")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def package_files() -> list[tuple[str, Path]]:
    return [(pkg, f) for pkg in ALLOWED for f in sorted((ROOT / pkg).rglob("*.py"))]


@pytest.mark.parametrize(("package", "path"), package_files(), ids=lambda v: str(v))
def test_imports_point_down_only(package: str, path: Path) -> None:
    for module in imported_modules(path):
        top = module.split(".")[0]
        if top in ALLOWED and top != package:
            assert top in ALLOWED[package], (
                f"{path.relative_to(ROOT)} imports {module} (upward or sideways)"
            )


@pytest.mark.parametrize(("package", "path"), package_files(), ids=lambda v: str(v))
def test_duckdb_only_where_allowed(package: str, path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    if any(relative.startswith(prefix) for prefix in DUCKDB_ALLOWED):
        return
    assert "duckdb" not in [m.split(".")[0] for m in imported_modules(path)], relative


def test_no_code_updates_or_deletes_the_event_log() -> None:
    for _, path in package_files():
        text = path.read_text().upper()
        for verb in (
            "UPDATE EVENT_LOG",
            "DELETE FROM EVENT_LOG",
            "TRUNCATE EVENT_LOG",
            "DROP TABLE EVENT_LOG",
        ):
            assert verb not in text, f"{path.relative_to(ROOT)} contains {verb}"
