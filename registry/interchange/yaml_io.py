"""Reading and writing metric YAML files (SPEC section 2).

One key-mapping table serves both directions: the YAML key `table` is the column `table_name`,
and each `sql_by_X` key is the entry `by_X` of `sql_variants`. Files are parsed with the C
loader when PyYAML has it; line numbers are looked up only when a file has a problem.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from registry.errors import InvalidDefinitionError, Issue
from registry.interchange.loading import MAX_DOCUMENT_BYTES, Loader, load_yaml
from registry.interchange.parse_cache import ParseCache, cache_key
from registry.models import (
    METRIC_FIELDS,
    NAME_PATTERN,
    MetricDefinition,
    build_issues,
    metric_input,
)

YAML_SUFFIXES = (".yml", ".yaml")
RENAMED = {"table": "table_name"}  # YAML key -> column
VARIANT_PREFIX = "sql_"  # YAML `sql_X` -> sql_variants["X"] (`sql_by_plan`, `sql_weekly`)
VARIANTS = "sql_variants"  # the column's own key, also accepted in YAML as a mapping

try:  # the C (libyaml) dumper is several times faster
    from yaml import CSafeDumper as _Dumper
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]

# Key order in exported files: the v4 column order.
_EXPORT_ORDER = [f for f in METRIC_FIELDS if f != VARIANTS]


@dataclass(frozen=True)
class SourceMetric:
    """One valid metric read from a file."""

    path: Path
    definition: dict[str, Any]
    effective_from: str | None = None  # the file's `effective_from`, as UTC text
    identity: str | None = None  # the file's `identity`: the metric's, which a rename keeps

    @property
    def id(self) -> str:
        return f"{self.definition['category']}/{self.definition['name']}"


@dataclass(frozen=True)
class UnreadableFile:
    """A file that yields no valid metric, and every reason why."""

    path: Path
    issues: list[Issue]

    def __str__(self) -> str:
        return "; ".join(str(i) for i in self.issues)


@dataclass
class YamlSource:
    """What a file or a directory of metric files holds: valid metrics and unreadable files."""

    metrics: list[SourceMetric] = field(default_factory=list)
    unreadable: list[UnreadableFile] = field(default_factory=list)


FileResult = tuple[list[SourceMetric], list[Issue]]
Progress = Callable[[int, int], None]


# -- key mapping (both directions) ------------------------------------------------------------


def column_of(key: str) -> str:
    """The v4 column a YAML key fills (`table` -> table_name, `sql_X` -> sql_variants)."""
    if key != VARIANTS and key.startswith(VARIANT_PREFIX):
        return VARIANTS
    return RENAMED.get(key, key)


def from_yaml_keys(data: dict[str, Any]) -> dict[str, Any]:
    """A YAML mapping with v4 column names: `table` -> `table_name`, `sql_X` -> sql_variants."""
    result: dict[str, Any] = {}
    variants: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if column_of(key) == VARIANTS and key != VARIANTS:
            variants[key.removeprefix(VARIANT_PREFIX)] = value
        else:
            result[column_of(key)] = value
    if variants:
        given = result.get(VARIANTS)
        result[VARIANTS] = {**(given if isinstance(given, dict) else {}), **variants}
    return result


def to_yaml_keys(definition: dict[str, Any]) -> dict[str, Any]:
    """A definition as YAML keys, leaving out empty values (`type` and `grain` always kept)."""
    out: dict[str, Any] = {}
    yaml_names = {column: key for key, column in RENAMED.items()}
    for name in _EXPORT_ORDER:
        value = definition.get(name)
        if value in (None, [], {}) or (name == "display_name" and value == definition["name"]):
            continue
        out[yaml_names.get(name, name)] = value
    for variant, sql in sorted((definition.get("sql_variants") or {}).items()):
        out[VARIANT_PREFIX + variant] = sql
    if definition.get("identity"):  # a renamed metric's: the id it was first created under
        out["identity"] = definition["identity"]
    return out


# -- reading ----------------------------------------------------------------------------------


def metric_files(path: Path) -> list[Path]:
    """The metric files of a path: the file itself, or `<dir>/<category>/*.yml` sorted.

    Files at the root of a directory (an index such as `metrics.yml`) are not metrics.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or directory")
    return sorted(
        f
        for folder in path.iterdir()
        if folder.is_dir() and not folder.name.startswith(".")
        for f in folder.iterdir()
        if f.is_file() and f.suffix in YAML_SUFFIXES
    )


