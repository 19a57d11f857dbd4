"""A content-addressed cache of parsed metric files, so that re-importing is cheap.

Parsing YAML (PyYAML builds its objects in Python, even with the C loader) is most of the
cost of an import. A file's parse depends only on its bytes, its path (the folder is the
default category), the writer, the label and the code that validates it, so the valid
definitions of a file are kept under a hash of all of these. Unreadable files are never
cached: they are parsed again, and reported, every time. Entries are never updated in place
(a changed file has a new key); the table can be emptied at any time.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import orjson

from events import Connection

_LOOKUP_SQL = (
    "SELECT key, definitions FROM yaml_parse_cache WHERE key IN (SELECT unnest(?::VARCHAR[]))"
)
_STORE_SQL = (
    "INSERT INTO yaml_parse_cache SELECT key, definitions::JSON FROM"
    " (SELECT unnest(?::VARCHAR[]) AS key, unnest(?::VARCHAR[]) AS definitions) AS given"
    " WHERE key NOT IN (SELECT key FROM yaml_parse_cache)"
)

Definitions = list[dict[str, Any]]


# The modules whose rules decide what a file parses to: any change to them (a new field, a
# stricter validator) gives every file a new key, so nothing parsed under old rules is reused.
_RULES = (
    "registry/models.py",
    "registry/interchange/yaml_io.py",
    "registry/interchange/loading.py",
)


@functools.cache
def _rules_digest() -> str:
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for name in _RULES:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


def cache_key(path: Path, writer: str, label: str | None, data: bytes) -> str:
    """The key of one file's parse: its bytes, path, writer, label and the parsing rules."""
    digest = hashlib.sha256(f"{_rules_digest()}\0{path.resolve()}\0{writer}\0{label}\0".encode())
    digest.update(data)
    return digest.hexdigest()


class ParseCache:
    """The cache table in the registry database."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lookup(self, keys: list[str]) -> dict[str, Definitions]:
        rows = self.conn.execute(_LOOKUP_SQL, [keys]).fetchall()
        return {str(key): orjson.loads(text) for key, text in rows}

    def store(self, entries: dict[str, Definitions]) -> None:
        keys = list(entries)
        texts = [orjson.dumps(entries[k]).decode() for k in keys]
        self.conn.execute(_STORE_SQL, [keys, texts])
