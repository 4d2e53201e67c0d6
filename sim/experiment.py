"""Replications with common random numbers, and paired comparisons between strategies.

Replication r of every strategy uses the same SeedSequence child, so two strategies in
the same replication face the same people, the same shocks and the same per-day draws;
their paired difference then carries little noise (DESIGN.md, "common random numbers").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .config import Scenario, Strategy
from .engine import run
from .results import ExperimentResult, RunResult


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs, picklable, with its seed explicit."""

    scenario: Scenario
    strategy: Strategy
    seed: int
    replication: int

    def seed_sequence(self) -> np.random.SeedSequence:
        return replication_seed(self.seed, self.replication)


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The r-th child of the root seed: the same for every strategy (CRN)."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


def execute(spec: RunSpec) -> RunResult:
    result = run(spec.scenario, spec.strategy, spec.seed_sequence())
    result.meta["replication"] = spec.replication
    result.meta["root_seed"] = spec.seed
    return result


def run_specs(specs: Sequence[RunSpec], executor: Executor | None = None,
              on_done: Callable[[RunSpec, RunResult], None] | None = None) -> list[RunResult]:
    """Run specs in order (no executor) or on an executor; results come back in spec order."""
    results: list[RunResult | None] = [None] * len(specs)
    if executor is None:
        for i, spec in enumerate(specs):
            results[i] = execute(spec)
            if on_done:
                on_done(spec, results[i])
    else:
        futures = {executor.submit(execute, spec): i for i, spec in enumerate(specs)}
        from concurrent.futures import as_completed

        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            if on_done:
                on_done(specs[i], results[i])
    return results  # type: ignore[return-value]


def compare(scenario: Scenario, strategies: Sequence[Strategy], replications: int = 1,
            seed: int = 0, reference: str | None = None, executor: Executor | None = None,
            on_done: Callable[[RunSpec, RunResult], None] | None = None) -> ExperimentResult:
    """Every strategy x every replication, paired by replication seed."""
    if not strategies:
        raise ValueError("compare needs at least one strategy")
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise ValueError(f"strategy names must be distinct, got {names}")
    specs = [RunSpec(scenario, st, seed, r) for r in range(replications) for st in strategies]
    results = run_specs(specs, executor, on_done)
    return assemble(scenario, specs, results, reference)


def assemble(scenario: Scenario, specs: Sequence[RunSpec], results: Sequence[RunResult],
             reference: str | None = None) -> ExperimentResult:
    names = list(dict.fromkeys(s.strategy.name for s in specs))
    ref = reference or ("no_action" if "no_action" in names else names[0])
    if ref not in names:
        raise ValueError(f"reference {ref!r} is not among the strategies {names}")
    rows, daily, cohorts, roll, curves = [], [], [], [], []
    for spec, res in zip(specs, results, strict=True):
        tag = {"strategy": spec.strategy.name, "replication": spec.replication}
        for key, value in res.kpis.items():
            rows.append({**tag, "kpi": key, "value": value})
        daily.append(res.daily.assign(**tag))
        cohorts.append(res.cohorts.assign(**tag))
        roll.append(res.roll_matrix.assign(**tag))
        curves.append(res.cure_curve.assign(**tag))
    runs = pd.DataFrame(rows)
    runs["value"] = runs["value"].astype(float)
    meta = {
        "scenario": scenario.name, "scenario_digest": scenario.digest(),
        "strategies": {s.strategy.name: s.strategy.digest() for s in specs},
        "replications": int(max(s.replication for s in specs)) + 1,
        "seed": int(specs[0].seed), "reference": ref, "currency": scenario.currency,
        "accounts": scenario.population.accounts,
    }
    return ExperimentResult(
        runs=runs, summary=summarise(runs), paired=paired_differences(runs, ref),
        daily=pd.concat(daily, ignore_index=True), cohorts=pd.concat(cohorts, ignore_index=True),
        roll=pd.concat(roll, ignore_index=True), curves=pd.concat(curves, ignore_index=True),
        meta=meta)


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean, and the Student-t confidence interval; half-width NaN for fewer than 2."""
    v = values[~np.isnan(values)]
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, np.nan, np.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - half, m + half


def summarise(runs: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    out = []
    for (strategy, kpi), g in runs.groupby(["strategy", "kpi"], sort=False):
        v = g["value"].to_numpy(dtype=float)
        m, lo, hi = t_interval(v, level)
        ok = v[~np.isnan(v)]
        out.append({"strategy": strategy, "kpi": kpi, "n": len(ok), "mean": m,
                    "sd": float(ok.std(ddof=1)) if len(ok) > 1 else np.nan,
                    "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(out)


def paired_differences(runs: pd.DataFrame, reference: str, level: float = 0.95) -> pd.DataFrame:
    """Each strategy minus the reference, replication by replication, with a t interval.

    ``unpaired_half_width`` is Welch's half-width for the same two samples treated as
    independent: how wide the interval would be without common random numbers.
    """
    wide = runs.pivot_table(index=["kpi", "replication"], columns="strategy", values="value",
                            aggfunc="first", dropna=False)
    out = []
    for strategy in [s for s in wide.columns if s != reference]:
        for kpi, g in wide.groupby(level="kpi", sort=False):
            a, b = g[strategy].to_numpy(float), g[reference].to_numpy(float)
            both = ~np.isnan(a) & ~np.isnan(b)
            d = a[both] - b[both]
            m, lo, hi = t_interval(d, level)
            out.append({"strategy": strategy, "reference": reference, "kpi": kpi, "n": len(d),
                        "diff": m, "ci_low": lo, "ci_high": hi,
                        "paired_half_width": (hi - lo) / 2 if len(d) > 1 else np.nan,
                        "unpaired_half_width": _welch_half_width(a[both], b[both], level)})
    return pd.DataFrame(out)


def _welch_half_width(a: np.ndarray, b: np.ndarray, level: float) -> float:
    n = len(a)
    if n < 2:
        return np.nan
    va, vb = a.var(ddof=1) / n, b.var(ddof=1) / n
    se = np.sqrt(va + vb)
    if se == 0:
        return 0.0
    df = (va + vb) ** 2 / ((va**2 + vb**2) / (n - 1)) if (va + vb) > 0 else n - 1
    return float(stats.t.ppf(0.5 + level / 2, df) * se)
