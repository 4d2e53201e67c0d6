"""One small real comparison for the figure and report tests, built once per session.

Kept out of conftest.py so the analysis tests own their data; ``functools.cache`` makes
the two test modules share the same runs.
"""

from __future__ import annotations

import functools

from sim.config import load_scenario, load_strategy
from sim.experiment import compare, paired_differences, summarise
from sim.results import ExperimentResult

# short horizon: every figure has data, and the follow-up is too short for 180-day
# figures, so the "undefined" paths (n/a cells, empty panels) are exercised as well
OVERRIDES = ["population.accounts=1500", "horizon.warmup_days=60", "horizon.window_days=60",
             "horizon.followup_days=30"]
STRATEGIES = ("no_action", "seed_playbook", "call_heavy")


@functools.cache
def small_comparison() -> ExperimentResult:
    """Three strategies x two replications (results are read-only: do not mutate)."""
    sc = load_scenario("baseline", OVERRIDES)
    return compare(sc, [load_strategy(s) for s in STRATEGIES], replications=2, seed=3)


@functools.cache
def one_replication() -> ExperimentResult:
    """Replication 0 of the same runs, as compare would have returned it with one."""
    r = small_comparison()
    keep = {name: getattr(r, name) for name in ExperimentResult.TABLES
            if name not in ("summary", "paired")}
    keep = {name: t[t["replication"] == 0].reset_index(drop=True) for name, t in keep.items()}
    ref = r.meta["reference"]
    return ExperimentResult(summary=summarise(keep["runs"]),
                            paired=paired_differences(keep["runs"], ref),
                            meta={**r.meta, "replications": 1}, **keep)
