"""Small statistics and formatting helpers over an ExperimentResult's tables.

Confidence intervals come from :func:`sim.experiment.t_interval`, the same function the
experiment's ``summary`` and ``paired`` tables were built with, so a band in a figure and
a number in the KPI table never disagree about what "95% CI" means.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.experiment import t_interval
from sim.metrics import STATES
from sim.results import ExperimentResult, format_kpi, unit_of

ROLL_FROM = STATES[:7]  # current, M1..M6: the states a month-end can start from
ROLL_TO = STATES  # ... and where an account can be a month later (charged off, closed)


def format_value(value: float | None, kpi: str, currency: str = "") -> str:
    """A KPI value as tables show it (rates in %, money with thousands separators).

    Kept identical to the CLI's table so the terminal and the report read the same.
    """
    return format_kpi(value, kpi, currency)


def format_interval(low: float | None, high: float | None, kpi: str) -> str:
    """"[low, high]" in the KPI's display unit, or "" when there is no interval."""
    if low is None or high is None or low != low or high != high:
        return ""
    return f"[{format_value(low, kpi)}, {format_value(high, kpi)}]"


def format_diff(value: float | None, kpi: str) -> str:
    """A difference: signed, and rates in percentage points (a change of a %, not a %)."""
    if value is None or value != value:
        return "n/a"
    if unit_of(kpi) == "rate":
        return f"{100 * value:+.1f} pp"
    return ("-" if value < 0 else "+") + format_value(abs(value), kpi)


def non_dominated(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                  x_better: str = "lower", y_better: str = "higher") -> np.ndarray:
    """Mask of the points no other point beats on both axes (the Pareto frontier).

    A point is dominated when another is at least as good on both axes and strictly
    better on one. Points with a missing coordinate are never on the frontier.
    """
    xs = np.asarray(x, dtype=float) * (1 if x_better == "lower" else -1)
    ys = np.asarray(y, dtype=float) * (1 if y_better == "lower" else -1)
    ok = ~(np.isnan(xs) | np.isnan(ys))
    keep = ok.copy()
    for i in np.flatnonzero(ok):
        others = ok & (np.arange(len(xs)) != i)
        dominated = others & (xs <= xs[i]) & (ys <= ys[i]) & ((xs < xs[i]) | (ys < ys[i]))
        keep[i] = not dominated.any()
    return keep


def band(df: pd.DataFrame, by: Sequence[str], value: str, level: float = 0.95,
         across: str = "replication") -> pd.DataFrame:
    """Mean and t-interval of ``value`` across replications, per group of ``by``.

    One replication gives NaN bounds, which plotting code reads as "no band". The table
    is pivoted to one row per group first: a pandas groupby per day of a cure curve
    costs far more than the interval itself.
    """
    by = list(by)
    wide = df.pivot_table(index=by, columns=across, values=value, aggfunc="mean", dropna=False)
    arr = wide.to_numpy(dtype=float)
    if arr.shape[1] < 2:
        # one replication: the mean is the value and there is no interval to compute
        stats = np.column_stack([arr[:, 0] if arr.shape[1] else np.full(len(arr), np.nan),
                                 np.full((len(arr), 2), np.nan)])
    else:
        stats = np.array([t_interval(row, level) for row in arr])
    out = wide.index.to_frame(index=False)
    if len(stats):
        out["mean"], out["ci_low"], out["ci_high"] = stats[:, 0], stats[:, 1], stats[:, 2]
    else:
        out["mean"] = out["ci_low"] = out["ci_high"] = np.nan
    out["n"] = wide.notna().sum(axis=1).to_numpy()
    return out


def summary_of(result: ExperimentResult, kpi: str) -> pd.DataFrame:
    """result.summary for one KPI, one row per strategy in the result's order."""
    s = result.summary[result.summary["kpi"] == kpi].set_index("strategy")
    return s.reindex(result.strategies)


def daily_mean(result: ExperimentResult, columns: Sequence[str]) -> pd.DataFrame:
    """Daily series averaged over replications: one row per strategy x day."""
    cols = [c for c in columns if c in result.daily.columns]
    d = result.daily
    g = d.groupby(["strategy", "day"], sort=False)
    out = g[cols].mean()
    out["date"] = g["date"].first()
    out["phase"] = g["phase"].first()
    return out.reset_index()


def window_totals(result: ExperimentResult, columns: Sequence[str]) -> pd.DataFrame:
    """Sums over the measurement window, averaged over replications: strategy x column."""
    cols = [c for c in columns if c in result.daily.columns]
    w = result.daily[result.daily["phase"] == "window"]
    per_run = w.groupby(["strategy", "replication"], sort=False)[cols].sum()
    return per_run.groupby(level="strategy", sort=False).mean().reindex(result.strategies)


def window_span(result: ExperimentResult) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last date of the measurement window (None if the run has none)."""
    d = result.daily
    w = d.loc[d["phase"] == "window", "date"]
    if w.empty:
        return None
    return pd.Timestamp(w.min()), pd.Timestamp(w.max())


def roll_shares(result: ExperimentResult, strategy: str,
                measure: str = "accounts") -> pd.DataFrame:
    """Month-end transition shares, from-state rows x to-state columns.

    Counts (or balances) are pooled over replications before dividing, so a replication
    with few M6 accounts weighs in proportion to its accounts, not equally.
    """
    col = {"accounts": "accounts", "balance": "balance"}[measure]
    r = result.roll[result.roll["strategy"] == strategy]
    if r.empty:
        raise ValueError(f"no roll table rows for strategy {strategy!r}")
    t = r.groupby(["from", "to"])[col].sum().unstack("to")
    t = t.reindex(index=list(ROLL_FROM), columns=list(ROLL_TO)).fillna(0.0)
    tot = t.sum(axis=1)
    return t.div(tot.where(tot > 0), axis=0)


def grid_columns(df: pd.DataFrame) -> list[str]:
    """The sweep grid's parameter columns of a tidy kpis table (everything not fixed)."""
    fixed = {"run_id", "strategy", "replication", "seed", "kpi", "value"}
    return [c for c in df.columns if c not in fixed]
