"""KPIs, daily series, cohort table and roll-rate matrix of a run, as MODEL.md defines them.

Portfolio figures (roll rates, costs, complaints, charge-off, utilisation) count the
measurement window only. Cohort figures follow the accounts that entered delinquency
(DPD 0 -> 1) inside the window until the horizon. Money is in currency units.
A KPI that is undefined for a run (no cohort, no calls, ...) is None, never 0 or NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import __version__
from .compliance import RULES
from .results import RunResult, clean

if TYPE_CHECKING:
    from .engine import Run

STATES = ("current", "M1", "M2", "M3", "M4", "M5", "M6", "charged_off", "closed")
NONE = -(10**6)


def _ratio(num: float, den: float) -> float | None:
    return clean(num / den) if den > 0 else None


def build_result(run: Run, wall_seconds: float, seed) -> RunResult:
    from .engine import CURE_CONTACT, CURE_PLAN, CURE_SELF, EXIT_CHARGED_OFF, EXIT_LEGAL

    sc = run.sc
    h = sc.horizon
    w0, w1 = h.warmup_days, h.warmup_days + h.window_days
    win = slice(w0, w1)
    D = run.daily
    k: dict[str, float | None] = {"accounts": float(run.n)}

    # ---- entry cohort
    e = run.eps
    n = e.n
    entry = e.entry[:n]
    coh = (entry >= w0) & (entry < w1)
    cure_day = e.cure_day[:n]
    cured = cure_day != NONE
    age_at_cure = np.where(cured, cure_day - entry, 10**6)
    size = int(coh.sum())
    k["entry_cohort_size"] = float(size)
    followed180 = coh & (entry + 180 <= run.days)
    k["cure_rate_30"] = _ratio(np.count_nonzero(coh & (age_at_cure <= 30)), size)
    k["cure_rate_180"] = _ratio(np.count_nonzero(followed180 & (age_at_cure <= 180)),
                                followed180.sum())
    c180 = coh & (age_at_cure <= 180)
    ctype = e.cure_type[:n]
    n_c = c180.sum()
    k["self_cure_share"] = _ratio(np.count_nonzero(c180 & (ctype == CURE_SELF)), n_c)
    k["contact_cure_share"] = _ratio(np.count_nonzero(c180 & (ctype == CURE_CONTACT)), n_c)
    k["plan_cure_share"] = _ratio(np.count_nonzero(c180 & (ctype == CURE_PLAN)), n_c)

    # ---- roll rates between consecutive month-ends, the first one inside the window
    counts, bal = _roll_counts(run, w0, w1)
    names = ["m1_m2", "m2_m3", "m3_m4", "m4_m5", "m5_m6"]
    for i, nm in enumerate(names, start=1):
        k[f"roll_{nm}"] = _ratio(counts[i, i + 1], counts[i].sum())
    k["roll_m6_co"] = _ratio(counts[6, 7], counts[6].sum())

    # ---- money: the entry cohort's cash against its overdue amount at entry, and the
    # collection cost attributed to its episodes. Cash is capped at the overdue amount at
    # entry per episode, so that a strategy is not credited with later instalments that
    # a slow cure happens to collect while still delinquent.
    cents = 100.0
    over = e.overdue[:n][coh]
    cash = np.minimum(e.collected[:n][coh], over).sum() / cents
    cost = e.cost[:n][coh].sum() / cents
    k["recovery_rate"] = _ratio(cash, over.sum() / cents)
    k["collected"] = clean(cash)
    k["collection_cost"] = clean(cost)
    k["net_recovery"] = clean(cash - cost)
    k["cost_per_collected"] = _ratio(cost, cash)
    cohort_co = e.charged_off[:n][coh].sum() / cents
    k["cohort_charged_off"] = clean(cohort_co)
    # what the cohort left the bank with: cash in, minus cost, minus balances written off
    k["cohort_net_value"] = clean(cash - cost - cohort_co)
    co = D["charged_off"][win].sum() / cents
    k["charge_off_amount"] = clean(co)
    avg_bal = D["balance"][win].mean() / cents if h.window_days else 0.0
    k["charge_off_rate"] = _ratio(co * 365.0 / h.window_days, avg_bal)
    contact_cost = (run.channel_cost[win].sum() + D["collector_cost"][win].sum()) / cents
    window_cost = contact_cost + (D["agency_fees"][win].sum() + D["legal_cost"][win].sum()
                                  + D["waived"][win].sum() + D["complaint_cost"][win].sum()) / cents

    # ---- customers and operations
    complaints = D["complaints"][win].sum()
    contacts = D["contacts"][win].sum()
    k["complaints"] = float(complaints)
    k["complaints_per_1k"] = _ratio(complaints * 1000.0, run.delinquent_in_window.sum())
    k["contacts"] = float(contacts)
    k["blocked_attempts"] = float(run.blocked[win].sum())
    k["violations"] = float(run.auditor.total)
    k["collector_utilisation"] = _ratio(D["used_minutes"][win].sum(),
                                        D["capacity_minutes"][win].sum())
    attempts = D["call_attempts"][win].sum()
    rpc = D["rpc"][win].sum()
    k["call_attempts"] = float(attempts)
    k["rpc_rate"] = _ratio(rpc, attempts)
    k["ptp_rate"] = _ratio(D["promises"][win].sum(), rpc)
    k["ptp_kept_rate"] = _ratio(D["promises_kept"][win].sum(), D["promises_due"][win].sum())
    k["plans_agreed"] = float(D["plans_agreed"][win].sum())
    k["agency_placements"] = float(D["agency_placements"][win].sum())
    k["legal_actions"] = float(D["legal_actions"][win].sum())
    person = e.person[:n]
    still_here = run.exit_code[person] == 0
    retained = coh & cured & still_here & ~e.leaving[:n]
    k["retained_cured"] = float(retained.sum())
    k["retained_value"] = clean(retained.sum() * sc.customer.lifetime_value)

    # ---- extras (more KPIs may be added; MODEL.md's names above do not change)
    k["contact_cost"] = clean(contact_cost)
    k["window_collection_cost"] = clean(window_cost)
    k["window_collected"] = clean(D["collected_delinquent"][win].sum() / cents)
    k["complaints_per_10k_contacts"] = _ratio(complaints * 10_000.0, contacts)
    hard = e.hardship[:n]
    ep_complaints = e.complaints[:n]
    charged = np.isin(e.exit[:n], (EXIT_CHARGED_OFF, EXIT_LEGAL))
    for label, grp in (("hardship", coh & hard), ("other", coh & ~hard)):
        m = grp.sum()
        k[f"{label}_cohort_size"] = float(m)
        k[f"{label}_cure_rate_180"] = _ratio(np.count_nonzero(grp & followed180
                                                              & (age_at_cure <= 180)),
                                             np.count_nonzero(grp & followed180))
        k[f"{label}_complaints_per_1k"] = _ratio(ep_complaints[grp].sum() * 1000.0, m)
        k[f"{label}_charge_off_share"] = _ratio(np.count_nonzero(grp & charged), m)
    k["charged_off_share"] = _ratio(np.count_nonzero(coh & charged), size)
    for i, rule in enumerate(RULES):
        k[f"blocked_{rule}"] = float(run.blocked[win, i].sum())
    k["run_seconds"] = clean(wall_seconds)

    meta = {
        "scenario": sc.name, "scenario_digest": sc.digest(), "strategy": run.strategy.name,
        "strategy_digest": run.strategy.digest(), "seed": _seed_repr(seed),
        "version": __version__, "currency": sc.currency, "accounts": run.n,
        "days": run.days, "warmup_days": w0, "window_days": h.window_days,
        "profile": sc.compliance.profile, "wall_seconds": wall_seconds,
        "violations_by_rule": dict(run.auditor.violations),
    }
    return RunResult(kpis={key: clean(v) for key, v in k.items()}, daily=daily_frame(run),
                     cohorts=cohort_frame(run, coh), roll_matrix=roll_frame(counts, bal),
                     meta=meta, contacts=run.contact_log() if run.record_contacts else None)



def _seed_repr(seed) -> int | str:
    if isinstance(seed, np.random.SeedSequence):
        return f"{seed.entropy}:{list(seed.spawn_key)}"
    return int(seed)


def _roll_counts(run: Run, w0: int, w1: int) -> tuple[np.ndarray, np.ndarray]:
    """Transition counts (and balances) from state at a month-end to a month later."""
    from .engine import EXIT_CHARGED_OFF, EXIT_LEGAL

    counts = np.zeros((7, 9))
    bal = np.zeros((7, 9))
    snaps = run.snapshots
    for (d0, b0, p0, v0), (_, b1, p1, _) in zip(snaps[:-1], snaps[1:], strict=True):
        if not (w0 <= d0 < w1):
            continue
        same = p0 == p1
        to = np.where(same, b1, 8).astype(np.int64)
        gone = ~same
        ex = run.exit_code[p0[gone]]
        to[gone] = np.where(np.isin(ex, (EXIT_CHARGED_OFF, EXIT_LEGAL)), 7, 8)
        frm = b0.astype(np.int64)
        np.add.at(counts, (frm, to), 1)
        np.add.at(bal, (frm, to), v0 / 100.0)
    return counts, bal


def roll_frame(counts: np.ndarray, bal: np.ndarray) -> pd.DataFrame:
    rows = []
    for i in range(7):
        tot, btot = counts[i].sum(), bal[i].sum()
        for j in range(9):
            rows.append({"from": STATES[i], "to": STATES[j], "accounts": counts[i, j],
                         "share": counts[i, j] / tot if tot else np.nan,
                         "balance": bal[i, j],
                         "balance_share": bal[i, j] / btot if btot else np.nan})
    return pd.DataFrame(rows)


def daily_frame(run: Run) -> pd.DataFrame:
    h = run.sc.horizon
    days = np.arange(run.days)
    phase = np.where(days < h.warmup_days, "warmup",
                     np.where(days < h.warmup_days + h.window_days, "window", "followup"))
    df = pd.DataFrame({"day": days, "date": [run.cal.date(d) for d in days], "phase": phase})
    df["date"] = pd.to_datetime(df["date"])
    for i, b in enumerate(("current", "M1", "M2", "M3", "M4", "M5", "M6")):
        df[f"n_{b}"] = run.bucket_count[:, i]
    for i, b in enumerate(("current", "M1", "M2", "M3", "M4", "M5", "M6")):
        df[f"bal_{b}"] = run.bucket_balance[:, i] / 100.0
    for i, s in enumerate(("n_idle", "n_closed_today", "n_agency", "n_legal", "n_restructured")):
        df[s] = run.state_count[:, i]
    money = {"payments", "collected_delinquent", "lent", "fees", "interest", "charged_off",
             "waived", "collector_cost", "agency_fees", "legal_cost", "complaint_cost", "balance"}
    for key, arr in run.daily.items():
        df[key] = arr / 100.0 if key in money else arr
    for j, name in enumerate(run.cat.names):
        df[f"cost_{name}"] = run.channel_cost[:, j] / 100.0
        df[f"attempts_{name}"] = run.channel_attempts[:, j]
    for i, rule in enumerate(RULES):
        df[f"blocked_{rule}"] = run.blocked[:, i]
    cap = df["capacity_minutes"].to_numpy()
    df["utilisation"] = np.divide(df["used_minutes"].to_numpy(), cap, out=np.full(len(cap), np.nan),
                                  where=cap > 0)
    return df


def cohort_frame(run: Run, coh: np.ndarray) -> pd.DataFrame:
    """One row per entry month of the window: size and outcomes."""
    from .engine import CURE_CONTACT, CURE_PLAN, CURE_SELF, EXIT_CHARGED_OFF, EXIT_LEGAL

    e = run.eps
    n = e.n
    idx = np.flatnonzero(coh)
    if not len(idx):
        return pd.DataFrame(columns=["entry_month", "entries"])
    entry = e.entry[:n][idx]
    month = run.cal.month_of[entry]
    cure = e.cure_day[:n][idx]
    age = np.where(cure != NONE, cure - entry, 10**6)
    df = pd.DataFrame({
        "entry_month": [run.cal.date(int(run.cal.month_first[m + run.cal._off])).strftime("%Y-%m")
                        if run.cal.month_first[m + run.cal._off] >= 0 else
                        run.cal.date(0).strftime("%Y-%m") for m in month],
        "hardship": e.hardship[:n][idx],
        "cured_30": age <= 30, "cured_180": age <= 180,
        "self_cure": (age <= 180) & (e.cure_type[:n][idx] == CURE_SELF),
        "contact_cure": (age <= 180) & (e.cure_type[:n][idx] == CURE_CONTACT),
        "plan_cure": (age <= 180) & (e.cure_type[:n][idx] == CURE_PLAN),
        "charged_off": np.isin(e.exit[:n][idx], (EXIT_CHARGED_OFF, EXIT_LEGAL)),
        "overdue_at_entry": e.overdue[:n][idx] / 100.0,
        "collected": e.collected[:n][idx] / 100.0,
        "complaints": e.complaints[:n][idx],
        "contacts": e.contacts[:n][idx],
    })
    g = df.groupby("entry_month", sort=True)
    out = g.agg(entries=("cured_30", "size"), hardship=("hardship", "sum"),
                cured_30=("cured_30", "sum"), cured_180=("cured_180", "sum"),
                self_cure=("self_cure", "sum"), contact_cure=("contact_cure", "sum"),
                plan_cure=("plan_cure", "sum"), charged_off=("charged_off", "sum"),
                overdue_at_entry=("overdue_at_entry", "sum"), collected=("collected", "sum"),
                complaints=("complaints", "sum"), contacts=("contacts", "sum")).reset_index()
    return out
