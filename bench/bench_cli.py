"""Start-up of the installed `da`: wall time of `da metrics list` on the starter pack.

Target: under 0.5 s. Runs each command --runs times in fresh processes; prints median and best.

Python normally caches compiled modules (`__pycache__`); a user's second `da` never compiles
the registry's source again. This machine sets PYTHONDONTWRITEBYTECODE, which with an editable
install recompiles the registry's modules on every start, so the bench clears it for its runs
(after one warm-up run that writes the cache).

Run: python bench/bench_cli.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    subprocess.run(command, check=True, capture_output=True, env=env)  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    da = str(Path(sys.executable).parent / "da")
    data = tempfile.mkdtemp(prefix="bench-cli-")
    subprocess.run([da, "--data-dir", data, "demo"], check=True, capture_output=True)
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for label, args in (
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("da version", [da, "version"]),
        ("da metrics list", [da, "--data-dir", data, "metrics", "list"]),
        ("da metrics list --json", [da, "--data-dir", data, "metrics", "list", "--json"]),
        (
            "da metrics show revenue/mrr --json",
            [da, "--data-dir", data, "metrics", "show", "revenue/mrr", "--json"],
        ),
    ):
        median, best = timed(args, runs, cached)
        print(f"{label:<36} median {median:5.3f} s   best {best:5.3f} s")


if __name__ == "__main__":
    main()
