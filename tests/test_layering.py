"""The house rules, checked on the code itself (AST, no imports run).

- Floors: dependencies point one way, doors (api, cli) -> registry -> storage ->
  projections -> events. Nothing imports upward or sideways.
- Rooms: inside `registry/`, the domain (its top-level modules) imports none of its rooms;
  `access`, `interchange` and `analytics` import the domain and the rooms named below;
  `answers` may import every room. Each package says in its docstring what lives there.
- The engine is one seam: only the engine modules (`storage/engine.py` and one module per
  engine) import a database driver, name an engine or branch on one.
- No import circle between modules, counting imports inside functions too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "events": set(),
    "projections": {"events"},
    "storage": {"events", "projections"},
    "registry": {"events", "projections", "storage", "starter_pack"},
    "api": {"registry", "storage", "projections", "events"},
    # cli is the outermost door: `da serve` starts the API, so it may import api (not back).
    "cli": {"registry", "storage", "projections", "events", "starter_pack", "api"},
    "starter_pack": set(),
}
# The registry's rooms and the rooms each may import (the domain, "registry", is every
# room's; it imports none of them).
ROOMS = {
    "registry": set(),
    "registry.access": {"registry"},
    "registry.interchange": {"registry"},
    "registry.analytics": {"registry", "registry.interchange"},
    "registry.answers": {
        "registry",
        "registry.access",
        "registry.interchange",
        "registry.analytics",
    },
}
# Where the registry's storage engines are known: the factory and one module per engine.
ENGINE_MODULES = ("storage/engine.py", "storage/duckdb.py", "storage/postgres.py")
DRIVERS = {"duckdb", "psycopg", "psycopg_pool"}
# DuckDB is also the analytics engine (the data metrics run on, not the registry's store):
# the analytics room (only its sandbox imports the driver) and the demo data's builder.
ANALYTICS_DUCKDB = ("registry/analytics/", "starter_pack/demo_db.py", "registry/sql_parser.py")
# Those that import the driver: the sandbox, the demo's builder, and the parser metric SQL is
# checked with (DuckDB's, the dialect metrics are written in, whatever stores the registry).
SQL_DUCKDB = ("registry/analytics/sandbox.py", "starter_pack/demo_db.py", "registry/sql_parser.py")
ENGINE_WORDS = re.compile(r"postgres|duckdb|(^|_)pg(_|$)|^pg[A-Z]|^Pg|dialect", re.IGNORECASE)
ENGINE_TEXT = re.compile(r"postgres|duckdb|:memory:", re.IGNORECASE)
# Apache Ossie's own vocabulary: an expression's "dialect" is a language (ANSI_SQL, MDX, ...),
# not a storage engine; these modules speak the specification's words.
OSSIE_MODULES = ("registry/interchange/ossie.py", "registry/interchange/ossie_model.py")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def package_files() -> list[tuple[str, Path]]:
    return [(pkg, f) for pkg in ALLOWED for f in sorted((ROOT / pkg).rglob("*.py"))]


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_of(path): path for _, path in package_files()}


def _room(module: str) -> str:
    """The registry room a registry module lives in."""
    parts = module.split(".")
    room = ".".join(parts[:2])
    return room if room in ROOMS else "registry"


@pytest.mark.parametrize(("package", "path"), package_files(), ids=lambda v: str(v))
def test_imports_point_down_only(package: str, path: Path) -> None:
    for module in imported_modules(path):
        top = module.split(".")[0]
        if top in ALLOWED and top != package:
            assert top in ALLOWED[package], (
                f"{path.relative_to(ROOT)} imports {module} (upward or sideways)"
            )


@pytest.mark.parametrize(
    "path", sorted((ROOT / "registry").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_registry_rooms_import_only_their_own_and_those_below(path: Path) -> None:
    if path == ROOT / "registry" / "__init__.py":
        return  # the package's public face names what every room offers, on first use
    here = _room(_module_of(path))
    for module in imported_modules(path):
        if module not in MODULES or not module.startswith("registry"):
            continue
        there = _room(module)
        if there != here:
            assert there in ROOMS[here], f"{path.relative_to(ROOT)} ({here}) imports {module}"


@pytest.mark.parametrize(
    "path",
    sorted(p for pkg in ALLOWED for p in (ROOT / pkg).rglob("__init__.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_package_says_what_lives_there(path: Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring and len(docstring.split()) >= 8, f"{path.relative_to(ROOT)} has no docstring"


def _runtime_edges() -> dict[str, set[str]]:
    """Every module's imports of this project's modules, outside `if TYPE_CHECKING:`."""
    edges: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        found = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in MODULES else node.module)
        edges[module] = {m for m in found if m in MODULES and m != module}
    return edges


def test_no_import_circles() -> None:
    edges = _runtime_edges()
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            circle = trail[trail.index(module) :] + [module]
            raise AssertionError("import circle: " + " -> ".join(circle))
        if module in done:
            return
        for target in sorted(edges[module]):
            visit(target, [*trail, module])
        done.add(module)

    for module in sorted(edges):
        visit(module, [])


def _engine_mentions(path: Path) -> list[str]:
    """Identifiers that name an engine, and engine names in comparisons or prefix tests."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.arg):
            names = [node.arg]
        elif isinstance(node, ast.alias):
            names = [node.asname or node.name.split(".")[-1]]
        found += [f"{n} (line {node.lineno})" for n in names if ENGINE_WORDS.search(n)]
        tested: list[ast.expr] = []
        if isinstance(node, ast.Compare):
            tested = [node.left, *node.comparators]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("startswith", "endswith")
        ):
            tested = list(node.args)
        found += [
            f"{const.value!r} tested (line {node.lineno})"
            for expr in tested
            for const in ast.walk(expr)
            if isinstance(const, ast.Constant)
            and isinstance(const.value, str)
            and ENGINE_TEXT.search(const.value)
        ]
    return found


