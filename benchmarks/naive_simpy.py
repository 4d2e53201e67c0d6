"""Throughput versus the naive design: one SimPy process per account.

Usage: .venv/bin/python benchmarks/naive_simpy.py [--accounts 100000] [--runs 3]
                                                  [--processes 20000] [--days 50]

The engine's account-days per second (the baseline scenario at ``--accounts``, 540 days,
``seed_playbook``, full operations; median of ``--runs`` fresh subprocesses, set-up and
result tables included) divided by the wake-ups per second of bare SimPy processes, each
an account's ``while True: yield env.timeout(1)`` loop and nothing else (median of three).
Prints ``engine_account_days_per_second``, ``simpy_wakeups_per_second`` and
``engine_over_naive_simpy``; merges them into results.json under "naive_simpy".
Target: >= 40x.
"""

from __future__ import annotations

import argparse
import sys
import time

import simpy
from _common import emit, load_average, median, merge, run_case


def simpy_wakeups_per_second(processes: int, days: int) -> float:
    env = simpy.Environment()

    def account(env: simpy.Environment):
        while True:
            yield env.timeout(1)

    for _ in range(processes):
        env.process(account(env))
    t0 = time.perf_counter()
    env.run(until=days)  # each process runs at t = 0, 1, ..., days - 1: days wake-ups
    return processes * days / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--processes", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=50)
    args = ap.parse_args()
    load_start = load_average()
    cases = [run_case(args.accounts) for _ in range(args.runs)]
    seconds = median([c["seconds"] for c in cases])
    engine = args.accounts * cases[0]["days"] / seconds
    naive = median([simpy_wakeups_per_second(args.processes, args.days) for _ in range(3)])
    ratio = engine / naive
    engine_cpu = args.accounts * cases[0]["days"] / median([c["cpu_seconds"] for c in cases])
    emit("engine_account_days_per_second", round(engine), "account-days/s")
    emit("engine_account_days_per_cpu_second", round(engine_cpu), "account-days/s")
    emit("simpy_wakeups_per_second", round(naive), "wake-ups/s")
    emit("engine_over_naive_simpy", round(ratio, 1), "x")
    merge("naive_simpy", {
        "engine_account_days_per_second": round(engine), "simpy_wakeups_per_second": round(naive),
        "engine_over_naive_simpy": round(ratio, 2), "target_at_least": 40,
        "engine_account_days_per_cpu_second": round(engine_cpu),
        "engine_seconds_median": round(seconds, 3),
        "engine_runs_seconds": [round(c["seconds"], 3) for c in cases],
        "engine_case": f"baseline, {args.accounts} accounts, seed_playbook, 540 days",
        "simpy_processes": args.processes, "simpy_days": args.days,
        "load_average_start": load_start, "load_average_end": load_average()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
