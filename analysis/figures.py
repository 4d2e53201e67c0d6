"""Figures of a strategy comparison: one function per figure, each returns a Figure.

Every function takes an :class:`~sim.results.ExperimentResult` (a sweep's tidy KPI table
for :func:`sweep_plot`) and never shows anything: the caller saves, embeds or displays
the figure. A strategy has the same colour in every figure (:func:`style.strategy_colours`).
Means are over replications; bands and error bars are 95% t-intervals across
replications, drawn only when there are at least two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, PowerNorm
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from sim.results import ExperimentResult, unit_of

from .stats import (
    ROLL_FROM,
    ROLL_TO,
    band,
    daily_mean,
    format_value,
    grid_columns,
    non_dominated,
    roll_shares,
    summary_of,
    window_span,
    window_totals,
)
from .style import (
    BUCKET_COLOURS,
    BUCKETS,
    HEATMAP_CMAP,
    SEQUENTIAL_CMAP,
    SIGNED_KPIS,
    better,
    label,
    new_figure,
    strategy_colours,
    styled,
    unit_label,
)

# the forest plot's default: the KPIs a risk committee asks about first
PAIRED_KPIS = ("cure_rate_30", "cure_rate_180", "roll_m1_m2", "recovery_rate", "net_recovery",
               "cohort_net_value", "collection_cost", "charge_off_rate", "complaints_per_1k")
ROLL_KPIS = ("roll_m1_m2", "roll_m2_m3", "roll_m3_m4", "roll_m4_m5", "roll_m5_m6", "roll_m6_co")
ROLL_STEPS = ("M1→M2", "M2→M3", "M3→M4", "M4→M5", "M5→M6", "M6→CO")
STATE_LABELS = {"current": "current", "charged_off": "charged off", "closed": "closed"}
CURE_TYPES = (("cured", "All cures"), ("self_cure", "Self-cure (no contact before cure)"),
              ("contact_cure", "Contact-cure"), ("plan_cure", "Plan-cure (restructured)"))
WINDOW_SHADE = {"color": "#000000", "alpha": 0.07, "linewidth": 0, "zorder": 0}


# ---------------------------------------------------------------- small shared pieces

def _currency(result: ExperimentResult) -> str:
    return str(result.meta.get("currency", ""))


def _reps(result: ExperimentResult) -> int:
    return int(result.meta.get("replications", result.runs["replication"].nunique()))


def _reps_note(result: ExperimentResult) -> str:
    n = _reps(result)
    if n > 1:
        return f"mean of {n} replications, 95% CI"
    return "1 replication: no confidence intervals"


def _money_scale(values: np.ndarray | Sequence[float]) -> tuple[float, str]:
    """Divide money by this and say so in the label: 12.3 million reads, 12,345,678 not."""
    v = np.abs(np.asarray(values, dtype=float))
    top = np.nanmax(v) if v.size and np.isfinite(v).any() else 0.0
    if top >= 1e7:
        return 1e6, "million "
    if top >= 1e4:
        return 1e3, "thousand "
    return 1.0, ""


def _kpi_scale(kpi: str, values: np.ndarray | Sequence[float], currency: str,
               diff: bool = False) -> tuple[float, str]:
    """Factor to plot a KPI with, and its axis label with the unit."""
    unit = unit_of(kpi)
    factor = 100.0 if unit == "rate" else 1.0 / _money_scale(values)[0] if unit == "money" else 1.0
    text = _unit_text(kpi, values, currency, diff)
    # "Complaints per 1,000 delinquent (per 1,000)" says the unit twice
    return factor, label(kpi) if text in label(kpi) else f"{label(kpi)} ({text})"


def _unit_text(kpi: str, values: np.ndarray | Sequence[float] | pd.Series, currency: str,
               diff: bool = False) -> str:
    """Just the unit of what :func:`_kpi_scale` plots, e.g. "thousand CNY"."""
    unit = unit_of(kpi)
    if unit == "rate":
        return "percentage points" if diff else "%"
    if unit == "money":
        return f"{_money_scale(values)[1]}{currency or 'currency units'}"
    return unit_label(kpi, currency)


def _thousands(ax: Axes, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis

    def fmt_tick(v: float, _pos: int | None) -> str:
        # enough decimals to tell neighbouring ticks apart on a narrow range
        ticks = target.get_majorticklocs()
        step = float(np.min(np.diff(ticks))) if len(ticks) > 1 else 1.0
        decimals = int(max(0, min(6, -np.floor(np.log10(step))))) if step > 0 else 0
        return f"{v:,.{decimals}f}" if abs(v) >= 100 or decimals else f"{v:g}"

    fmt = FuncFormatter(fmt_tick)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def _date_axis(ax: Axes) -> None:
    loc = AutoDateLocator(maxticks=7)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))


def _shade_window(ax: Axes, result: ExperimentResult) -> None:
    span = window_span(result)
    if span is not None:
        # the last window day is included: shade to the start of the next day
        end = span[1] + pd.Timedelta(days=1)
        ax.axvspan(span[0], end, label="measurement window", **WINDOW_SHADE)
        # edges on top as well: a stacked area hides the shade where it is drawn
        for edge in (span[0], end):
            ax.axvline(edge, color="#333333", linestyle="--", linewidth=0.8, zorder=3,
                       gid="window-edge")


def _grid(fig: Figure, n: int, ncols: int, **kw: object) -> list[Axes]:
    """n panels in rows of ncols; unused slots removed."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    axes = list(fig.subplots(nrows, ncols, squeeze=False, **kw).ravel())
    for ax in axes[n:]:
        ax.remove()
    return axes[:n]