@pytest.mark.parametrize(("package", "path"), package_files(), ids=lambda v: str(v))
def test_the_engine_is_known_only_behind_the_seam(package: str, path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    if relative in ENGINE_MODULES:
        return
    drivers = {m.split(".")[0] for m in imported_modules(path)} & DRIVERS
    analytics = relative.startswith(ANALYTICS_DUCKDB)
    if relative in SQL_DUCKDB:
        drivers -= {"duckdb"}
    assert not drivers, f"{relative} imports {sorted(drivers)}"
    engines = [m for m in imported_modules(path) if m in ("storage.duckdb", "storage.postgres")]
    assert not engines, f"{relative} imports an engine module: {engines}"
    if not analytics:
        mentions = _engine_mentions(path)
        if relative in OSSIE_MODULES:
            mentions = [m for m in mentions if not m.lower().startswith("dialect")]
        assert not mentions, f"{relative} names an engine: {mentions}"


def test_the_engine_rule_catches_what_it_should(tmp_path: Path) -> None:
    """The check above is not blind: each kind of engine decision is found."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def is_postgres(conn): return conn.dialect == 'postgresql'\n"
        "url.startswith('postgres://')\n"
        "self._pg = None\n"
    )
    mentions = _engine_mentions(sample)
    assert len(mentions) >= 5, mentions


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


# The CLI's commands: each parses, calls its Backend once (embedded: the registry's answers;
# over HTTP: the API) and prints. `da serve` opens the database it is about to hold.
CLI_COMMANDS = sorted(p for p in (ROOT / "cli").glob("*.py") if p.name != "serve.py")
AROUND_THE_BACKEND = ("registry.database", "registry.commands", "registry.queries", "storage")


@pytest.mark.parametrize("path", CLI_COMMANDS, ids=lambda p: p.name)
def test_cli_commands_go_through_the_backend(path: Path) -> None:
    around = [m for m in imported_modules(path) if m.startswith(AROUND_THE_BACKEND)]
    assert not around, f"cli/{path.name} goes around the Backend: {around}"
    tree = ast.parse(path.read_text())
    reached = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in ("registry", "existing", "store", "projector", "conn")
    }
    assert not reached, f"cli/{path.name} reaches into {sorted(reached)}"


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
