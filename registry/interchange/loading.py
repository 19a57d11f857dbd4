"""The one bounded loader of every YAML and JSON input: files, API bodies, `--set` values.

A YAML document is checked on its composed node graph before anything is built, so an alias
bomb, a recursive alias, a key given twice, a key that is not a plain value, or a number the
registry cannot hold (an integer past 64 bits, `.nan`, `.inf`) is refused with its line at
once; then plain dicts, lists and strings are built straight from the nodes. A JSON document
gets the same bounds (size, depth, numbers, keys given twice), and a file must be UTF-8.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_EXPANDED_VALUES",
    "MAX_MANIFEST_BYTES",
    "DocumentError",
    "Loader",
    "load_json",
    "load_yaml",
    "read_document",
]

try:  # the C (libyaml) loader is several times faster
    from yaml import CSafeLoader as Loader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SCALARS = yaml.SafeLoader.yaml_constructors
_CONSTRUCTOR = yaml.SafeLoader("")  # builds the few non-string scalars (numbers, dates, ...)


# Bounds on one document, checked on the composed node graph before anything is built, so a
# small file whose aliases expand to billions of values is refused at once (an "alias bomb").
MAX_DOCUMENT_BYTES = 1024 * 1024  # also the API's default body limit: one limit for both doors
MAX_EXPANDED_VALUES = 100_000
MAX_DEPTH = 64
# A dbt project's semantic_manifest.json is larger than any one metric file.
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_LARGEST = 2**63  # whole numbers are held in 64 bits (BIGINT) by every engine


class DocumentError(ValueError):
    """A JSON or YAML document the registry does not read; says what and where."""

    def __init__(self, message: str, position: int = 0, token: str | None = None) -> None:
        super().__init__(message)
        self.position = position
        self.token = token  # the text it is about, to find where it stands


def number_problem(value: Any, text: str | None = None) -> str | None:
    """What is wrong with a number a document holds (written as `text`), if anything."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not -_LARGEST <= value < _LARGEST:
        return f"{text or value} is a whole number larger than 64 bits"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    return None


class _MergeKeys(Exception):
    pass


def _refuse(node: yaml.Node, problem: str) -> yaml.MarkedYAMLError:
    return yaml.constructor.ConstructorError(problem=problem, problem_mark=node.start_mark)


