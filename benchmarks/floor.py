"""Engine overhead versus the floor: a bare numpy loop doing only the ledger arithmetic.

Usage: .venv/bin/python benchmarks/floor.py [--accounts 100000] [--runs 5]

The engine: the baseline scenario, ``no_action`` (no operations), 540 days, median of
``--runs`` fresh subprocesses, timed twice: the whole run (population, days, result
tables) and the days alone. The floor: on the same arrays (the engine's own starting
book, population and calendar), a day loop of whole-book numpy statements that does only
the ledger arithmetic: find the accounts due, bill them, draw who pays on the due date,
late fees and the oldest unpaid date for the others, delinquent repayments, penalty
interest, DPD and charge-off. No episodes, strategy, contacts, recorders or SimPy: what
any vectorised simulator of this book must at least do. Median of ``--runs``, the
engine's runs and the loop's alternating (the VM's speed drifts within minutes).

Prints ``engine_over_floor`` (days alone) and ``engine_run_over_floor`` (whole run);
merges them into results.json under "floor". Target: <= 5x.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _common import emit, load_average, median, merge, run_case

NONE = -(10**6)


def floor_seconds(accounts: int, seed: int = 1) -> tuple[float, dict]:
    from sim.config import load_scenario, load_strategy
    from sim.engine import Run

    sc = load_scenario("baseline", [f"population.accounts={accounts}"])
    run = Run(sc, load_strategy("no_action"), seed)  # the engine's starting book
    bk, cal, pr = run.book, run.cal, sc.product
    days = sc.horizon.days
    unbilled, due, fees = bk.unbilled.copy(), bk.due.copy(), bk.fees.copy()
    inst, fee_amt, dom = bk.inst.copy(), bk.fee_amt.copy(), bk.dom.copy()
    n_left, ndm, ndd = bk.n_left.copy(), bk.next_due_month.copy(), bk.next_due_day.copy()
    oldest = bk.oldest_day.copy()
    ability = run.people.ability[bk.person].astype(np.float64)
    hazard = sc.behaviour.base_hazard * ability**sc.behaviour.ability_exponent
    rng = np.random.Generator(np.random.PCG64(seed))
    late, rate, co_dpd = pr.late_fee_rate, pr.penalty_interest_daily, pr.charge_off_dpd
    t0, c0 = time.perf_counter(), time.process_time()
    for d in range(days):
        # due dates: bill the instalment and the fee
        i = np.flatnonzero(ndd == d)
        amount = np.where(n_left[i] <= 1, unbilled[i], np.minimum(inst[i], unbilled[i]))
        unbilled[i] -= amount
        bill = amount + fee_amt[i]
        n_left[i] -= 1
        ndm[i] += 1
        ndd[i] = np.where(n_left[i] > 0, cal.due_day(ndm[i], dom[i]), NONE)
        # payment on the due date, or a late fee and (if new) an oldest unpaid date
        missed = rng.random(len(i)) >= ability[i]
        m = i[missed]
        due[m] += bill[missed]
        fees[m] += np.floor(bill[missed] * late).astype(np.int64)
        new = m[oldest[m] == NONE]
        oldest[new] = d
        # delinquent repayments: a daily hazard, paying fees first, then instalments
        owing = np.flatnonzero(due > 0)
        payers = owing[rng.random(len(owing)) < hazard[owing]]
        fees[payers] = 0
        due[payers] = 0
        oldest[payers] = NONE
        # penalty interest on what is overdue
        owing = np.flatnonzero(due > 0)
        fees[owing] += np.floor(due[owing] * rate).astype(np.int64)
        # DPD and charge-off
        dpd = np.where(oldest == NONE, 0, d - oldest)
        co = np.flatnonzero(dpd > co_dpd)
        unbilled[co] = due[co] = fees[co] = 0
        n_left[co] = 0
        ndd[co] = NONE
        oldest[co] = NONE
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, {"cpu_seconds": cpu,
                     "delinquent_at_end": int(np.count_nonzero(oldest != NONE))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    load_start = load_average()
    # alternating: the VM's speed drifts by 10-25% within minutes, and both sides should
    # see the same drift
    cases, runs = [], []
    for _ in range(args.runs):
        cases.append(run_case(args.accounts, strategy="no_action", scale_collectors=False))
        runs.append(floor_seconds(args.accounts))
    engine_days = median([c["seconds_days"] for c in cases])
    engine_run = median([c["seconds"] for c in cases])
    floors = [f for f, _ in runs]
    floor = median(floors)
    floor_cpu = median([info["cpu_seconds"] for _, info in runs])
    engine_days_cpu = median([c["cpu_seconds_days"] for c in cases])
    emit("engine_no_action_seconds", round(engine_run, 2), "s")
    emit("engine_no_action_days_seconds", round(engine_days, 2), "s")
    emit("floor_seconds", round(floor, 2), "s")
    emit("engine_over_floor", round(engine_days / floor, 2), "x")
    emit("engine_run_over_floor", round(engine_run / floor, 2), "x")
    emit("engine_over_floor_cpu", round(engine_days_cpu / floor_cpu, 2), "x")
    merge("floor", {
        "engine_over_floor": round(engine_days / floor, 3),
        "engine_run_over_floor": round(engine_run / floor, 3), "target_at_most": 5,
        "engine_over_floor_cpu": round(engine_days_cpu / floor_cpu, 3),
        "engine_days_seconds_median": round(engine_days, 3),
        "engine_run_seconds_median": round(engine_run, 3),
        "floor_seconds_median": round(floor, 3), "floor_runs": [round(f, 3) for f in floors],
        "engine_runs": [{k: round(c[k], 3) for k in ("seconds", "seconds_setup",
                                                      "seconds_days", "seconds_result")}
                        for c in cases],
        "case": f"baseline, {args.accounts} accounts, no_action, 540 days",
        "load_average_start": load_start, "load_average_end": load_average()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
