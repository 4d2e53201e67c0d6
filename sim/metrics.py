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
from .results import KPI_KEYS, RunResult, clean

if TYPE_CHECKING:
    from .engine import Run

STATES = ("current", "M1", "M2", "M3", "M4", "M5", "M6", "charged_off", "closed")
NONE = -(10**6)


def _ratio(num: float, den: float) -> float | None:
    return clean(num / den) if den > 0 else None


def episode_frame(run: Run) -> pd.DataFrame:
    """One row per delinquency episode that entered inside the measurement window."""
    from .engine import EXIT_CHARGED_OFF, EXIT_LEGAL

    h = run.sc.horizon
    w0, w1 = h.warmup_days, h.warmup_days + h.window_days
    e = run.eps
    n = e.n
    entry = e.entry[:n]
    coh = np.flatnonzero((entry >= w0) & (entry < w1))
    entry = entry[coh]
    cure = e.cure_day[:n][coh]
    person = e.person[:n][coh]
    over = e.overdue[:n][coh]
    charged = np.isin(e.exit[:n][coh], (EXIT_CHARGED_OFF, EXIT_LEGAL))
    return pd.DataFrame({
        "arm": run.arm[e.slot[:n][coh]].astype(np.int64),
        "entry": entry,
        "days_to_cure": np.where(cure != NONE, cure - entry, -1),
        "cure_type": e.cure_type[:n][coh],
        "followed_180": entry + 180 <= run.days,
        "hardship": e.hardship[:n][coh],
        "overdue": over / 100.0,
        # cash is capped at the overdue amount at entry, so that a slow cure is not
        # credited with later instalments it happens to pay while still delinquent
        "collected": np.minimum(e.collected[:n][coh], over) / 100.0,
        "cost": e.cost[:n][coh] / 100.0,
        "charged_off": e.charged_off[:n][coh] / 100.0,
        "charged": charged,
        "complaints": e.complaints[:n][coh],
        "contacts": e.contacts[:n][coh],
        "retained": (cure != NONE) & (run.exit_code[person] == 0) & ~e.leaving[:n][coh],
    })


def cohort_kpis(ep: pd.DataFrame, lifetime_value: float) -> dict[str, float | None]:
    """The KPIs that follow the entry cohort (MODEL.md): cure, recovery, cost, outcomes."""
    from .engine import CURE_CONTACT, CURE_PLAN, CURE_SELF

    k: dict[str, float | None] = {}
    size = len(ep)
    dtc = ep["days_to_cure"].to_numpy()
    cured = dtc >= 0
    k["entry_cohort_size"] = float(size)
    k["cure_rate_30"] = _ratio(np.count_nonzero(cured & (dtc <= 30)), size)
    f180 = ep["followed_180"].to_numpy()
    k["cure_rate_180"] = _ratio(np.count_nonzero(f180 & cured & (dtc <= 180)), f180.sum())
    c180 = cured & (dtc <= 180)
    ct = ep["cure_type"].to_numpy()
    for key, code in (("self_cure_share", CURE_SELF), ("contact_cure_share", CURE_CONTACT),
                      ("plan_cure_share", CURE_PLAN)):
        k[key] = _ratio(np.count_nonzero(c180 & (ct == code)), c180.sum())
    cash, cost = ep["collected"].sum(), ep["cost"].sum()
    co = ep["charged_off"].sum()
    k["recovery_rate"] = _ratio(cash, ep["overdue"].sum())
    k["collected"] = clean(cash)
    k["collection_cost"] = clean(cost)
    k["net_recovery"] = clean(cash - cost)
    k["cost_per_collected"] = _ratio(cost, cash)
    k["cohort_charged_off"] = clean(co)
    # what the cohort left the bank with: cash in, minus cost, minus balances written off
    k["cohort_net_value"] = clean(cash - cost - co)
    k["cohort_complaints_per_1k"] = _ratio(ep["complaints"].sum() * 1000.0, size)
    k["charged_off_share"] = _ratio(ep["charged"].sum(), size)
    retained = ep["retained"].sum()
    k["retained_cured"] = float(retained)
    k["retained_value"] = clean(retained * lifetime_value)
    hard = ep["hardship"].to_numpy()
    for label, grp in (("hardship", hard), ("other", ~hard)):
        m = int(grp.sum())
        k[f"{label}_cohort_size"] = float(m)
        k[f"{label}_cure_rate_180"] = _ratio(np.count_nonzero(grp & f180 & c180),
                                             np.count_nonzero(grp & f180))
        k[f"{label}_complaints_per_1k"] = _ratio(ep["complaints"][grp].sum() * 1000.0, m)
        k[f"{label}_charge_off_share"] = _ratio(ep["charged"][grp].sum(), m)
    if not size:
        # no entry cohort: its money and outcomes are undefined, not zero (MODEL.md); the
        # sizes stay, as counts of nobody
        for key in ("collected", "collection_cost", "net_recovery", "cohort_charged_off",
                    "cohort_net_value", "retained_cured", "retained_value"):
            k[key] = None
    return k


def cure_curve(ep: pd.DataFrame, horizon: int = 180) -> pd.DataFrame:
    """Share of the entry cohort cured by each day since entry, in total and by type."""
    from .engine import CURE_CONTACT, CURE_PLAN, CURE_SELF

    days = np.arange(horizon + 1)
    size = max(len(ep), 1)
    dtc = ep["days_to_cure"].to_numpy()
    ct = ep["cure_type"].to_numpy()
    out = {"day": days}
    for name, mask in (("cured", dtc >= 0), ("self_cure", ct == CURE_SELF),
                       ("contact_cure", ct == CURE_CONTACT), ("plan_cure", ct == CURE_PLAN)):
        counts = np.bincount(np.clip(dtc[mask & (dtc >= 0) & (dtc <= horizon)], 0, horizon),
                             minlength=horizon + 1)
        out[name] = np.cumsum(counts) / size if len(ep) else np.full(horizon + 1, np.nan)
    return pd.DataFrame(out)