def _err(lo: np.ndarray, mid: np.ndarray, hi: np.ndarray) -> np.ndarray | None:
    """Asymmetric error bar lengths, or None when no interval exists."""
    if np.isnan(lo).all() or np.isnan(hi).all():
        return None
    return np.vstack([np.nan_to_num(mid - lo), np.nan_to_num(hi - mid)])


def _clip(kpi: str, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip a t-interval to the values the KPI can take (a rate in [0, 1], a count >= 0).

    With two replications the t quantile is 12.7, and an interval reaching below zero
    complaints says nothing a reader can use; tables keep the unclipped numbers.
    """
    if kpi in SIGNED_KPIS:
        return lo, hi
    lo = np.clip(lo, 0.0, None)
    if unit_of(kpi) == "rate":
        hi = np.clip(hi, None, 1.0)
    return lo, hi


def _stats(result: ExperimentResult, kpi: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, clipped CI low and high of a KPI per strategy (result order), unscaled."""
    s = summary_of(result, kpi)
    mid = s["mean"].to_numpy(dtype=float)
    lo, hi = _clip(kpi, s["ci_low"].to_numpy(dtype=float), s["ci_high"].to_numpy(dtype=float))
    return mid, lo, hi


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


# ---------------------------------------------------------------- 1. delinquency

@styled
def delinquency_over_time(result: ExperimentResult, measure: str = "accounts") -> Figure:
    """Accounts (or balance) in M1..M6, stacked, one panel per strategy, window shaded."""
    if measure not in ("accounts", "balance"):
        raise ValueError(f"measure must be 'accounts' or 'balance', not {measure!r}")
    cols = [("n_" if measure == "accounts" else "bal_") + b for b in BUCKETS]
    d = daily_mean(result, cols)
    names = result.strategies
    colours = strategy_colours(names)
    if measure == "balance":
        factor, word = _money_scale(d[cols].sum(axis=1))
        ylabel = f"outstanding balance ({word}{_currency(result) or 'currency units'})"
    else:
        factor, ylabel = 1.0, "delinquent accounts"
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = new_figure(4.0 * ncols + 0.6, 2.9 * nrows + 0.9)
    axes = _grid(fig, len(names), ncols, sharex=True, sharey=True)
    for i, (ax, s) in enumerate(zip(axes, names, strict=True)):
        g = d[d["strategy"] == s]
        ax.stackplot(g["date"], *[g[c].to_numpy() / factor for c in cols], labels=BUCKETS,
                     colors=[BUCKET_COLOURS[b] for b in BUCKETS], linewidth=0)
        _shade_window(ax, result)
        ax.set_title(s, color=colours[s])
        if i % ncols == 0:
            ax.set_ylabel(ylabel)
        _thousands(ax)
        _date_axis(ax)
        ax.margins(x=0)
    handles, labels_ = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="outside lower center", ncol=len(labels_))
    what = "Delinquent accounts" if measure == "accounts" else "Balance of delinquent accounts"
    fig.suptitle(f"{what} by bucket over the run ({_reps_note(result).split(',')[0]}; "
                 "shaded: measurement window)", fontsize=12)
    return fig


