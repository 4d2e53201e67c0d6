"""Sweep speed-up: the same small sweep on 1 local worker and on 2, wall-clock.

Usage: .venv/bin/python benchmarks/sweep_speedup.py [--accounts N]

Prints ``sweep_2_workers_over_1: <ratio> x`` (2-worker time / 1-worker time; the target is
at most 0.6) and merges its figures into benchmarks/results.json under "sweep_speedup".
One worker runs in-process, as `collectsim sweep --workers 1` does; two workers are a
spawned process pool, so the ratio includes starting the pool. Both sweeps must give
identical KPI tables; the script fails if they do not. Each setting is timed
``--repeat`` times, alternating, and the fastest time counts: on a shared machine other
load only ever slows a sweep down, so the minimum is the best estimate of its own cost.
The load averages before and after are recorded with the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import cores, emit, load_average, merge

from sim.sweep import sweep


def bench_sweep(accounts: int) -> tuple[dict, tuple[str, ...]]:
    """Sixteen runs of several seconds each: enough to amortise starting the pool."""
    spec = {"name": "speedup", "scenario": "baseline",
            "strategies": ["seed_playbook", "risk_based"], "replications": 2, "seed": 1,
            "grid": {"economy.shock_multiplier": [1.0, 1.5, 2.0, 2.5]}}
    return spec, (f"population.accounts={accounts}",)


def timed(spec: dict, overrides: tuple[str, ...], workers: int) -> tuple[float, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        df = sweep(spec, out=Path(tmp) / "out", overrides=overrides, workers=workers)
        return time.perf_counter() - t0, df


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=2000, help="accounts per run")
    ap.add_argument("--repeat", type=int, default=2, help="timings per setting (best counts)")
    args = ap.parse_args()
    if cores() < 2:
        print("sweep speed-up needs at least 2 cores; skipped", file=sys.stderr)
        return 0
    spec, overrides = bench_sweep(args.accounts)
    load_before = load_average()
    times: dict[int, list[float]] = {1: [], 2: []}
    frames = {}
    for _ in range(args.repeat):
        for workers in (1, 2):
            seconds, frames[workers] = timed(spec, overrides, workers)
            times[workers].append(seconds)
    load_after = load_average()
    pd.testing.assert_frame_equal(frames[1], frames[2], check_exact=True)  # same results
    runs = frames[1]["run_id"].nunique()
    one, two = min(times[1]), min(times[2])
    ratio = two / one
    print(f"sweep of {runs} runs ({args.accounts:,} accounts, 540 days each), best of "
          f"{args.repeat}: 1 worker {one:.1f} s, 2 workers {two:.1f} s "
          f"(load average {load_before:.2f} before, {load_after:.2f} after)")
    emit("sweep_2_workers_over_1", round(ratio, 2), "x")
    merge("sweep_speedup", {
        "sweep_2_workers_over_1": round(ratio, 3), "target_at_most": 0.6,
        "seconds_1_worker": round(one, 2), "seconds_2_workers": round(two, 2),
        "all_seconds": {f"{w}_worker{'s' if w > 1 else ''}": [round(t, 2) for t in ts]
                        for w, ts in times.items()},
        "load_average_start": load_before, "load_average_end": load_after,
        "runs": runs, "accounts": args.accounts, "sweep": spec})
    return 0


if __name__ == "__main__":
    sys.exit(main())
