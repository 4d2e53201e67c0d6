"""A comparison as one self-contained HTML file: summary, KPI table, figures, a guide.

Everything is inline (CSS, figures as base64 PNG): the file opens from an e-mail or a
shared drive with no network, and nothing in it runs code. The KPI table's numbers are
``result.summary``'s, formatted exactly as the CLI formats them; each cell also carries
the unformatted value in ``data-`` attributes so a test (or a reader's tool) can check
the table against the results files.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim import __version__
from sim.results import KPI_KEYS, ExperimentResult, atomic_write_text, unit_of

from . import figures
from .stats import format_diff, format_interval, format_value, non_dominated, summary_of
from .style import better, label, strategy_colours

# The KPI table's sections, in reading order: cohort outcomes first, then what they
# cost, then the customers, then the operation that produced them.
KPI_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Entry cohort: cures", (
        "entry_cohort_size", "cure_rate_30", "cure_rate_180", "self_cure_share",
        "contact_cure_share", "plan_cure_share")),
    ("Roll rates (month-end to month-end, measurement window)", (
        "roll_m1_m2", "roll_m2_m3", "roll_m3_m4", "roll_m4_m5", "roll_m5_m6", "roll_m6_co")),
    ("Money (entry cohort, followed 180 days)", (
        "recovery_rate", "collected", "collection_cost", "net_recovery", "cost_per_collected",
        "contact_cost", "cohort_charged_off", "cohort_net_value")),
    ("Portfolio (measurement window)", ("accounts", "charge_off_amount", "charge_off_rate")),
    ("Customers", (
        "complaints", "complaints_per_1k", "hardship_complaints_per_1k",
        "other_complaints_per_1k", "hardship_cure_rate_180", "other_cure_rate_180",
        "hardship_charge_off_share", "other_charge_off_share", "retained_cured",
        "retained_value")),
    ("Operations and compliance (measurement window)", (
        "contacts", "call_attempts", "rpc_rate", "ptp_rate", "ptp_kept_rate", "plans_agreed",
        "agency_placements", "legal_actions", "collector_utilisation", "blocked_attempts",
        "violations")),
)
REPORT_KPIS = tuple(k for _, keys in KPI_SECTIONS for k in keys)


def kpi_sections() -> list[tuple[str, tuple[str, ...]]]:
    """The sections, plus any MODEL.md KPI not placed in one yet: every KPI_KEYS entry
    gets a row even when the list grows before this module learns where it belongs."""
    rest = tuple(k for k in KPI_KEYS if k not in REPORT_KPIS)
    return [*KPI_SECTIONS, *([("Other KPIs", rest)] if rest else [])]

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1a1a1a; margin: 0 auto; max-width: 1240px; padding: 24px 32px 64px;
       line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; margin-top: 2.2em; border-bottom: 2px solid #0072B2;
     padding-bottom: 4px; }
h3 { font-size: 1.05em; margin-top: 1.6em; }
.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; vertical-align: top; }
th { background: #f4f6f8; text-align: left; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.section th { background: #e8eef4; font-size: 0.95em; }
code { font-size: 0.85em; color: #555; }
.ci { display: block; color: #666; font-size: 0.85em; }
.best .mean { font-weight: bold; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px;
          margin-right: 0.35em; vertical-align: baseline; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.92em; max-width: 980px; }
.note { background: #fff8e6; border-left: 4px solid #E69F00; padding: 8px 12px; }
dl dt { font-weight: bold; margin-top: 0.6em; }
dl dd { margin-left: 1.2em; }
ul.findings li { margin: 0.2em 0; }
"""