# ---------------------------------------------------------------- 2. roll rates

@styled
def roll_matrix(result: ExperimentResult, strategy: str | Sequence[str],
                measure: str = "accounts") -> Figure:
    """Month-end to month-end transition shares as an annotated heatmap.

    ``strategy`` may be a list: one panel each on a shared colour scale (the report
    draws all strategies as one figure, which lays out far faster than one each).
    """
    names = [strategy] if isinstance(strategy, str) else list(strategy)
    for s in names:
        if s not in result.strategies:
            raise ValueError(f"{s!r} is not among the strategies {result.strategies}")
    if not names:
        raise ValueError("name at least one strategy")
    if measure not in ("accounts", "balance"):
        raise ValueError(f"measure must be 'accounts' or 'balance', not {measure!r}")
    colours = strategy_colours(result.strategies)
    ncols = min(2, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = new_figure(7.6 * ncols + 0.8, 3.9 * nrows + 0.7)
    axes = _grid(fig, len(names), ncols)
    # a square-root-like scale: the diagonal is ~95%, the interesting rolls a few %
    norm = PowerNorm(gamma=0.4, vmin=0.0, vmax=100.0)
    cmap = _cmap_with_bad(HEATMAP_CMAP)
    im = None
    for k, (ax, s) in enumerate(zip(axes, names, strict=True)):
        shares = roll_shares(result, s, measure) * 100.0
        im = ax.imshow(shares.to_numpy(), cmap=cmap, norm=norm, aspect="auto")
        for i in range(shares.shape[0]):
            for j in range(shares.shape[1]):
                v = shares.iat[i, j]
                ax.text(j, i, _share_text(v), ha="center", va="center", fontsize=8,
                        color="white" if not np.isnan(v) and norm(v) > 0.6 else "black")
        ax.set_xticks(range(len(ROLL_TO)), [STATE_LABELS.get(t, t) for t in ROLL_TO])
        ax.set_yticks(range(len(ROLL_FROM)), [STATE_LABELS.get(t, t) for t in ROLL_FROM])
        if k >= len(names) - ncols:
            ax.set_xlabel("state one month later")
        if k % ncols == 0:
            ax.set_ylabel("state at month-end")
        ax.grid(False)
        ax.spines[:].set_visible(False)
        ax.set_title(s, color=colours[s])
    cb = fig.colorbar(im, ax=axes, shrink=0.9 if nrows > 1 else 1.0)
    cb.set_label(f"% of the row's {measure}")
    reps = _reps(result)
    fig.suptitle(f"Roll-rate matrix: where the {measure} in each state at a month-end of the "
                 f"window were a month later ({reps} replication{'s' * (reps > 1)} pooled)",
                 fontsize=11)
    return fig


def _share_text(v: float) -> str:
    """A heatmap cell: "–" no accounts in the row, "·" exactly zero."""
    if np.isnan(v):
        return "–"
    if v == 0:
        return "·"
    if v < 0.1:
        return "<0.1"
    return f"{v:.1f}" if v < 99.95 else "100"


def _cmap_with_bad(name: str = SEQUENTIAL_CMAP) -> Colormap:
    # empty rows (no account in that bucket) read as "no data", not as 0%
    return colormaps[name].with_extremes(bad="#E4E4E4")


@styled
def forward_flow(result: ExperimentResult) -> Figure:
    """The chain M1→M2→…→M6→charge-off: each roll rate, and the flow-through from M1."""
    names = result.strategies
    colours = strategy_colours(names)
    fig = new_figure(11.5, 4.3)
    ax, ax2 = fig.subplots(1, 2, width_ratios=[1.6, 1])
    x = np.arange(len(ROLL_KPIS))
    width = 0.8 / len(names)
    present = set(result.summary["kpi"])
    nan = np.full(len(names), np.nan)
    # (mid, lo, hi) per roll KPI, each an array over strategies, in %
    per_kpi = [tuple(a * 100 for a in (_stats(result, k) if k in present else (nan,) * 3))
               for k in ROLL_KPIS]
    flows = {}
    for i, s in enumerate(names):
        mid, lo, hi = (np.array([t[j][i] for t in per_kpi]) for j in range(3))
        # a roll that is undefined (no account in the bucket) draws no bar, not a zero
        ax.bar(x - 0.4 + width * (i + 0.5), mid, width, yerr=_err(lo, mid, hi),
               color=colours[s], label=s, ecolor="#333333", error_kw={"linewidth": 0.8})
        # share of M1 accounts that, rolling month by month, reach each later bucket
        flows[s] = np.cumprod(mid / 100.0) * 100
    ax.set_xticks(x, ROLL_STEPS)
    ax.set_ylabel("roll rate (% of the bucket one bucket\nworse a month later)")
    ax.set_ylim(0, 100)
    ax.set_title("Roll rates, month-end to month-end")
    for s in names:
        ax2.plot(x, flows[s], marker="o", color=colours[s], label=s)
    ax2.set_yscale("log")
    ax2.set_xticks(x, [step.split("→")[1] for step in ROLL_STEPS])
    ax2.set_ylabel("% of M1 reaching the bucket (product of rolls)")
    ax2.set_title("Flow-through from M1")
    # plain decimal ticks on the log axis: "2%" reads, "2×10⁰" does not
    ax2.yaxis.set_major_locator(FixedLocator([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10,
                                              20, 50, 100]))
    ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax2.yaxis.set_minor_formatter(NullFormatter())
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=len(names))
    fig.suptitle(f"Forward flow to charge-off ({_reps_note(result)})", fontsize=12)
    return fig