def build_result(run: Run, wall_seconds: float, seed) -> RunResult:
    sc = run.sc
    h = sc.horizon
    w0, w1 = h.warmup_days, h.warmup_days + h.window_days
    win = slice(w0, w1)
    D = run.daily
    ep = episode_frame(run)
    k: dict[str, float | None] = {"accounts": float(run.n)}
    k.update(cohort_kpis(ep, sc.customer.lifetime_value))

    # ---- roll rates between consecutive month-ends, the first one inside the window
    counts, bal = _roll_counts(run, w0, w1)
    names = ["m1_m2", "m2_m3", "m3_m4", "m4_m5", "m5_m6"]
    for i, nm in enumerate(names, start=1):
        k[f"roll_{nm}"] = _ratio(counts[i, i + 1], counts[i].sum())
    k["roll_m6_co"] = _ratio(counts[6, 7], counts[6].sum())

    # ---- portfolio money over the window
    cents = 100.0
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

    # ---- extras (more KPIs may be added; MODEL.md's names above do not change)
    k["contact_cost"] = clean(contact_cost)
    k["window_collection_cost"] = clean(window_cost)
    k["window_collected"] = clean(D["collected_delinquent"][win].sum() / cents)
    k["complaints_per_10k_contacts"] = _ratio(complaints * 10_000.0, contacts)
    for i, rule in enumerate(RULES):
        k[f"blocked_{rule}"] = float(run.blocked[win, i].sum())
    k["run_seconds"] = clean(wall_seconds)
    kpis = {key: clean(v) for key, v in k.items()}
    order = [key for key in KPI_KEYS if key in kpis] + [key for key in kpis if key not in KPI_KEYS]
    kpis = {key: kpis[key] for key in order}

    arms = None
    names = [s.name for s in run.strategies]
    if len(run.strategies) > 1:
        arms = {nm: {key: clean(v) for key, v in cohort_kpis(
            ep[ep["arm"] == i], sc.customer.lifetime_value).items()}
            for i, nm in enumerate(names)}
    meta = {
        "scenario": sc.name, "scenario_digest": sc.digest(), "strategy": run.strategy.name,
        "strategy_digest": run.strategy.digest(), "seed": _seed_repr(seed),
        "version": __version__, "currency": sc.currency, "accounts": run.n,
        "days": run.days, "warmup_days": w0, "window_days": h.window_days,
        "profile": sc.compliance.profile, "wall_seconds": wall_seconds,
        "violations_by_rule": dict(run.auditor.violations),
    }
    if arms is not None:
        meta["arms"] = names
        meta["arm_accounts"] = {nm: int(np.count_nonzero(run.arm == i))
                                for i, nm in enumerate(names)}
    ep = ep.assign(strategy=np.asarray(names, dtype=object)[ep["arm"].to_numpy()])
    return RunResult(kpis=kpis, daily=daily_frame(run),
                     cohorts=cohort_frame(run, ep), roll_matrix=roll_frame(counts, bal),
                     cure_curve=cure_curve(ep), episodes=ep, meta=meta,
                     contacts=run.contact_log() if run.record_contacts else None, arms=arms)


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
        at = b0.astype(np.int64) * 9 + to  # flat: np.add.at is far faster on 1-d indices
        np.add.at(counts.reshape(-1), at, 1.0)
        np.add.at(bal.reshape(-1), at, v0 / 100.0)
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


def cohort_frame(run: Run, ep: pd.DataFrame) -> pd.DataFrame:
    """One row per entry month of the window: size and outcomes."""
    from .engine import CURE_CONTACT, CURE_PLAN, CURE_SELF

    cols = ["entry_month", "entries", "hardship", "cured_30", "cured_180", "self_cure",
            "contact_cure", "plan_cure", "charged_off", "overdue_at_entry", "collected",
            "complaints", "contacts"]
    if not len(ep):
        return pd.DataFrame(columns=cols)
    dtc = ep["days_to_cure"].to_numpy()
    c180 = (dtc >= 0) & (dtc <= 180)
    # a label per day, looked up: formatting a date per episode took most of the frame
    labels = np.array([run.cal.date(d).strftime("%Y-%m") for d in range(run.days + 1)],
                      dtype=object)
    month = labels[ep["entry"].to_numpy(np.int64)]
    df = pd.DataFrame({
        "entry_month": month, "hardship": ep["hardship"].to_numpy(),
        "cured_30": (dtc >= 0) & (dtc <= 30), "cured_180": c180,
        "self_cure": c180 & (ep["cure_type"].to_numpy() == CURE_SELF),
        "contact_cure": c180 & (ep["cure_type"].to_numpy() == CURE_CONTACT),
        "plan_cure": c180 & (ep["cure_type"].to_numpy() == CURE_PLAN),
        "charged_off": ep["charged"].to_numpy(), "overdue_at_entry": ep["overdue"].to_numpy(),
        "collected": ep["collected"].to_numpy(), "complaints": ep["complaints"].to_numpy(),
        "contacts": ep["contacts"].to_numpy()})
    agg = {c: (c, "sum") for c in cols[2:]}
    return df.groupby("entry_month", sort=True).agg(
        entries=("cured_30", "size"), **agg).reset_index()[cols]
