"""One look for every figure: Okabe-Ito colours, fixed strategy colours, KPI labels.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas attached
(never pyplot): drawing needs no display, leaks no figures into pyplot's registry, and
leaves the caller's chosen backend (a notebook's, Streamlit's) alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.results import unit_of

# Okabe & Ito (2008), "Color Universal Design": distinguishable with the common
# colour-vision deficiencies and in greyscale print.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

# Bundled strategies keep their colour whatever subset is compared, so a reader who
# has learnt "blue is the seed playbook" in one figure can trust it in every other.
# no_action is the usual reference, hence the neutral grey.
FIXED_COLOURS = {
    "no_action": "#7F7F7F",
    "seed_playbook": OKABE_ITO["blue"],
    "call_heavy": OKABE_ITO["vermillion"],
    "digital_first": OKABE_ITO["sky_blue"],
    "hardship_first": OKABE_ITO["bluish_green"],
    "risk_based": OKABE_ITO["reddish_purple"],
}

# for strategies a user wrote: the Okabe-Ito colours no bundled strategy uses first
# (yellow last: weak on white), then darker variants so that up to ~14 stay distinct
EXTRA_COLOURS = (
    OKABE_ITO["orange"], OKABE_ITO["black"], OKABE_ITO["yellow"],
    "#8C510A", "#01665E", "#762A83", "#1B7837", "#B2182B",
)

# delinquency buckets: a sequential, colour-blind-safe ramp (light = early, dark = late)
BUCKETS = ("M1", "M2", "M3", "M4", "M5", "M6")
BUCKET_COLOURS = dict(zip(BUCKETS, ("#FDE725", "#7AD151", "#22A884", "#2A788E",
                                    "#414487", "#440154"), strict=True))
SEQUENTIAL_CMAP = "cividis"  # designed for colour-vision deficiency, monotone in lightness
# shares (roll matrix): white for zero so the few non-zero cells stand out; single hue,
# monotone in lightness, so it reads in any colour vision and in greyscale
HEATMAP_CMAP = "Blues"

RC: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "font.family": "DejaVu Sans",  # ships with matplotlib: same glyphs on every machine
    "lines.linewidth": 1.8,
    "errorbar.capsize": 3,
}

LABELS = {
    "accounts": "Accounts", "entry_cohort_size": "Entry cohort size",
    "cure_rate_30": "Cure rate within 30 days", "cure_rate_180": "Cure rate within 180 days",
    "self_cure_share": "Self-cure share of cures", "contact_cure_share": "Contact-cure share",
    "plan_cure_share": "Plan-cure share", "roll_m1_m2": "Roll M1→M2",
    "roll_m2_m3": "Roll M2→M3", "roll_m3_m4": "Roll M3→M4", "roll_m4_m5": "Roll M4→M5",
    "roll_m5_m6": "Roll M5→M6", "roll_m6_co": "Roll M6→charge-off",
    "recovery_rate": "Recovery rate", "collected": "Collected from the cohort",
    "collection_cost": "Collection cost", "net_recovery": "Net recovery",
    "cost_per_collected": "Cost per unit collected", "charge_off_amount": "Charged off (window)",
    "charge_off_rate": "Charge-off rate (annualised)", "complaints": "Complaints",
    "complaints_per_1k": "Complaints per 1,000 delinquent", "contacts": "Contacts delivered",
    "blocked_attempts": "Attempts blocked by compliance", "violations": "Violations",
    "collector_utilisation": "Collector utilisation", "call_attempts": "Call attempts",
    "rpc_rate": "Right-party contact rate", "ptp_rate": "Promise rate",
    "ptp_kept_rate": "Promises kept", "plans_agreed": "Plans agreed",
    "agency_placements": "Agency placements", "legal_actions": "Legal actions",
    "retained_cured": "Cured and retained", "retained_value": "Retained customer value",
    "cohort_charged_off": "Cohort balance charged off", "cohort_net_value": "Cohort net value",
    "contact_cost": "Contact cost (channels + collectors)",
    "hardship_cure_rate_180": "Hardship: cure within 180 days",
    "other_cure_rate_180": "Other: cure within 180 days",
    "hardship_complaints_per_1k": "Hardship: complaints per 1,000",
    "other_complaints_per_1k": "Other: complaints per 1,000",
    "hardship_charge_off_share": "Hardship: charged off",
    "other_charge_off_share": "Other: charged off",
    "charged_off_share": "Cohort charged off (accounts)",
}

# which way is good, for frontiers and forest plots; a KPI in neither set is neutral
HIGHER_IS_BETTER = frozenset({
    "cure_rate_30", "cure_rate_180", "recovery_rate", "collected", "net_recovery",
    "cohort_net_value", "rpc_rate", "ptp_rate", "ptp_kept_rate", "retained_cured",
    "retained_value", "hardship_cure_rate_180", "other_cure_rate_180",
})
LOWER_IS_BETTER = frozenset({
    "roll_m1_m2", "roll_m2_m3", "roll_m3_m4", "roll_m4_m5", "roll_m5_m6", "roll_m6_co",
    "collection_cost", "cost_per_collected", "charge_off_amount", "charge_off_rate",
    "complaints", "complaints_per_1k", "violations", "cohort_charged_off", "contact_cost",
    "hardship_complaints_per_1k", "other_complaints_per_1k", "hardship_charge_off_share",
    "other_charge_off_share", "charged_off_share", "complaints_per_10k_contacts",
    "window_collection_cost",
})


# KPIs that can be negative: their intervals are not clipped at zero in figures
SIGNED_KPIS = frozenset({"net_recovery", "cohort_net_value"})


def strategy_colours(names: Iterable[str]) -> dict[str, str]:
    """A colour per strategy: bundled names fixed, others in order of appearance.

    Others take the unused colours first, so that two user strategies never share a
    colour with each other or with a bundled one until the palette runs out.
    """
    names = list(dict.fromkeys(names))
    used = {FIXED_COLOURS[n] for n in names if n in FIXED_COLOURS}
    spare = [c for c in (*EXTRA_COLOURS, *FIXED_COLOURS.values()) if c not in used]
    out: dict[str, str] = {}
    i = 0
    for n in names:
        if n in FIXED_COLOURS:
            out[n] = FIXED_COLOURS[n]
        else:
            out[n] = spare[i % len(spare)] if spare else EXTRA_COLOURS[i % len(EXTRA_COLOURS)]
            i += 1
    return out


def label(kpi: str) -> str:
    return LABELS.get(kpi, kpi.replace("_", " ").capitalize())


def unit_label(kpi: str, currency: str = "") -> str:
    """The unit as an axis shows it: rates are plotted in percent."""
    unit = unit_of(kpi)
    return {"rate": "%", "money": currency or "currency units", "per 1k": "per 1,000",
            "per 10k": "per 10,000", "ratio": "ratio", "count": "count"}.get(unit, unit)


def axis_label(kpi: str, currency: str = "", diff: bool = False) -> str:
    """"Label (unit)"; a difference of rates is in percentage points, not percent."""
    unit = unit_label(kpi, currency)
    if diff and unit == "%":
        unit = "percentage points"
    return f"{label(kpi)} ({unit})"


def scale(kpi: str) -> float:
    """Factor from stored value to plotted value: rates are fractions in data, % on screen."""
    return 100.0 if unit_of(kpi) == "rate" else 1.0


def better(kpi: str) -> str | None:
    """"higher", "lower" or None when a KPI has no good direction."""
    if kpi in HIGHER_IS_BETTER:
        return "higher"
    if kpi in LOWER_IS_BETTER:
        return "lower"
    return None


def new_figure(width: float, height: float) -> Figure:
    """An Agg-backed figure with constrained layout (labels never overlap panels)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


F = TypeVar("F", bound=Callable[..., Figure])


def styled(fn: F) -> F:
    """Build the figure inside the style's rc_context: no global rcParams change.

    Artists read most rcParams when they are created, so creating them inside the
    context is enough; the caller's own matplotlib settings stay untouched.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