def write_report(result: ExperimentResult, path: str | Path, title: str | None = None) -> Path:
    """Write the report to ``path`` (atomically) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, render_report(result, title))
    # the atomic write's temporary file is private (0600); a report is meant to be shared
    path.chmod(0o644)
    return path


def render_report(result: ExperimentResult, title: str | None = None) -> str:
    """The report as an HTML string."""
    meta = result.meta
    title = title or f"Collection strategies on {meta.get('scenario', 'a scenario')}"
    reps = int(meta.get("replications", 1))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{_subtitle(result)}</p>',
    ]
    if reps < 2:
        parts.append('<p class="note">One replication: the numbers below are single runs, '
                     "without confidence intervals. Run with <code>--replications 5</code> "
                     "or more before reading small differences.</p>")
    parts += [
        '<h2 id="summary">Scenario</h2>', _scenario_table(result),
        '<h2 id="findings">At a glance</h2>', _findings(result),
        '<h2 id="kpis">Key figures</h2>', _kpi_intro(result), _kpi_table(result),
    ]
    if len(result.strategies) > 1:
        parts += [f'<h2 id="paired">Differences against {escape(str(meta.get("reference")))}'
                  "</h2>", _paired_table(result)]
    parts += ['<h2 id="figures">Figures</h2>', *_figures(result)]
    parts += ['<h2 id="guide">How to read this</h2>', GUIDE]
    parts.append(f'<p class="sub">Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by '
                 f"collectsim {escape(__version__)}.</p></body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------- sections

def _subtitle(result: ExperimentResult) -> str:
    m = result.meta
    reps = int(m.get("replications", 1))
    acc = m.get("accounts")
    acc_text = f"{acc:,} accounts" if isinstance(acc, int | float) else "accounts: n/a"
    return escape(f"{len(result.strategies)} strategies, {acc_text}, {reps} replication"
                  f"{'s' if reps > 1 else ''} with common random numbers, root seed "
                  f"{m.get('seed')}, currency {m.get('currency', '')}")


def _scenario_table(result: ExperimentResult) -> str:
    m = result.meta
    d = result.daily
    rows: list[tuple[str, str]] = [
        ("Scenario", f"{m.get('scenario')} <code>{escape(str(m.get('scenario_digest', '')))}"
                     "</code>"),
        ("Accounts (book slots)", _int(m.get("accounts"))),
        ("Currency", escape(str(m.get("currency", "")))),
        ("Replications", _int(m.get("replications"))),
        ("Root seed", escape(str(m.get("seed")))),
        ("Reference for differences", escape(str(m.get("reference", "")))),
    ]
    if not d.empty:
        first = d[(d["strategy"] == d["strategy"].iloc[0])
                  & (d["replication"] == d["replication"].iloc[0])]
        for phase, name in (("warmup", "Warm-up (not measured)"),
                            ("window", "Measurement window"),
                            ("followup", "Follow-up (cohorts only)")):
            p = first[first["phase"] == phase]
            if len(p):
                rows.append((name, f"{pd.Timestamp(p['date'].min()):%Y-%m-%d} to "
                                   f"{pd.Timestamp(p['date'].max()):%Y-%m-%d} ({len(p)} days)"))
    colours = strategy_colours(result.strategies)
    digests = m.get("strategies", {}) or {}
    strat = "<br>".join(f'<span class="swatch" style="background:{colours[s]}"></span>'
                        f"{escape(s)} <code>{escape(str(digests.get(s, '')))}</code>"
                        for s in result.strategies)
    rows.append(("Strategies (colour in every figure)", strat))
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="meta">{body}</table>'


def _findings(result: ExperimentResult) -> str:
    """A few sentences a committee reads first; each points at a figure or table."""
    names = result.strategies
    kpis = set(result.summary["kpi"])
    items = []
    for k in ("net_recovery", "cure_rate_30", "roll_m1_m2", "complaints_per_1k",
              "cohort_net_value"):
        if k not in kpis or len(names) < 2:
            continue
        s = summary_of(result, k)["mean"]
        if s.isna().all():
            continue
        best = s.idxmax() if better(k) == "higher" else s.idxmin()
        word = "highest" if better(k) == "higher" else "lowest"
        items.append(f"{escape(label(k))}: {word} under <b>{escape(best)}</b> "
                     f"({format_value(s[best], k, result.meta.get('currency', ''))}).")
    if {"cohort_net_value", "complaints_per_1k"} <= kpis and len(names) > 1:
        x = summary_of(result, "complaints_per_1k")["mean"]
        y = summary_of(result, "cohort_net_value")["mean"]
        front = [n for n, f in zip(names, non_dominated(x, y), strict=True) if f]
        items.append("Non-dominated on cohort net value vs complaints per 1,000 (no other "
                     "strategy has both more net value and fewer complaints): "
                     + ", ".join(f"<b>{escape(n)}</b>" for n in front) + ".")
    p = result.paired
    if int(result.meta.get("replications", 1)) > 1 and not p.empty:
        sub = p[p["kpi"] == "cohort_net_value"].dropna(subset=["ci_low", "ci_high"])
        clear = [r for _, r in sub.iterrows() if r["ci_low"] > 0 or r["ci_high"] < 0]
        ref = escape(str(result.meta.get("reference")))
        if clear:
            items.append(f"Cohort net value differs from {ref} beyond the 95% paired interval "
                         "for: " + ", ".join(
                             f"{escape(r['strategy'])} ({format_diff(r['diff'], 'cohort_net_value')})"
                             for r in clear) + ".")
        elif len(sub):
            items.append(f"No strategy's cohort net value differs from {ref} beyond the 95% "
                         "paired interval: more replications would be needed to tell.")
    if "violations" in kpis:
        v = summary_of(result, "violations")["mean"].fillna(0)
        items.append("Compliance violations executed: "
                     + ("none, under every strategy." if (v == 0).all() else
                        "<b>non-zero</b> under " + ", ".join(escape(n) for n in v[v > 0].index)
                        + " (the gate should make this impossible; please report it)."))
    if not items:
        return "<p>Nothing to compare: a single strategy.</p>"
    return '<ul class="findings">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _kpi_intro(result: ExperimentResult) -> str:
    reps = int(result.meta.get("replications", 1))
    if reps > 1:
        how = (f"Each cell: the mean over {reps} replications and, below it, the 95% "
               "confidence interval (Student t across replications). ")
    else:
        how = "Each cell: the value of the single run. "
    return (f"<p>{how}Bold marks the best strategy on a KPI with a clear good direction. "
            "Rates are in %, money in " + escape(str(result.meta.get("currency", ""))) +
            "; <i>n/a</i> means undefined for the run (for example no account in a bucket)."
            "</p>")


def _unit_cell(kpi: str, currency: str) -> str:
    unit = unit_of(kpi)
    return {"rate": "%", "money": currency, "count": "", "per 1k": "per 1,000",
            "per 10k": "per 10,000"}.get(unit, unit)


def _kpi_table(result: ExperimentResult) -> str:
    names = result.strategies
    cur = str(result.meta.get("currency", ""))
    summ = result.summary.set_index(["strategy", "kpi"])
    present = set(result.summary["kpi"])
    colours = strategy_colours(names)
    head = "".join(f'<th class="num"><span class="swatch" style="background:{colours[s]}">'
                   f"</span>{escape(s)}</th>" for s in names)
    rows = [f'<table class="kpis" id="kpi-table"><thead><tr><th>KPI</th><th>unit</th>{head}'
            "</tr></thead><tbody>"]
    for section, keys in kpi_sections():
        keys = tuple(k for k in keys if k in present)
        if not keys:
            continue
        rows.append(f'<tr class="section"><th colspan="{len(names) + 2}">{escape(section)}'
                    "</th></tr>")
        for k in keys:
            means = np.array([summ.loc[(s, k), "mean"] if (s, k) in summ.index else np.nan
                              for s in names], dtype=float)
            best = _best(k, means) if len(names) > 1 else None
            cells = []
            for i, s in enumerate(names):
                r = summ.loc[(s, k)] if (s, k) in summ.index else None
                cells.append(_kpi_cell(s, k, r, i == best))
            rows.append(f'<tr data-kpi="{escape(k)}"><td>{escape(label(k))}<br><code>'
                        f"{escape(k)}</code></td><td>{escape(_unit_cell(k, cur))}</td>"
                        + "".join(cells) + "</tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _best(kpi: str, means: np.ndarray) -> int | None:
    direction = better(kpi)
    if direction is None or np.isnan(means).all() or np.nanmax(means) == np.nanmin(means):
        return None
    return int(np.nanargmax(means) if direction == "higher" else np.nanargmin(means))


def _kpi_cell(strategy: str, kpi: str, r: pd.Series | None, best: bool) -> str:
    if r is None:
        return f'<td class="num" data-strategy="{escape(strategy)}" data-kpi="{escape(kpi)}">' \
               '<span class="mean">n/a</span></td>'
    mean, lo, hi = (float(r[c]) for c in ("mean", "ci_low", "ci_high"))
    # repr() round-trips a float exactly: the golden test compares these to the files
    attrs = (f'data-strategy="{escape(strategy)}" data-kpi="{escape(kpi)}" '
             f'data-mean="{mean!r}" data-ci-low="{lo!r}" data-ci-high="{hi!r}" '
             f'data-n="{int(r["n"])}"')
    interval = format_interval(lo, hi, kpi)
    ci = f'<span class="ci">{interval}</span>' if interval else ""
    cls = "num best" if best else "num"
    return (f'<td class="{cls}" {attrs}><span class="mean">{format_value(mean, kpi)}</span>'
            f"{ci}</td>")


def _paired_table(result: ExperimentResult) -> str:
    p = result.paired
    ref = escape(str(result.meta.get("reference")))
    reps = int(result.meta.get("replications", 1))
    keys = [k for k in figures.PAIRED_KPIS if k in set(p.get("kpi", []))]
    others = [s for s in result.strategies if s != result.meta.get("reference")]
    if p.empty or not keys:
        return "<p>No paired differences in these results.</p>"
    intro = (f"<p>Each strategy minus {ref}, replication by replication (the same people "
             "and the same shocks in both runs), then averaged. ")
    if reps > 1:
        intro += ("The interval is the paired 95% CI; the last line of a cell is the "
                  "half-width the interval would have without common random numbers "
                  "(independent runs): the gain from pairing.</p>")
    else:
        intro += "One replication: no intervals.</p>"
    colours = strategy_colours(result.strategies)
    head = "".join(f'<th class="num"><span class="swatch" style="background:{colours[s]}">'
                   f"</span>{escape(s)}</th>" for s in others)
    rows = [f'<table class="paired"><thead><tr><th>KPI</th>{head}</tr></thead><tbody>']
    idx = p.set_index(["strategy", "kpi"])
    for k in keys:
        cells = []
        for s in others:
            if (s, k) not in idx.index:
                cells.append('<td class="num">n/a</td>')
                continue
            r = idx.loc[(s, k)]
            ci = ""
            if reps > 1 and r["ci_low"] == r["ci_low"]:
                unpaired = _half(r["unpaired_half_width"], k)
                ci = (f'<span class="ci">[{format_diff(r["ci_low"], k)}, '
                      f'{format_diff(r["ci_high"], k)}]</span>'
                      f'<span class="ci">unpaired ±{unpaired}</span>')
            cells.append(f'<td class="num" data-strategy="{escape(s)}" data-kpi="{escape(k)}" '
                         f'data-diff="{float(r["diff"])!r}">{format_diff(r["diff"], k)}{ci}'
                         "</td>")
        rows.append(f"<tr><td>{escape(label(k))}<br><code>{escape(k)}</code></td>"
                    f"{''.join(cells)}</tr>")
    rows.append("</tbody></table>")
    return intro + "".join(rows)


def _half(value: float, kpi: str) -> str:
    if value != value:
        return "n/a"
    return format_diff(value, kpi).lstrip("+")


# ---------------------------------------------------------------- figures

def _figures(result: ExperimentResult) -> list[str]:
    multi = len(result.strategies) > 1
    specs: list[tuple[str, str, Callable[[], Figure]]] = [
        ("Trade-off frontier",
         "One point per strategy: the mean, with 95% intervals as error bars. Up is more "
         "net recovery; left is fewer complaints (left panel) or less cost (right panel). "
         "Ringed strategies are non-dominated: no other strategy is better on both axes. "
         "Everything off the dashed frontier is beaten by a ringed strategy.",
         lambda: figures.tradeoff_frontier(result, ["complaints_per_1k", "collection_cost"])),
        ("Paired differences against the reference",
         "Each dot is a strategy's difference from the reference on one KPI, with its "
         "paired 95% interval. An interval that does not cross the vertical zero line is a "
         "difference the replications can tell apart from noise. Rates differ in "
         "percentage points.",
         lambda: figures.paired_forest(result)),
        ("Cure curves",
         "The share of the entry cohort back to zero days past due by each day since "
         "entering delinquency; bands are 95% intervals across replications. The first "
         "panel is every cure; the others split them by what came before the cure: no "
         "contact (self-cure), a contact, or a restructured plan.",
         lambda: figures.cure_curves(result)),
        ("Delinquent accounts over time",
         "Accounts in each bucket at the end of each day, stacked (M1 at the bottom). "
         "The shaded span is the measurement window; the warm-up before it is not measured.",
         lambda: figures.delinquency_over_time(result, "accounts")),
        ("Balance of delinquent accounts over time",
         "As above, weighted by the outstanding balance of the accounts in each bucket.",
         lambda: figures.delinquency_over_time(result, "balance")),
        ("Forward flow to charge-off",
         "Left: each month-end roll rate, bucket to next bucket. Right: their running "
         "product, the share of M1 accounts that would reach each later bucket if they "
         "kept rolling at these rates.",
         lambda: figures.forward_flow(result)),
        ("Customers: hardship versus other accounts",
         "Outcomes for entry-cohort accounts in a hardship shock when they fell behind "
         "(hatched) against the others (solid). A strategy that treats hardship well cures "
         "those customers without more complaints or charge-offs.",
         lambda: figures.customers(result)),
        ("Operations",
         "Collector utilisation (used minutes over shift minutes, 7-day mean) and calls "
         "still queued at the end of each day; attempts made per channel and attempts the "
         "compliance gate refused, by rule, summed over the measurement window.",
         lambda: figures.operations(result)),
    ]
    if not multi:
        specs = [s for s in specs if s[0] != "Paired differences against the reference"]
    out = []
    for title, caption, make in specs:
        out.append(_figure_block(title, caption, make))
    out.append("<h3>Roll-rate matrices</h3><p>Where the accounts in each state at a "
               "month-end of the window were one month later, in % of the row. Read along "
               "a row: the first cell is the share that cured, the cell right of the "
               "diagonal the share that rolled one bucket further.</p>")
    out.append(_figure_block(None, None,
                             lambda: figures.roll_matrix(result, result.strategies)))
    return out


def _figure_block(title: str | None, caption: str | None, make: Callable[[], Figure]) -> str:
    head = f"<h3>{escape(title)}</h3>" if title else ""
    try:
        fig = make()
    except ValueError as e:
        # the figure's data is absent from these results (e.g. written by an older
        # version): say so in place rather than fail the whole report
        return f'{head}<p class="note">Not available: {escape(str(e))}</p>'
    alt = escape(title or fig.get_suptitle() or "figure")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure>{head}<img alt="{alt}" src="{png_data_uri(fig)}">{cap}</figure>'


def png_data_uri(fig: Figure, dpi: int = 100) -> str:
    """A figure as a data: URI, so the HTML needs no file beside it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _int(v: object) -> str:
    return f"{int(v):,}" if isinstance(v, int | float) else escape(str(v))


