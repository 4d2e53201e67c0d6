"""Strategies as data: ordered rules on observable state -> actions.

An account takes the first rule whose conditions it meets (a decision table read top
down). Rules see only what a bank sees: bucket and DPD, overdue amount, the risk score,
the cause once a conversation has revealed it, broken promises, contact history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from .config import CAUSES, DELINQUENT_BUCKETS, TONES, Rule, Strategy
from .ledger import _BUCKET_LUT, BUCKET_EDGES


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


@dataclass(frozen=True)
class RuleTable:
    """A strategy's rule conditions as flat arrays, for the compiled first-match pass
    (``match_rules``): rule ``i`` holds for a slot in bucket ``b`` if ``buckets[i, b]``,
    ``dpd_lo[i] <= dpd <= dpd_hi[i]``, the score within ``[risk_lo[i], risk_hi[i]]``
    where ``has_risk[i]`` (float32, as numpy compares a float32 array with a Python
    float), ``causes[i, cause]`` where ``has_cause[i]``, overdue cents at least
    ``min_overdue[i]`` and broken promises at least ``min_broken[i]`` (0: no
    condition). ``n_actions``: each rule's number of actions."""

    buckets: np.ndarray
    dpd_lo: np.ndarray
    dpd_hi: np.ndarray
    has_risk: np.ndarray
    risk_lo: np.ndarray
    risk_hi: np.ndarray
    has_cause: np.ndarray
    causes: np.ndarray
    min_overdue: np.ndarray
    min_broken: np.ndarray
    n_actions: np.ndarray


def rule_table(strategy: Strategy) -> RuleTable:
    """``strategy``'s rule conditions (``compile_rules``) as a RuleTable."""
    conds = compile_rules(strategy)
    k = len(conds)
    causes = np.ones((k, len(CAUSES)), bool)
    for i, c in enumerate(conds):
        if c.causes is not None:
            causes[i] = c.causes
    return RuleTable(
        buckets=np.array([c.buckets for c in conds], bool).reshape(k, len(DELINQUENT_BUCKETS) + 1),
        dpd_lo=np.array([c.dpd[0] if c.dpd else -(2**62) for c in conds], np.int64),
        dpd_hi=np.array([c.dpd[1] if c.dpd else 2**62 for c in conds], np.int64),
        has_risk=np.array([c.risk is not None for c in conds], bool),
        risk_lo=np.array([c.risk[0] if c.risk else 0.0 for c in conds], np.float32),
        risk_hi=np.array([c.risk[1] if c.risk else 1.0 for c in conds], np.float32),
        has_cause=np.array([c.causes is not None for c in conds], bool), causes=causes,
        min_overdue=np.array([c.min_overdue_cents for c in conds], np.int64),
        min_broken=np.array([c.min_broken for c in conds], np.int64),
        n_actions=np.array([len(r.actions) for r in strategy.rules], np.int64))


