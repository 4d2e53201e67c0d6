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
        self._seen = np.zeros(n_persons, dtype=np.int32)  # scratch: calls today so far
        self._seen_tp = np.zeros(n_persons, dtype=np.int32)  # and third-party calls
        self.violations: dict[str, int] = dict.fromkeys(VIOLATIONS, 0)

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
        n = len(log["day"])
        if n == 0:
            return
        # by hour. A day's log is a few ascending runs (a batch's calls, crew by crew, a
        # dispatch's messages), which numpy's stable sort (a timsort) merges: 26 us for
        # 10,000 rows, against 410 us for its unstable quicksort
        order = np.argsort(log["hour"], kind="stable")
        law = self.law
        counts = np.zeros(len(VIOLATIONS), np.int64)
        call_p, tp_p = np.empty(n, np.int64), np.empty(n, np.int64)
        n_call, n_tp = _audit_rows(
            order, log["hour"], log["person"], log["kind"], log["outcome"], log["disclosed"],
            day, col, law.window_start, law.window_end, day in self.holidays, self.cap,
            -1 if law.weekly_cap is None else law.weekly_cap, law.cooloff_days,
            law.third_party_once, law.third_party_needs_no_rpc_days, self.tp_week, self._opted,
            self.optout_time, self.calls_by_day, self.tp_by_day, self.tp_ever,
            self.last_conversation, self.last_reached, self._first, self._seen, self._seen_tp,
            counts, call_p, tp_p)
        for name, k in zip(VIOLATIONS, counts.tolist(), strict=True):
            self.violations[name] += k
        if n_call:
            self._counted[col].append(call_p[:n_call])
        if n_tp:
            self._counted[col].append(tp_p[:n_tp])


#: the rules the auditor counts violations of, in the order of ``_audit_rows``' counts
VIOLATIONS = ("window", "holiday", "daily_cap", "weekly_cap", "cooloff", "optout", "third_party",
              "disclosed_to_third_party")
_V_WINDOW, _V_HOLIDAY, _V_DAILY, _V_WEEKLY, _V_COOLOFF, _V_OPTOUT, _V_THIRD, _V_DISCLOSED = (
    range(8))


@numba.njit(cache=True, nogil=True)
def _audit_rows(order, hour, person, kind, outcome, disclosed, day, col, window_start, window_end,
                holiday, cap, weekly_cap, cooloff_days, third_party_once, needs_no_rpc_days,
                tp_week, opted, optout_time, calls_by_day, tp_by_day, tp_ever, last_conversation,
                last_reached, first, seen, seen_tp, counts, call_p,
                tp_p):  # pragma: no cover - compiled
    """A day's log (rows in time order ``order``) against the law, in one pass: each
    violation counted into ``counts`` (VIOLATIONS order); then the day booked into the
    auditor's own history (calls and third-party calls by person and weekday column
    ``col``, third parties ever, the day of the last conversation). Returns the numbers
    of calls and of third-party calls, their persons into ``call_p`` and ``tp_p``.

    A call is the nth to its person today in time order, n counted in ``seen`` (zeros,
    left so); a conversation earlier today is one at an earlier hour (``first``: the
    earliest so far, inf for nobody, left so). ``weekly_cap`` < 0: none; ``cooloff_days``
    0: no cool-off."""
    n_call, n_tp = 0, 0
    for r in range(order.shape[0]):
        j = order[r]
        h, p, k = hour[j], person[j], kind[j]
        if k != LETTER and (h < window_start or h >= window_end):
            counts[_V_WINDOW] += 1
        if disclosed[j]:
            counts[_V_DISCLOSED] += 1
        if k == MESSAGE:
            if opted[p] and optout_time[p] < day + h / 24.0:
                counts[_V_OPTOUT] += 1
        elif k == AUTOMATED_CALL or k == AGENT_CALL:
            if holiday:
                counts[_V_HOLIDAY] += 1
            seen[p] += 1
            nth = seen[p]  # this call is the nth today for that person
            if nth > cap:
                counts[_V_DAILY] += 1
            if weekly_cap >= 0:
                before = 0  # the previous six days: today's column is booked after the pass
                for c in range(7):
                    before += calls_by_day[p, c]
                if before + nth > weekly_cap:
                    counts[_V_WEEKLY] += 1
            if cooloff_days > 0 and (day - last_conversation[p] < cooloff_days or first[p] < h):
                counts[_V_COOLOFF] += 1
            call_p[n_call] = p
            n_call += 1
        elif k == THIRD_PARTY:
            if holiday:
                counts[_V_HOLIDAY] += 1
            seen_tp[p] += 1
            nth = seen_tp[p]
            if third_party_once:
                recent = day - last_reached[p] < needs_no_rpc_days or first[p] < h
                if tp_ever[p] + nth > 1 or recent:
                    counts[_V_THIRD] += 1
            else:
                before = 0
                for c in range(7):
                    before += tp_by_day[p, c]
                if before + nth > tp_week:
                    counts[_V_THIRD] += 1
            tp_p[n_tp] = p
            n_tp += 1
        if k == AGENT_CALL and outcome[j] == OUTCOME_CONVERSATION and h < first[p]:
            first[p] = h
    for t in range(n_call):
        p = call_p[t]
        seen[p] = 0
        calls_by_day[p, col] += 1
    for t in range(n_tp):
        p = tp_p[t]
        seen_tp[p] = 0
        tp_by_day[p, col] += 1
        tp_ever[p] += 1
    for j in range(order.shape[0]):
        if kind[j] == AGENT_CALL and outcome[j] == OUTCOME_CONVERSATION:
            p = person[j]
            first[p] = np.inf
            last_conversation[p] = day
            last_reached[p] = day
    return n_call, n_tp


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
