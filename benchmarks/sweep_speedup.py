"""Sweep speed-up: the same sweep on 1 local worker and on 2, wall-clock.

Usage: .venv/bin/python benchmarks/sweep_speedup.py [--accounts 20000,2000] [--repeat 2]

Sixteen runs (2 strategies x 4 grid points x 2 replications) at each book size given;
the first size is the one the target is judged on: 20,000 accounts, the size the
README's sweeps use. The second, 2,000 accounts, is the worst case kept for comparison:
its runs last about 2.5 s, so each worker's fixed start-up (interpreter, imports,
numba's first compiled call: about 1.7 s) is a visible share of the 2-worker time.

Prints ``sweep_2_workers_over_1: <ratio> x`` (2-worker time / 1-worker time at the
first size; the target is at most 0.6) and one ``sweep_2_workers_over_1_<N>_accounts``
line per size, and merges the figures into benchmarks/results.json under
"sweep_speedup". One worker runs in-process, as `collectsim sweep --workers 1` does;
two workers are a spawned process pool, so the ratio includes starting the pool. Both
sweeps must give identical KPI tables; the script fails if they do not. Each setting is
timed ``--repeat`` times, alternating, and the fastest time counts: on a shared machine
other load only ever slows a sweep down, so the minimum is the best estimate of its own
cost. The load averages before and after are recorded with the figures.
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
    spec = {"name": "speedup", "scenario": "baseline",
            "strategies": ["seed_playbook", "risk_based"], "replications": 2, "seed": 1,
            "grid": {"economy.shock_multiplier": [1.0, 1.5, 2.0, 2.5]}}
    return spec, (f"population.accounts={accounts}",)


def timed(spec: dict, overrides: tuple[str, ...], workers: int) -> tuple[float, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        df = sweep(spec, out=Path(tmp) / "out", overrides=overrides, workers=workers)
        return time.perf_counter() - t0, df


def measure(accounts: int, repeat: int) -> dict:
    spec, overrides = bench_sweep(accounts)
    load_before = load_average()
    times: dict[int, list[float]] = {1: [], 2: []}
    frames = {}
    for _ in range(repeat):
        for workers in (1, 2):
            seconds, frames[workers] = timed(spec, overrides, workers)
            times[workers].append(seconds)
    load_after = load_average()
    pd.testing.assert_frame_equal(frames[1], frames[2], check_exact=True)  # same results
    runs = frames[1]["run_id"].nunique()
    one, two = min(times[1]), min(times[2])
    print(f"sweep of {runs} runs ({accounts:,} accounts, 540 days each), best of "
          f"{repeat}: 1 worker {one:.1f} s, 2 workers {two:.1f} s "
          f"(load average {load_before:.2f} before, {load_after:.2f} after)", flush=True)
    emit(f"sweep_2_workers_over_1_{accounts}_accounts", round(two / one, 2), "x")
    return {"sweep_2_workers_over_1": round(two / one, 3),
            "seconds_1_worker": round(one, 2), "seconds_2_workers": round(two, 2),
            "all_seconds": {f"{w}_worker{'s' if w > 1 else ''}": [round(t, 2) for t in ts]
                            for w, ts in times.items()},
            "load_average_start": load_before, "load_average_end": load_after,
            "runs": runs, "accounts": accounts, "sweep": spec}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", default="20000,2000",
                    help="accounts per run, comma-separated; the target is judged on the first")
    ap.add_argument("--repeat", type=int, default=2, help="timings per setting (best counts)")
    args = ap.parse_args()
    if cores() < 2:
        print("sweep speed-up needs at least 2 cores; skipped", file=sys.stderr)
        return 0
    sizes = [int(a) for a in args.accounts.split(",") if a]
    by_size = {n: measure(n, args.repeat) for n in sizes}
    head = by_size[sizes[0]]
    emit("sweep_2_workers_over_1", round(head["sweep_2_workers_over_1"], 2), "x")
    merge("sweep_speedup", {**head, "target_at_most": 0.6,
                            "by_accounts": {str(n): v for n, v in by_size.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