def _check_shape(node: yaml.Node, depth: int, sizes: dict[int, int], active: set[int]) -> int:
    """The number of values a node expands to; refuses deep, recursive or oversized documents,
    keys that are not plain values, and keys given twice in one mapping."""
    if depth > MAX_DEPTH:
        raise _refuse(node, f"nests deeper than {MAX_DEPTH} levels")
    ident = id(node)
    if ident in sizes:
        return sizes[ident]
    if ident in active:
        raise _refuse(node, "refers to itself (a recursive alias)")
    active.add(ident)
    size = 1
    if isinstance(node, yaml.ScalarNode) and node.tag in (_INT_TAG, _FLOAT_TAG):
        _check_number(node)
    if isinstance(node, yaml.SequenceNode):
        size += sum(_check_shape(item, depth + 1, sizes, active) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise _refuse(key, "a key must be a plain value, not a list or a mapping")
            if key.tag != _MERGE_TAG:
                if key.value in lines:
                    raise _refuse(
                        key, f"key {key.value!r} is given twice (also on line {lines[key.value]})"
                    )
                lines[key.value] = key.start_mark.line + 1
            size += 1 + _check_shape(value, depth + 1, sizes, active)
    active.discard(ident)
    sizes[ident] = size
    if size > MAX_EXPANDED_VALUES:
        raise _refuse(node, f"expands to more than {MAX_EXPANDED_VALUES} values (aliases?)")
    return size


def _check_number(node: yaml.ScalarNode) -> None:
    digits = sum(c.isdigit() for c in node.value)
    if digits > 40:  # far past 64 bits; also spares Python's 4,300-digit conversion limit
        raise _refuse(node, f"{node.value[:20]}... is a whole number larger than 64 bits")
    build = _SCALARS[node.tag]
    problem = number_problem(build(_CONSTRUCTOR, node), node.value)
    if problem is not None:
        raise _refuse(node, problem)


def _value(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR_TAG:
            return node.value
        build = _SCALARS.get(node.tag)
        return build(_CONSTRUCTOR, node) if build is not None else node.value
    if isinstance(node, yaml.SequenceNode):
        return [_value(item) for item in node.value]
    if any(key.tag == _MERGE_TAG for key, _ in node.value):
        raise _MergeKeys
    return {_value(key): _value(item) for key, item in node.value}


def load_yaml(text: str) -> Any:
    """What yaml.safe_load returns, about twice as fast on metric files.

    PyYAML's C loader parses and composes in C but constructs objects through a generic Python
    constructor; building plain dicts, lists and strings from the composed nodes directly skips
    most of that. Files using merge keys (`<<`) go through the full safe loader.

    Raises yaml.MarkedYAMLError (with the line) for broken YAML and for documents past the
    bounds above.
    """
    if len(text) > MAX_DOCUMENT_BYTES:
        raise yaml.YAMLError(f"is larger than {MAX_DOCUMENT_BYTES // 1024} KiB")
    root = yaml.compose(text, Loader=Loader)
    if root is None:
        return None
    _check_shape(root, 0, {}, set())
    try:
        return _value(root)
    except _MergeKeys:
        return yaml.load(text, Loader=Loader)


def _no_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DocumentError(f"key {key!r} is given twice", token=json.dumps(key))
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise DocumentError(f"{name} is not a finite number", token=name)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DocumentError(f"{text} is not a finite number", token=text)
    return value


def _int(text: str) -> int:
    if len(text) > 40 or number_problem(value := int(text)) is not None:
        shown = f"{text[:20]}{'...' if len(text) > 20 else ''}"
        raise DocumentError(f"{shown} is a whole number larger than 64 bits", token=text)
    return value


def _depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise DocumentError(f"nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _depth(item, depth + 1)


def load_json(data: bytes | str, limit: int = MAX_DOCUMENT_BYTES) -> Any:
    """A JSON document, bounded like YAML: at most `limit` bytes, valid UTF-8, nested at most
    MAX_DEPTH levels, every number finite and within 64 bits, no key given twice.

    Raises DocumentError saying what is wrong (and where, as a character position, when
    the JSON itself is broken).
    """
    if len(data) > limit:
        raise DocumentError(f"is larger than {limit // 1024} KiB")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise DocumentError(f"is not UTF-8 text (byte {exc.start})", exc.start) from exc
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_twice,
            parse_constant=_no_constant,
            parse_float=_float,
            parse_int=_int,
        )
    except json.JSONDecodeError as exc:
        raise DocumentError(exc.msg, exc.pos) from exc
    except DocumentError as exc:  # a value refused: say where it stands (a key: its repeat)
        found = -1 if exc.token is None else text.find(exc.token)
        if exc.token is not None and "twice" in str(exc):
            found = text.find(exc.token, found + 1)
        raise DocumentError(str(exc), max(found, 0)) from exc
    except RecursionError as exc:
        raise DocumentError(f"nests deeper than {MAX_DEPTH} levels") from exc
    _depth(value)
    return value


def read_document(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> Any:
    """A JSON (`.json`) or YAML file, through the bounds above; DocumentError or
    yaml.YAMLError says what is wrong (OSError when it cannot be read)."""
    with path.open("rb") as source:
        data = source.read(limit + 1)
    if len(data) > limit:
        raise DocumentError(f"is larger than {limit // 1024} KiB")
    if path.suffix == ".json":
        return load_json(data, limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"is not UTF-8 text (byte {exc.start})", exc.start) from exc
    return load_yaml(text)
