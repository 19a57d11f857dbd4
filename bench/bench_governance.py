"""What governed changes cost, side by side in one run, on a registry of --metrics metrics.

- a direct update with approval optional, then the same update when approval is required
  (it becomes a proposal: the policy read from memory, the proposal's number, its event)
- an import of --changed changed metrics under the policy: the one proposal it becomes,
  reading it with every change's diff, and approving it (the whole batch, one transaction)
- listing every proposal, with --proposals of them in the log
- a metric read with and without a certification

No target is set by the issue; these are the figures to watch.

Run: python bench/bench_governance.py [--metrics 10000] [--changed 1000] [--proposals 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import database_option, definition, median_ms, open_connection

from registry import answers, attach
from registry.commands import WriteContext, apply_plans, current_states, run_atomically
from registry.plans import plan_upsert
from registry.subjects import METRIC


def ctx(actor: str, reason: str = "bench") -> WriteContext:
    return WriteContext(actor=actor, door="python", reason=reason)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=1_000)
    parser.add_argument("--proposals", type=int, default=200)
    parser.add_argument("--runs", type=int, default=200)
    database_option(parser)
    args = parser.parse_args()
    print(f"engine: {'postgresql' if args.database_url else 'duckdb'}")
    folder = Path(tempfile.mkdtemp(prefix="bench-governance-"))
    reg = attach(open_connection(folder, "registry", args.database_url))
    wanted = {f"category_{n % 10}/metric_{n}": definition(n) for n in range(args.metrics)}

    def load(revision: int) -> None:
        def work() -> None:
            batch = {k: {**d, "description": f"r{revision}"} for k, d in wanted.items()}
            currents = current_states(reg, METRIC, list(batch))
            plans = [(k, p) for k, d in batch.items() if (p := plan_upsert(d)(currents.get(k)))]
            versions = {k: c.version for k, c in currents.items()}
            apply_plans(reg, METRIC, plans, versions, ctx("setup"))

        run_atomically(reg, work, "load")

    load(0)
    target = "category_5/metric_5"
    step = iter(range(10**9))

    def update(i: int) -> None:
        answers.update_metric(reg, target, {"description": f"d{next(step)}"}, ctx("ana"))

    direct = median_ms(update, args.runs)
    answers.set_approval_policy(reg, "required", None, ctx("boss"))
    proposed = median_ms(update, args.runs)
    print(f"{'update, approval optional (median)':<52} {direct:8.2f} ms")
    print(f"{'update becoming a proposal, required (median)':<52} {proposed:8.2f} ms")

    for n in range(args.proposals):
        answers.update_metric(reg, target, {"description": f"p{n}"}, ctx("ana"))
    start = time.perf_counter()
    listed = answers.proposal_list(reg)
    print(
        f"{'list ' + format(listed['count'], ',') + ' proposals':<52}"
        f" {(time.perf_counter() - start) * 1000:8.2f} ms"
    )

    from registry.interchange.imports import ImportOptions, reconcile

    source = folder / "source"
    for metric_id, d in list(wanted.items())[: args.changed]:
        category, name = metric_id.split("/")
        (source / category).mkdir(parents=True, exist_ok=True)
        (source / category / f"{name}.yml").write_text(
            f"name: {name}\nunit: EUR\ndescription: changed\nsql: {d['sql']!r}\n"
        )
    start = time.perf_counter()
    report = reconcile(reg, source, ImportOptions(actor="bot", reason="bench"))
    opened = time.perf_counter() - start
    assert report.proposal is not None
    number = report.proposal["number"]
    print(
        f"{'import of ' + format(args.changed, ',') + ' changed metrics -> one proposal':<52}"
        f" {opened:8.3f} s"
    )
    start = time.perf_counter()
    shown = answers.proposal(reg, number)
    print(f"{'read it with every diff':<52} {time.perf_counter() - start:8.3f} s")
    start = time.perf_counter()
    done = answers.decided_proposal(reg, number, "approve", ctx("boss", "ok"))
    print(
        f"{'approve it (' + str(len(done['applied'])) + ' events, one transaction)':<52}"
        f" {time.perf_counter() - start:8.3f} s"
    )
    assert len(shown["changes"]) == args.changed == len(done["applied"])

    plain = "category_6/metric_6"
    bare = median_ms(lambda i: answers.metric(reg, plain), args.runs)
    answers.certified_metric(reg, target, ctx("boss", "checked"))
    certified = median_ms(lambda i: answers.metric(reg, target), args.runs)
    print(f"{'show a metric, never certified (median)':<52} {bare:8.2f} ms")
    print(f"{'show a certified metric (median)':<52} {certified:8.2f} ms")


if __name__ == "__main__":
    main()
