"""Copying a registry between databases of any engines unchanged (each store reads and
inserts the log's stored rows as they are), and saying which database and schema a registry
is on."""

from __future__ import annotations

from typing import Any

from projections import SCHEMA_VERSION
from registry import transparency
from registry.errors import ConflictError, StorageError
from storage.session import Registry

_BATCH = 5_000
# Tables copied beside the log: the tokens (hashes only) and the replies kept for retries;
# each one's read and write statements, built once from these fixed names.
_KEPT_COLUMNS = {
    "api_tokens": ("name", "role", "token_sha256", "created_at", "revoked_at", "tables"),
    "idempotent_replies": ("key", "request_sha256", "answer", "recorded_at"),
}


def _statements(table: str, columns: tuple[str, ...]) -> tuple[str, str]:
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    select = f"SELECT {names} FROM {table}"  # noqa: S608 - fixed names
    return select, f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - fixed names


_KEPT_TABLES = [_statements(table, columns) for table, columns in _KEPT_COLUMNS.items()]


def database_info(reg: Registry) -> dict[str, Any]:
    """Which engine and database hold the registry, its schema version, and its log's head."""
    [(schema,)] = reg.conn.execute("SELECT max(version) FROM schema_version").fetchall()
    head = reg.store.head()
    return {
        "backend": reg.engine.name,
        "database": reg.engine.shown,
        "schema_version": int(schema or SCHEMA_VERSION),
        "events": head.position,
        "head": f"{head.position}:{head.hash}",
    }


def copy_registry(source: Registry, target: Registry) -> dict[str, Any]:
    """Copy every event (positions, times and hashes unchanged) and the tokens into an empty
    registry, rebuild its projections, and verify it: the target's head equals the source's.

    Refuses a target that already holds events (ConflictError) and writes nothing then.
    """
    if target.store.head().position != 0:
        raise ConflictError("the target already holds a registry: copy into an empty database")
    copied = 0
    with source.store.snapshot(), target.write_lock, target.store.transaction():
        while rows := source.store.raw_rows(copied, _BATCH):
            target.store.insert_rows(rows)
            copied = int(rows[-1][0])
        for select_sql, insert_sql in _KEPT_TABLES:
            for row in source.conn.execute(select_sql).fetchall():
                target.conn.execute(insert_sql, list(row))
    rows_written = target.projector.rebuild()
    report = target.store.verify()
    source_head = source.store.head()
    if not report.ok or report.head is None or report.head.hash != source_head.hash:
        raise StorageError(f"the copy does not verify: {report.problem or 'heads differ'}")
    return {
        "events": copied,
        "rows": rows_written,
        "head": f"{source_head.position}:{source_head.hash}",
        "verified": True,
        # The tree came with the log; the key that signs its checkpoints comes too.
        "signing_key": transparency.carry_key(source, target),
    }
