"""The event log at scale: bulk append, rebuild, as-of, history and verify.

Builds a log of --events events over --metrics metrics (full ~1.7 KB definitions), then times:
- bulk append: one atomic batch of --batch events into a fresh database, projections
  included (target: 75,000/s, issue 26)
- rebuild: the v4 projections from the whole log (target < 3 s at 1,000,000 events)
- as-of: the whole registry at a time in the middle of the log (target < 0.5 s)
- valid-at: the definitions in force at a business date, as known now and as known at that
  time (target: within 1.5x of the as-of read, issue 23; the log holds 1,000 dated
  corrections), and one metric's `show --valid-at` (target < 50 ms)
- history: every version of one metric (target < 10 ms)
- the transparency log: a signed checkpoint and an inclusion proof
- verify: the whole hash chain, the payloads' hashes and the Merkle tree's tiles (the store),
  and everything `da audit verify` checks (also the projections and the tokens); target:
  1,000,000 events in at most 2 s (500,000 events/s)

Run: python bench/bench_log.py [--events 1000000] [--metrics 10000] [--batch 100000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import database_option, definition, median_ms, open_connection

from events import NewEvent
from projections import METRICS
from registry import answers, attach
from registry.queries import history, metrics_as_of
from registry.subjects import METRIC


def events_for(start: int, count: int, metrics: int) -> list[NewEvent]:
    """Event number i updates metric i % metrics; the first round creates them."""
    batch = []
    for i in range(start, start + count):
        n = i % metrics
        d = definition(n, revision=i // metrics)
        batch.append(
            NewEvent(
                stream_type=METRICS.stream_type,
                stream_id=f"{d['category']}/{d['name']}",
                event_type=METRICS.event("Created" if i < metrics else "Updated"),
                event_schema=METRICS.payload_schema,
                payload={"definition": d, "changed": ["description"]},
                actor="bench",
                batch_id=f"batch-{i // 100_000}",
                source="manual",
            )
        )
    return batch


def timed(label: str, fn, unit_count: int | None = None, unit: str = "") -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    rate = f" ({unit_count / elapsed:,.0f} {unit}/s)" if unit_count else ""
    print(f"{label:<44} {elapsed:8.3f} s{rate}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100_000)
    database_option(parser)
    args = parser.parse_args()
    print(f"engine: {'postgresql' if args.database_url else 'duckdb'}")
    folder = Path(tempfile.mkdtemp(prefix="bench-log-"))

    # Bulk append: one atomic batch into a fresh registry database (events built beforehand),
    # chain, tree and projections in its one transaction, as an import appends.
    fresh = attach(open_connection(folder, "bulk", args.database_url))
    batch = events_for(0, args.batch, args.metrics)

    def bulk_append() -> None:
        with fresh.write_lock, fresh.store.transaction():
            fresh.projector.apply(fresh.store.append(batch))

    timed(f"bulk append of {args.batch:,} events (one batch)", bulk_append, args.batch, "events")
    fresh.conn.close()

    # The big log, appended in batches; projections are rebuilt afterwards.
    reg = attach(open_connection(folder, "log", args.database_url))
    start = time.perf_counter()
    for offset in range(0, args.events, args.batch):
        reg.store.append(events_for(offset, min(args.batch, args.events - offset), args.metrics))
    print(
        f"{'(setup) log of ' + format(args.events, ',') + ' events written in':<44} "
        f"{time.perf_counter() - start:8.3f} s"
    )
    # A thousand corrections of past periods (dated, recorded now): the effective-date index
    # is not empty, and the business-time fold has dated events to weigh.
    corrections = events_for(args.events, 1_000, args.metrics)
    for i, event in enumerate(corrections):
        early = reg.store.read(after=i, until_position=i + 1)[0].recorded_at
        event.payload["effective_from"] = early.isoformat()
        event.payload["change"] = "Updated"
    reg.store.append([e.model_copy(update={"event_type": METRICS.scheduled}) for e in corrections])
    reg.conn.execute("CHECKPOINT" if args.database_url is None else "ANALYZE")

    timed("rebuild projections from the whole log", reg.projector.rebuild, args.events, "events")
    middle = args.events // 2
    moment = reg.store.read(after=middle - 1, until_position=middle)[0].recorded_at
    rows: list[object] = []

    def best_of_three(label: str, read) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(3):
            rows.clear()
            start = time.perf_counter()
            rows.extend(read())
            times.append(time.perf_counter() - start)
        print(f"{label:<44} {statistics.median(times):8.3f} s (median of 3)")
        return statistics.median(times)

    as_of = best_of_three(
        "as-of: whole registry at mid-log time", lambda: metrics_as_of(reg, as_of=moment)
    )
    print(f"{'  metrics in that state':<44} {len(rows):8d}")
    valid_now = best_of_three(
        "valid-at: in force at mid-log date, now", lambda: metrics_as_of(reg, valid_at=moment)
    )
    valid_then = best_of_three(
        "valid-at: ... as known at that time",
        lambda: metrics_as_of(reg, as_of=moment, valid_at=moment),
    )
    print(f"{'  ratios to the as-of read':<44} {valid_now / as_of:8.2f}x {valid_then / as_of:.2f}x")
    shows = []
    for n in range(0, args.metrics, max(args.metrics // 20, 1)):
        d = definition(n)
        start = time.perf_counter()
        answers.metric(reg, f"{d['category']}/{d['name']}", valid_at=moment)
        shows.append((time.perf_counter() - start) * 1000)
    print(f"{'show --valid-at of one metric, median':<44} {statistics.median(shows):8.3f} ms")

    samples = []
    for n in range(0, args.metrics, max(args.metrics // 20, 1)):
        d = definition(n)
        start = time.perf_counter()
        versions = history(reg, METRIC, f"{d['category']}/{d['name']}")
        samples.append((time.perf_counter() - start) * 1000)
    print(
        f"{'history of one metric (' + str(len(versions)) + ' versions), median':<44} "
        f"{statistics.median(samples):8.3f} ms"
    )

    report = None

    def verify() -> None:
        nonlocal report
        report = reg.store.verify()

    timed("verify the chain, payloads and tree", verify, args.events, "events")
    assert report is not None and report.ok, report
    print(f"{'  head':<44} {report.head}")
    everything: dict[str, object] = {}
    timed(
        "verify all (+ projections, tokens)",
        lambda: everything.update(answers.verify(reg)),
        args.events,
        "events",
    )
    assert everything["ok"], everything

    # The transparency log at this size: a signed checkpoint and an inclusion proof are read
    # from a few tiles, whatever the size of the log.
    for label, call in (
        ("signed checkpoint (median of 20)", lambda i: answers.tlog_checkpoint(reg)),
        ("inclusion proof (median of 20)", lambda i: answers.inclusion_proof(reg, middle + i)),
    ):
        print(f"{label:<44} {median_ms(call, 20, warmup=2):8.3f} ms")


if __name__ == "__main__":
    main()