GUIDE = """
<dl>
<dt>Entry cohort</dt>
<dd>Accounts that went from 0 to 1 or more days past due inside the measurement window.
Cohort figures (cures, recovery, net recovery) follow these accounts for 180 days after
entry, so every strategy is judged on the same kind of customers.</dd>
<dt>Cure, and its three kinds</dt>
<dd>An account is cured when it is back to 0 days past due. <i>cure_rate_30</i> and
<i>cure_rate_180</i> are the shares of the cohort cured within 30 and 180 days. A cure is a
<i>self-cure</i> when no contact reached the customer before it, a <i>contact-cure</i>
after a contact, and a <i>plan-cure</i> when a restructured plan reset the account.</dd>
<dt>Roll rate</dt>
<dd>Of the accounts in a bucket (M1 = 1–30 days past due, M2 = 31–60, … M6 = 151–180) at a
month-end, the share in the next bucket one month later. M6→CO is the share charged off.
Lower is better; the roll-rate matrix shows every transition, including cures.</dd>
<dt>Recovery and net recovery</dt>
<dd><i>recovery_rate</i> is the cash collected from the cohort (capped at what each account
owed when it fell behind) over the overdue amount at entry. <i>net_recovery</i> is that
cash minus every collection cost attributed to the cohort: channels, collector time,
agency fees, legal costs and waived fees. <i>cohort_net_value</i> also subtracts the
balances the cohort charged off.</dd>
<dt>Complaints per 1,000</dt>
<dd>Complaints during the window per 1,000 accounts that were delinquent in it.</dd>
<dt>Confidence intervals</dt>
<dd>Each replication is a full run with its own random seed. The interval under a mean is
the 95% Student-t interval across replications: a statement about the simulation's noise,
not about how well the model matches a real bank.</dd>
<dt>Paired differences</dt>
<dd>Within a replication every strategy faces the same customers, the same hardship shocks
and the same daily random draws (common random numbers). Taking each strategy minus the
reference replication by replication cancels most of that shared noise, so a paired
interval is much narrower than comparing two independent means. An interval that excludes
zero is a difference the replications can resolve.</dd>
<dt>Non-dominated</dt>
<dd>A strategy is non-dominated on two KPIs when no other strategy is at least as good on
both and better on one. Choosing among non-dominated strategies is a matter of how much
of one KPI is worth giving up for the other; a dominated strategy is simply worse.</dd>
</dl>
"""
