"""What common random numbers buy: paired / unpaired 95% half-widths, seed by seed.

For each root seed this runs :func:`sim.experiment.compare` on the ``baseline`` scenario
(``--accounts`` accounts, the scenario's full horizon) with ``seed_playbook`` as the
reference and, against it, ``risk_based``, ``no_action``, ``seed_playbook_sms3`` (the
playbook with its M1 SMS every 3 days instead of 5: a close variant) and
``seed_playbook_copy`` (the playbook renamed: identical). For every pair and every KPI
in :data:`KPIS` it prints paired half-width / unpaired (Welch) half-width, both from the
``paired`` table of the result; below 100% pairing narrows the interval. Then it prints,
per pair and KPI, the median and the min-max of that ratio over the seeds. All figures
are reproducible from the seeds given on the command line:

    .venv/bin/python -m analysis.pairing --seeds 0,1,2 --replications 6 --accounts 2000 --workers 2
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.config import Strategy, load_scenario, load_strategy, validate_strategy
from sim.experiment import compare, open_executor

KPIS = ("net_recovery", "cohort_net_value", "collection_cost", "complaints_per_1k",
        "roll_m1_m2", "entry_cohort_size", "cure_rate_30", "charge_off_amount")
REFERENCE = "seed_playbook"


def with_m1_sms_every(strategy: Strategy, days: int, name: str) -> Strategy:
    """A renamed copy of ``strategy`` whose M1 rules send their SMS every ``days`` days."""
    raw = strategy.model_dump(mode="json")
    raw["name"] = name
    changed = 0
    for rule in raw["rules"]:
        if "M1" in rule["buckets"]:
            for action in rule["actions"]:
                if action["channel"] == "sms":
                    action["every_days"] = days
                    changed += 1
    if not changed:
        raise ValueError(f"{strategy.name} has no M1 SMS action to change")
    return validate_strategy(raw, f"<{name}>")


def strategies() -> list[Strategy]:
    ref = load_strategy(REFERENCE)
    return [ref, load_strategy("risk_based"), load_strategy("no_action"),
            with_m1_sms_every(ref, 3, f"{REFERENCE}_sms3"),
            ref.model_copy(update={"name": f"{REFERENCE}_copy"})]


def ratios(paired: pd.DataFrame) -> pd.DataFrame:
    """Paired / unpaired half-width, KPIs as rows and strategies (vs the reference) as columns."""
    p = paired[paired["kpi"].isin(KPIS)].copy()
    unpaired = p["unpaired_half_width"].where(p["unpaired_half_width"] > 0)
    p["ratio"] = p["paired_half_width"] / unpaired  # NaN where both arms never vary
    return p.pivot(index="kpi", columns="strategy", values="ratio").reindex(KPIS)


def identical(runs: pd.DataFrame, a: str, b: str) -> bool:
    """Whether strategies a and b report the same value of every KPI in every replication.

    ``run_seconds`` (wall clock, not model output) is left out; NaN equals NaN.
    """
    wide = runs[runs["kpi"] != "run_seconds"].pivot_table(
        index=["kpi", "replication"], columns="strategy", values="value", dropna=False)
    x, y = wide[a].to_numpy(float), wide[b].to_numpy(float)
    return bool(np.all((x == y) | (np.isnan(x) & np.isnan(y))))


def pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.0f}%"


def show(table: pd.DataFrame) -> None:
    cols = list(table.columns)
    width = max(len(c) for c in cols) + 2
    print(f"{'kpi':<20}" + "".join(f"{c:>{width}}" for c in cols))
    for kpi, row in table.iterrows():
        print(f"{kpi:<20}" + "".join(f"{row[c]:>{width}}" for c in cols))


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m analysis.pairing", description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated root seeds")
    ap.add_argument("--replications", type=int, default=6)
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    scenario = load_scenario("baseline", [f"population.accounts={args.accounts}"])
    strats = strategies()
    print(f"baseline, {args.accounts} accounts, {scenario.horizon.days} days, "
          f"{args.replications} replications, seeds {seeds}; reference {REFERENCE}; "
          "cells: paired / unpaired 95% half-width")
    started = time.perf_counter()
    per_seed: dict[int, pd.DataFrame] = {}
    with open_executor(args.workers, tasks=len(strats) * args.replications) as executor:
        for seed in seeds:
            result = compare(scenario, strats, args.replications, seed, REFERENCE, executor)
            per_seed[seed] = ratios(result.paired)
            exact = identical(result.runs, f"{REFERENCE}_copy", REFERENCE)
            print(f"\nseed {seed} ({time.perf_counter() - started:.0f} s elapsed); "
                  f"{REFERENCE}_copy differs from {REFERENCE} by exactly 0 in every KPI "
                  f"and replication: {exact}")
            show(per_seed[seed].map(pct))
    stacked = np.stack([t.to_numpy(float) for t in per_seed.values()])
    cols = per_seed[seeds[0]].columns
    with warnings.catch_warnings():  # a KPI that never varies has no ratio: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        med, lo, hi = (np.nanmedian(stacked, 0), np.nanmin(stacked, 0), np.nanmax(stacked, 0))
    summary = pd.DataFrame(
        [[f"{pct(med[i, j])} ({pct(lo[i, j])}-{pct(hi[i, j])})" for j in range(len(cols))]
         for i in range(len(KPIS))], index=list(KPIS), columns=cols)
    print(f"\nmedian (min-max) over seeds {seeds}")
    show(summary)
    print(f"\nwall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
