"""Write cost, side by side in one run, on a file database (durable commits), or on
PostgreSQL with --database-url (then "bare" is PostgreSQL's own one-row INSERT + COMMIT).

- registry: one create/update as every door makes it (`registry.answers`: event + hash +
  projection + the answer built in the same transaction, one commit; nothing read after it)
- upsert:   the earlier code's `INSERT ... ON CONFLICT (id) DO UPDATE` into a bare v4 table
- bare:     a one-row INSERT + COMMIT

Run: python bench/bench_writes.py [--runs 300] [--database-url URL|pgserver]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import database_option, definition, median_ms, open_connection

from projections import METRIC_TABLE
from registry import attach
from registry.answers import create_metric, update_metric
from registry.commands import WriteContext
from storage.postgres import PG_TYPES

COLUMNS = METRIC_TABLE.column_names
UPSERT_SQL = (
    f"INSERT INTO metric_definitions VALUES ({', '.join('?' for _ in COLUMNS)})"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in ("id", "created_at"))
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    database_option(parser)
    args = parser.parse_args()
    runs, url = args.runs, args.database_url
    folder = Path(tempfile.mkdtemp(prefix="bench-writes-"))
    print(f"engine: {'postgresql' if url else 'duckdb'}")

    reg = attach(open_connection(folder, "registry", url))
    for n in range(1000):  # a registry that is not empty
        create_metric(reg, definition(n), WriteContext(actor="bench"))
    ctx = WriteContext(actor="bench", reason="bench")

    revision = iter(range(10**9))

    def registry_update(i: int) -> None:
        answer = update_metric(
            reg, "category_5/metric_5", {"description": f"r{next(revision)}"}, ctx
        )
        assert answer["version"] > 1

    fresh = iter(range(10_000, 10**9))

    def registry_create(i: int) -> None:
        answer = create_metric(reg, definition(next(fresh)), ctx)
        assert answer["version"] == 1

    plain = open_connection(folder, "plain", url)
    plain.execute(METRIC_TABLE.ddl(PG_TYPES if url else None))

    def upsert_row(i: int, n: int) -> list[object]:
        d = definition(n, i)
        values = {
            **d,
            "id": f"{d['category']}/{d['name']}",
            "sql_variants": json.dumps(d["sql_variants"]),
            "validation": json.dumps(d["validation"]),
            "created_at": None,
            "updated_at": None,
        }
        return [values[c] for c in COLUMNS]

    for n in range(1000):
        plain.execute(UPSERT_SQL, upsert_row(0, n))

    def plain_upsert(i: int) -> None:
        plain.execute("BEGIN")
        plain.execute(UPSERT_SQL, upsert_row(i, 5))
        plain.execute("COMMIT")

    bare_conn = open_connection(folder, "bare", url)
    bare_conn.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")

    def bare(i: int) -> None:
        bare_conn.execute("BEGIN")
        bare_conn.execute("INSERT INTO t VALUES (?, ?)", [i, "x"])
        bare_conn.execute("COMMIT")

    results = {}
    for _ in range(2):  # interleave rounds: the machine is noisy
        for name, fn in (
            ("registry update", registry_update),
            ("registry create", registry_create),
            ("plain upsert", plain_upsert),
            ("bare insert+commit", bare),
        ):
            results.setdefault(name, []).append(median_ms(fn, runs))
    figures = {name: min(values) for name, values in results.items()}
    for name, value in figures.items():
        print(f"{name:<22} median {value:6.2f} ms")
    for name in ("registry update", "registry create"):
        print(
            f"{name}: {figures[name] / figures['plain upsert']:.2f}x the plain upsert, "
            f"{figures[name] / figures['bare insert+commit']:.2f}x the bare commit"
        )


if __name__ == "__main__":
    main()
