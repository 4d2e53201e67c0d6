"""An independent compliance checker that reads only the contact log and the rules.

It shares no code with the gate (:mod:`sim.compliance`): it keeps its own history per
person (not per slot), orders each day's executed attempts by time and re-derives every
count from them, so a bug in the gate shows up here as a violation instead of hiding
behind the same mistake.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numba
import numpy as np

from .compliance import Law
from .cores import helpers_on

# channel kinds as they appear in the log
MESSAGE, AUTOMATED_CALL, AGENT_CALL, LETTER, THIRD_PARTY = 0, 1, 2, 3, 4
OUTCOME_CONVERSATION = 2
LOG_COLUMNS = ("day", "hour", "slot", "person", "channel", "kind", "outcome", "disclosed")
NEVER = -(10**6)


@numba.njit(cache=True, nogil=True)
def _rank_by_count(keys: np.ndarray, seen: np.ndarray) -> np.ndarray:  # pragma: no cover
    """0, 1, 2, ... for successive equal keys, in the given (time) order, for small
    non-negative keys in one pass: ``seen`` (zeros, one per possible key) counts each key
    so far, and is left all zero again."""
    rank = np.empty(keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        rank[i] = seen[keys[i]]
        seen[keys[i]] += 1
    for i in range(keys.shape[0]):
        seen[keys[i]] = 0
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
        # persons counted in each column: clearing a day touches those, not every person
        self._counted: list[list[np.ndarray]] = [[] for _ in range(7)]
        # flat views, indexed person * 7 + day % 7 (np.add.at is slow on a strided column)
        self._calls_flat = self.calls_by_day.reshape(-1)
        self._tp_flat = self.tp_by_day.reshape(-1)
        self.tp_ever = np.zeros(n_persons, dtype=np.int32)
        self.last_conversation = np.full(n_persons, NEVER, dtype=np.int64)
        self.last_reached = np.full(n_persons, NEVER, dtype=np.int64)
        self.optout_time = np.full(n_persons, np.inf)
        self._opted = np.zeros(n_persons, dtype=bool)  # optout_time < inf: a dense pre-check
        # scratch for "first conversation today" per person: all inf between days, so a
        # day costs its own contacts, not a fresh array over every person
        self._first = np.full(n_persons, np.inf)
        self._seen = np.zeros(n_persons, dtype=np.int32)  # scratch of _rank_by_count
        self.violations: dict[str, int] = dict.fromkeys(
            ("window", "holiday", "daily_cap", "weekly_cap", "cooloff", "optout", "third_party",
             "disclosed_to_third_party"), 0)

    @property
    def total(self) -> int:
        return int(sum(self.violations.values()))

    def optouts(self, day: int, hour: float, persons: np.ndarray) -> None:
        t = day + hour / 24.0
        self.optout_time[persons] = np.minimum(self.optout_time[persons], t)
        self._opted[persons] = True

    def day(self, day: int, log: dict[str, np.ndarray]) -> None:
        col = day % 7
        if self._counted[col]:
            at = np.concatenate(self._counted[col]) * 7 + col  # flat: 1-d indexing is cheaper
            self._calls_flat[at] = 0
            self._tp_flat[at] = 0
            self._counted[col] = []
        if len(log["day"]) == 0:
            return
        # by hour. A day's log is a few ascending runs (a batch's calls, crew by crew, a
        # dispatch's messages), which numpy's stable sort (a timsort) merges: 26 us for
        # 10,000 rows, against 410 us for its unstable quicksort
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
        pm = person[msg]
        opted = self._opted[pm]  # only those who ever opted out can break the rule
        if opted.any():
            v["optout"] += int(np.count_nonzero(self.optout_time[pm[opted]] < t[msg][opted]))

        call = (kind == AUTOMATED_CALL) | (kind == AGENT_CALL)
        if day in self.holidays:
            v["holiday"] += int(np.count_nonzero(call | (kind == THIRD_PARTY)))
        if call.any():
            p, h = person[call], hour[call]
            nth = _rank_by_count(p, self._seen) + 1  # this call is the nth today for that person
            v["daily_cap"] += int(np.count_nonzero(nth > self.cap))
            if self.law.weekly_cap is not None:
                before = self.calls_by_day[p].sum(axis=1)  # the previous six days
                v["weekly_cap"] += int(np.count_nonzero(before + nth > self.law.weekly_cap))
            if self.law.cooloff_days:
                conv = (kind == AGENT_CALL) & (outcome == OUTCOME_CONVERSATION)
                np.minimum.at(self._first, person[conv], hour[conv])
                earlier_day = day - self.last_conversation[p] < self.law.cooloff_days
                same_day = self._first[p] < h
                self._first[person[conv]] = np.inf
                v["cooloff"] += int(np.count_nonzero(earlier_day | same_day))
            # a typed array of ones: np.add.at with a Python scalar takes a slow path
            np.add.at(self._calls_flat, p * 7 + col, np.ones(len(p), self._calls_flat.dtype))
            self._counted[col].append(p)
        tp = kind == THIRD_PARTY
        if tp.any():
            p, h = person[tp], hour[tp]
            nth = _rank_by_count(p, self._seen) + 1
            if self.law.third_party_once:
                reached = (kind == AGENT_CALL) & (outcome == OUTCOME_CONVERSATION)
                np.minimum.at(self._first, person[reached], hour[reached])
                recent = (day - self.last_reached[p] < self.law.third_party_needs_no_rpc_days) | (
                    self._first[p] < h)
                self._first[person[reached]] = np.inf
                v["third_party"] += int(np.count_nonzero((self.tp_ever[p] + nth > 1) | recent))
            else:
                before = self.tp_by_day[p].sum(axis=1)
                v["third_party"] += int(np.count_nonzero(before + nth > self.tp_week))
            np.add.at(self._tp_flat, p * 7 + col, np.ones(len(p), self._tp_flat.dtype))
            self._counted[col].append(p)
            np.add.at(self.tp_ever, p, np.ones(len(p), self.tp_ever.dtype))
        conv = (kind == AGENT_CALL) & (outcome == OUTCOME_CONVERSATION)
        self.last_conversation[person[conv]] = day
        self.last_reached[person[conv]] = day


class AuditThread:
    """An :class:`Auditor` that works on a helper thread of its own when a day's log is
    large, a day behind the engine.

    The auditor keeps its own state and reads only what it is handed, so a large day (a
    million accounts log about 95,000 contacts a day) can be audited beside the engine's
    next day on the machine's second core: its numpy and compiled steps release the GIL.
    A small day is audited inline: there the audit is mostly Python, which would only
    queue at the GIL behind the engine's. Calls run one at a time in the order they are
    made (a call while the thread still has work goes to the thread too), so the counts
    are those of the plain auditor, whatever the timing. The engine calls :meth:`wait`
    before it reuses the columns of a day it handed over; reading :attr:`total` or
    :attr:`violations` waits for every call made so far (and raises what one raised).
    """

    #: a day's log from this many contacts on goes to the thread
    THREAD_FROM = 25_000

    def __init__(self, auditor: Auditor, thread_from: int = THREAD_FROM):
        self.auditor = auditor
        self.thread_from = thread_from
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []

    def _busy(self) -> bool:
        """Whether the thread has calls left (finished ones are dropped, their errors
        raised here)."""
        while self._pending and self._pending[0].done():
            self._pending.pop(0).result()
        return bool(self._pending)

    def _call(self, to_thread: bool, fn, *args) -> None:
        if not (to_thread or self._busy()):
            fn(*args)
            return
        if self._pool is None:  # started on first use: small runs never need it
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="collectsim-audit")
        self._pending.append(self._pool.submit(fn, *args))

    def optouts(self, day: int, hour: float, persons: np.ndarray) -> None:
        self._call(False, self.auditor.optouts, day, hour, persons)

    def day(self, day: int, log: dict[str, np.ndarray]) -> None:
        self._call(len(log["day"]) >= self.thread_from and helpers_on(), self.auditor.day,
                   day, log)

    def wait(self) -> None:
        """Every call made so far is done."""
        pending, self._pending = self._pending, []
        for f in pending:
            f.result()

    def close(self) -> None:
        """Wait, and let the helper thread go (a later call starts another)."""
        self.wait()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    @property
    def total(self) -> int:
        self.wait()
        return self.auditor.total

    @property
    def violations(self) -> dict[str, int]:
        self.wait()
        return self.auditor.violations