def match_rules(table: RuleTable, idx: np.ndarray, dpd: np.ndarray, risk: np.ndarray,
                cause: np.ndarray, due: np.ndarray, fees: np.ndarray,
                broken: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``match`` in one compiled pass over the slots ``idx`` (with DPDs ``dpd``), reading
    the per-slot arrays (score, revealed cause, due and fees, broken promises) only
    where a rule asks: (rule per slot (-1: none), bucket per slot, the number of
    actions of the rules matched)."""
    rule, bucket = np.empty(len(idx), np.int16), np.empty(len(idx), np.int8)
    t = table
    n_act = _match_kernel(np.asarray(idx, np.int64), dpd, _BUCKET_LUT, t.buckets, t.dpd_lo,
                          t.dpd_hi, t.has_risk, t.risk_lo, t.risk_hi, t.has_cause, t.causes,
                          t.min_overdue, t.min_broken, t.n_actions, risk, cause, due, fees,
                          broken, rule, bucket)
    return rule, bucket, n_act


@numba.njit(cache=True, nogil=True)
def _match_kernel(idx, dpd, lut, buckets, dpd_lo, dpd_hi, has_risk, risk_lo, risk_hi, has_cause,
                  causes, min_overdue, min_broken, n_actions, risk, cause, due, fees, broken, rule,
                  bucket):  # pragma: no cover - compiled
    """The first rule each slot meets (see RuleTable), into ``rule``, its bucket
    (``lut`` by clipped DPD, as ledger.bucket_of) into ``bucket``; returns the sum of
    the matched rules' action counts."""
    n_act, top = 0, lut.shape[0] - 1
    for j in range(idx.shape[0]):
        s, r = idx[j], dpd[j]
        b = lut[min(max(r, 0), top)]
        bucket[j] = b
        got = -1
        for i in range(buckets.shape[0]):
            if not buckets[i, b] or r < dpd_lo[i] or r > dpd_hi[i]:
                continue
            if has_risk[i] and (risk[s] < risk_lo[i] or risk[s] > risk_hi[i]):
                continue
            if has_cause[i] and not causes[i, cause[s]]:
                continue
            if min_overdue[i] and due[s] + fees[s] < min_overdue[i]:
                continue
            if min_broken[i] and broken[s] < min_broken[i]:
                continue
            got = i
            n_act += n_actions[i]
            break
        rule[j] = got
    return n_act


PRIORITY_CODES = {"dpd": 0, "balance": 1, "risk": 2, "expected_recovery": 3}


@dataclass(frozen=True)
class ActionTable:
    """A strategy's rule actions as flat arrays (action ``a`` of rule ``i`` is one of
    ``first[i]..first[i+1]-1``), for the compiled pass that picks a day's actions.

    An action is due on the DPDs of its look-up table (``on_dpd``: ``lut[lut_at[a] +
    min(dpd, lut_len[a] - 1)]``) or, with ``lut_len[a] == 0``, every ``every[a]`` days
    from ``start[a]`` (its rule's first DPD). A call (``call``) goes to a desk's queue
    with a priority (``priority``: a code of PRIORITY_CODES) and ``attempts``; anything
    else is a request at an hour, ``key[a]``: its position in ``keys`` (hour, channel)."""

    first: np.ndarray
    channel: np.ndarray
    call: np.ndarray
    ivr: np.ndarray
    every: np.ndarray
    start: np.ndarray
    lut: np.ndarray
    lut_at: np.ndarray
    lut_len: np.ndarray
    no_contact: np.ndarray
    priority: np.ndarray
    attempts: np.ndarray
    key: np.ndarray
    keys: list[tuple[float, int]]


def compile_actions(strategy: Strategy, code: Callable[[str], int], kind: np.ndarray,
                    call_kinds: tuple[int, ...], ivr_kind: int) -> ActionTable:
    """``strategy``'s rule actions as an ActionTable; ``code``: channel name -> code,
    ``kind``: compliance kind by channel code."""
    first, cols, luts, keys = [0], {k: [] for k in (
        "channel", "call", "ivr", "every", "start", "lut_at", "lut_len", "no_contact",
        "priority", "attempts", "key")}, [], []
    at = 0
    for r in strategy.rules:
        start = rule_start_dpd(r)
        for a in r.actions:
            c = code(a.channel)
            call = int(kind[c]) in call_kinds
            lut = np.zeros(0, bool)
            if a.on_dpd:
                lut = np.zeros(max(a.on_dpd) + 2, bool)
                lut[list(a.on_dpd)] = True
            if not call and (a.hour, c) not in keys:
                keys.append((a.hour, c))
            row = {"channel": c, "call": call, "ivr": int(kind[c]) == ivr_kind,
                   "every": a.every_days, "start": start, "lut_at": at, "lut_len": len(lut),
                   "no_contact": a.if_no_contact_days, "priority": PRIORITY_CODES[a.priority],
                   "attempts": a.attempts_per_day,
                   "key": -1 if call else keys.index((a.hour, c))}
            for k, v in row.items():
                cols[k].append(v)
            luts.append(lut)
            at += len(lut)
        first.append(len(cols["channel"]))
    dtypes = {"channel": np.int16, "call": bool, "ivr": bool, "every": np.int64,
              "start": np.int64, "lut_at": np.int64, "lut_len": np.int64,
              "no_contact": np.int64, "priority": np.int8, "attempts": np.int16,
              "key": np.int64}
    arrays = {k: np.array(v, dtype=dtypes[k]) for k, v in cols.items()}
    lut_all = np.concatenate(luts) if luts else np.zeros(0, bool)
    return ActionTable(first=np.array(first, np.int64), lut=lut_all, keys=keys, **arrays)


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
