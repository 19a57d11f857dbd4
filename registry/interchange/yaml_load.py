"""Loading YAML safely and fast: bounded documents, plain values.

Every document is checked on its composed node graph before anything is built, so an alias
bomb, a recursive alias, a key given twice or a key that is not a plain value is refused with
its line at once; then plain dicts, lists and strings are built straight from the nodes.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "MAX_DOCUMENT_BYTES", "MAX_EXPANDED_VALUES", "Loader", "load_yaml"]

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
