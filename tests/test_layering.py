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
# PostgreSQL's driver stays beside the PostgreSQL store (its SQL and hooks), like duckdb.
PSYCOPG_ALLOWED = ("events/postgres.py",)


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


@pytest.mark.parametrize(("package", "path"), package_files(), ids=lambda v: str(v))
def test_psycopg_only_beside_the_postgresql_store(package: str, path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    if relative in PSYCOPG_ALLOWED:
        return
    assert "psycopg" not in [m.split(".")[0] for m in imported_modules(path)], relative


ROUTES = sorted((ROOT / "api" / "routes").glob("*.py"))
# The console's pages are routes too: they call registry answers and only render them.
DOORS = ROUTES + sorted((ROOT / "api" / "console").glob("*.py"))


@pytest.mark.parametrize("path", ROUTES, ids=lambda p: p.name)
def test_routers_do_not_import_each_other(path: Path) -> None:
    for module in imported_modules(path):
        assert not module.startswith("api.routes"), f"{path.name} imports {module}"


@pytest.mark.parametrize("path", DOORS, ids=lambda p: p.name)
def test_routes_do_not_reach_into_the_store_or_projector(path: Path) -> None:
    """Routes call registry functions; the store, the projector and SQL stay behind them."""
    tree = ast.parse(path.read_text())
    reached = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("store", "projector", "conn")
    }
    assert not reached, f"{path.name} reaches into {sorted(reached)}"
    assert "registry.queries" not in imported_modules(path), path.name


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


def test_every_third_party_import_is_a_runtime_dependency() -> None:
    """A module the shipped packages import must be installed by `pip install .` alone.

    (Test extras do not count: `da --api-url ...` once needed httpx, which only the test
    extras installed, so it failed for users while every test passed.)
    """
    import sys
    import tomllib
    from importlib.metadata import PackageNotFoundError, packages_distributions, requires

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_dist_name(d) for d in project["dependencies"]}
    installed_with = set(declared)  # what the declared ones pull in, too
    for dist in declared:
        try:
            needs = requires(dist) or []
        except PackageNotFoundError:  # not for this platform (uvloop on Windows)
            continue
        installed_with |= {_dist_name(r) for r in needs if "extra ==" not in r}
    providers = packages_distributions()
    missing = set()
    for _, path in package_files():
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in ALLOWED or top in sys.stdlib_module_names or top == "__future__":
                continue
            dists = {_dist_name(d) for d in providers.get(top, [top])}
            if not dists & installed_with:
                missing.add(f"{top} ({path.relative_to(ROOT)})")
    assert not missing, f"imported but not a runtime dependency: {sorted(missing)}"


def _dist_name(requirement: str) -> str:
    """`typer>=0.26,<0.29` or `uvloop; sys_platform != 'win32'` -> its normalised name."""
    import re

    name = re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()
