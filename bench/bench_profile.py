"""Profiler speed: the demo database, and one table of --rows rows (default 10 million).

Targets: the demo database in under 2 s; a 10-million-row table in under 10 s.

Run: python bench/bench_profile.py [--rows 10000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from registry.analytics.profiler import Knowledge, profile
from registry.analytics.sandbox import AnalyticsDatabase
from starter_pack.demo_db import build_demo_database

NOTHING = Knowledge("none", [], {})


def timed(label: str, path: Path, table: str | None = None) -> None:
    db = AnalyticsDatabase(path)
    try:
        start = time.perf_counter()
        found = profile(db, NOTHING, table)
        elapsed = time.perf_counter() - start
    finally:
        db.close()
    rows = sum(t.rows for t in found)
    print(f"{label:<40} {elapsed:6.3f} s  ({len(found)} tables, {rows:,} rows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    rows = parser.parse_args().rows
    folder = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    timed("demo database, every table", build_demo_database(folder / "demo.duckdb"))
    big = folder / "big.duckdb"
    conn = duckdb.connect(str(big))
    conn.execute(
        "CREATE TABLE events AS SELECT i AS event_id, i % 50000 AS user_id,"
        " DATE '2024-01-01' + (i % 730)::INTEGER AS event_date,"
        " ['view', 'create', 'share', 'export'][(i % 4) + 1] AS event_type,"
        " CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 997) * 1.5 END AS amount,"
        " 'feature_' || (i % 37) AS feature"
        " FROM range(?) t(i)",
        [rows],
    )
    conn.close()
    timed(f"one table of {rows:,} rows", big, "events")


if __name__ == "__main__":
    main()