# ---------------------------------------------------------------- 3. cure curves

@styled
def cure_curves(result: ExperimentResult) -> Figure:
    """Share of the entry cohort cured by days since entry; all cures, then by type."""
    curves = getattr(result, "curves", None)
    if curves is None or len(curves) == 0:
        raise ValueError("this result has no cure curves (the 'curves' table is missing or "
                         "empty; results written by an older collectsim lack it)")
    names = [s for s in result.strategies if s in set(curves["strategy"])]
    colours = strategy_colours(result.strategies)
    fig = new_figure(11.0, 7.2)
    axes = list(fig.subplots(2, 2, sharex=True).ravel())
    for ax in axes[2:]:
        ax.sharey(axes[1])  # the three types on one scale: their sizes are comparable
    for ax, (col, title) in zip(axes, CURE_TYPES, strict=True):
        if col not in curves.columns:
            _empty(ax, f"no '{col}' column in these results")
            continue
        for s in names:
            b = band(curves[curves["strategy"] == s], ["day"], col)
            ax.plot(b["day"], b["mean"] * 100, color=colours[s], label=s)
            if b["ci_low"].notna().any():
                lo, hi = _clip("cure_rate_180", b["ci_low"].to_numpy(), b["ci_high"].to_numpy())
                ax.fill_between(b["day"], lo * 100, hi * 100, color=colours[s], alpha=0.18,
                                linewidth=0)
        ax.set_title(title)
        ax.set_ylim(bottom=0)
    # the days the cure_rate_30 / cure_rate_180 KPIs read the curve at
    for day, side in ((30, "left"), (180, "right")):
        axes[0].axvline(day, color="#888888", linestyle=":", linewidth=1)
        axes[0].text(day, 0.02, f" day {day} ", transform=axes[0].get_xaxis_transform(),
                     ha=side, va="bottom", fontsize=8, color="#555555")
    for ax in axes[::2]:
        ax.set_ylabel("% of entry cohort cured")
    for ax in axes[2:]:
        ax.set_xlabel("days since entering delinquency")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
               ncol=len(names))
    fig.suptitle(f"Cure curves of the entry cohort ({_reps_note(result)} bands)", fontsize=12)
    return fig