def read_source(
    path: Path,
    writer: str,
    label: str | None,
    cache: ParseCache | None = None,
    progress: Progress | None = None,
) -> YamlSource:
    """Read and validate every metric file of a path; problems are collected, not raised.

    With a cache, files whose parse is already known are not parsed again; `progress` is told
    (files done, files in all) after each file.
    """
    source = YamlSource()
    seen: dict[str, Path] = {}
    files = metric_files(path)
    in_folders = path.is_dir()  # then each file's folder is its category
    contents = {f: _read_bytes(f) for f in files}
    keys = {f: cache_key(f, writer, label, raw) for f, raw in contents.items() if raw is not None}
    cached = cache.lookup(list(keys.values())) if cache is not None and keys else {}
    fresh: dict[str, list[dict[str, Any]]] = {}
    for done, file in enumerate(files, start=1):
        if progress is not None:
            progress(done, len(files))
        key = keys.get(file)
        issues: list[Issue] = []
        if key is not None and key in cached:
            metrics = [_cached(file, d) for d in cached[key]]
        else:
            metrics, issues = read_file(file, writer, label, contents[file], in_folders)
            if key is not None and not issues:
                fresh[key] = [_to_cache(m) for m in metrics]
        for metric in metrics:
            if metric.id in seen:
                issues.append(
                    Issue(str(file), f"defines {metric.id} again (also in {seen[metric.id]})")
                )
        if issues:
            source.unreadable.append(UnreadableFile(file, issues))
            continue
        for metric in metrics:
            seen[metric.id] = file
        source.metrics.extend(metrics)
    if cache is not None and fresh:
        cache.store(fresh)
    return source


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None  # read_file reports why


_OWN_KEYS = ("effective_from", "identity")
_ID_PART = re.compile(NAME_PATTERN)  # a file's keys that are not definition fields


def _to_cache(metric: SourceMetric) -> dict[str, Any]:
    """A metric as the parse cache keeps it (its own keys beside the definition's fields)."""
    own = {"effective_from": metric.effective_from, "identity": metric.identity}
    return {**metric.definition, **{k: v for k, v in own.items() if v is not None}}


def _cached(path: Path, kept: dict[str, Any]) -> SourceMetric:
    definition = dict(kept)
    dated, identity = (definition.pop(k, None) for k in _OWN_KEYS)
    return SourceMetric(path, definition, dated, identity)


def _identity(item: dict[str, Any]) -> str:
    """A file's `identity`: a metric id (the one its metric was first created under)."""
    value = item["identity"]
    category, slash, name = str(value).partition("/")
    if (
        not isinstance(value, str)
        or not slash
        or not _ID_PART.match(category)
        or not (_ID_PART.match(name))
    ):
        raise InvalidDefinitionError(
            [Issue("identity", f"{value!r} is not a metric id such as revenue/mrr")]
        )
    return value


def _effective_from(item: dict[str, Any]) -> str:
    """A file's `effective_from` (a date, or a UTC time) as UTC text."""
    from datetime import date, datetime

    from registry.times import parse_time

    value = item["effective_from"]
    if isinstance(value, datetime | date):
        value = value.isoformat()
    if not isinstance(value, str):
        raise InvalidDefinitionError(
            [Issue("effective_from", f"{value!r} is not a date such as 2026-01-31")]
        )
    return parse_time(value, "effective_from").isoformat()


