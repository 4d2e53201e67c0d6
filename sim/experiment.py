"""Replications with common random numbers, and paired comparisons between strategies.

Replication r of every strategy uses the same SeedSequence child, so two strategies in
the same replication face the same people, the same shocks and the same per-day draws;
their paired difference then carries little noise (DESIGN.md, "common random numbers").

Also here: sequential stopping (``compare_until``), the champion/challenger sample-size
helper (``sample_size``), the executors runs go to (``open_executor``: in-process, a
local process pool, or a Dask cluster) and ``sweep``, whose machinery is in
:mod:`sim.sweep` and :mod:`sim.runstore`.
"""

from __future__ import annotations

import math
import multiprocessing.context
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special  # not scipy.stats: its import costs each sweep worker 0.4 s

from .config import Scenario, Strategy
from .cores import use_helpers
from .engine import run
from .errors import ConfigError
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
    half = float(special.stdtrit(len(v) - 1, 0.5 + level / 2) * v.std(ddof=1) / np.sqrt(len(v)))
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
    return float(special.stdtrit(df, 0.5 + level / 2) * se)


# --------------------------------------------------------------------------- sequential stopping

STOP_PRECISION = "precision reached"
STOP_MAX = "max replications"


def precision_half_widths(result: ExperimentResult, kpi: str) -> dict[str, float]:
    """Half-width of the interval that sequential stopping watches, per strategy.

    With several strategies: each paired difference against the reference. With one
    strategy there is no pair, so the interval of its own mean is watched instead.
    """
    if len(result.strategies) > 1:
        p = result.paired[result.paired["kpi"] == kpi]
        return {s: float(h) for s, h in zip(p["strategy"], p["paired_half_width"], strict=True)}
    s = result.summary[result.summary["kpi"] == kpi]
    return {st: float((hi - lo) / 2) for st, lo, hi
            in zip(s["strategy"], s["ci_low"], s["ci_high"], strict=True)}


def _next_total(n: int, widths: dict[str, float], precision: float, cap: int) -> int:
    """How many replications to have after the next batch.

    A half-width shrinks like 1/sqrt(n), so n * (h / precision)^2 is the projected need;
    growth is capped at doubling because an sd from a handful of runs is itself noisy
    and overshooting wastes whole batches.
    """
    need = n + 1
    for h in widths.values():
        if not math.isfinite(h):
            need = max(need, 2 * n)  # undefined so far: more runs are the only remedy
        elif h > precision:
            need = max(need, math.ceil(n * (h / precision) ** 2))
    return min(cap, max(n + 1, min(need, 2 * n)))


def compare_until(scenario: Scenario, strategies: Sequence[Strategy], precision: float,
                  kpi: str = "cure_rate_30", max_replications: int = 50,
                  min_replications: int = 3, seed: int = 0, reference: str | None = None,
                  executor: Executor | None = None,
                  on_done: Callable[[RunSpec, RunResult], None] | None = None,
                  on_batch: Callable[[int], None] | None = None) -> ExperimentResult:
    """Add replications in batches until every paired interval of ``kpi`` is narrow enough.

    ``precision`` is the largest acceptable 95% half-width, in the KPI's own units (a
    rate is a fraction: half a percentage point is 0.005). Stops when every paired
    difference against the reference has a half-width <= precision, or when
    ``max_replications`` is reached; ``meta["stopped"]`` says which. Replication r always
    uses seed child r, so the result equals ``compare`` with the same final count.
    ``on_batch(n)`` is told before each batch how many replications there will be.
    """
    if not (math.isfinite(precision) and precision > 0):
        raise ValueError(f"precision must be a positive number, got {precision}")
    if min_replications < 2:
        raise ValueError("a confidence interval needs at least 2 replications")
    if max_replications < min_replications:
        raise ValueError(f"max_replications ({max_replications}) is below min_replications "
                         f"({min_replications})")
    names = [s.name for s in strategies]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"give distinct strategies, got {names}")
    specs: list[RunSpec] = []
    results: list[RunResult] = []
    n, target, batches = 0, min_replications, []
    while True:
        if on_batch is not None:
            on_batch(target)
        new = [RunSpec(scenario, st, seed, r) for r in range(n, target) for st in strategies]
        results += run_specs(new, executor, on_done)
        specs += new
        n = target
        batches.append(n)
        exp = assemble(scenario, specs, results, reference)
        if kpi not in set(exp.runs["kpi"]):
            raise ValueError(f"unknown KPI {kpi!r}; the runs report {sorted(set(exp.runs['kpi']))}")
        widths = precision_half_widths(exp, kpi)
        if all(math.isfinite(h) and h <= precision for h in widths.values()):
            stopped = STOP_PRECISION
            break
        if n >= max_replications:
            stopped = STOP_MAX
            break
        target = _next_total(n, widths, precision, max_replications)
    exp.meta.update({"stopped": stopped, "precision": precision, "precision_kpi": kpi,
                     "half_widths": {s: (h if math.isfinite(h) else None)
                                     for s, h in widths.items()},
                     "max_replications": max_replications, "batches": batches})
    return exp


