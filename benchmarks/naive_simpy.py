"""Throughput versus the naive design: one SimPy process per account.

Usage: .venv/bin/python benchmarks/naive_simpy.py [--accounts 100000,1000000] [--runs 3]

For each book size N: the engine's account-days per second (the baseline scenario at N
accounts with headcounts scaled, 540 days, ``seed_playbook``, full operations; set-up
and result tables included; median of ``--runs`` fresh subprocesses, one run from 1M
accounts up), cold (the run is the interpreter's first: it imports pandas and loads the
compiled kernels from numba's cache on the way) and warm (after an untimed 2,000-account
run in the same interpreter, as a sweep's worker runs every run after its first; the
SimPy side is timed likewise after its import, without creating its processes), divided
by the wake-ups per second of bare SimPy processes at the same N,
each an account's ``while True: yield env.timeout(1)`` loop and nothing else (the run
timed, not the creation of the processes; enough days for about two million wake-ups;
median of three, one from 1M up). The same N on both sides: a heap of a million
timeouts is slower per wake-up than one of twenty thousand, and the engine's fixed
costs weigh less at a million accounts.

Prints ``engine_account_days_per_second_<N>``, ``simpy_wakeups_per_second_<N>`` and
``engine_over_naive_simpy_<N>`` (cold), and the same with ``_warm``; merges them into
results.json under "naive_simpy". Target: >= 40x, judged at 1,000,000 accounts, the
benchmark's workload (``run_all.py`` says why); the 100,000-account figures are reported.
"""

from __future__ import annotations

import argparse
import sys
import time

import simpy
from _common import emit, load_average, median, merge, run_case

BIG = 1_000_000  # from here on one run each: a run takes most of a minute


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
    ap.add_argument("--accounts", default="100000,1000000",
                    help="comma-separated book sizes")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    load_start = load_average()
    figures: dict = {"target_at_least": 40, "judged_at_accounts": BIG, "cases": {}}
    for n in [int(a) for a in args.accounts.split(",") if a]:
        runs = args.runs if n < BIG else 1
        # cold and warm runs alternate, so that a drift of the machine's speed hits both
        cold, warm = [], []
        for _ in range(runs):
            cold.append(run_case(n))
            warm.append(run_case(n, warm=True))
        days = max(2, 2_000_000 // n)
        naive = median([simpy_wakeups_per_second(n, days) for _ in range(3 if n < BIG else 1)])
        emit(f"simpy_wakeups_per_second_{n}", round(naive), "wake-ups/s")
        case = {"simpy_wakeups_per_second": round(naive), "simpy_processes": n,
                "simpy_days": days}
        for tag, cases in (("", cold), ("_warm", warm)):
            seconds = median([c["seconds"] for c in cases])
            engine = n * cases[0]["days"] / seconds
            engine_cpu = n * cases[0]["days"] / median([c["cpu_seconds"] for c in cases])
            ratio = engine / naive
            emit(f"engine_account_days_per_second{tag}_{n}", round(engine), "account-days/s")
            emit(f"engine_account_days_per_cpu_second{tag}_{n}", round(engine_cpu),
                 "account-days/s")
            emit(f"engine_over_naive_simpy{tag}_{n}", round(ratio, 1), "x")
            figures[f"engine_over_naive_simpy{tag}_{n}"] = round(ratio, 2)
            case.update({
                f"engine_account_days_per_second{tag}": round(engine),
                f"engine_account_days_per_cpu_second{tag}": round(engine_cpu),
                f"engine_seconds_median{tag}": round(seconds, 3),
                f"engine_runs_seconds{tag}": [round(c["seconds"], 3) for c in cases],
                f"engine_over_naive_simpy{tag}": round(ratio, 2)})
        figures["cases"][str(n)] = case
    merge("naive_simpy", {
        **figures, "engine_case": "baseline, N accounts (headcounts scaled), seed_playbook, "
                                  "540 days",
        "load_average_start": load_start, "load_average_end": load_average()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
