"""Every figure function on a small real comparison: axes, labels, number of series."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure

from analysis import figures
from analysis.stats import band, non_dominated, roll_shares, summary_of
from analysis.style import FIXED_COLOURS, OKABE_ITO, strategy_colours
from sim.results import ExperimentResult
from tests.analysis_data import STRATEGIES, one_replication, small_comparison


@pytest.fixture(scope="module")
def result() -> ExperimentResult:
    return small_comparison()


def data_axes(fig: Figure) -> list:
    """The panels, without colour bars (which are axes too)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def strategy_lines(ax) -> list:
    return [ln for ln in ax.lines if ln.get_label() in STRATEGIES]


def bars(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def errorbars(ax) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


# ---------------------------------------------------------------- style and stats

def test_strategy_colours_are_fixed_for_bundled_and_distinct_for_others():
    a = strategy_colours(["seed_playbook", "mine", "no_action", "theirs"])
    b = strategy_colours(["theirs", "call_heavy", "seed_playbook"])
    assert a["seed_playbook"] == b["seed_playbook"] == FIXED_COLOURS["seed_playbook"]
    assert a["no_action"] == FIXED_COLOURS["no_action"]
    assert len(set(a.values())) == 4  # user strategies never reuse a colour in view
    assert a["mine"] not in FIXED_COLOURS.values() and a["mine"] == OKABE_ITO["orange"]
    assert strategy_colours(["x", "y"]) == strategy_colours(["x", "y"])  # deterministic
    many = strategy_colours([f"s{i}" for i in range(12)])
    assert len(set(many.values())) == 12


def test_non_dominated_respects_directions_and_ties():
    x = [1.0, 2.0, 2.0, 3.0, np.nan]  # complaints: lower is better
    y = [5.0, 6.0, 4.0, 6.0, 9.0]  # net recovery: higher is better
    assert non_dominated(x, y).tolist() == [True, True, False, False, False]
    assert non_dominated(x, y, "higher", "lower").tolist() == [False, False, True, True, False]
    assert non_dominated([1, 1], [2, 2]).tolist() == [True, True]  # equal points: both kept


def test_band_uses_the_experiment_t_interval(result):
    c = result.curves[result.curves["strategy"] == "seed_playbook"]
    b = band(c, ["day"], "cured")
    assert len(b) == 181 and (b["n"] == 2).all()
    day = c[c["day"] == 30]["cured"].to_numpy()
    m = b.set_index("day").loc[30]
    assert m["mean"] == pytest.approx(day.mean())
    assert m["ci_high"] - m["mean"] == pytest.approx(12.706 * day.std(ddof=1) / np.sqrt(2),
                                                     rel=1e-3)


def test_roll_shares_rows_sum_to_one(result):
    s = roll_shares(result, "seed_playbook")
    sums = s.sum(axis=1, min_count=1).dropna()
    assert len(sums) >= 2 and np.allclose(sums, 1.0)


# ---------------------------------------------------------------- the figures

def test_delinquency_over_time(result):
    fig = figures.delinquency_over_time(result)
    assert isinstance(fig, Figure) and isinstance(fig.canvas, FigureCanvasAgg)
    axes = data_axes(fig)
    assert [ax.get_title() for ax in axes] == list(STRATEGIES)
    for ax in axes:
        assert len(ax.collections) == 6  # M1..M6 stacked
        assert len([ln for ln in ax.lines if ln.get_gid() == "window-edge"]) == 2
        assert len(ax.patches) == 1  # the shaded measurement window
    assert axes[0].get_ylabel() == "delinquent accounts"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["M1", "M2", "M3", "M4", "M5", "M6", "measurement window"]
    bal = figures.delinquency_over_time(result, "balance")
    assert "CNY" in data_axes(bal)[0].get_ylabel()
    with pytest.raises(ValueError, match="measure"):
        figures.delinquency_over_time(result, "dollars")


def test_roll_matrix(result):
    fig = figures.roll_matrix(result, "seed_playbook")
    (ax,) = data_axes(fig)
    assert len(ax.images) == 1 and ax.images[0].get_array().shape == (7, 9)
    assert len(ax.texts) == 63  # every cell annotated
    assert [t.get_text() for t in ax.get_xticklabels()][-2:] == ["charged off", "closed"]
    assert ax.get_ylabel() == "state at month-end"
    shares = roll_shares(result, "seed_playbook") * 100
    assert ax.texts[0].get_text() == f"{shares.iat[0, 0]:.1f}"  # current -> current
    many = figures.roll_matrix(result, list(STRATEGIES))
    assert len(data_axes(many)) == 3 and all(len(a.images) == 1 for a in data_axes(many))
    with pytest.raises(ValueError, match="not among"):
        figures.roll_matrix(result, "nobody")


def test_forward_flow(result):
    fig = figures.forward_flow(result)
    ax, ax2 = data_axes(fig)
    assert len(bars(ax)) == 3 and all(len(b) == 6 for b in bars(ax))
    assert [t.get_text() for t in ax.get_xticklabels()] == list(figures.ROLL_STEPS)
    s = summary_of(result, "roll_m1_m2")
    assert bars(ax)[1][0].get_height() == pytest.approx(100 * s.loc["seed_playbook", "mean"])
    assert len(strategy_lines(ax2)) == 3 and ax2.get_yscale() == "log"
    assert "%" in ax.get_ylabel()


def test_cure_curves(result):
    fig = figures.cure_curves(result)
    axes = data_axes(fig)
    assert [ax.get_title() for ax in axes] == [t for _, t in figures.CURE_TYPES]
    for ax in axes:
        assert len(strategy_lines(ax)) == 3
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == 3  # two replications: a CI band per strategy
    line = strategy_lines(axes[0])[1]
    c = result.curves
    want = c[(c["strategy"] == "seed_playbook") & (c["day"] == 30)]["cured"].mean() * 100
    assert line.get_ydata()[30] == pytest.approx(want)
    assert "%" in axes[0].get_ylabel() and "days" in axes[2].get_xlabel()
    single = figures.cure_curves(one_replication())
    assert all(not ax.collections for ax in data_axes(single))  # no band from one run


def test_tradeoff_frontier(result):
    fig = figures.tradeoff_frontier(result)
    (ax,) = data_axes(fig)
    assert len(errorbars(ax)) == 3
    x = summary_of(result, "complaints_per_1k")["mean"]
    y = summary_of(result, "cohort_net_value")["mean"]
    marked = [ln for ln in ax.lines if ln.get_gid() == "frontier-marker"]
    assert len(marked) == non_dominated(x, y).sum() >= 1
    assert "CNY" in ax.get_ylabel() and "higher is better" in ax.get_ylabel()
    assert "lower is better" in ax.get_xlabel()
    two = figures.tradeoff_frontier(result, x=["complaints_per_1k", "collection_cost"])
    assert len(data_axes(two)) == 2 and "Collection cost" in data_axes(two)[1].get_xlabel()
    with pytest.raises(ValueError, match="not in these results"):
        figures.tradeoff_frontier(result, x="no_such_kpi")


def test_paired_forest(result):
    kpis = ["cure_rate_30", "net_recovery", "complaints_per_1k"]
    fig = figures.paired_forest(result, kpis)
    axes = data_axes(fig)
    assert len(axes) == 3
    for ax in axes:
        assert len(errorbars(ax)) == 2  # every strategy but the reference
    # the panels share the y axis: only the first column shows the strategy names
    assert {t.get_text() for t in axes[0].get_yticklabels()} == {"seed_playbook", "call_heavy"}
    assert "percentage points" in axes[0].get_xlabel()
    assert "CNY" in axes[1].get_xlabel()
    p = result.paired.set_index(["strategy", "kpi"])
    dot = errorbars(axes[0])[0].lines[0].get_xdata()[0]
    assert dot == pytest.approx(100 * p.loc[("seed_playbook", "cure_rate_30"), "diff"])
    assert len(data_axes(figures.paired_forest(result))) == len(figures.PAIRED_KPIS)


def test_operations(result):
    fig = figures.operations(result)
    util, backlog, chan, rule = data_axes(fig)
    assert len(strategy_lines(util)) == 3 and len(strategy_lines(backlog)) == 3
    assert "%" in util.get_ylabel() and "end of day" in backlog.get_ylabel()
    assert len(bars(chan)) == 3 and chan.get_xscale() == "log"
    channels = {t.get_text() for t in chan.get_yticklabels()}
    assert {"sms", "call"} <= channels
    assert len(bars(rule)) == 3
    rules = {t.get_text() for t in rule.get_yticklabels()}
    blocked = [c.removeprefix("blocked_").replace("_", " ") for c in result.daily.columns
               if c.startswith("blocked_") and
               result.daily.loc[result.daily["phase"] == "window", c].sum() > 0]
    assert rules == set(blocked)


def test_customers(result):
    fig = figures.customers(result)
    axes = data_axes(fig)
    assert [ax.get_title() for ax in axes] == [t for _, t in figures.CUSTOMER_KPIS]
    for ax in axes:
        assert len(bars(ax)) == 2 and all(len(b) == 3 for b in bars(ax))  # hardship, other
    s = summary_of(result, "hardship_complaints_per_1k")
    assert bars(axes[1])[0][2].get_height() == pytest.approx(s.loc["call_heavy", "mean"])
    # a 30-day follow-up: 180-day cures are undefined and the panel says so
    assert any("undefined" in t.get_text() for t in axes[0].texts)


def sweep_table(result: ExperimentResult) -> pd.DataFrame:
    """kpis.parquet's shape from real KPI values: two grid parameters, two replications."""
    parts = []
    for i, (shock, heads) in enumerate([(1.0, 10), (1.5, 10), (1.0, 20), (1.5, 20)]):
        part = result.runs.assign(
            run_id=i, seed=3, **{"economy.shock_multiplier": shock, "collectors.headcount": heads})
        part["value"] = part["value"] * shock + heads  # a known effect to find again
        parts.append(part)
    cols = ["run_id", "strategy", "replication", "seed", "economy.shock_multiplier",
            "collectors.headcount", "kpi", "value"]
    return pd.concat(parts, ignore_index=True)[cols]


def test_sweep_plot_lines_and_heatmap(result, tmp_path):
    df = sweep_table(result)
    lines = figures.sweep_plot(df[df["collectors.headcount"] == 10], "cure_rate_30",
                               "economy.shock_multiplier")
    (ax,) = data_axes(lines)
    assert len(strategy_lines(ax)) == 3 and ax.get_xlabel() == "economy.shock_multiplier"
    assert "%" in ax.get_ylabel()
    path = tmp_path / "kpis.parquet"
    df.to_parquet(path)
    heat = figures.sweep_plot(path, "net_recovery", "economy.shock_multiplier",
                              "collectors.headcount", strategy=["seed_playbook", "call_heavy"])
    panels = data_axes(heat)
    assert [a.get_title() for a in panels] == ["seed_playbook", "call_heavy"]
    img = panels[0].images[0].get_array()
    assert img.shape == (2, 2)  # headcount rows x shock columns
    base = summary_of(result, "net_recovery").loc["seed_playbook", "mean"]
    # averaged over replications, in thousand CNY as the colour bar says
    assert img[1, 1] == pytest.approx((base * 1.5 + 20) / 1000)
    assert "thousand" in heat.axes[-1].get_ylabel()
    heat.savefig(io.BytesIO(), format="png")  # draws: layout and colour bar work
    with pytest.raises(ValueError, match="also vary"):
        figures.sweep_plot(df, "net_recovery", "economy.shock_multiplier")
    with pytest.raises(ValueError, match="not a grid parameter"):
        figures.sweep_plot(df, "net_recovery", "population.accounts")
