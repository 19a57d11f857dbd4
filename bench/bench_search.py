"""Search quality on the starter pack: top-1 and top-3 accuracy over bench/search_eval.yaml.

Aim: top-1 >= 90%, top-3 100%. Prints each miss with what ranked first.

Run: python bench/bench_search.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import starter_pack
from registry.interchange.yaml_io import read_source
from registry.search import rank

EVAL = Path(__file__).with_name("search_eval.yaml")


def starter_metrics() -> list[dict[str, Any]]:
    source = read_source(starter_pack.METRICS_DIR, "yaml_import", None)
    return [{**m.definition, "id": m.id} for m in source.metrics]


def accuracy(metrics: list[dict[str, Any]]) -> tuple[float, float, list[str]]:
    cases = yaml.safe_load(EVAL.read_text())
    top1 = top3 = 0
    misses = []
    for case in cases:
        ids = [hit.metric["id"] for hit in rank(metrics, case["question"], limit=3)]
        top1 += ids[:1] == [case["expected"]]
        top3 += case["expected"] in ids
        if ids[:1] != [case["expected"]]:
            misses.append(f"{case['question']!r}: expected {case['expected']}, got {ids}")
    return top1 / len(cases), top3 / len(cases), misses


def main() -> None:
    metrics = starter_metrics()
    started = time.perf_counter()
    top1, top3, misses = accuracy(metrics)
    elapsed = time.perf_counter() - started
    cases = len(yaml.safe_load(EVAL.read_text()))
    print(f"{cases} questions: top-1 {top1:.0%}, top-3 {top3:.0%} ({elapsed * 1000:.0f} ms in all)")
    for miss in misses:
        print("  miss:", miss)


if __name__ == "__main__":
    main()
