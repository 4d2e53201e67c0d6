"""Strategies as data: ordered rules on observable state -> actions.

An account takes the first rule whose conditions it meets (a decision table read top
down). Rules see only what a bank sees: bucket and DPD, overdue amount, the risk score,
the cause once a conversation has revealed it, broken promises, contact history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import CAUSES, DELINQUENT_BUCKETS, TONES, Rule, Strategy
from .ledger import BUCKET_EDGES


@dataclass
class Observed:
    """What the strategy may look at, for the delinquent accounts being decided."""

    bucket: np.ndarray  # 1..6
    dpd: np.ndarray
    risk: np.ndarray  # the bank's score, 0..1 (higher = riskier)
    cause: np.ndarray  # revealed cause code (0 = unknown)
    overdue_cents: np.ndarray
    broken_promises: np.ndarray
    days_since_conversation: np.ndarray


def rule_start_dpd(rule: Rule) -> int:
    """First DPD at which a rule can hold (the base of every_days schedules)."""
    low = min(1 + int(BUCKET_EDGES[DELINQUENT_BUCKETS.index(b)]) for b in rule.buckets)
    return max(low, rule.dpd[0]) if rule.dpd is not None else low


@dataclass(frozen=True)
class _Cond:
    """One rule's conditions, ready to apply: membership by lookup table, not np.isin
    (a sort per call), because rules are matched every day for every delinquent account."""

    buckets: np.ndarray  # bool by bucket code 0..6
    dpd: tuple[int, int] | None
    risk: tuple[float, float] | None  # None: the whole [0, 1] range, always met
    causes: np.ndarray | None  # bool by cause code; None: every cause
    min_overdue_cents: int
    min_broken: int


def compile_rules(strategy: Strategy) -> list[_Cond]:
    out = []
    for r in strategy.rules:
        buckets = np.zeros(len(DELINQUENT_BUCKETS) + 1, dtype=bool)
        buckets[[DELINQUENT_BUCKETS.index(b) + 1 for b in r.buckets]] = True
        causes = None
        if len(r.causes) < len(CAUSES):
            causes = np.zeros(len(CAUSES), dtype=bool)
            causes[[CAUSES.index(c) for c in r.causes]] = True
        # the score is an expit, inside [0, 1]: the full range filters nothing
        risk = None if (r.risk[0] <= 0.0 and r.risk[1] >= 1.0) else (r.risk[0], r.risk[1])
        out.append(_Cond(buckets, None if r.dpd is None else (r.dpd[0], r.dpd[1]), risk, causes,
                         round(r.min_overdue * 100) if r.min_overdue > 0 else 0,
                         r.min_broken_promises or 0))
    return out


def match(strategy: Strategy, obs: Observed, rules: list[_Cond] | None = None) -> np.ndarray:
    """Index of the first matching rule per account, -1 where none matches."""
    rules = compile_rules(strategy) if rules is None else rules
    out = np.full(len(obs.dpd), -1, dtype=np.int16)
    free = np.ones(len(obs.dpd), dtype=bool)
    for i, r in enumerate(rules):
        m = free & r.buckets[obs.bucket]
        if r.dpd is not None:
            m &= (obs.dpd >= r.dpd[0]) & (obs.dpd <= r.dpd[1])
        if r.risk is not None:
            m &= (obs.risk >= r.risk[0]) & (obs.risk <= r.risk[1])
        if r.causes is not None:
            m &= r.causes[obs.cause]
        if r.min_overdue_cents:
            m &= obs.overdue_cents >= r.min_overdue_cents
        if r.min_broken:
            m &= obs.broken_promises >= r.min_broken
        out[m] = i
        free &= ~m
    return out


def tone_factor(strategy: Strategy) -> np.ndarray:
    """Complaint multiplier per rule index (last entry: no rule / pre-due)."""
    return np.array([TONES[r.tone] for r in strategy.rules] + [TONES["gentle"]])


def describe(strategy: Strategy) -> list[dict[str, str]]:
    """The strategy as a readable table: one row per rule (for the CLI and the app)."""
    rows = []
    if strategy.pre_due.channels:
        rows.append({"when": f"pre-due, {strategy.pre_due.days_before} days before",
                     "actions": ", ".join(strategy.pre_due.channels), "offers": "", "tone": "gentle"})
    for r in strategy.rules:
        when = "/".join(r.buckets)
        if r.dpd is not None:
            when += f" DPD {r.dpd[0]}-{r.dpd[1]}"
        if r.risk != (0.0, 1.0):
            when += f" risk {r.risk[0]:g}-{r.risk[1]:g}"
        if len(r.causes) < len(CAUSES):
            when += f" cause in {r.causes}"
        acts = []
        for a in r.actions:
            s = a.channel
            s += f" on DPD {a.on_dpd}" if a.on_dpd else f" every {a.every_days}d"
            if a.attempts_per_day > 1:
                s += f" x{a.attempts_per_day}/day"
            if a.if_no_contact_days:
                s += f" if no conversation for {a.if_no_contact_days}d"
            acts.append(s)
        if r.place_agency_at_dpd:
            acts.append(f"agency at DPD {r.place_agency_at_dpd}")
        if r.legal_at_dpd:
            acts.append(f"legal at DPD {r.legal_at_dpd}")
        rows.append({"when": (r.name + ": " if r.name else "") + when,
                     "actions": "; ".join(acts) or "(statements only)",
                     "offers": ", ".join(r.offers), "tone": r.tone})
    return rows