# --------------------------------------------------------------------------- sample size


def sample_size(sd: float, min_detectable_diff: float, alpha: float = 0.05, power: float = 0.8,
                ratio: float = 1.0, sd_reference: float | None = None) -> int:
    """Accounts the challenger arm needs to detect ``min_detectable_diff`` in a KPI.

    Two-sample normal approximation for a two-sided test at level ``alpha``:

        n_challenger = (z[1 - alpha/2] + z[power])^2 * (sd^2 + sd_ref^2 / ratio) / delta^2

    ``sd`` is the per-account standard deviation of the KPI in the challenger arm
    (for a rate p, sqrt(p * (1 - p))); ``sd_reference`` the champion's (default: the
    same); ``ratio`` is champion accounts per challenger account (9 for a 90/10 split),
    so the champion arm needs ``ratio * n_challenger``. With sd = 1, delta = 0.5,
    alpha = 0.05, power = 0.8 and equal arms this gives the textbook 63 per arm.
    """
    sd_ref = sd if sd_reference is None else sd_reference
    if not (sd >= 0 and sd_ref >= 0 and math.isfinite(sd) and math.isfinite(sd_ref)):
        raise ValueError("standard deviations must be finite and non-negative")
    if not min_detectable_diff or not math.isfinite(min_detectable_diff):
        raise ValueError("min_detectable_diff must be a non-zero finite number")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError("alpha and power must lie strictly between 0 and 1")
    if not ratio > 0:
        raise ValueError("ratio (champion accounts per challenger account) must be positive")
    z = special.ndtri(1 - alpha / 2) + special.ndtri(power)
    n = z**2 * (sd**2 + sd_ref**2 / ratio) / min_detectable_diff**2
    return max(1, math.ceil(n - 1e-9))  # the epsilon keeps an exact integer from rounding up


# --------------------------------------------------------------------------- executors


def available_cores() -> int:
    """Cores this process may use (affinity-aware where the OS tells us)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class _QuickExitProcess(multiprocessing.context.SpawnProcess):
    """A pool worker that leaves without the interpreter's teardown once its loop ends.

    The loop returns only when the pool shuts the worker down, after its last result
    went down the pipe (results are written synchronously). What remains is freeing the
    heap of numba's LLVM, pandas and pyarrow: about 0.25 s a worker, which the parent's
    ``shutdown(wait=True)`` would wait for at the end of every sweep. A worker whose
    loop dies (a task's exception does not: it goes back to the caller) still leaves the
    normal way, with its exit code.
    """

    def run(self) -> None:
        super().run()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None under pythonw
                stream.flush()
        os._exit(0)


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _QuickExitProcess


@contextmanager
def open_executor(workers: int | None = None, scheduler: str | None = None,
                  tasks: int | None = None) -> Iterator[Executor | None]:
    """An executor for runs: a Dask cluster, a local process pool, or None (in-process).

    ``workers=None`` means as many processes as cores; ``tasks`` (how many runs are
    pending) trims the pool so no idle process is spawned. The pool uses the spawn
    context explicitly, so the global start method is never touched. On Dask, every run
    carries its seed in its RunSpec and is submitted with ``pure=False``: Dask must not
    merge two submissions that happen to look alike.
    """
    if workers is not None and scheduler is not None:
        raise ConfigError("--scheduler", [("", "give --workers or --scheduler, not both")])
    if scheduler is not None:
        client = _dask_client(scheduler)
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
        return
    n = available_cores() if workers is None else workers
    if tasks is not None:
        n = min(n, tasks)
    if n <= 1:
        yield None
        return
    # one worker per core: each run keeps to its own core (no helper threads, sim.cores)
    pool = ProcessPoolExecutor(max_workers=n, mp_context=_SpawnContext(),
                               initializer=use_helpers, initargs=(n < available_cores(),))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask_client(address: str) -> Any:
    try:
        from distributed import Client  # lazily: dask is an optional extra (`dist`)
    except ImportError:
        raise ConfigError("--scheduler", [("", "needs dask distributed; install the extra: "
                                               "pip install 'collectsim[dist]'")]) from None
    try:
        return Client(address, timeout=20)
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        raise ConfigError("--scheduler", [("", f"cannot reach a Dask scheduler at {address!r}: "
                                               f"{e}; start one with `dask scheduler` and give "
                                               "its tcp://HOST:PORT address")]) from None


# --------------------------------------------------------------------------- sweeps


def sweep(path_or_spec: str | Path | dict[str, Any], out: str | Path | None = None,
          executor: Executor | None = None, overrides: Sequence[str] = (),
          progress: Callable[[Any], None] | None = None, workers: int | None = None,
          scheduler: str | None = None) -> pd.DataFrame:
    """Run a sweep file (or dict) and return its tidy KPI table; see :mod:`sim.sweep`.

    ``df = sweep("scenarios/sweeps/capacity.toml", overrides=["population.accounts=20000"])``
    """
    from .sweep import sweep as _sweep  # sim.sweep builds on this module

    return _sweep(path_or_spec, out=out, executor=executor, overrides=overrides,
                  progress=progress, workers=workers, scheduler=scheduler)
