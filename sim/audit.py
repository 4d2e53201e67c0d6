"""An independent compliance checker that reads only the contact log and the rules.

It shares no code with the gate (:mod:`sim.compliance`): it keeps its own history per
person (not per slot), orders each day's executed attempts by time and re-derives every
count from them, so a bug in the gate shows up here as a violation instead of hiding
behind the same mistake.
"""

from __future__ import annotations

import numpy as np

from .compliance import Law

# channel kinds as they appear in the log
MESSAGE, AUTOMATED_CALL, AGENT_CALL, LETTER, THIRD_PARTY = 0, 1, 2, 3, 4
OUTCOME_CONVERSATION = 2
LOG_COLUMNS = ("day", "hour", "slot", "person", "channel", "kind", "outcome", "disclosed")
NEVER = -(10**6)


def _rank_within(keys: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... for successive equal keys, in the given (time) order."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    start = np.r_[True, k[1:] != k[:-1]]
    idx = np.arange(len(k))
    first = np.maximum.accumulate(np.where(start, idx, 0))
    rank = np.empty(len(k), dtype=np.int64)
    rank[order] = idx - first
    return rank


class Auditor:
    """Feed it each day's executed attempts; it counts violations by rule."""

    def __init__(self, n_persons: int, law: Law, daily_call_cap: int, third_party_per_week: int,
                 holidays: set[int], block_holidays: bool):
        self.law = law
        self.cap = min(daily_call_cap, 7) if law.name == "us_reg_f" else daily_call_cap
        self.tp_week = third_party_per_week
        self.holidays = holidays if block_holidays else set()
        self.calls_by_day = np.zeros((n_persons, 7), dtype=np.int16)  # column = day % 7
        self.tp_by_day = np.zeros((n_persons, 7), dtype=np.int16)
        self.tp_ever = np.zeros(n_persons, dtype=np.int32)
        self.last_conversation = np.full(n_persons, NEVER, dtype=np.int64)
        self.last_reached = np.full(n_persons, NEVER, dtype=np.int64)
        self.optout_time = np.full(n_persons, np.inf)
        self.violations: dict[str, int] = dict.fromkeys(
            ("window", "holiday", "daily_cap", "weekly_cap", "cooloff", "optout", "third_party",
             "disclosed_to_third_party"), 0)

    @property
    def total(self) -> int:
        return int(sum(self.violations.values()))

    def optouts(self, day: int, hour: float, persons: np.ndarray) -> None:
        t = day + hour / 24.0
        self.optout_time[persons] = np.minimum(self.optout_time[persons], t)

    def day(self, day: int, log: dict[str, np.ndarray]) -> None:
        col = day % 7
        self.calls_by_day[:, col] = 0
        self.tp_by_day[:, col] = 0
        if len(log["day"]) == 0:
            return
        order = np.argsort(log["hour"], kind="stable")
        hour = log["hour"][order]
        person = log["person"][order]
        kind = log["kind"][order]
        outcome = log["outcome"][order]
        v = self.violations
        t = day + hour / 24.0
        v["window"] += int(np.count_nonzero(
            ((hour < self.law.window_start) | (hour >= self.law.window_end)) & (kind != LETTER)))
        v["disclosed_to_third_party"] += int(np.count_nonzero(log["disclosed"]))
        msg = kind == MESSAGE
        v["optout"] += int(np.count_nonzero(self.optout_time[person[msg]] < t[msg]))

        call = (kind == AUTOMATED_CALL) | (kind == AGENT_CALL)
        if day in self.holidays:
            v["holiday"] += int(np.count_nonzero(call | (kind == THIRD_PARTY)))
        if call.any():
            p, h = person[call], hour[call]
            nth = _rank_within(p) + 1  # this call is the nth today for that person
            v["daily_cap"] += int(np.count_nonzero(nth > self.cap))
            if self.law.weekly_cap is not None:
                before = self.calls_by_day[p].sum(axis=1)  # the previous six days
                v["weekly_cap"] += int(np.count_nonzero(before + nth > self.law.weekly_cap))
            if self.law.cooloff_days:
                conv = (kind == AGENT_CALL) & (outcome == OUTCOME_CONVERSATION)
                first_conv = np.full(len(self.last_conversation), np.inf)
                np.minimum.at(first_conv, person[conv], hour[conv])
                earlier_day = day - self.last_conversation[p] < self.law.cooloff_days
                same_day = first_conv[p] < h
                v["cooloff"] += int(np.count_nonzero(earlier_day | same_day))
            np.add.at(self.calls_by_day[:, col], p, 1)
        tp = kind == THIRD_PARTY
        if tp.any():
            p, h = person[tp], hour[tp]
            nth = _rank_within(p) + 1
            if self.law.third_party_once:
                reached = (kind == AGENT_CALL) & (outcome == OUTCOME_CONVERSATION)
                first_rpc = np.full(len(self.last_reached), np.inf)
                np.minimum.at(first_rpc, person[reached], hour[reached])
                recent = (day - self.last_reached[p] < self.law.third_party_needs_no_rpc_days) | (
                    first_rpc[p] < h)
                v["third_party"] += int(np.count_nonzero((self.tp_ever[p] + nth > 1) | recent))
            else:
                before = self.tp_by_day[p].sum(axis=1)
                v["third_party"] += int(np.count_nonzero(before + nth > self.tp_week))
            np.add.at(self.tp_by_day[:, col], p, 1)
            np.add.at(self.tp_ever, p, 1)
        conv = (kind == AGENT_CALL) & (outcome == OUTCOME_CONVERSATION)
        self.last_conversation[person[conv]] = day
        self.last_reached[person[conv]] = day