# ---------------------------------------------------------------- 4. trade-off

@styled
def tradeoff_frontier(result: ExperimentResult, x: str | Sequence[str] = "complaints_per_1k",
                      y: str = "cohort_net_value") -> Figure:
    """One point per strategy with CI error bars; the non-dominated strategies ringed.

    The default value axis is ``cohort_net_value`` (cash in, minus cost, minus balances
    written off): cash-only ``net_recovery`` counts a plan cure as nothing collected and
    so ranks doing nothing above strategies that prevent charge-offs.

    ``x`` may be a list (e.g. ``["complaints_per_1k", "collection_cost"]``): one panel each.
    """
    xs = [x] if isinstance(x, str) else list(x)
    kpis = set(result.summary["kpi"])
    for k in (*xs, y):
        if k not in kpis:
            raise ValueError(f"KPI {k!r} is not in these results")
    names = result.strategies
    colours = strategy_colours(names)
    cur = _currency(result)
    fig = new_figure(5.6 * len(xs) + 0.4, 4.8)
    axes = list(fig.subplots(1, len(xs), squeeze=False).ravel())
    ys = summary_of(result, y)
    yf, ylab = _kpi_scale(y, ys["mean"], cur)
    for ax, xk in zip(axes, xs, strict=True):
        xsum = summary_of(result, xk)
        xf, xlab = _kpi_scale(xk, xsum["mean"], cur)
        xb, yb = better(xk) or "lower", better(y) or "higher"
        front = non_dominated(xsum["mean"], ys["mean"], xb, yb)
        xmid, xlo, xhi = (a * xf for a in _stats(result, xk))
        ymid, ylo, yhi = (a * yf for a in _stats(result, y))
        for i, s in enumerate(names):
            xm, ym = xmid[i], ymid[i]
            xe = _err(xlo[i:i + 1], xmid[i:i + 1], xhi[i:i + 1])
            ye = _err(ylo[i:i + 1], ymid[i:i + 1], yhi[i:i + 1])
            ax.errorbar(xm, ym, xerr=xe, yerr=ye, fmt="o", color=colours[s], markersize=7,
                        label=s, elinewidth=1.2)
            ax.annotate(s, (xm, ym), xytext=(6, 6), textcoords="offset points", fontsize=8,
                        color=colours[s])
            if front[i]:
                ax.plot(xm, ym, "o", markersize=15, markerfacecolor="none",
                        markeredgecolor="black", markeredgewidth=1.2, gid="frontier-marker")
        pts = sorted((xsum.loc[s, "mean"] * xf, ys.loc[s, "mean"] * yf)
                     for s, f in zip(names, front, strict=True) if f)
        if len(pts) > 1:
            ax.plot(*zip(*pts, strict=True), color="black", linestyle="--", linewidth=1,
                    gid="frontier-line")
        ax.set_xlabel(xlab + f" — {xb} is better")
        ax.set_ylabel(ylab + f" — {yb} is better")
        _thousands(ax, "x")
        _thousands(ax, "y")
        ax.set_title(f"{label(y)} vs {label(xk).lower()}")
    # legend handles built apart from the axes, so the axes hold only the data
    handles = [Line2D([], [], marker="o", linestyle="none", color=colours[s], label=s)
               for s in names]
    handles.append(Line2D([], [], marker="o", linestyle="none", markersize=12,
                          markerfacecolor="none", markeredgecolor="black",
                          label="non-dominated (no other strategy better on both axes)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4))
    fig.suptitle(f"Trade-off frontier ({_reps_note(result)} as error bars)", fontsize=12)
    return fig


# ---------------------------------------------------------------- 5. paired differences

@styled
def paired_forest(result: ExperimentResult, kpis: Sequence[str] | None = None) -> Figure:
    """Each strategy minus the reference with its paired 95% CI, one panel per KPI."""
    p = result.paired
    ref = result.meta.get("reference", "")
    others = [s for s in result.strategies if s != ref]
    wanted = list(kpis) if kpis is not None else [k for k in PAIRED_KPIS
                                                  if k in set(p.get("kpi", []))]
    colours = strategy_colours(result.strategies)
    cur = _currency(result)
    if not others or p.empty or not wanted:
        fig = new_figure(6, 2.5)
        _empty(fig.subplots(), "nothing to compare: only the reference strategy was run")
        return fig
    ncols = min(4, len(wanted))
    nrows = math.ceil(len(wanted) / ncols)
    fig = new_figure(3.3 * ncols + 1.2, 0.45 * len(others) * nrows + 1.4 * nrows + 0.8)
    axes = _grid(fig, len(wanted), ncols, sharey=True)
    pos = np.arange(len(others))[::-1]  # first strategy on top
    for ax, k in zip(axes, wanted, strict=True):
        sub = p[p["kpi"] == k].set_index("strategy").reindex(others)
        if sub["diff"].isna().all():
            _empty(ax, f"{k}: undefined")
            continue
        f, _ = _kpi_scale(k, sub["diff"], cur, diff=True)
        for yi, s in zip(pos, others, strict=True):
            m, lo, hi = (sub.loc[s, c] * f for c in ("diff", "ci_low", "ci_high"))
            ax.errorbar(m, yi, xerr=_err(np.array([lo]), np.array([m]), np.array([hi])),
                        fmt="o", color=colours[s], markersize=6, elinewidth=1.6, label=s)
        ax.axvline(0, color="#333333", linewidth=0.9)
        direction = better(k)
        ax.set_title(label(k) + (f"\n({direction} is better)" if direction else ""),
                     fontsize=9.5)
        ax.set_xlabel("difference, " + _unit_text(k, sub["diff"], cur, diff=True))
        ax.set_yticks(pos, others)
        ax.set_ylim(-0.7, len(others) - 0.3)
        _thousands(ax, "x")
    n = _reps(result)
    how = (f"95% CI over {n} paired replications, common random numbers" if n > 1
           else "1 replication: differences without intervals")
    fig.suptitle(f"Difference against {ref}, per strategy ({how})", fontsize=12)
    return fig


# ---------------------------------------------------------------- 6. operations

@styled
def operations(result: ExperimentResult, smooth_days: int = 7) -> Figure:
    """Collector utilisation and backlog over time; attempts by channel; blocks by rule."""
    names = result.strategies
    colours = strategy_colours(names)
    d = daily_mean(result, ["utilisation", "backlog"])
    channels = [c for c in result.daily.columns if c.startswith("attempts_")]
    rules = [c for c in result.daily.columns if c.startswith("blocked_")]
    tot = window_totals(result, channels + rules)
    fig = new_figure(12.5, 8.2)
    (a_util, a_back), (a_chan, a_rule) = fig.subplots(2, 2)
    a_util.sharex(a_back)
    for s in names:
        g = d[d["strategy"] == s].sort_values("day")
        # daily utilisation jumps with weekends and due-date peaks: a rolling mean reads
        util = g["utilisation"].rolling(smooth_days, min_periods=1).mean() * 100
        a_util.plot(g["date"], util, color=colours[s], label=s)
        a_back.plot(g["date"], g["backlog"], color=colours[s], label=s)
    for ax in (a_util, a_back):
        _shade_window(ax, result)
        _date_axis(ax)
        ax.margins(x=0)
    a_util.set_ylabel(f"utilisation (% of shift minutes, {smooth_days}-day mean)")
    a_util.set_title("Collector utilisation")
    a_util.set_ylim(bottom=0)
    a_back.set_ylabel("call tasks waiting at end of day")
    a_back.set_title("End-of-day backlog")
    _thousands(a_back)
    _grouped_barh(a_chan, tot, channels, "attempts_", names, colours,
                  "attempts in the window (mean per run, log scale)", "no attempts on any channel")
    a_chan.set_title("Attempts by channel")
    _grouped_barh(a_rule, tot, rules, "blocked_", names, colours,
                  "attempts blocked in the window (mean per run, log scale)",
                  "no attempt was blocked")
    a_rule.set_title("Attempts blocked by compliance rule")
    fig.legend(*a_util.get_legend_handles_labels(), loc="outside lower center",
               ncol=len(names) + 1)
    fig.suptitle(f"Operations ({_reps_note(result).split(',')[0]}; shaded: measurement "
                 "window)", fontsize=12)
    return fig


def _grouped_barh(ax: Axes, tot: pd.DataFrame, cols: list[str], prefix: str, names: list[str],
                  colours: dict[str, str], xlabel: str, empty: str) -> None:
    """Horizontal bars, a group per category, a bar per strategy; all-zero categories
    are left out so that the chart shows what happened, not the catalogue."""
    used = [c for c in cols if tot[c].fillna(0).gt(0).any()]
    if not used:
        _empty(ax, empty)
        return
    y = np.arange(len(used))[::-1]
    h = 0.8 / len(names)
    for i, s in enumerate(names):
        vals = tot.loc[s, used].to_numpy(dtype=float)
        ax.barh(y + 0.4 - h * (i + 0.5), vals, h, color=colours[s], label=s, log=True)
    ax.set_yticks(y, [c.removeprefix(prefix).replace("_", " ") for c in used])
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)


# ---------------------------------------------------------------- 7. customers

CUSTOMER_KPIS = (
    ("cure_rate_180", "Cured within 180 days"),
    ("complaints_per_1k", "Complaints per 1,000 accounts"),
    ("charge_off_share", "Charged off"),
)


@styled
def customers(result: ExperimentResult) -> Figure:
    """Hardship versus other accounts of the entry cohort: cure, complaints, charge-off."""
    names = result.strategies
    colours = strategy_colours(names)
    fig = new_figure(12.5, 4.6)
    axes = fig.subplots(1, 3)
    x = np.arange(len(names))
    w = 0.38
    for ax, (stem, title) in zip(axes, CUSTOMER_KPIS, strict=True):
        drawn = 0
        for j, grp in enumerate(("hardship", "other")):
            k = f"{grp}_{stem}"
            if k not in set(result.summary["kpi"]):
                continue
            f = 100.0 if unit_of(k) == "rate" else 1.0
            mid, lo, hi = (a * f for a in _stats(result, k))
            drawn += int(np.isfinite(mid).any())
            ax.bar(x + (j - 0.5) * w, np.nan_to_num(mid), w * 0.95, yerr=_err(lo, mid, hi),
                   color=[colours[n] for n in names], edgecolor="black", linewidth=0.6,
                   hatch="///" if grp == "hardship" else None,
                   alpha=0.55 if grp == "hardship" else 1.0, label=grp,
                   ecolor="#333333", error_kw={"linewidth": 0.8})
        ax.set_ylabel("per 1,000 cohort accounts" if stem == "complaints_per_1k"
                      else "% of the group's cohort accounts")
        ax.set_title(title)
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylim(bottom=0)
        if not drawn:
            # e.g. a follow-up shorter than 180 days: the 180-day cure is undefined
            ax.text(0.5, 0.5, "undefined for this run", ha="center", va="center",
                    transform=ax.transAxes, color="#555555")
    legend = [Patch(facecolor="#BBBBBB", edgecolor="black", hatch="///", alpha=0.55,
                    label="hardship (in a hardship shock at entry)"),
              Patch(facecolor="#BBBBBB", edgecolor="black", label="other accounts")]
    fig.legend(handles=legend, loc="outside lower center", ncol=2)
    fig.suptitle(f"Customers: hardship vs other accounts of the entry cohort "
                 f"({_reps_note(result)})", fontsize=12)
    return fig


# ---------------------------------------------------------------- 8. sweeps

@styled
def sweep_plot(df: pd.DataFrame | str | Path, kpi: str, x: str, y: str | None = None,
               strategy: str | Sequence[str] | None = None, currency: str = "") -> Figure:
    """A KPI over a sweep grid: lines over one parameter, or a heatmap over two.

    ``df`` is the sweep's tidy ``kpis.parquet`` (or its path): run_id, strategy,
    replication, seed, one column per grid parameter (dotted path), kpi, value. Values
    are averaged over replications. Grid parameters other than ``x`` and ``y`` must be
    fixed (filter ``df`` first), since averaging over them would hide their effect.
    """
    if not isinstance(df, pd.DataFrame):
        df = pd.read_parquet(df)
    grid = grid_columns(df)
    for p in (x, y):
        if p is not None and p not in grid:
            raise ValueError(f"{p!r} is not a grid parameter of this sweep; it has {grid}")
    if kpi not in set(df["kpi"]):
        raise ValueError(f"KPI {kpi!r} is not in this sweep")
    d = df[df["kpi"] == kpi]
    if strategy is not None:
        wanted = [strategy] if isinstance(strategy, str) else list(strategy)
        missing = set(wanted) - set(d["strategy"])
        if missing:
            raise ValueError(f"strategies {sorted(missing)} are not in this sweep")
        d = d[d["strategy"].isin(wanted)]
    varying = [c for c in grid if c not in (x, y) and d[c].nunique(dropna=False) > 1]
    if varying:
        raise ValueError(f"grid parameters {varying} also vary; filter the table to one value "
                         "of each before plotting")
    names = list(dict.fromkeys(d["strategy"]))
    colours = strategy_colours(names)
    f, vlabel = _kpi_scale(kpi, d["value"], currency)
    if y is None:
        fig = new_figure(7.5, 4.6)
        ax = fig.subplots()
        for s in names:
            b = band(d[d["strategy"] == s], [x], "value").sort_values(x)
            ax.plot(b[x], b["mean"] * f, marker="o", color=colours[s], label=s)
            if b["ci_low"].notna().any():
                ax.fill_between(b[x], b["ci_low"] * f, b["ci_high"] * f, color=colours[s],
                                alpha=0.18, linewidth=0)
        ax.set_xlabel(x)
        ax.set_ylabel(vlabel)
        _thousands(ax)
        ax.legend(loc="best")
        reps = d["replication"].nunique()
        ax.set_title(f"{label(kpi)} over {x} (mean of {reps} replication{'s' * (reps > 1)}"
                     f"{', 95% CI' if reps > 1 else ''})")
        return fig
    means = d.groupby(["strategy", y, x])["value"].mean() * f
    xv, yv = sorted(d[x].unique()), sorted(d[y].unique())
    lo, hi = float(np.nanmin(means)), float(np.nanmax(means))
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = new_figure(4.3 * ncols + 1.0, 3.6 * nrows + 0.6)
    axes = _grid(fig, len(names), ncols)
    im = None
    for ax, s in zip(axes, names, strict=True):
        m = means.loc[s].unstack(x).reindex(index=yv, columns=xv)
        im = ax.imshow(m.to_numpy(), cmap=_cmap_with_bad(SEQUENTIAL_CMAP), vmin=lo, vmax=hi, origin="lower",
                       aspect="auto")
        for i in range(len(yv)):
            for j in range(len(xv)):
                v = m.iat[i, j]
                if not np.isnan(v):
                    dark = (v - lo) / (hi - lo) < 0.55 if hi > lo else True
                    ax.text(j, i, _short(v / f, kpi), ha="center", va="center", fontsize=8,
                            color="white" if dark else "black")
        ax.set_xticks(range(len(xv)), [f"{v:g}" if isinstance(v, float) else str(v)
                                       for v in xv])
        ax.set_yticks(range(len(yv)), [f"{v:g}" if isinstance(v, float) else str(v)
                                       for v in yv])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(s, color=colours[s])
        ax.grid(False)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.85).set_label(vlabel)
    fig.suptitle(f"{label(kpi)} over the sweep grid (mean over replications)", fontsize=12)
    return fig


def _short(value: float, kpi: str) -> str:
    """A cell annotation: the table's format, compacted for large money values."""
    if unit_of(kpi) == "money" and abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if unit_of(kpi) == "money" and abs(value) >= 1e4:
        return f"{value / 1e3:.0f}k"
    return format_value(value, kpi)