def read_file(
    path: Path,
    writer: str,
    label: str | None,
    raw: bytes | None = None,
    in_folders: bool = False,
) -> FileResult:
    """The valid metrics of one file, or every issue that makes it unreadable.

    `in_folders`: the file lies in a category folder of an imported directory, so a
    `category` key must name that folder.
    """
    try:
        content = raw if raw is not None else path.read_bytes()
        if len(content) > MAX_DOCUMENT_BYTES:
            return [], [Issue(str(path), f"is larger than {MAX_DOCUMENT_BYTES // 1024} KiB")]
        text = content.decode("utf-8")
        documents = load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        return [], [Issue(where, f"broken YAML: {exc.problem}")]
    except UnicodeDecodeError as exc:
        return [], [Issue(str(path), f"is not UTF-8 text (byte {exc.start})")]
    except (OSError, yaml.YAMLError) as exc:
        return [], [Issue(str(path), f"cannot be read: {exc}")]
    if documents is None:
        return [], [Issue(str(path), "is empty")]
    items = documents if isinstance(documents, list) else [documents]
    if not items or not all(isinstance(i, dict) for i in items):
        return [], [Issue(str(path), "is not a mapping or a list of mappings")]
    metrics: list[SourceMetric] = []
    issues: list[Issue] = []
    lines: _KeyLines | None = None
    for index, item in enumerate(items):
        try:
            dated = _effective_from(item) if "effective_from" in item else None
            known = _identity(item) if "identity" in item else None
            item = {k: v for k, v in item.items() if k not in _OWN_KEYS}
            data = metric_input(from_yaml_keys(item))
        except InvalidDefinitionError as exc:
            lines = lines or _KeyLines(text)
            prefix = index if isinstance(documents, list) else None
            issues.extend(
                Issue(lines.locate(path, prefix, i.location), i.message) for i in exc.issues
            )
            continue
        folder = path.parent.name
        if in_folders and data.get("category", folder) != folder:
            lines = lines or _KeyLines(text)
            prefix = index if isinstance(documents, list) else None
            issues.append(
                Issue(
                    lines.locate(path, prefix, "category"),
                    f"{data['category']!r} is not its folder {folder!r}"
                    " (a file's category is the folder that holds it)",
                )
            )
            continue
        data.setdefault("category", folder)
        data.setdefault("source", writer)
        data.setdefault("source_ref", label)
        found = build_issues(MetricDefinition, data)
        if isinstance(found, MetricDefinition):
            metrics.append(SourceMetric(path, found.to_definition(), dated, known))
            continue
        lines = lines or _KeyLines(text)
        prefix = index if isinstance(documents, list) else None
        issues.extend(Issue(lines.locate(path, prefix, i.location), i.message) for i in found)
    return metrics, issues


def read_column_entries(path: Path) -> list[Any]:
    """The entries of a column-metadata YAML file (a list of mappings); InvalidDefinitionError
    names the file (and line) when it cannot be read."""
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise yaml.YAMLError(f"is larger than {MAX_DOCUMENT_BYTES // 1024} KiB")
        entries = load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidDefinitionError(
            [Issue(str(path), f"is not UTF-8 text (byte {exc.start})")]
        ) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InvalidDefinitionError([Issue(where, f"broken YAML: {exc.problem}")]) from exc
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidDefinitionError([Issue(str(path), f"cannot be read: {exc}")]) from exc
    if not isinstance(entries, list):
        raise InvalidDefinitionError([Issue(str(path), "must hold a list of column entries")])
    return entries


class _KeyLines:
    """Line numbers of the keys of a YAML document, for error messages only."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        try:
            root = yaml.compose(text, Loader=Loader)
        except yaml.YAMLError:
            return
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = column_of(str(key.value))
                self.lines[(*path, name)] = key.start_mark.line + 1
                self._walk(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def locate(self, path: Path, item: int | None, location: str) -> str:
        """`path:line: field` for a field location such as `dimensions.1`."""
        parts: tuple[Any, ...] = (item,) if item is not None else ()
        fields = [int(p) if p.isdigit() else p for p in location.split(".") if p]
        line = self.lines.get(parts, 1)
        for depth in range(1, len(fields) + 1):
            line = self.lines.get((*parts, *fields[:depth]), line)
        yaml_name = {c: k for k, c in RENAMED.items()}
        shown = ".".join(str(yaml_name.get(str(f), f)) for f in fields)
        return f"{path}:{line}: {shown}" if shown else f"{path}:{line}"


# -- writing ----------------------------------------------------------------------------------


class _BlockDumper(_Dumper):
    """Multi-line strings (SQL) as literal blocks, keys in the order given."""


def _represent_str(dumper: _BlockDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def dump_metric(definition: dict[str, Any]) -> str:
    """One metric as the YAML text of its export file."""
    text = yaml.dump(
        to_yaml_keys(definition),
        Dumper=_BlockDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return str(text)


def write_atomically(target: Path, text: str) -> None:
    """Write a file through a temporary file in the same folder and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def export_paths(
    directory: Path, definitions: Iterable[dict[str, Any]]
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """`<dir>/<category>/<name>.yml` for each definition; ValueError if one would leave `dir`."""
    root = directory.resolve()
    for definition in definitions:
        category, name = str(definition["category"]), str(definition["name"])
        unsafe = [
            p
            for p in (category, name)
            if not p or p in (".", "..") or "/" in p or "\\" in p or "\0" in p
        ]
        target = (root / category / f"{name}.yml").resolve()
        if unsafe or not target.is_relative_to(root):
            raise ValueError(
                f"metric {category}/{name} cannot be exported: its path would leave {directory}"
            )
        yield target, definition
