"""One run: a SimPy environment with the daily portfolio process, timed automated
dispatches, collector teams, and agency and legal pipelines. ``run(...) -> RunResult``.

Time is in days; hour h of day d is ``d + h/24``. The portfolio process wakes at the
start of each day and does the vectorised work for every account at once (shocks,
re-borrowing and joiners, promises, payments, billing, fees, DPD, charge-off), then asks
the strategy for the day's actions: automated contacts are dispatched at their hour by
short-lived processes, call tasks go to the teams' queues. A recorder closes each day.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from itertools import accumulate

import numba
import numpy as np
import simpy
from scipy.special import expit

from . import behaviour as bh
from . import ledger as lg
from . import special
from .audit import LOG_COLUMNS, Auditor, AuditThread
from .channels import Catalogue
from .collectors import Desk, _place, floor_process
from .compliance import (
    CALL_KINDS,
    KIND_CODES,
    PROFILES,
    RULES,
    Gate,
    _record_calls,
    account_rule,
    call_rule,
)
from .config import CAUSES, DELINQUENT_BUCKETS, RESPONSE_CLASSES, Scenario, Strategy, check_pair
from .cores import Halves
from .pairwise import pairwise_sum
from .population import CAUSE_CODES, People, draw_plan, generate, macro_curve
from .prefetch import AHEAD, prefetch, prefetch_2d
from .rng import Streams, draw_at, draw_at_n
from .strategy import compile_actions, match_rules, rule_table, tone_factor

NONE, ACTIVE = lg.NONE, lg.ACTIVE
AGENT, THIRD = KIND_CODES["agent_call"], KIND_CODES["third_party_call"]
MESSAGE, IVR, LETTER = KIND_CODES["message"], KIND_CODES["automated_call"], KIND_CODES["letter"]
# outcomes in the log
NO_ANSWER, WRONG_PARTY, CONVERSATION, THIRD_PARTY_REACHED, DELIVERED, NOT_DELIVERED = range(6)
# why a cardholder left a slot
EXIT_NONE, EXIT_CHARGED_OFF, EXIT_SETTLED, EXIT_ATTRITION, EXIT_LEGAL = range(5)
# how an episode cured
CURE_NONE, CURE_SELF, CURE_CONTACT, CURE_PLAN = range(4)
REMINDER, CONV, ESCALATION, PAYMENT = range(4)
HARDSHIP = CAUSE_CODES["hardship"]
TERMS = CAUSE_CODES["terms"]


@dataclass
class Episodes:
    """Delinquency episodes (entry at DPD 1 to cure, charge-off or exit), growable."""

    cap: int = 1024

    def __post_init__(self) -> None:
        self.n = 0
        self.slot = np.zeros(self.cap, np.int64)
        self.person = np.zeros(self.cap, np.int64)
        self.entry = np.zeros(self.cap, np.int32)
        self.overdue = np.zeros(self.cap, np.int64)
        self.hardship = np.zeros(self.cap, bool)
        self.cure_day = np.full(self.cap, NONE, np.int32)
        self.cure_type = np.zeros(self.cap, np.int8)
        self.end_day = np.full(self.cap, NONE, np.int32)
        self.exit = np.zeros(self.cap, np.int8)
        self.collected = np.zeros(self.cap, np.int64)
        self.contacts = np.zeros(self.cap, np.int32)
        self.complaints = np.zeros(self.cap, np.int32)
        self.leaving = np.zeros(self.cap, bool)
        self.cost = np.zeros(self.cap, np.float64)  # collection cost attributed, cents
        self.charged_off = np.zeros(self.cap, np.int64)  # balance charged off, cents

    def add(self, slot, person, day, overdue, hardship) -> np.ndarray:
        k = len(slot)
        if self.n + k > self.cap:
            new = max(self.cap * 2, self.n + k)
            for name, a in list(vars(self).items()):
                if isinstance(a, np.ndarray):
                    b = np.zeros(new, a.dtype) if name not in ("cure_day", "end_day") else np.full(
                        new, NONE, a.dtype)
                    b[: self.n] = a[: self.n]
                    setattr(self, name, b)
            self.cap = new
        ids = np.arange(self.n, self.n + k)
        self.slot[ids], self.person[ids], self.entry[ids] = slot, person, day
        self.overdue[ids], self.hardship[ids] = overdue, hardship
        self.n += k
        return ids


def merge_sorted(a: np.ndarray, *more: np.ndarray) -> np.ndarray:
    """Sorted union without repeats of int64 slot arrays. Two ascending inputs (the
    common case: the owing set and the day's bills) are merged in one compiled pass (50
    against 58 us for 8,900 slots); others by a stable sort of the concatenation (timsort
    merges the sorted runs), far cheaper than np.union1d's full sort."""
    parts = [m for m in more if len(m)]
    if not parts:
        return a
    if len(parts) == 1 and a.dtype == parts[0].dtype == np.int64:
        out = np.empty(len(a) + len(parts[0]), np.int64)
        n = _merge_ascending(a, parts[0], out)
        if n >= 0:
            return out[:n]
    x = np.concatenate([a, *parts]).astype(np.int64, copy=False)
    x.sort(kind="stable")
    keep = np.empty(len(x), dtype=bool)
    keep[:1] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


@numba.njit(cache=True, nogil=True)
def _strictly_ascending(x):  # pragma: no cover - compiled
    """``np.all(x[1:] > x[:-1])``, without the two temporaries."""
    for i in range(1, x.shape[0]):
        if not x[i] > x[i - 1]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _merge_ascending(a, b, out):  # pragma: no cover - compiled
    """The sorted union of ``a`` and ``b`` without repeats into ``out``; returns its
    length, or -1 (``out`` unspecified) when either is not ascending."""
    for x in (a, b):
        for i in range(1, x.shape[0]):
            if x[i] < x[i - 1]:
                return -1
    i = j = n = 0
    na, nb = a.shape[0], b.shape[0]
    last = -1 if na == 0 or nb == 0 else min(a[0], b[0]) - 1  # below every slot
    # branch-free while both run: which side is smaller is a coin toss to the predictor
    while i < na and j < nb:
        x, y = a[i], b[j]
        take = x <= y
        v = x if take else y
        i += take
        j += not take
        out[n] = v
        n += v != last
        last = v
    for x, k in ((a, i), (b, j)):
        for t in range(k, x.shape[0]):
            v = x[t]
            out[n] = v
            n += n == 0 or v != last
            last = v
    return n


class ContactLog:
    """The day's executed contacts in preallocated columns (grown by doubling): a batch is
    a few slice writes, and the day's log is read by the auditor without concatenation."""

    DTYPES = {"day": np.int32, "hour": np.float64, "slot": np.int64, "person": np.int64,
              "channel": np.int16, "kind": np.int8, "outcome": np.int8, "disclosed": bool}

    def __init__(self, cap: int = 4096) -> None:
        self.n = 0
        # two sets of columns, swapped by flush: the day flushed last stays readable (by
        # the auditor's thread) while the next day is written into the other set
        self._sets = [{k: np.zeros(cap, dt) for k, dt in self.DTYPES.items()} for _ in range(2)]
        self.cols = self._sets[0]

    def reserve(self, k: int) -> tuple[dict[str, np.ndarray], int]:
        """Room for ``k`` more rows: the columns and the first of the rows, for a
        compiled pass to write (then :meth:`written`)."""
        n = self.n
        if n + k > len(self.cols["day"]):
            cap = max(2 * len(self.cols["day"]), n + k)
            for name, a in self.cols.items():
                b = np.zeros(cap, a.dtype)
                b[:n] = a[:n]
                self.cols[name] = b
        return self.cols, n

    def written(self, k: int) -> None:
        """``k`` rows were written where :meth:`reserve` made room."""
        self.n += k

    def append(self, day: int, hour, slot: np.ndarray, person: np.ndarray, channel, kind,
               outcome: np.ndarray) -> None:
        k = len(slot)
        c, n = self.reserve(k)
        self.written(k)
        # "disclosed" stays False: nothing ever tells a third party the debt
        c["day"][n:n + k] = day
        c["hour"][n:n + k] = hour
        c["slot"][n:n + k] = slot
        c["person"][n:n + k] = person
        c["channel"][n:n + k] = channel
        c["kind"][n:n + k] = kind
        c["outcome"][n:n + k] = outcome

    def flush(self) -> dict[str, np.ndarray]:
        """The day's rows and an empty log. The rows are views, valid until the flush
        after next: the next day is written into the other set of columns."""
        out = {name: a[: self.n] for name, a in self.cols.items()}
        k = 1 if self.cols is self._sets[0] else 0
        self.cols = self._sets[k]
        self.n = 0
        return out


class SlotSet:
    """A sorted superset of the slots in some state (owing, at the end of a plan, at an
    agency, ...). Slots are added when they may enter the state and dropped when the real
    condition is read, so the daily work scales with the slots in the state, not the book."""

    def __init__(self) -> None:
        self.idx = np.zeros(0, dtype=np.int64)
        self._new: list[np.ndarray] = []

    def add(self, idx: np.ndarray) -> None:
        if len(idx):
            self._new.append(np.asarray(idx, dtype=np.int64))

    def members(self) -> np.ndarray:
        if self._new:
            self.idx = merge_sorted(self.idx, *self._new)
            self._new = []
        return self.idx

    def any(self) -> bool:
        """False only when no slot can be in the state (nothing added since the members
        were last read and all of them dropped)."""
        return bool(len(self.idx) or self._new)

    def keep(self, mask: np.ndarray) -> np.ndarray:
        """Drop the members (as returned by ``members``) where mask is False."""
        self.idx = self.idx[mask]
        return self.idx

    def replace(self, kept: np.ndarray) -> np.ndarray:
        """``keep`` for a caller that selected the members itself: ``kept`` is an
        ascending subset of ``members()``."""
        self.idx = kept
        return kept


class Agenda:
    """Slots to look at on a given day, filed when a date is set (a promise, a judgment,
    a recall, a new plan). An entry may be stale (the date moved or was cancelled): the
    caller checks the real date, so the agenda only has to be a superset.

    A list of cells per day, linked through arrays (a calendar queue): filing and reading
    are one compiled loop each, whatever the number of distinct days, and a read day's
    cells are reused. Days outside ``[0, days)`` are never read and are not filed."""

    def __init__(self, days: int, cap: int = 1024) -> None:
        self.head = np.full(days, -1, np.int64)  # first cell of each day, -1: none
        self.slot = np.zeros(cap, np.int64)
        self.next = np.full(cap, -1, np.int64)  # next cell of the same day, or of the free list
        self.next[:-1] = np.arange(1, cap)
        self.free = np.array([0, cap], np.int64)  # first free cell, number of free cells

    def add(self, days: np.ndarray | int, idx: np.ndarray) -> None:
        if not len(idx):
            return
        days = np.asarray(days, dtype=np.int64)
        if days.ndim == 0:
            days = np.full(len(idx), days)  # np.broadcast_to costs more than this
        self.reserve(len(idx))
        _agenda_add(self.head, self.slot, self.next, self.free, days,
                    np.asarray(idx, dtype=np.int64))

    def reserve(self, k: int) -> None:
        """At least ``k`` free cells (for a compiled pass that files with _agenda_add)."""
        if self.free[1] < k:
            self._grow(k)

    def _grow(self, need: int) -> None:
        cap = len(self.slot)
        new = max(2 * cap, cap + need)
        slot, nxt = np.zeros(new, np.int64), np.full(new, -1, np.int64)
        slot[:cap], nxt[:cap] = self.slot, self.next
        nxt[cap:-1] = np.arange(cap + 1, new)  # the new cells, chained, lead to the old free list
        nxt[-1] = self.free[0]
        self.slot, self.next = slot, nxt
        self.free[:] = (cap, self.free[1] + new - cap)

    def pop(self, day: int) -> np.ndarray:
        """Sorted slots filed for ``day`` (each once); the day's cells are freed."""
        if not 0 <= day < len(self.head) or self.head[day] < 0:
            return np.zeros(0, dtype=np.int64)
        return _agenda_pop(self.head, self.slot, self.next, self.free, day)


@numba.njit(cache=True, nogil=True)
def _agenda_add(head, slot, nxt, free, days, idx):  # pragma: no cover - compiled
    """File ``idx`` under ``days`` (the caller made sure enough cells are free)."""
    D = head.shape[0]
    for j in range(idx.shape[0]):
        day = days[j]
        if day < 0 or day >= D:
            continue
        c = free[0]
        free[0] = nxt[c]
        free[1] -= 1
        slot[c] = idx[j]
        nxt[c] = head[day]
        head[day] = c


@numba.njit(cache=True, nogil=True)
def _agenda_pop(head, slot, nxt, free, day):  # pragma: no cover - compiled
    n, c = 0, head[day]
    while c >= 0:
        n += 1
        c = nxt[c]
    out = np.empty(n, np.int64)
    n, c, last = 0, head[day], -1
    while c >= 0:
        out[n] = slot[c]
        n += 1
        last = c
        c = nxt[c]
    nxt[last] = free[0]  # the day's chain joins the free list whole
    free[0] = head[day]
    free[1] += n
    head[day] = -1
    out.sort()
    keep = np.ones(n, np.bool_)
    for i in range(1, n):
        keep[i] = out[i] != out[i - 1]
    return out[keep]


@numba.njit(cache=True, nogil=True)
def _due_within(next_due_day, d, wanted, starts, ends):  # pragma: no cover - compiled
    """Slots (ascending) whose next due date is d + k for a k with wanted[k], among the
    slot ranges [starts[r], ends[r]) (ascending, disjoint): one pass instead of a
    comparison per k, an OR and a flatnonzero."""
    size = 0
    for r in range(starts.shape[0]):
        size += ends[r] - starts[r]
    out = np.empty(size, np.int64)
    n, m = 0, wanted.shape[0]
    for r in range(starts.shape[0]):
        for i in range(starts[r], ends[r]):
            k = next_due_day[i] - d
            if k >= 0 and k < m and wanted[k]:
                out[n] = i
                n += 1
    return out[:n].copy()


def dom_runs(dom: np.ndarray) -> np.ndarray | None:
    """For a book in due-day order: slots of due day of month x are
    ``runs[x]:runs[x + 1]`` (x = 1..31). None when the book is not in that order."""
    if not np.all(dom[:-1] <= dom[1:]):
        return None
    return np.searchsorted(dom, np.arange(0, 33)).astype(np.int64)


def due_day_runs(cal: lg.Calendar, runs: np.ndarray, d: int,
                 offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slot ranges (starts, ends; ascending, disjoint) that hold every slot due on day
    d + k for a k with offsets[k]: a due date falls on the slot's due day of month, so
    these are the runs (``dom_runs``) of the days of month of those days."""
    doms = sorted({cal.day_of_month(d + k) for k in np.flatnonzero(offsets).tolist()})
    x = np.array(doms, np.int64)
    return runs[x], runs[x + 1]


def due_day_runs_table(cal: lg.Calendar, runs: np.ndarray, days: int,
                       offsets: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``due_day_runs`` of every day 0..days, in a few whole-array steps: worked out once
    at set-up instead of a dozen Python steps every morning."""
    day = np.arange(days + 1)[:, None] + np.flatnonzero(offsets)[None, :]
    month = np.searchsorted(cal.month_first, day, side="right") - 1
    doms = day - cal.month_first[month] + 1
    out = []
    for row in doms:
        x = np.unique(row)
        out.append((runs[x], runs[x + 1]))
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _talk_minutes(u, log_median, sigma):  # pragma: no cover - compiled
    """A conversation's talk time, lognormal, from its draw ``u``: the operations of
    ``np.exp(log_median + sigma * scipy.special.ndtri(u))`` (scipy's own ndtri)."""
    return math.exp(log_median + sigma * special.ndtri(u))


@numba.njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: see compliance.call_rule
def _agent_call(i, q, made, keys, contactability, prof, rpc_given_answer, fixed_minutes,
                log_median, sigma):  # pragma: no cover - compiled
    """Outcome and handle minutes of attempt ``made`` (attempts made before it) to slot
    ``i`` (person ``q``): answered with probability min(0.95, contactability x the hour's
    profile ``prof``), then the right party with probability ``rpc_given_answer``; the
    outcome's fixed minutes, and a conversation's talk time. The answer, right party and
    talk time are draws 8 x made, 8 x made + 1 and 8 x made of the streams keyed
    ``keys`` (contact, contact and handle on the day, as ``Streams.uniform_rows`` draws
    them)."""
    k = np.int64(made) * 8
    answer = min(0.95, np.float64(contactability[q]) * prof)
    o = NO_ANSWER
    if draw_at_n(i, keys[0], k) < answer:
        o = CONVERSATION if draw_at_n(i, keys[1], k) < rpc_given_answer else WRONG_PARTY
    m = fixed_minutes[o]
    if o == CONVERSATION:
        m += _talk_minutes(draw_at_n(i, keys[2], k), log_median, sigma)
    return o, m


@numba.njit(cache=True, nogil=True)
def _agent_calls(idx, p, made, keys, contactability, prof, rpc_given_answer, fixed_minutes,
                 log_median, sigma, outcome, minutes):  # pragma: no cover - compiled
    """``_agent_call`` for a batch of agent calls (slots ``idx``, persons ``p``, attempts
    made ``made``), into ``outcome`` and ``minutes``."""
    m = p.shape[0]
    for j in range(m):
        if j + AHEAD < m:
            prefetch(contactability, p[j + AHEAD])
        outcome[j], minutes[j] = _agent_call(idx[j], p[j], made[j], keys, contactability, prof,
                                             rpc_given_answer, fixed_minutes, log_median, sigma)


@numba.njit(cache=True, nogil=True)
def _talk_minutes_of(u, log_median, sigma, out):  # pragma: no cover - compiled
    """``_talk_minutes`` of each draw in ``u``, into ``out``."""
    for j in range(u.shape[0]):
        out[j] = _talk_minutes(u[j], log_median, sigma)


@numba.njit(cache=True, nogil=True)
def _crew_calls(cand, acct_q, chan_q, made_q, person_of, day, col, calls, daily_cap, weekly_cap,
                cooloff_days, last_conversation, keys, contactability, prof, rpc_given_answer,
                fixed_minutes, log_median, sigma, used, total, a, b, retry_gap, tried, left,
                not_before, at, x_acct, x_chan, x_outcome, x_minutes, x_person, x_hours, r_at,
                r_acct, r_chan):  # pragma: no cover - compiled
    """A crew's batch of agent calls (queue positions ``cand``; no third-party calls, the
    gate open at this hour and day) in one pass: the task's account, channel and person;
    the gate's verdict (``compliance.call_rule`` on the history before the batch); the
    outcome and minutes (``_agent_call``); the attempts on the crew's clock
    (``collectors._place``); the executed ones' columns into x_* from ``at`` and the
    refused ones' accounts and channels into r_* from ``r_at``. Returns what ``_place``
    returns.

    The same as gathering, checking and drawing every candidate, then placing them, but
    for the candidates after the clock is past ``total``: they cannot fit, so they are
    not drawn. Proof that none would: the starts ``_place`` computes, (used + cs) - m,
    with cs the running float sum of the minutes (all >= 0), are nondecreasing but for
    the rounding of the last add and subtract, a few units in the last place of
    used + cs; once used + cs exceeds total by more than 1e-9 of its magnitude, every
    later start is past ``total``."""
    k = cand.shape[0]
    acct, chan = np.empty(k, np.int64), np.empty(k, np.int16)
    person, ok = np.empty(k, np.int64), np.empty(k, np.bool_)
    outcome, minutes = np.empty(k, np.int8), np.empty(k)
    cs, n, half = 0.0, k, AHEAD // 2
    for j in range(k):
        if j + AHEAD < k:
            ia = acct_q[cand[j + AHEAD]]
            prefetch_2d(calls, ia, 0)
            prefetch(person_of, ia)
            if cooloff_days > 0:
                prefetch(last_conversation, ia)
        if j + half < k:
            prefetch(contactability, person_of[acct_q[cand[j + half]]])
        q = cand[j]
        i = acct_q[q]
        p = person_of[i]
        acct[j], chan[j], person[j] = i, chan_q[q], p
        allowed = call_rule(i, day, col, calls, daily_cap, weekly_cap, cooloff_days,
                            last_conversation) < 0
        ok[j] = allowed
        mj = 0.0
        if allowed:
            o, mj = _agent_call(i, p, made_q[q], keys, contactability, prof, rpc_given_answer,
                                fixed_minutes, log_median, sigma)
            outcome[j], minutes[j] = o, mj
        cs += mj
        if (used + cs) - total > 1e-9 * (abs(used) + cs + abs(total) + 1.0):
            n = j + 1
            break
    m, start, hours = np.empty(n), np.empty(n), np.empty(n)
    pos, ref = np.empty(n, np.int64), np.empty(n, np.int64)
    n_fit, n_ex, n_ref, spent = _place(cand[:n], ok[:n], minutes[:n], outcome[:n], used, total,
                                       a, b, retry_gap, tried, left, made_q, not_before, m,
                                       start, pos, hours, ref)
    for t in range(n_ex):
        j = pos[t]
        x_acct[at + t], x_chan[at + t], x_outcome[at + t] = acct[j], chan[j], outcome[j]
        x_minutes[at + t], x_person[at + t], x_hours[at + t] = minutes[j], person[j], hours[t]
    for t in range(n_ref):
        r_acct[r_at + t], r_chan[r_at + t] = acct[ref[t]], chan[ref[t]]
    return n_fit, n_ex, n_ref, spent


_NO_U = np.zeros((0, 0))  # "hash the draws" for the kernels that take them either way


def _call_draws(d: int) -> list[tuple[str, int, int]]:
    """A call's draws on day ``d``: answered, right party, talk time (attempt k at draw
    numbers 8k, 8k + 1 and 8k of these rows)."""
    return [("contact", d, 0), ("contact", d, 1), ("handle", d, 0)]


@numba.njit(cache=True, nogil=True, inline="always")
def _draw(u, keys, r, j, i):  # pragma: no cover - compiled
    """Draw ``r`` of attempt ``j`` (slot ``i``): ``u[r, j]`` if given (tests place draws on
    the probabilities), else hashed from ``keys[r]``."""
    return u[r, j] if u.shape[0] > 0 else draw_at(i, keys[r])


@numba.njit(cache=True, nogil=True)
def _conversation_pass(idx, p, chan, skill, ep, tone_tab, segment, cause_tab, cause_of, misread,
                       shock_active, rpc_hist, cause, response, imp_lut, stim, stirred, col,
                       recent_flat, recent_sum, ep_contacts, complaint_base, alpha, free,
                       hardship_pressure, propensity, day, oldest_day, arm, rule_today,
                       offer_late, offer_early, last_plan, cooldown, will_tab, will_of,
                       seg_accept, boost, promise_rate, days_max, promise_day, u, keys,
                       complained, acc_pos, acc_kind, prom_pos):  # pragma: no cover - compiled
    """Right-party conversations (distinct slots ``idx``, persons ``p``, on channels
    ``chan`` by teams of ``skill``, one number or one per conversation), in one pass,
    each in the order of the numpy code it replaced, so the same bits:

    * the cause comes out: one more in the slot's history; hardship if hit by a shock
      or a hardship case, else a misread of the terms, else the customer's own (the
      segment's, ``cause_tab``, where that is one for everybody, else ``cause_of``;
      empty ``cause_tab``);
    * the treatment impulse: ``imp_lut[chan, segment] x skill`` in float32 into the
      channel's row of ``stim`` (its response class marked in ``stirred``);
    * the contact and the complaint (``_one_contact``: the tone of the account's rule
      today, ``tone_tab`` by arm and rule as ``offer_late``; the channel's
      ``complaint_base``; into ``complained``, draw 0);
    * the plan the account's rule offers (settlement only past 90 DPD; none within the
      cool-down after the last plan) and whether it is accepted
      (behaviour.plan_acceptance, draw 1); if not, whether the customer promises to pay
      (behaviour.promise_probability, in float32 as numpy computes it; draw 2) and for
      which day (into ``promise_day``; draw 3).

    Positions of the accepted (plan kinds into ``acc_kind``) and of the promises into
    ``acc_pos`` and ``prom_pos``. ``arm`` empty: one strategy; ``will_tab`` empty:
    willingness per person. Draw ``r`` of conversation ``j`` is ``u[r, j]``, or with an
    empty ``u`` hashed from ``keys[r]`` (draw 0 at draw number 4 x channel + 1000, as
    Run._complaint_draw) where it is compared. Returns (complaints, accepted, promises)."""
    n_comp, n_acc, n_prom = 0, 0, 0
    width = offer_late.shape[1]
    arms, tab, wtab = arm.shape[0] > 0, cause_tab.shape[0] > 0, will_tab.shape[0] > 0
    has_u, one_skill = u.shape[0] > 0, skill.shape[0] == 1
    lo, hi, misread_p = np.float32(0.0), np.float32(0.95), np.float32(0.9)
    m = idx.shape[0]
    for j in range(m):
        if j + AHEAD < m:
            k, kq = idx[j + AHEAD], p[j + AHEAD]
            prefetch(rpc_hist, k)
            prefetch(cause, k)
            prefetch(oldest_day, k)
            prefetch(rule_today, k)
            prefetch(last_plan, k)
            prefetch(promise_day, k)
            prefetch(recent_sum, k)
            prefetch(recent_flat, k * 7 + col)
            prefetch(segment, kq)
            prefetch(shock_active, kq)
            prefetch(misread, kq)
            prefetch(propensity, kq)
            if arms:
                prefetch(arm, k)
            if not tab:
                prefetch(cause_of, kq)
            if not wtab:
                prefetch(will_of, kq)
        i, q, c = idx[j], p[j], chan[j]
        sk = skill[0] if one_skill else skill[j]
        # the cause
        rpc_hist[i] += 1
        s = segment[q]
        own = cause_tab[s] if tab else cause_of[q]
        hard = shock_active[q] > 0 or own == HARDSHIP
        cause[i] = HARDSHIP if hard else (TERMS if misread[q] else own)
        # the impulse
        cls = response[c]
        stirred[cls] = True
        stim[cls, i] += np.float32(imp_lut[c, s] * sk)
        # the contact
        a = arm[i] if arms else 0
        r = rule_today[i]
        if r < 0:
            r += width  # the last column: no rule
        uc = u[0, j] if has_u else draw_at_n(i, keys[0], np.int64(c) * 4 + 1000)
        if _one_contact(i, ep[j], col, recent_flat, recent_sum, ep_contacts,
                        complaint_base[c], alpha, free, tone_tab[a, r], hard, hardship_pressure,
                        1.0, propensity[q], uc):
            complained[n_comp] = j
            n_comp += 1
        # the offer, or a promise
        od = oldest_day[i]
        dpd = 0 if od == NONE else day - od
        kind = offer_late[a, r] if dpd > 90 else offer_early[a, r]
        w = will_tab[s] if wtab else will_of[q]
        if kind >= 0 and day - last_plan[i] >= cooldown:
            acc = seg_accept[s] * sk * (1.0 + boost * (1.0 if hard else 0.0)) * (
                1.0 if w > 0 else 0.0)
            if _draw(u, keys, 1, j, i) < min(max(acc, 0.0), 0.95):
                acc_pos[n_acc], acc_kind[n_acc] = j, kind
                n_acc += 1
                continue
        pr = np.float32(promise_rate * sk) * np.sqrt(w)
        if misread[q]:
            pr = misread_p
        pr = min(max(pr, lo), hi)
        if _draw(u, keys, 2, j, i) < pr:
            promise_day[i] = day + np.int32(1.0 + np.floor(_draw(u, keys, 3, j, i) * days_max))
            prom_pos[n_prom] = j
            n_prom += 1
    return n_comp, n_acc, n_prom


@numba.njit(cache=True, nogil=True)
def _agent_batch(idx, chan, outcome, minutes, hours, p, ends, rates, skills, calls_flat,
                 no_total, last_conversation, last_rpc_day, cost_cents, channel_cost,
                 channel_attempts, ep_of, ep_cost, attempts_hist, collector_cost, log_day,
                 log_hour, log_slot, log_person, log_channel, log_kind, log_outcome, log_at,
                 tone_tab, segment, cause_tab, cause_of, misread, shock_active, rpc_hist, cause,
                 response, imp_lut, stim, stirred, col, recent_flat, recent_sum, ep_contacts,
                 complaint_base, alpha, free, hardship_pressure, propensity, day, oldest_day,
                 arm, rule_today, offer_late, offer_early, last_plan, cooldown, will_tab,
                 will_of, seg_accept, boost, promise_rate, days_max, promise_day, u, keys,
                 conv_idx, conv_ep, complained, acc_pos, acc_kind, prom_pos, ag_head,
                 ag_slot, ag_next, ag_free):  # pragma: no cover - compiled
    """A batch of executed agent calls (no third party) booked in one call, the steps of
    ``Run.execute_calls`` in its order: the gate's record (``_record_calls``: today's
    count, the conversation and right-party days), the books (``_book_calls``), the rows
    of the contact log (from ``log_at``), and the conversations (``_conversation_pass``,
    from ``tone_tab`` on its arguments; their slots and episodes into ``conv_idx`` and
    ``conv_ep``), the promises filed for their days in the agenda ``ag_*`` (enough free
    cells reserved). Returns (conversations, complaints, accepted, promises), the last
    three as ``_conversation_pass`` returns them."""
    m = idx.shape[0]
    conv_mask = np.empty(m, np.bool_)
    for j in range(m):
        conv_mask[j] = outcome[j] == CONVERSATION
    _record_calls(idx, day, col, calls_flat, no_total, conv_mask, conv_mask, last_conversation,
                  last_rpc_day)
    labour, ep = np.empty(m), np.empty(m, np.int64)
    conv, conv_skill, tp = np.empty(m, np.int64), np.empty(m), np.empty(m, np.int64)
    n_conv, _ = _book_calls(idx, chan, minutes, outcome, ends, rates, skills,
                            np.zeros(0, np.bool_), cost_cents, channel_cost, channel_attempts,
                            ep_of, ep_cost, attempts_hist, labour, ep, conv, conv_skill, tp,
                            collector_cost, day)
    for j in range(m):
        r = log_at + j
        log_day[r], log_hour[r], log_slot[r], log_person[r] = day, hours[j], idx[j], p[j]
        log_channel[r], log_kind[r], log_outcome[r] = chan[j], AGENT, outcome[j]
    conv_p, conv_chan = np.empty(n_conv, np.int64), np.empty(n_conv, chan.dtype)
    for j in range(n_conv):
        k = conv[j]
        conv_idx[j], conv_p[j], conv_chan[j], conv_ep[j] = idx[k], p[k], chan[k], ep[k]
    n_comp, n_acc, n_prom = _conversation_pass(
        conv_idx[:n_conv], conv_p, conv_chan, conv_skill[:n_conv], conv_ep[:n_conv], tone_tab,
        segment, cause_tab, cause_of, misread, shock_active, rpc_hist, cause, response, imp_lut,
        stim, stirred, col, recent_flat, recent_sum, ep_contacts, complaint_base, alpha, free,
        hardship_pressure, propensity, day, oldest_day, arm, rule_today, offer_late,
        offer_early, last_plan, cooldown, will_tab, will_of, seg_accept, boost, promise_rate,
        days_max, promise_day, u, keys, complained, acc_pos, acc_kind, prom_pos)
    p_day, p_idx = np.empty(n_prom, np.int64), np.empty(n_prom, np.int64)
    for t in range(n_prom):
        i = conv_idx[prom_pos[t]]
        p_day[t], p_idx[t] = promise_day[i], i
    _agenda_add(ag_head, ag_slot, ag_next, ag_free, p_day, p_idx)
    return n_conv, n_comp, n_acc, n_prom


@numba.njit(cache=True, nogil=True)
def _book_calls(idx, chan, minutes, outcome, ends, rates, skills, agent, cost_cents, channel_cost,
                channel_attempts, ep_of, ep_cost, attempts_hist, labour, ep, conv, conv_skill,
                tp, collector_cost, day):  # pragma: no cover - compiled
    """The books of executed calls (distinct slots ``idx``; team t's calls end at
    ``ends[t]``), in one pass: labour (``minutes * rate / 60 * 100`` cents at the team's
    rate, into ``labour``), the channel's cost and attempt count for the day (in attempt
    order, as np.add.at adds), both charged to the slot's open episode (into ``ep``: the
    episodes), one more attempt in the slot's history if an agent called (``agent``;
    empty: every call). Positions of the conversations (with their team's skill) and of
    the third parties reached into ``conv``, ``conv_skill`` and ``tp``; returns how many
    of each. The day's labour cost (``collector_cost[day]``) goes up team by team, each
    team's labour summed as numpy sums it (``pairwise_sum``): float sums, in the order
    they were always made."""
    every = agent.shape[0] == 0
    t, n_conv, n_tp, m, half = 0, 0, 0, idx.shape[0], AHEAD // 2
    for j in range(m):
        if j + AHEAD < m:
            k = idx[j + AHEAD]
            prefetch(ep_of, k)
            prefetch(attempts_hist, k)
        if j + half < m:
            e = ep_of[idx[j + half]]
            if e >= 0:
                prefetch(ep_cost, e)
        while j >= ends[t]:
            t += 1
        i, c = idx[j], chan[j]
        lab = minutes[j] * rates[t] / 60.0 * 100
        labour[j] = lab
        cost = cost_cents[c]
        channel_cost[c] += cost
        channel_attempts[c] += 1.0
        e = ep_of[i]
        ep[j] = e
        if e >= 0:
            ep_cost[e] += lab + cost
        if every or agent[j]:
            attempts_hist[i] += 1
        if outcome[j] == CONVERSATION:
            conv[n_conv], conv_skill[n_conv] = j, skills[t]
            n_conv += 1
        elif outcome[j] == THIRD_PARTY_REACHED:
            tp[n_tp] = j
            n_tp += 1
    s = np.int64(0)
    for t in range(ends.shape[0]):
        collector_cost[day] += pairwise_sum(labour, s, np.int64(ends[t]))
        s = np.int64(ends[t])
    return n_conv, n_tp


@numba.njit(cache=True, nogil=True)
def _deliverable(idx, tone, vacant, person, has, message, call, day, col, optout, calls,
                 daily_cap, weekly_cap, cooloff_days, last_conversation, counts, out_idx, out_p,
                 out_tone):  # pragma: no cover - compiled
    """The requests (distinct slots ``idx``, with their ``tone``) an automated channel
    may deliver, in one pass: the slot held (not ``vacant``), its person with what the
    channel needs (``has``; empty: nothing), then the gate's per-account rule
    (``compliance.account_rule``; each refusal counted into the gate's ``counts`` by
    rule, as ``Gate.check`` counts; neither ``message`` nor ``call``: no rule, the
    reachable requests). The deliverable ones' slots, persons and tones into ``out_*``;
    returns how many. The caller has checked the rules of the whole batch (the window,
    holidays)."""
    n, every, m, half = 0, has.shape[0] == 0, idx.shape[0], AHEAD // 2
    for j in range(m):
        if j + AHEAD < m:
            k = idx[j + AHEAD]
            prefetch(vacant, k)
            prefetch(person, k)
            if call:
                prefetch_2d(calls, k, 0)
            elif message:
                prefetch(optout, k)
        if not every and j + half < m:
            prefetch(has, person[idx[j + half]])
        i = idx[j]
        if vacant[i]:
            continue
        q = person[i]
        if not (every or has[q]):
            continue
        rule = account_rule(i, day, col, message, call, optout, calls, daily_cap, weekly_cap,
                            cooloff_days, last_conversation)
        if rule >= 0:
            counts[rule] += 1
            continue
        out_idx[n], out_p[n], out_tone[n] = i, q, tone[j]
        n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _clear_week_column(t, col, recent_flat, recent_sum):  # pragma: no cover - compiled
    """Take a week-old day (column ``col``) out of slots ``t``'s 7-day contact counts.
    A slot listed twice is cleared once: its column is zero the second time."""
    m = t.shape[0]
    for j in range(m):
        if j + AHEAD < m:
            prefetch(recent_flat, t[j + AHEAD] * 7 + col)
            prefetch(recent_sum, t[j + AHEAD])
        k = t[j] * 7 + col
        recent_sum[t[j]] -= recent_flat[k]
        recent_flat[k] = 0


# no reference counting (it allocates nothing): counting references to its three arrays on
# every contact cost more than the contact (30,000 contacts: 6.7 -> 1.5 ms); see bill_one
@numba.njit(cache=True, nogil=True, _nrt=False)
def _one_contact(i, e, col, recent_flat, recent_sum, ep_contacts, c0, alpha, free, tone, hard,
                 hardship_pressure, third_party, propensity, u):  # pragma: no cover - compiled
    """A delivered contact to slot ``i`` (episode ``e``): the week's contact count and the
    episode's contacts go up; returns whether the customer complains
    (behaviour.complaint_probability for one contact, the same operations in the same
    order, so the same bits)."""
    recent_flat[i * 7 + col] += 1
    week = recent_sum[i] + 1  # contacts in the last seven days, this one included
    recent_sum[i] = week
    if e >= 0:
        ep_contacts[e] += 1
    excess = max(0, week - free)
    p = (c0 * (1.0 + alpha * excess) * tone * (hardship_pressure if hard else 1.0) * third_party
         * propensity)
    return u < min(max(p, 0.0), 1.0)


@numba.njit(cache=True, nogil=True)
def _contacts_kernel(idx, ep, col, recent_flat, recent_sum, ep_contacts, c0, alpha, free, tone,
                     hard, hardship_pressure, third_party, propensity, person, u,
                     complained):  # pragma: no cover - compiled
    """Delivered contacts (distinct slots), in one pass (``_one_contact`` each)."""
    one_c0 = c0.shape[0] == 1
    for j in range(idx.shape[0]):
        complained[j] = _one_contact(idx[j], ep[j], col, recent_flat, recent_sum, ep_contacts,
                                     c0[0] if one_c0 else c0[j], alpha, free, tone[j], hard[j],
                                     hardship_pressure, third_party, propensity[person[j]], u[j])


@numba.njit(cache=True, nogil=True)
def _messages_kernel(idx, p, ep_of, cost, ep_cost, u, keys, ivr, reach, contactability, prof,
                     impulse, stim_row, segment, reminder, last_reminder, day, cause_tab, cause_of,
                     shock_active, col, recent_flat, recent_sum, ep_contacts, c0, alpha, free,
                     tone, hardship_pressure, propensity, optout_rate, optout, outcome, ep,
                     got_pos, complained, out_pos):  # pragma: no cover - compiled
    """Messages and automated calls let through the gate (distinct slots ``idx``, persons
    ``p``), in one pass: the channel's cost charged to the open episode (``ep``: the
    episodes); reached or not (draw 0: an IVR call is answered with
    probability min(0.95, contactability x the hour's profile), a message arrives with
    probability ``reach``), into ``outcome``; for the reached ones (their positions into
    ``got_pos``): the treatment impulse (``impulse`` by segment, into ``stim_row``), the
    reminder's day, the contact and the complaint (``_one_contact``, draw 1, into
    ``complained`` by reached one) and, for a message (``optout_rate`` >= 0), the
    opt-out (draw 2; positions into ``out_pos``). Returns (reached, opted out). The
    operations of Run.deliver's numpy steps, in the same order per slot. Draw ``r`` of
    attempt ``j`` is ``u[r, j]``, or with an empty ``u`` hashed from ``keys[r]`` (the
    bits of ``Streams.uniform``) only where it is compared."""
    tab = cause_tab.shape[0] > 0
    n_got, n_out, m, half = 0, 0, idx.shape[0], AHEAD // 2
    for j in range(m):
        if j + AHEAD < m:
            k, q = idx[j + AHEAD], p[j + AHEAD]
            prefetch(ep_of, k)
            prefetch(stim_row, k)
            prefetch(recent_sum, k)
            prefetch(recent_flat, k * 7 + col)
            prefetch(segment, q)
            prefetch(shock_active, q)
            prefetch(propensity, q)
            if ivr:
                prefetch(contactability, q)
            if not tab:
                prefetch(cause_of, q)
        if j + half < m:
            e = ep_of[idx[j + half]]
            if e >= 0:
                prefetch(ep_cost, e)
                prefetch(ep_contacts, e)
        i, q = idx[j], p[j]
        e = ep_of[i]
        ep[j] = e
        if e >= 0:
            ep_cost[e] += cost
        if ivr:
            got = _draw(u, keys, 0, j, i) < min(0.95, np.float64(contactability[q]) * prof)
        else:
            got = reach >= 1.0 or _draw(u, keys, 0, j, i) < reach
        outcome[j] = DELIVERED if got else NOT_DELIVERED
        if not got:
            continue
        s = segment[q]
        stim_row[i] += np.float32(impulse[s])
        if reminder:
            last_reminder[i] = day
        hard = shock_active[q] > 0 or (cause_tab[s] if tab else cause_of[q]) == HARDSHIP
        complained[n_got] = _one_contact(i, e, col, recent_flat, recent_sum, ep_contacts, c0,
                                         alpha, free, tone[j], hard, hardship_pressure, 1.0,
                                         propensity[q], _draw(u, keys, 1, j, i))
        got_pos[n_got] = j
        n_got += 1
        if optout_rate >= 0 and _draw(u, keys, 2, j, i) < optout_rate:
            optout[i] = True
            out_pos[n_out] = j
            n_out += 1
    return n_got, n_out


@numba.njit(cache=True, nogil=True)
def _deliver_batch(idx, tone, vacant, person, has, message, call, day, col, optout, calls,
                   daily_cap, weekly_cap, cooloff_days, last_conversation, counts, calls_flat,
                   no_total, last_rpc_day, chan, cost, channel_cost, channel_attempts, ep_of,
                   ep_cost, keys, ivr, reach, contactability, prof, impulse, stim_row, segment,
                   reminder, last_reminder, cause_tab, cause_of, shock_active, recent_flat,
                   recent_sum, ep_contacts, c0, alpha, free, hardship_pressure, propensity,
                   optout_rate, log_day, log_hour, log_slot, log_person, log_channel, log_kind,
                   log_outcome, log_at, hour, kind, sent, sent_p, sent_tone, outcome, ep,
                   got_pos, complained, out_pos):  # pragma: no cover - compiled
    """An automated channel's requests at their hour (the gate open for the batch), the
    steps of ``Run.deliver`` in its order in one call: the deliverable ones
    (``_deliverable``, into ``sent*``), the gate's record of a call (``_record_calls``),
    the channel's cost and count for the day, the messages themselves
    (``_messages_kernel``, on the sent ones) and their rows of the contact log (from
    ``log_at``). Returns (sent, reached, opted out)."""
    n = _deliverable(idx, tone, vacant, person, has, message, call, day, col, optout, calls,
                     daily_cap, weekly_cap, cooloff_days, last_conversation, counts, sent,
                     sent_p, sent_tone)
    if n == 0:
        return 0, 0, 0
    s_idx, s_p = sent[:n], sent_p[:n]
    if call:
        no_mask = np.zeros(0, np.bool_)
        _record_calls(s_idx, day, col, calls_flat, no_total, no_mask, no_mask,
                      last_conversation, last_rpc_day)
    channel_cost[chan] += cost * n
    channel_attempts[chan] += n
    n_got, n_out = _messages_kernel(
        s_idx, s_p, ep_of, cost, ep_cost, np.zeros((0, 0)), keys, ivr, reach, contactability,
        prof, impulse, stim_row, segment, reminder, last_reminder, day, cause_tab, cause_of,
        shock_active, col, recent_flat, recent_sum, ep_contacts, c0, alpha, free,
        sent_tone[:n], hardship_pressure, propensity, optout_rate, optout, outcome, ep,
        got_pos, complained, out_pos)
    for j in range(n):
        r = log_at + j
        log_day[r], log_hour[r], log_slot[r], log_person[r] = day, hour, s_idx[j], s_p[j]
        log_channel[r], log_kind[r], log_outcome[r] = chan, kind, outcome[j]
    return n, n_got, n_out


@numba.njit(cache=True, nogil=True)
def _plans_ending(e, status, n_left, due, fees, vacant, legal_day, done,
                  still):  # pragma: no cover - compiled
    """The slots of the ending set ``e`` whose plan is paid off today (active, no
    instalment left, nothing owed, not vacant, not in court), into ``done`` (returns how
    many), and which of ``e`` stay in the set after them (``still``: active, no instalment
    left, not vacant, not paid off: the paid-off ones go idle or leave today)."""
    n = 0
    for j in range(e.shape[0]):
        i = e[j]
        ending = status[i] == ACTIVE and n_left[i] == 0 and not vacant[i]
        off = ending and due[i] == 0 and fees[i] == 0 and legal_day[i] == NONE
        if off:
            done[n] = i
            n += 1
        still[j] = ending and not off
    return n


@numba.njit(cache=True, nogil=True)
def _actions_kernel(idx, rule, dpd, bucket, gone, first, channel, call, ivr, every, start,
                   lut, lut_at, lut_len, no_contact, priority, attempts, key, rule_tone, avoid,
                   day, last_conv, promise_day, desk_of_bucket, due, fees, risk, rpc_hist,
                   attempts_hist, m_key, m_slot, m_tone, c_desk, c_slot, c_chan, c_prio,
                   c_att):  # pragma: no cover - compiled
    """The day's rule actions for the slots ``idx`` (ascending) under their rule ``rule``
    (-1: none; ``gone``: placed at an agency or filed today, no actions), in the order the
    numpy code made them: rule by rule, action by action, slot by slot. Requests (``m_*``:
    key, slot, tone) and call tasks (``c_*``: desk, slot, channel, priority, attempts).
    The ActionTable's arrays describe the actions; ``avoid``: a holiday the strategy
    keeps calls (agent and automated) off. Returns (requests, tasks)."""
    n_rules = first.shape[0] - 1
    at = np.zeros(n_rules + 1, np.int64)  # positions by rule, ascending: a counting sort
    for j in range(idx.shape[0]):
        if rule[j] >= 0 and not gone[j]:
            at[rule[j] + 1] += 1
    for i in range(n_rules):
        at[i + 1] += at[i]
    pos, fill = np.empty(at[n_rules], np.int64), at[:n_rules].copy()
    for j in range(idx.shape[0]):
        if rule[j] >= 0 and not gone[j]:
            pos[fill[rule[j]]] = j
            fill[rule[j]] += 1
    nm = nc = 0
    for i in range(n_rules):
        for a in range(first[i], first[i + 1]):
            if avoid and (call[a] or ivr[a]):
                continue
            how = priority[a]
            for t in range(at[i], at[i + 1]):
                if t + AHEAD < at[i + 1]:  # what this action reads of a slot further on
                    ahead = idx[pos[t + AHEAD]]
                    if no_contact[a] > 0:
                        prefetch(last_conv, ahead)
                    if call[a]:
                        prefetch(promise_day, ahead)
                        if how != 0:
                            prefetch(due, ahead)
                            prefetch(fees, ahead)
                        if how >= 2:
                            prefetch(risk, ahead)
                        if how == 3:
                            prefetch(rpc_hist, ahead)
                            prefetch(attempts_hist, ahead)
                j = pos[t]
                s, r = idx[j], dpd[j]
                if lut_len[a] > 0:
                    if not lut[lut_at[a] + min(r, lut_len[a] - 1)]:
                        continue
                elif (r - start[a]) % every[a] != 0:
                    continue
                if no_contact[a] > 0:
                    lc = last_conv[s]
                    if lc != NONE and day - lc < no_contact[a]:
                        continue
                if not call[a]:
                    m_key[nm], m_slot[nm], m_tone[nm] = key[a], s, rule_tone[i]
                    nm += 1
                    continue
                if promise_day[s] >= day:  # a promise holds: no calls
                    continue
                k = desk_of_bucket[bucket[j]]
                if k < 0:
                    continue
                if how == 0:
                    pr = np.float64(r)
                else:
                    over = np.float64(due[s] + fees[s])
                    if how == 1:
                        pr = over
                    elif how == 2:
                        pr = np.float64(risk[s])
                    else:  # expected recovery per minute: what a bank can estimate
                        p_rpc = (rpc_hist[s] + 1.0) / (attempts_hist[s] + 3.0)
                        minutes = 0.6 + p_rpc * 6.0
                        pr = over * (1.0 - np.float64(risk[s])) * p_rpc / minutes
                c_desk[nc], c_slot[nc], c_chan[nc] = k, s, channel[a]
                c_prio[nc], c_att[nc] = pr, attempts[a]
                nc += 1
    return nm, nc


@numba.njit(cache=True, nogil=True)
def _pre_due(near, d, lut, next_due_day, status, due, vacant, arm_of, arm,
             out):  # pragma: no cover - compiled
    """The slots of ``near`` (ascending) a pre-due reminder is for today, into ``out``:
    held, active, nothing due, next due date ``k`` days ahead with ``lut[k]``, and of
    strategy ``arm`` (``arm_of`` empty: one strategy). Returns how many."""
    n, top, arms = 0, lut.shape[0], arm_of.shape[0] > 0
    for j in range(near.shape[0]):
        i = near[j]
        k = next_due_day[i] - d
        if (0 <= k < top and lut[k] and status[i] == ACTIVE and due[i] == 0 and not vacant[i]
                and not (arms and arm_of[i] != arm)):
            out[n] = i
            n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _triage(w, dpd, charge_off_dpd, legal_day, any_court, vacant, ep, agency_until, any_agency,
            co, new, late, open_):  # pragma: no cover - compiled
    """The owing slots ``w`` (DPD ``dpd``) sorted for the day in one pass: charged off
    today (past ``charge_off_dpd``, held, not in court; positions into ``co``); and of
    the others past due: every one (positions into ``late``), those with no episode yet
    (slots into ``new``), and those the strategy works (``open_`` by position: held, not
    at an agency, not in court). ``any_court`` / ``any_agency`` False: no slot is in
    court / at an agency, and those arrays are not read (the pass is bound by memory
    traffic, and most strategies place nobody). Returns the three counts."""
    n_co = n_new = n_late = 0
    m = w.shape[0]
    for j in range(m):
        if j + AHEAD < m:
            k = w[j + AHEAD]
            prefetch(vacant, k)
            prefetch(ep, k)
            if any_court:
                prefetch(legal_day, k)
            if any_agency:
                prefetch(agency_until, k)
        i = w[j]
        held = not vacant[i]
        court = any_court and legal_day[i] != NONE
        if dpd[j] > charge_off_dpd and held and not court:
            co[n_co] = j
            n_co += 1
            open_[j] = False
            continue
        past = dpd[j] >= 1
        if past:
            late[n_late] = j
            n_late += 1
            if ep[i] < 0 and held:
                new[n_new] = i
                n_new += 1
        open_[j] = past and held and not (any_agency and agency_until[i] != NONE) and not court
    return n_co, n_new, n_late


@numba.njit(cache=True, nogil=True)
def _repayment_candidates(w, due, paid_today, person, ability, logsum, stim_all, rows,
                          agency_until, any_agency, willingness, hazard, top, drift, by_ability,
                          key, idx, p, base, ls, stim, will, agency, u):  # pragma: no cover
    """The owing slots ``w`` that still have instalments due, paid nothing today and may
    repay today, with what the repayment hazard reads of them: person, baseline ability
    and shock log-sum (of the person), the stimulus summed over the four classes in class
    order (float32, as numpy sums the rows), willingness, at an agency, and the day's
    uniform (``key``: the "repay" stream's, draw 0). Only the stimulus ``rows`` ever
    written to are read: the others are zero, and adding a zero to a sum of non-negative
    float32 terms leaves its bits as they are (a strategy that sends nothing reads one
    row of four), and ``agency_until`` only if ``any_agency`` (some slot may be at one).

    A slot pays when its uniform is below p = 1 - exp(-lam), lam = hazard a^k w (1 + s)
    (behaviour.repayment_probability), and p <= lam. With a = base exp(logsum) <= base
    (a shock's log-sum is never positive) and k >= 1 (``by_ability``), a^k <= base, else
    a^k <= 1; so a uniform at or above hazard x (base, or 1) x w x (1 + s), widened by 0.1%
    for the float32 rounding of p, says "does not pay" exactly as p itself would. The others
    are kept (and those at an agency, whose stimulus the engine raises, or with a log-sum
    drifted above zero, always), so for most of the owing set the powers and exponentials
    of p are never computed.

    Two passes, because the pass is bound by memory traffic: the first reads only what is
    indexed by slot (in ascending order) and drops a slot whose uniform is at or above the
    bound with the largest base and willingness of anyone (``top`` = hazard x that base,
    or 1, x that willingness; float products of non-negative factors are monotone, so it
    is never below the slot's own bound), unless it is at an agency or some log-sum has
    drifted (``drift``); the second reads the persons of the few left, whose traits are a
    scatter over memory, and applies the slot's own bound. Same slots, same order, same
    values as one pass over everybody. Returns how many; the outputs are filled up to
    there."""
    c, m = 0, w.shape[0]
    for j in range(m):
        if j + AHEAD < m:
            k = w[j + AHEAD]
            prefetch(due, k)
            prefetch(paid_today, k)
            if any_agency:
                prefetch(agency_until, k)
            for r in rows:
                prefetch_2d(stim_all, r, k)
        i = w[j]
        if due[i] <= 0 or paid_today[i]:
            continue
        x = np.float32(0.0)
        for r in rows:
            x = x + stim_all[r, i]
        at_agency = any_agency and agency_until[i] != NONE
        ui = draw_at(i, key)
        if not (ui < top * (1.0 + np.float64(x)) * 1.001 or at_agency or drift):
            continue
        idx[c], u[c], stim[c], agency[c] = i, ui, x, at_agency
        c += 1
    n, half = 0, AHEAD // 2
    for t in range(c):
        if t + AHEAD < c:
            prefetch(person, idx[t + AHEAD])
        if t + half < c:
            k = person[idx[t + half]]
            prefetch(ability, k)
            prefetch(logsum, k)
            prefetch(willingness, k)
        i, x, ui = idx[t], stim[t], u[t]
        q = person[i]
        a = np.float64(ability[q]) if by_ability else 1.0
        bound = hazard * a * np.float64(willingness[q]) * (1.0 + np.float64(x)) * 1.001
        if not (ui < bound or agency[t] or logsum[q] > 0):
            continue
        # n <= t: the kept are moved down over the dropped, in order
        idx[n], p[n], u[n], stim[n], agency[n] = i, q, ui, x, agency[t]
        base[n], ls[n], will[n] = ability[q], logsum[q], willingness[q]
        n += 1
    return n


@numba.njit(cache=True, nogil=True, inline="always")
def due_pay_chance(ability, oversight, strategic, factor):  # pragma: no cover - compiled
    """behaviour.due_pay_probability of one slot from its float32 traits, with the
    numpy code's float operations in its order and precision: the miss in float64 (the
    reminder's ``factor`` is a float64), one minus the refusal share in float32 (a
    float32 array minus a Python float stays float32), the products in float64."""
    miss = np.float64(oversight) * factor
    return np.float64(ability) * (1.0 - miss) * np.float64(np.float32(1.0) - strategic)


@numba.njit(cache=True, nogil=True, _nrt=False)
def due_date_one(i, q, a, c, segment, ov_tab, ov_all, st_tab, st_all, last_reminder,
                 reminded_from, cut_factor, key, late_rate, late_fixed, due, fees, fee_flow, paid,
                 inst, fee_amt, last_due_month, oldest_month, oldest_day, dom, month_first, off,
                 miss_recent):  # pragma: no cover - compiled
    """A current slot ``i`` (person ``q``, ability ``a``) on the due date of a bill of ``c``
    cents: it pays with ``due_pay_chance`` (traits from the segment's table where there is
    one, ``reminded_from``: a reminder from that day on cuts the oversight miss, to
    ``cut_factor``) against the day's "due" draw (``key``), or misses it (late fee, oldest
    unpaid date, one more recent miss). Returns (late fee, paid). Compiled without
    reference counting: it is called per bill with arrays among its arguments, and
    allocates nothing."""
    ov = ov_tab[segment[q]] if ov_tab.shape[0] else ov_all[q]
    sg = st_tab[segment[q]] if st_tab.shape[0] else st_all[q]
    prob = due_pay_chance(a, ov, sg, cut_factor if last_reminder[i] >= reminded_from else 1.0)
    if draw_at(i, key) < prob:
        return 0, lg.pay_one(i, c, due, fees, paid, inst, fee_amt, last_due_month, oldest_month,
                             oldest_day, dom, month_first, off)
    late = lg.miss_one(i, c, late_rate, late_fixed, fees, fee_flow, oldest_month, oldest_day,
                       last_due_month, dom, month_first, off)
    miss_recent[i] = miss_recent[i] + np.float32(1.0)
    return late, 0


@numba.njit(cache=True, nogil=True)
def _bill_due(soon, d, status, vacant, n_left, unbilled, inst, fee_amt, due, fees, fee_flow,
              paid, next_due_month, last_due_month, next_due_day, oldest_month, oldest_day,
              dom, month_first, off, person, ability, logsum, segment, ov_tab, ov_all, st_tab,
              st_all, last_reminder, reminded_from, cut_factor, key, late_rate, late_fixed,
              miss_recent, billed, ending, deferred, deferred_amount):  # pragma: no cover
    """The day's bills in one pass over ``soon`` (ascending): each active, held slot due
    today is billed (``ledger.bill``; into ``billed``, and into ``ending`` when that was
    its last instalment). A slot that owed nothing before pays the bill on the due date
    with behaviour.due_pay_probability (the same float operations in the same order, the
    "due" uniform of the day, ``key``) or misses it (``ledger.mark_missed``, one more
    recent miss); a slot already behind misses it. A current slot whose person has a
    shock (log-sum not zero) is left to the caller (``deferred``, with its bill): its
    ability needs numpy's float32 exp, whose bits a compiled exp need not match. Returns
    (billed, ending, deferred, instalments billed, fees and late fees, paid)."""
    nb = ne = nd = 0
    billed_total = fees_total = paid_total = 0
    m, half = soon.shape[0], AHEAD // 2
    for j in range(m):
        # the slots are runs of neighbours (the book is in due-day order), their persons
        # are not: ask for the persons' traits ahead
        if j + half < m:
            q = person[soon[j + half]]
            prefetch(ability, q)
            prefetch(logsum, q)
            prefetch(segment, q)
            if not ov_tab.shape[0]:
                prefetch(ov_all, q)
            if not st_tab.shape[0]:
                prefetch(st_all, q)
        i = soon[j]
        if next_due_day[i] != d or status[i] != ACTIVE or vacant[i]:
            continue
        current = due[i] == 0
        a, f, nl = lg.bill_one(i, n_left, unbilled, inst, fee_amt, due, fee_flow,
                               next_due_month, last_due_month, next_due_day, dom, month_first,
                               off)
        c = a + f
        billed[nb] = i
        nb += 1
        billed_total += a
        fees_total += f
        if nl == 0:
            ending[ne] = i
            ne += 1
        if current:
            q = person[i]
            if logsum[q] != 0:
                deferred[nd], deferred_amount[nd] = i, c
                nd += 1
                continue
            late, pays = due_date_one(i, q, ability[q], c, segment, ov_tab, ov_all, st_tab,
                                      st_all, last_reminder, reminded_from, cut_factor, key,
                                      late_rate, late_fixed, due, fees, fee_flow, paid, inst,
                                      fee_amt, last_due_month, oldest_month, oldest_day, dom,
                                      month_first, off, miss_recent)
            fees_total += late
            paid_total += pays
            continue
        fees_total += lg.miss_one(i, c, late_rate, late_fixed, fees, fee_flow, oldest_month,
                                  oldest_day, last_due_month, dom, month_first, off)
        miss_recent[i] = miss_recent[i] + np.float32(1.0)
    return nb, ne, nd, billed_total, fees_total, paid_total


@numba.njit(cache=True, nogil=True)
def _bill_deferred(ci, amount, a, q_of, segment, ov_tab, ov_all, st_tab, st_all, last_reminder,
                   reminded_from, cut_factor, key, late_rate, late_fixed, due, fees, fee_flow,
                   paid, inst, fee_amt, last_due_month, oldest_month, oldest_day, dom,
                   month_first, off, miss_recent):  # pragma: no cover - compiled
    """The due-date decision of the bills ``_bill_due`` left to the caller (current slots
    ``ci``, billed ``amount``, persons ``q_of``), given their abilities ``a`` (float32,
    numpy's exp of the shock log-sum): the same chance, draw, payment or late fee and
    recent miss as ``_bill_due`` applies to the others. Returns (late fees, paid)."""
    fees_total = paid_total = 0
    for j in range(ci.shape[0]):
        late, pays = due_date_one(ci[j], q_of[j], a[j], amount[j], segment, ov_tab, ov_all,
                                  st_tab, st_all, last_reminder, reminded_from, cut_factor, key,
                                  late_rate, late_fixed, due, fees, fee_flow, paid, inst,
                                  fee_amt, last_due_month, oldest_month, oldest_day, dom,
                                  month_first, off, miss_recent)
        fees_total += late
        paid_total += pays
    return fees_total, paid_total


@numba.njit(cache=True, nogil=True)
def _pay_slots(idx, amount, d, agency_until, legal_day, ep_of, collected, paid_today, due, fees,
               paid, inst, fee_amt, last_due_month, oldest_month, oldest_day, dom, month_first,
               off, out):  # pragma: no cover - compiled
    """Run._pay's bookkeeping for the distinct slots ``idx``, in one pass: whether each
    was delinquent before it paid (past due, at an agency or in court), the payment
    (``ledger.pay``; amounts applied into ``out``), its episode's collections, paid
    today. Returns (paid in all, paid by delinquent slots, any slot at an agency)."""
    total, delinquent, any_agency = 0, 0, False
    for j in range(idx.shape[0]):
        i = idx[j]
        od = oldest_day[i]
        agency = agency_until[i] != NONE
        late = (od != NONE and d - od > 0) or agency or legal_day[i] != NONE
        a = lg.pay_one(i, amount[j], due, fees, paid, inst, fee_amt, last_due_month,
                       oldest_month, oldest_day, dom, month_first, off)
        out[j] = a
        total += a
        if late:
            delinquent += a
        e = ep_of[i]
        if e >= 0:
            collected[e] += a
        any_agency = any_agency or agency
        paid_today[i] = True
    return total, delinquent, any_agency


@numba.njit(cache=True, nogil=True)
def _cure_slots(idx, d, how, key, base, per_contact, agency_until, legal_day, promise_day,
                ep_of, person, attrition_prop, complained, leaving, cure_day, cure_type,
                end_day, contacts, ep_leaving):  # pragma: no cover - compiled
    """Run._cured for the distinct slots ``idx`` in one pass: off the agency, court and
    promise agendas; an open episode ends cured (``how``) today, and the customer decides
    whether to leave once the plan ends (behaviour.attrition_probability, the same
    float64 operations in the same order; the "attrition" uniform of the day, ``key``).
    Returns the episodes cured."""
    n = 0
    for j in range(idx.shape[0]):
        i = idx[j]
        agency_until[i] = NONE
        legal_day[i] = NONE
        promise_day[i] = NONE
        e = ep_of[i]
        if e < 0:
            continue
        cure_day[e] = d
        cure_type[e] = how
        end_day[e] = d
        p = (base + per_contact * contacts[e]) * np.float64(attrition_prop[person[i]])
        p = p * (2.0 if complained[i] else 1.0)
        p = min(max(p, 0.0), 1.0)
        leave = draw_at(i, key) < p
        if leave:
            leaving[i] = True
        ep_leaving[e] = leave
        ep_of[i] = -1
        complained[i] = False
        n += 1
    return n


DECAY_SPLIT_FROM = 262_144  # accounts from which the daily decay runs as two halves


def _decay(stim: np.ndarray, decay: np.ndarray, lo: int, hi: int) -> None:
    """The day's decay of slots [lo, hi)'s stimulus (numpy releases the GIL)."""
    part = stim[:, lo:hi]
    part *= decay[:, None]


class Run:
    """All the state of one run, and the handlers the processes call."""

    def __init__(self, scenario: Scenario, strategy: Strategy, seed: int | np.random.SeedSequence,
                 record_contacts: bool = False, check_invariants: bool = False,
                 arms: np.ndarray | None = None, strategies: list[Strategy] | None = None):
        for st in strategies or [strategy]:
            check_pair(scenario, st, source=f"strategy {st.name}")
        self.sc, self.strategy = scenario, strategy
        self.days = scenario.horizon.days
        self.streams = Streams(seed)
        self.people: People = generate(scenario, self.streams)
        self.cal = lg.Calendar(scenario.horizon.start_date, self.days, scenario.compliance.holidays)
        self.cat = Catalogue.from_config(scenario.channels)
        n = scenario.population.accounts
        self.n = n
        self.book = lg.Book(n)
        self.next_joiner = n
        # the joiners' first plans and risk scores, for the whole reserve at once: each is
        # a function of the person alone, so these are the draws a day's joiners would make
        # (a day's handful of joiners costs numpy's per-call overhead, not arithmetic)
        reserve = np.arange(n, self.people.size)
        self._joiner_plan = draw_plan(scenario.product, self.streams, reserve,
                                      np.zeros(len(reserve), np.int64), stream="joiners")
        self._joiner_risk = expit(self.people.score_logit[n:])
        self.record_contacts = record_contacts
        self.check_invariants = check_invariants
        law = PROFILES[scenario.compliance.profile]
        self.law = law
        self.gate = Gate(n, law, scenario.compliance.daily_call_cap,
                         scenario.compliance.third_party_per_week,
                         self.cal.holidays if scenario.compliance.block_calls_on_holidays else set())
        self.auditor = AuditThread(Auditor(
            self.people.size, law, scenario.compliance.daily_call_cap,
            scenario.compliance.third_party_per_week, self.cal.holidays,
            scenario.compliance.block_calls_on_holidays))
        self.macro = macro_curve(scenario.economy, self.days + 1)
        b = scenario.behaviour
        self.decay = np.array([np.exp(-1.0 / b.decay_days[k]) for k in
                               ("reminder", "conversation", "escalation", "payment")],
                              dtype=np.float32)
        segs = list(scenario.population.segments.values())
        self.resp = np.array([[s.response[c] for c in RESPONSE_CLASSES] for s in segs])
        self.seg_accept = np.array([s.plan_acceptance for s in segs])
        self.seg_keep = np.array([s.promise_keep for s in segs])
        self.profile = np.array(scenario.collectors.answer_profile)
        # champion/challenger: strategies[arm[slot]]; a single strategy is one arm
        self.strategies = strategies or [strategy]
        self.arm = arms if arms is not None else np.zeros(n, np.int8)
        self.tones = [tone_factor(s) for s in self.strategies]
        # plan offered in a conversation, by arm and rule (last column: no rule): the first
        # of the rule's offers that applies: settlement (0), reterm (1), deferral (2), or -1
        width = max(len(s.rules) for s in self.strategies) + 1
        self._offer_early = np.full((len(self.strategies), width), -1, np.int8)
        self._offer_late = np.full((len(self.strategies), width), -1, np.int8)
        # the tone (complaint multiplier) by arm and rule, the same way: tones[arm][rule]
        self._tone_tab = np.zeros((len(self.strategies), width))
        for a, tones in enumerate(self.tones):
            self._tone_tab[a, :len(tones) - 1] = tones[:-1]
            self._tone_tab[a, -1] = tones[-1]
        for a, st in enumerate(self.strategies):
            for i, rule in enumerate(st.rules):
                codes = {"settlement": 0, "reterm": 1, "deferral": 2}
                late = [codes[o] for o in rule.offers]  # in the order the rule lists them
                early = [k for k in late if k != 0]
                self._offer_early[a, i] = early[0] if early else -1
                self._offer_late[a, i] = late[0] if late else -1

        # per-slot state beyond the ledger
        P = self.people.size
        self.shock_active = np.zeros(P, np.int16)
        self.shock_logsum = np.zeros(P, np.float32)
        self._shock_end_order = np.argsort(self.people.shock_end, kind="stable")
        self._shock_end_sorted = self.people.shock_end[self._shock_end_order]
        # the persons whose shock log-sum has drifted above zero (float sums of a shock's
        # loss in and out), and the largest traits anyone has: _repayment_candidates'
        # bound for the whole book
        self._drifted = np.zeros(0, np.int64)
        self._ability_max = float(self.people.ability.max(initial=0.0))
        self._willing_max = float(self.people.willingness.max(initial=0.0))
        self.stim = np.zeros((4, n), np.float32)
        # the rows of stim written to so far: only they decay (no_action touches one)
        self._stirred = np.zeros(4, bool)
        self.cause = np.zeros(n, np.int8)
        self.broken = np.zeros(n, np.int16)
        self.promise_day = np.full(n, NONE, np.int32)
        self.last_reminder = np.full(n, NONE, np.int32)
        self.miss_recent = np.zeros(n, np.float32)
        self.risk = np.zeros(n, np.float32)
        self.recent = np.zeros((n, 7), np.int16)  # delivered contacts by day % 7
        self._recent_flat = self.recent.reshape(-1)  # the same, indexed slot * 7 + day % 7
        self._recent_sum = np.zeros(n, np.int16)  # the row sums of recent, kept as they change
        self.attempts_hist = np.zeros(n, np.int32)
        self.rpc_hist = np.zeros(n, np.int32)
        self.ep = np.full(n, -1, np.int64)
        self.eps = Episodes()
        self.agency_until = np.full(n, NONE, np.int32)
        self.agency_done = np.zeros(n, bool)
        self.legal_day = np.full(n, NONE, np.int32)
        self.legal_claim = np.zeros(n, np.int64)
        self.leaving = np.zeros(n, bool)
        self.complained = np.zeros(n, bool)
        self.last_plan = np.full(n, NONE, np.int32)
        self.rule_today = np.full(n, -1, np.int16)
        self._ruled: list[np.ndarray] = []  # the slots rule_today is set for
        self._call_keys = (-1, np.zeros(3, np.uint64))  # (day, the call draws' stream keys)
        self._conv_keys = (-1, np.zeros(4, np.uint64))  # (day, the conversations' draw keys)
        self._team_rates: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
        self.vacant = np.zeros(n, bool)
        self.exit_code = np.zeros(P, np.int8)
        self.exit_day = np.full(P, NONE, np.int32)
        self.delinquent_in_window = np.zeros(P, bool)
        self.retry_gap = scenario.collectors.retry_gap_hours
        c = scenario.collectors
        self.min_handle = min(c.no_answer_minutes, c.wrong_party_minutes)
        # handle minutes by outcome; a conversation adds its sampled talk time
        self._fixed_minutes = np.array([c.no_answer_minutes,
                                        c.wrong_party_minutes + c.after_call_minutes,
                                        c.after_call_minutes, 2.0 + c.after_call_minutes])
        self._log: list[dict[str, np.ndarray]] = []
        self._today = ContactLog()
        self._recent_touched: list[list[np.ndarray]] = [[] for _ in range(7)]
        self._log_rpc_median = float(np.log(c.rpc_median_minutes))
        # stimulus per delivered contact by channel and segment: uplift x segment response
        self._imp_tab = np.array([self.cat.uplift[ch] * self.resp[:, int(self.cat.response[ch])]
                                  for ch in range(len(self.cat.names))], np.float64)
        self._paid_today = np.zeros(n, bool)
        # the stimulus decay streams the whole book: at a million accounts two halves at
        # once take 1.7 ms a day instead of 2.3 (memory-bound: the second core adds
        # bandwidth, not arithmetic)
        self._decay_halves = Halves(DECAY_SPLIT_FROM)
        self._no_need = np.zeros(0, bool)  # a channel that needs nothing of the customer
        # "no such table / one arm" for the compiled kernels
        self._no_tab8, self._no_tab32 = np.zeros(0, np.int8), np.zeros(0, np.float32)
        self._no_arm = np.zeros(0, np.int8)
        self._planned_today = np.zeros(n, bool)
        self._prev_dpd = np.zeros(n, np.int32)
        self._prev_person = self.book.person.copy()
        # The day's work is the accounts that are due, owing, promised or touched: these
        # supersets and agendas find them without scanning the whole book (see SlotSet).
        self._owing = SlotSet()  # due, fees or an oldest unpaid date: may be delinquent
        self._ending = SlotSet()  # active with no instalment left: may be paid off today
        # slots vacated today (refilled tomorrow morning) and idle slots that are not vacant,
        # kept as they change: counting them over the whole book was a pass a day
        self._vacated: list[np.ndarray] = []
        self._vacated_merged = np.zeros(0, np.int64)  # the list's last merge (_vacated_slots)
        self._n_idle = 0
        self._placed = SlotSet()  # at an agency
        self._filed = SlotSet()  # in legal proceedings
        self._replanned = SlotSet()  # on a re-term or deferral
        self._promise_on = Agenda(self.days)
        self._legal_on = Agenda(self.days)
        self._recall_on = Agenda(self.days)
        self._reborrow_on = Agenda(self.days)
        # pre-due reminders look this many days ahead; billing is day 0 of the same scan
        self._pre_due_days = sorted({k for s in self.strategies if s.pre_due.channels
                                     for k in s.pre_due.days_before if k > 0})
        self._pre_due_ahead = max(self._pre_due_days, default=0)
        self._pre_due_offsets = np.zeros(self._pre_due_ahead + 1, bool)  # due in k days?
        self._pre_due_offsets[[0, *self._pre_due_days]] = True
        self._pre_due_lut = []  # per arm: is a reminder due k days before the due date?
        for s in self.strategies:
            lut = np.zeros(max(s.pre_due.days_before, default=0) + 1, bool)
            lut[s.pre_due.days_before] = True
            self._pre_due_lut.append(lut)
        self._rules = [rule_table(s) for s in self.strategies]
        self._actions = [compile_actions(s, self.cat.code, self.cat.kind, (AGENT, THIRD), IVR)
                         for s in self.strategies]
        self._seg_traits = {}
        for name in ("cause", "willingness", "oversight", "strategic"):
            a, seg = getattr(self.people, name), self.people.segment
            table = np.zeros(len(self.people.segment_names), a.dtype)
            table[seg] = a
            if np.array_equal(table[seg], a):  # the same for everyone in a segment
                self._seg_traits[name] = table

        # teams: bucket (1..6) -> desk
        self.desks: list[Desk] = []
        self.desk_of_bucket = np.full(7, -1, np.int16)
        for i, (name, team) in enumerate(scenario.collectors.teams.items()):
            buckets = [DELINQUENT_BUCKETS.index(b) + 1 for b in team.buckets]
            self.desks.append(Desk(name, i, team, buckets, n))
            self.desk_of_bucket[buckets] = i

        self._init_daily()
        self._open_book()

    # ------------------------------------------------------------------ set-up

    def _init_daily(self) -> None:
        D, C = self.days, len(self.cat.names)
        z = lambda: np.zeros(D, np.float64)  # noqa: E731
        self.daily = {k: z() for k in (
            "payments", "collected_delinquent", "lent", "fees", "interest", "charged_off",
            "charged_off_accounts", "waived", "collector_cost", "agency_fees", "legal_cost",
            "complaint_cost", "contacts", "complaints", "call_attempts", "rpc", "promises",
            "promises_due", "promises_kept", "plans_agreed", "agency_placements",
            "legal_actions", "entries", "cures", "capacity_minutes", "used_minutes",
            "backlog", "expired", "balance", "dpd_regressions", "exits", "joiners")}
        self.channel_cost = np.zeros((D, C))
        self.channel_attempts = np.zeros((D, C))
        self.blocked = np.zeros((D, len(RULES)))
        self.bucket_count = np.zeros((D, 7))
        self.bucket_balance = np.zeros((D, 7))
        self.state_count = np.zeros((D, 5))  # idle, closed today, agency, legal, restructured
        self.snapshots: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def _open_book(self) -> None:
        idx = np.arange(self.n)
        self.book.dom[:] = self.people.due_dom[: self.n]
        principal, term = draw_plan(self.sc.product, self.streams, idx, np.zeros(self.n, np.int64),
                                    stream="joiners")
        u = self.streams.uniform("joiners", 0, idx, 99)
        age = np.floor(u * term).astype(np.int64)
        lg.open_plan(self.book, self.cal, idx, 0, principal, term, self.sc.product.monthly_fee_rate,
                     age=age)
        self.book.opening[:] = self.book.lent
        self.book.lent[:] = 0
        # the book is in due-day order (population.generate) and stays so (a joiner takes
        # the slot's due day): billing scans only the runs of the days it looks at
        self._dom_run = dom_runs(self.book.dom)
        self._runs_by_day = (None if self._dom_run is None else due_day_runs_table(
            self.cal, self._dom_run, self.days, self._pre_due_offsets))
        self._n_idle = lg.count_idle_vacant(self.book.status, self.vacant)[0]
        self._refresh_risk()

    # ------------------------------------------------------------------ helpers

    def ability(self, idx: np.ndarray) -> np.ndarray:
        return self._ability_of(self.book.person[idx])

    def _trait(self, name: str, p: np.ndarray, seg: np.ndarray | None) -> np.ndarray:
        """A trait of persons ``p`` (segments ``seg``): from the segment's value where the
        trait is one (checked at the start), which saves a gather from a large array."""
        table = self._seg_traits.get(name)
        if table is not None and seg is not None:
            return table[seg]
        return getattr(self.people, name)[p]

    def _ability_of(self, p: np.ndarray) -> np.ndarray:
        """Ability of persons ``p`` today: the baseline cut by their active shocks."""
        return self.people.ability[p] * np.exp(self.shock_logsum[p])

    def hardship(self, idx: np.ndarray) -> np.ndarray:
        p = self.book.person[idx]
        return (self.shock_active[p] > 0) | (self.people.cause[p] == CAUSE_CODES["hardship"])

    def _refresh_risk(self) -> None:
        p = self.book.person
        self.risk[:] = expit(self.people.score_logit[p] + 0.8 * self.miss_recent)

    def _impulse(self, idx: np.ndarray, chan: int, scale: float) -> None:
        """The treatment impulse of a contact on ``chan`` to slots ``idx`` (distinct)."""
        cls = int(self.cat.response[chan])
        seg = self.people.segment[self.book.person[idx]]
        self._stirred[cls] = True
        row = self.stim[cls]  # a row view: 1-d fancy indexing is cheaper than 2-d
        row[idx] += (self._imp_tab[chan][seg] * scale).astype(np.float32)

    # ------------------------------------------------------------------ processes

    def portfolio(self, env: simpy.Environment):
        for day in range(self.days):
            if day > env.now:
                yield env.timeout(day - env.now)
            self.start_of_day(day)
            env.process(self.recorder(env, day))

    def recorder(self, env: simpy.Environment, day: int):
        yield env.timeout(day + 0.999 - env.now)
        self.end_of_day(day)

    def dispatch(self, env: simpy.Environment, day: int, hour: float, chan: int,
                 idx: np.ndarray, tone: np.ndarray, reminder: bool):
        t = day + hour / 24.0
        if t > env.now:
            yield env.timeout(t - env.now)
        self.deliver(day, hour, chan, idx, tone, reminder)

    # ------------------------------------------------------------------ the day

    def start_of_day(self, d: int) -> None:
        bk, sc = self.book, self.sc
        self.gate.new_day(d)
        # today's column of the contact week held the contacts of a week ago: clear just those
        col = d % 7
        if self._recent_touched[col]:
            _clear_week_column(np.concatenate(self._recent_touched[col]), col,
                               self._recent_flat, self._recent_sum)
            self._recent_touched[col] = []
        self._paid_today[:] = False
        self._planned_today[:] = False
        self._refill(d)
        self._shocks(d)
        if d > 0 and self.cal.month_of[d] != self.cal.month_of[d - 1]:
            self.miss_recent *= 0.7
            self._refresh_risk()
        if self._stirred.all():
            self._decay_halves(_decay, self.n, self.stim, self.decay)
        else:  # a row never written to is zero: it stays zero
            for r in np.flatnonzero(self._stirred):
                row = self.stim[r]
                row *= self.decay[r]
        self._promises(d)
        self._repayments(d)
        self._agency_and_legal(d)
        billed, soon = self._billing(d)
        # billing is the only way into the owing set: merge today's bills, drop the paid up
        self._owing.add(billed)
        w, dpd_w, interest = lg.age_owing(bk, self._owing.members(), d,
                                          sc.product.penalty_interest_daily)
        self._owing.replace(w)  # DPD is zero outside the owing set
        if interest:
            self.daily["interest"][d] += interest
        k = len(w)
        co, new, late = np.empty(k, np.int64), np.empty(k, np.int64), np.empty(k, np.int64)
        open_ = np.empty(k, bool)
        n_co, n_new, n_late = _triage(w, dpd_w, sc.product.charge_off_dpd, self.legal_day,
                                      self._filed.any(), self.vacant, self.ep,
                                      self.agency_until, self._placed.any(), co, new, late,
                                      open_)
        if n_co:
            co_pos = co[:n_co]
            co = w[co_pos]
            amt = lg.charge_off(bk, co)
            self.daily["charged_off"][d] += amt.sum()
            self.daily["charged_off_accounts"][d] += len(co)
            self._leave(d, co, EXIT_CHARGED_OFF, amt)
            dpd_w[co_pos] = 0
        self._episodes(d, new[:n_new], w[late[:n_late]])
        self._strategy(d, w, dpd_w, soon, billed, open_)

    def _refill(self, d: int) -> None:
        """Vacated slots take the next joiner; idle cardholders take their next plan."""
        bk = self.book
        # every slot vacated yesterday (and only those: all are refilled each morning)
        v = self._vacated_slots()
        self._vacated = []
        if len(v):
            if self.next_joiner + len(v) > self.people.size:
                raise self._reserve_error(d, len(v))
            persons = np.arange(self.next_joiner, self.next_joiner + len(v))
            self.next_joiner += len(v)
            bk.person[v] = persons
            # A joiner takes the slot's due day of month. Due days are uniform and
            # independent of everything else, so no distribution changes, and the book
            # stays ordered by due day: a day's bills and pre-due reminders are runs of
            # neighbouring slots, not a scatter over the whole book (population.generate).
            self.people.due_dom[persons] = bk.dom[v]
            bk.plan_no[v] = 0
            self.stim[:, v] = 0
            self.cause[v] = 0
            self.broken[v] = 0
            self.promise_day[v] = NONE
            self.last_reminder[v] = NONE
            self.miss_recent[v] = 0
            self.recent[v] = 0
            self._recent_sum[v] = 0
            self.attempts_hist[v] = 0
            self.rpc_hist[v] = 0
            self.agency_until[v] = NONE
            self.agency_done[v] = False
            self.legal_day[v] = NONE
            self.leaving[v] = False
            self.complained[v] = False
            self.last_plan[v] = NONE
            self.gate.reset_accounts(v)
            j = persons - self.n
            self.risk[v] = self._joiner_risk[j]
            principal, term = self._joiner_plan[0][j], self._joiner_plan[1][j]
            self.daily["lent"][d] += lg.open_plan(bk, self.cal, v, d, principal, term,
                                                  self.sc.product.monthly_fee_rate).sum()
            self.daily["joiners"][d] += len(v)
            self.vacant[v] = False
        r = self._reborrow_on.pop(d)
        r = r[(bk.status[r] == lg.IDLE) & (bk.reborrow_day[r] == d)]
        if len(r):
            self._n_idle -= len(r)  # idle, not vacant (a vacated slot has no reborrow day)
            principal, term = draw_plan(self.sc.product, self.streams, bk.person[r],
                                        bk.plan_no[r].astype(np.int64), stream="reborrow")
            self.daily["lent"][d] += lg.open_plan(bk, self.cal, r, d, principal, term,
                                                  self.sc.product.monthly_fee_rate).sum()

    def _reserve_error(self, d: int, wanted: int) -> Exception:
        """The joiners drawn up front are all taken (a harsh scenario over a long horizon
        empties slots faster than population.reserve_share allowed for): a user error with
        the value that would have been enough, not a crash and not a book that shrinks."""
        from .errors import ConfigError

        pop = self.sc.population
        left = self.next_joiner - self.n + wanted  # cardholders who left, this day included
        per_year = left / self.n / ((d + 1) / 365.0)
        suggest = max(pop.reserve_share * 1.5, per_year * 1.25)
        fix = (f"raise it to at least {np.ceil(suggest * 10) / 10:g}" if suggest <= 5.0
               else "even the maximum of 5 is not enough: shorten the horizon or soften the "
                    "scenario")
        return ConfigError(f"scenario {self.sc.name}", [(
            "population.reserve_share",
            f"the reserve of joiners ran out on day {d} of {self.days}: {left:,} cardholders "
            f"left the book ({per_year:.2g} per account a year) but population.reserve_share "
            f"= {pop.reserve_share:g} drew {self.people.size - self.n:,} up front; {fix}")])

    def _shocks(self, d: int) -> None:
        pp = self.people
        lo, hi = np.searchsorted(pp.shock_start, [d, d + 1])
        if hi > lo:
            who = pp.shock_person[lo:hi]
            # typed ones: np.add.at with a Python scalar takes a slow path
            np.add.at(self.shock_active, who, np.ones(len(who), self.shock_active.dtype))
            np.add.at(self.shock_logsum, who, pp.shock_loss[lo:hi])
        lo, hi = np.searchsorted(self._shock_end_sorted, [d, d + 1])
        if hi > lo:
            k = self._shock_end_order[lo:hi]
            who = pp.shock_person[k]
            np.add.at(self.shock_active, who, np.full(len(who), -1, self.shock_active.dtype))
            np.add.at(self.shock_logsum, who, -pp.shock_loss[k])
            done = who[self.shock_active[who] <= 0]
            self.shock_logsum[done] = 0.0  # no drift from float sums
            self.shock_active[done] = 0
            # only taking a loss out can leave a sum above zero; adding one (<= 0) to a sum
            # above zero may leave it there too, and then the person is on the list already
            up = who[self.shock_logsum[who] > 0]
            if len(up) or len(self._drifted):  # seldom: float sums mostly come back to <= 0
                was = np.concatenate([self._drifted, up])
                self._drifted = np.unique(was[self.shock_logsum[was] > 0])

    def _pay(self, d: int, idx: np.ndarray, amount: np.ndarray) -> np.ndarray:
        """Apply payments, booking collections, agency fees and episode recoveries."""
        bk, n = self.book, len(idx)
        idx, paid = np.asarray(idx, np.int64), np.empty(n, np.int64)
        total, delinquent, agency = _pay_slots(
            idx, lg.per_slot(amount, n), d, self.agency_until, self.legal_day, self.ep,
            self.eps.collected, self._paid_today, bk.due, bk.fees, bk.paid, bk.inst,
            bk.fee_amt, bk.last_due_month, bk.oldest_month, bk.oldest_day, bk.dom,
            self.cal.month_first, self.cal._off, paid)
        self.daily["payments"][d] += total
        self.daily["collected_delinquent"][d] += delinquent
        if agency:
            at_agency = self.agency_until[idx] != NONE
            fee = np.floor(paid[at_agency] * self.sc.agency.fee_rate)
            self.daily["agency_fees"][d] += fee.sum()
            self._charge(idx[at_agency], fee)
        return paid

    def _charge(self, idx: np.ndarray, cents: np.ndarray | float,
                ep: np.ndarray | None = None) -> None:
        """Attribute collection cost to the open episode of each slot (if any); ``ep``:
        the slots' episodes, when the caller has them already."""
        ep = self.ep[idx] if ep is None else ep
        has = ep >= 0
        if has.all():
            # the slots of one charge are distinct, so are their episodes: a plain indexed
            # add equals np.add.at here, and is several times cheaper
            self.eps.cost[ep] += cents
        elif has.any():
            self.eps.cost[ep[has]] += cents if np.ndim(cents) == 0 else cents[has]

    def _promises(self, d: int) -> None:
        idx = self._promise_on.pop(d)
        idx = idx[self.promise_day[idx] == d]
        if not len(idx):
            return
        self.promise_day[idx] = NONE
        owed = self.book.overdue(idx) > 0
        idx = idx[owed]
        if not len(idx):
            return
        p = self.book.person[idx]
        keep = bh.promise_keep_probability(self.seg_keep[self.people.segment[p]],
                                           self.ability(idx) ** self.sc.behaviour.ability_exponent,
                                           self.people.misread[p])
        kept = self.streams.uniform("promise", d, idx, 1) < keep
        self.daily["promises_due"][d] += len(idx)
        self.daily["promises_kept"][d] += kept.sum()
        k = idx[kept]
        if len(k):
            self._pay(d, k, self.book.overdue(k))
            self.people.misread[self.book.person[k]] = False
        self.broken[idx[~kept]] += 1
        self._cured(d, k, CURE_CONTACT)

    def _repayments(self, d: int) -> None:
        bk = self.book
        # nothing has been billed since the owing set was last pruned: it holds every due
        w = self._owing.members()
        pp, k = self.people, len(w)
        idx, p = np.empty(k, np.int64), np.empty(k, np.int64)
        base, logsum, stim = (np.empty(k, np.float32) for _ in range(3))
        will, agency, u = np.empty(k, np.float32), np.empty(k, np.bool_), np.empty(k)
        b = self.sc.behaviour
        by_ability = b.ability_exponent >= 1.0
        top = b.base_hazard * (self._ability_max if by_ability else 1.0) * self._willing_max
        k = _repayment_candidates(w, bk.due, self._paid_today, bk.person, pp.ability,
                                  self.shock_logsum, self.stim, np.flatnonzero(self._stirred),
                                  self.agency_until, self._placed.any(), pp.willingness,
                                  b.base_hazard, top, len(self._drifted) > 0, by_ability,
                                  self.streams.key("repay", d), idx, p, base, logsum, stim,
                                  will, agency, u)
        if not k:
            return
        idx, p, stim, agency = idx[:k], p[:k], stim[:k], agency[:k]
        a = base[:k] * np.exp(logsum[:k])  # = _ability_of(p)
        if agency.any():
            seg = pp.segment[p[agency]]
            stim[agency] += self.sc.agency.uplift * self.resp[seg, ESCALATION]
        prob = bh.repayment_probability(b.base_hazard, a, will[:k], stim, b.ability_exponent)
        pays = u[:k] < prob
        j = idx[pays]
        if not len(j):
            return
        behind = np.ceil(bk.due[j] / np.maximum(bk.inst[j] + bk.fee_amt[j], 1))
        share = bh.cure_share(a[pays], behind, self.streams.uniform("repay", d, j, 1),
                              self.streams.uniform("repay", d, j, 2), b.partial_share_min,
                              b.partial_share_max, b.catch_up_exponent)
        amount = np.ceil(bk.overdue(j) * share).astype(np.int64)
        self._pay(d, j, amount)
        self._stirred[PAYMENT] = True
        row = self.stim[PAYMENT]
        row[j] += b.payment_uplift
        cured = j[bk.due[j] == 0]
        contacted = self.eps.contacts[np.maximum(self.ep[cured], 0)] > 0
        self._cured(d, cured[contacted], CURE_CONTACT)
        self._cured(d, cured[~contacted], CURE_SELF)

    def _cured(self, d: int, idx: np.ndarray, how: int) -> None:
        """Episodes of these slots end cured today; the customer may decide to leave."""
        if not len(idx):
            return
        c, eps = self.sc.customer, self.eps
        self.daily["cures"][d] += _cure_slots(
            np.asarray(idx, np.int64), d, how, self.streams.key("attrition", d),
            c.attrition_after_cure, c.attrition_per_contact, self.agency_until, self.legal_day,
            self.promise_day, self.ep, self.book.person, self.people.attrition_prop,
            self.complained, self.leaving, eps.cure_day, eps.cure_type, eps.end_day,
            eps.contacts, eps.leaving)

    def _agency_and_legal(self, d: int) -> None:
        bk = self.book
        recall = self._recall_on.pop(d)
        recall = recall[(self.agency_until[recall] != NONE) & (self.agency_until[recall] <= d)]
        self.agency_until[recall] = NONE
        j = self._legal_on.pop(d)
        j = j[self.legal_day[j] == d]
        if not len(j):
            return
        lgl = self.sc.legal
        win = self.streams.uniform("legal", d, j, 1) < lgl.success_prob
        w = j[win]
        if len(w):
            amount = np.minimum(np.floor(self.legal_claim[w] * lgl.recovered_share).astype(np.int64),
                                bk.balance(w))
            # a judgment accelerates the plan: the whole balance is due
            self._accelerate(w)
            self._pay(d, w, amount)
        amt = lg.charge_off(bk, j)
        self.daily["charged_off"][d] += amt.sum()
        self.daily["charged_off_accounts"][d] += int(np.count_nonzero(amt > 0))
        self.legal_day[j] = NONE
        self._leave(d, j, EXIT_LEGAL, amt)

    def _accelerate(self, idx: np.ndarray) -> None:
        lg.accelerate(self.book, idx)

    def _billing(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Bill today's due dates; returns the slots billed and the slots whose next due
        date is today or on a pre-due reminder day (read again by the strategy)."""
        bk, sc = self.book, self.sc
        # one pass over the book a day: due today, or on a day a pre-due reminder looks at
        soon = _due_within(bk.next_due_day, d, self._pre_due_offsets, *self._due_runs(d))
        pp, b, pr, k = self.people, sc.behaviour, sc.product, len(soon)
        billed, ending = np.empty(k, np.int64), np.empty(k, np.int64)
        deferred, deferred_amount = np.empty(k, np.int64), np.empty(k, np.int64)
        tab, late_fixed = self._seg_traits, round(pr.late_fee_fixed * 100)
        nb, ne, nd, billed_total, fees, payments = _bill_due(
            soon, d, bk.status, self.vacant, bk.n_left, bk.unbilled, bk.inst, bk.fee_amt,
            bk.due, bk.fees, bk.fee_flow, bk.paid, bk.next_due_month, bk.last_due_month,
            bk.next_due_day, bk.oldest_month, bk.oldest_day, bk.dom, self.cal.month_first,
            self.cal._off, bk.person, pp.ability, self.shock_logsum, pp.segment,
            tab.get("oversight", self._no_tab32), pp.oversight,
            tab.get("strategic", self._no_tab32), pp.strategic, self.last_reminder,
            d - b.reminder_window_days, 1.0 - b.reminder_miss_cut, self.streams.key("due", d),
            float(pr.late_fee_rate), late_fixed, self.miss_recent,
            billed, ending, deferred, deferred_amount)
        idx = billed[:nb]
        bk.unbilled_total -= billed_total
        if nd:  # current slots of persons with a shock: their ability in numpy
            ci = deferred[:nd]
            p = bk.person[ci]
            late, paid = _bill_deferred(
                ci, deferred_amount[:nd], self._ability_of(p), p, pp.segment,
                tab.get("oversight", self._no_tab32), pp.oversight,
                tab.get("strategic", self._no_tab32), pp.strategic, self.last_reminder,
                d - b.reminder_window_days, 1.0 - b.reminder_miss_cut,
                self.streams.key("due", d), float(pr.late_fee_rate), late_fixed, bk.due,
                bk.fees, bk.fee_flow, bk.paid, bk.inst, bk.fee_amt, bk.last_due_month,
                bk.oldest_month, bk.oldest_day, bk.dom, self.cal.month_first, self.cal._off,
                self.miss_recent)
            fees += late
            payments += paid
        if nb:
            self.daily["fees"][d] += fees
            self.daily["payments"][d] += payments
        # only a bill takes the last instalment: the slots with none left start here
        self._ending.add(ending[:ne])
        # plans paid off: borrow again after a gap, or leave
        e = self._ending.members()
        done, still = np.empty(len(e), np.int64), np.empty(len(e), bool)
        done = done[:_plans_ending(e, bk.status, bk.n_left, bk.due, bk.fees, self.vacant,
                                   self.legal_day, done, still)]
        if len(done):
            leave = self.leaving[done]
            self._leave(d, done[leave], EXIT_ATTRITION)
            stay = done[~leave]
            bk.status[stay] = lg.IDLE
            self._n_idle += len(stay)
            gap = self.streams.exponential("reborrow", d, bk.person[stay]) * (
                sc.product.reborrow_gap_mean_days)
            bk.reborrow_day[stay] = d + 1 + np.floor(gap).astype(np.int32)
            self._reborrow_on.add(bk.reborrow_day[stay], stay)
        self._ending.keep(still)
        return idx, soon

    def _due_runs(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        if self._dom_run is None:  # not in due-day order: the whole book
            return np.zeros(1, np.int64), np.full(1, self.n, np.int64)
        if d < len(self._runs_by_day):
            return self._runs_by_day[d]
        return due_day_runs(self.cal, self._dom_run, d, self._pre_due_offsets)

    def _leave(self, d: int, idx: np.ndarray, code: int,
               charged_off: np.ndarray | None = None) -> None:
        if not len(idx):
            return
        p = self.book.person[idx]
        self.exit_code[p] = code
        self.exit_day[p] = d
        ep = self.ep[idx]
        has = ep >= 0
        if charged_off is not None:
            self.eps.charged_off[ep[has]] += charged_off[has]
        self.eps.end_day[ep[has]] = d
        self.eps.exit[ep[has]] = code
        self.ep[idx] = -1
        self._n_idle -= int(np.count_nonzero((self.book.status[idx] == lg.IDLE) & ~self.vacant[idx]))
        self._vacated.append(idx)
        self.vacant[idx] = True
        self.book.status[idx] = lg.IDLE
        self.book.reborrow_day[idx] = NONE
        self.promise_day[idx] = NONE
        self.agency_until[idx] = NONE
        self.legal_day[idx] = NONE
        self.daily["exits"][d] += len(idx)

    def _vacated_slots(self) -> np.ndarray:
        """The slots vacated since this morning's refill, each once (kept merged, so the
        recorder's count and the next refill share one sort)."""
        if not self._vacated:
            return np.zeros(0, np.int64)
        if len(self._vacated) == 1 and self._vacated[0] is self._vacated_merged:
            return self._vacated_merged
        v = self._vacated_merged = np.unique(np.concatenate(self._vacated))
        self._vacated = [v]
        return v

    def _episodes(self, d: int, new: np.ndarray, late: np.ndarray) -> None:
        """New delinquency episodes on slots ``new``; ``late``: every slot past due today."""
        h = self.sc.horizon
        in_window = h.warmup_days <= d < h.warmup_days + h.window_days
        if len(new):
            ids = self.eps.add(new, self.book.person[new], d, self.book.overdue(new),
                               self.hardship(new))
            self.ep[new] = ids
            self.agency_done[new] = False
            if in_window:
                self.daily["entries"][d] += len(new)
        if in_window:
            self.delinquent_in_window[self.book.person[late]] = True

    # ------------------------------------------------------------------ strategy

    def _strategy(self, d: int, w: np.ndarray, dpd_w: np.ndarray, soon: np.ndarray,
                  billed: np.ndarray, open_: np.ndarray) -> None:
        """The day's actions. ``w``: the owing slots (every delinquent one), with DPD
        ``dpd_w``; ``open_``: which of them the rules work (past due, held, not at an
        agency or in court); ``soon``: the slots whose next due date was today or on a
        pre-due reminder day at billing (a bill moves it 28+ days out)."""
        bk = self.book
        for idx in self._ruled:  # yesterday's rules: the slots they were set for
            self.rule_today[idx] = -1
        self._ruled = []
        holiday = d in self.cal.holidays
        requests: dict[tuple[float, int], list[np.ndarray]] = {}
        tones: dict[tuple[float, int], list[np.ndarray]] = {}
        reminders: set[tuple[float, int]] = set()
        # per desk: (accounts, channels, priorities, attempts) of call tasks, as asked for
        tasks: list[list[tuple[np.ndarray, ...]]] = [[] for _ in self.desks]
        multi = len(self.strategies) > 1
        near = merge_sorted(soon, billed) if self._pre_due_ahead >= 28 else soon

        for arm, st in enumerate(self.strategies):
            avoid = st.avoid_holidays and holiday
            # pre-due reminders for current accounts
            if st.pre_due.channels and st.pre_due.days_before:
                idx = np.empty(len(near), np.int64)
                idx = idx[:_pre_due(near, d, self._pre_due_lut[arm], bk.next_due_day, bk.status,
                                    bk.due, self.vacant, self.arm if multi else self._no_arm,
                                    arm, idx)]
                for ch in st.pre_due.channels:
                    c = self.cat.code(ch)
                    if avoid and self.cat.kind[c] == IVR:
                        continue
                    key = (st.pre_due.hour, c)
                    requests.setdefault(key, []).append(idx)
                    tones.setdefault(key, []).append(np.full(len(idx), self.tones[arm][-1]))
                    reminders.add(key)
            if not st.rules:
                continue
            m = open_ & (self.arm[w] == arm) if multi else open_
            idx = w[m]
            if not len(idx):
                continue
            dpd_i = dpd_w[m]
            # strategy.match in one compiled pass: the per-slot state is read only where
            # a rule asks for it
            rule, bucket, bound = match_rules(self._rules[arm], idx, dpd_i, self.risk,
                                              self.cause, bk.due, bk.fees, self.broken)
            self.rule_today[idx] = rule
            self._ruled.append(idx)
            # agency placements and filings first: the slots they take get no actions
            gone = np.zeros(len(idx), bool)
            for i, r in enumerate(st.rules):
                if r.place_agency_at_dpd is None and r.legal_at_dpd is None:
                    continue
                pos = np.flatnonzero(rule == i)
                if r.place_agency_at_dpd is not None:
                    go = pos[(dpd_i[pos] >= r.place_agency_at_dpd)
                             & ~self.agency_done[idx[pos]]]
                    self._place_agency(d, idx[go])
                    gone[go] = True
                    pos = pos[~gone[pos]]
                if r.legal_at_dpd is not None:
                    go = pos[(dpd_i[pos] >= r.legal_at_dpd)
                             & (bk.balance(idx[pos]) >= round(r.legal_min_balance * 100))]
                    self._file_legal(d, idx[go])
                    gone[go] = True
            self._rule_actions(d, arm, idx, rule, dpd_i, bucket, gone, avoid, requests, tones,
                               tasks, bound)

        exp = self.sc.collectors.task_expiry_days
        for k, desk in enumerate(self.desks):
            if tasks[k]:
                # one task per (account, channel): the most attempts asked for wins
                desk.enqueue(*(col[0] if len(col) == 1 else np.concatenate(col)
                               for col in zip(*tasks[k], strict=True)), exp)
                desk.any_third = self.third_party_among(desk.channel)
            else:
                desk.enqueue(np.zeros(0, np.int64), np.zeros(0, np.int16), np.zeros(0),
                             np.zeros(0, np.int16), exp)
                desk.any_third = False
        for key in sorted(requests):
            hour, c = key
            parts = requests[key]
            if len(parts) == 1 and _strictly_ascending(parts[0]):
                idx, tone = parts[0], tones[key][0]  # one request, already sorted and unique
            else:
                idx, first = np.unique(np.concatenate(parts), return_index=True)
                tone = np.concatenate(tones[key])[first]
            self.env.process(self.dispatch(self.env, d, hour, c, idx, tone, key in reminders))

    def _rule_actions(self, d: int, arm: int, idx: np.ndarray, rule: np.ndarray,
                      dpd: np.ndarray, bucket: np.ndarray, gone: np.ndarray, avoid: bool,
                      requests: dict, tones: dict, tasks: list[list[tuple[np.ndarray, ...]]],
                      bound: int) -> None:
        """The actions of the rules the slots ``idx`` (DPDs ``dpd``, buckets ``bucket``)
        are under (``_actions_kernel``), added to the day's requests by (hour, channel)
        and to the desks' task lists. ``bound``: at least the number of those actions."""
        at = self._actions[arm]
        m_key, m_slot, m_tone = np.empty(bound, np.int64), np.empty(bound, np.int64), np.empty(bound)
        c_desk, c_slot = np.empty(bound, np.int16), np.empty(bound, np.int64)
        c_chan, c_prio, c_att = np.empty(bound, np.int16), np.empty(bound), np.empty(bound, np.int16)
        bk = self.book
        nm, nc = _actions_kernel(
            idx, rule, dpd, bucket, gone, at.first, at.channel, at.call, at.ivr,
            at.every, at.start, at.lut, at.lut_at, at.lut_len, at.no_contact, at.priority,
            at.attempts, at.key, self.tones[arm], avoid, d, self.gate.last_conversation,
            self.promise_day, self.desk_of_bucket, bk.due, bk.fees, self.risk, self.rpc_hist,
            self.attempts_hist, m_key, m_slot, m_tone, c_desk, c_slot, c_chan, c_prio, c_att)
        if nm:
            m_key, m_slot, m_tone = m_key[:nm], m_slot[:nm], m_tone[:nm]
            for kid in np.flatnonzero(np.bincount(m_key, minlength=len(at.keys))):
                sel = m_key == kid
                k = at.keys[kid]
                requests.setdefault(k, []).append(m_slot[sel])
                tones.setdefault(k, []).append(m_tone[sel])
        if nc:
            c_desk = c_desk[:nc]
            for k in range(len(self.desks)):
                sel = c_desk == k
                if sel.any():
                    tasks[k].append((c_slot[:nc][sel], c_chan[:nc][sel], c_prio[:nc][sel],
                                     c_att[:nc][sel]))

    def _place_agency(self, d: int, idx: np.ndarray) -> None:
        if not len(idx):
            return
        self.agency_until[idx] = d + self.sc.agency.placement_days
        self.agency_done[idx] = True
        self._recall_on.add(d + self.sc.agency.placement_days, idx)
        self._placed.add(np.sort(idx))
        if self._in_window(d):
            self.daily["agency_placements"][d] += len(idx)

    def _file_legal(self, d: int, idx: np.ndarray) -> None:
        if not len(idx):
            return
        lgl = self.sc.legal
        claim = self.book.balance(idx)
        self.legal_claim[idx] = claim
        cost = lgl.fixed_cost * 100 + np.floor(claim * lgl.court_fee_rate)
        self.daily["legal_cost"][d] += cost.sum()
        self._charge(idx, cost)
        # delay ~ Gamma(2, mean/2): the sum of two exponential stages (filing, judgment)
        half = 0.5 * lgl.delay_days_mean
        u = self.streams.uniform_rows([("legal", d, 3), ("legal", d, 4)], idx)
        delay = np.maximum(1, np.round(half * (-np.log(u[0]) + -np.log(u[1]))))
        self.legal_day[idx] = d + delay.astype(np.int32)
        self._legal_on.add(self.legal_day[idx], idx)
        self._filed.add(np.sort(idx))
        self.promise_day[idx] = NONE
        if self._in_window(d):
            self.daily["legal_actions"][d] += len(idx)

    def _in_window(self, d: int) -> bool:
        h = self.sc.horizon
        return h.warmup_days <= d < h.warmup_days + h.window_days

    # ------------------------------------------------------------------ contacts

    def _contact_delivered(self, d: int, idx: np.ndarray, chan: int, tone: np.ndarray,
                           third_party: float) -> None:
        """A contact delivered to slots ``idx`` (distinct) on ``chan`` outside the
        compiled passes of messages and conversations (a third party reached): counts
        and complaints."""
        col = d % 7
        self._recent_touched[col].append(idx)
        ep = self.ep[idx]
        if self._in_window(d):
            self.daily["contacts"][d] += len(idx)
        b = self.sc.behaviour
        p = self.book.person[idx]
        hard = (self.shock_active[p] > 0) | (self._trait("cause", p, None) == HARDSHIP)
        u = self.streams.uniform("complaint", d, idx, self._complaint_draw(chan))
        comp = np.empty(len(idx), bool)
        _contacts_kernel(idx, ep, col, self._recent_flat, self._recent_sum, self.eps.contacts,
                         np.atleast_1d(self.cat.complaint_base[chan]), b.complaint_alpha,
                         b.complaint_free_contacts, np.ascontiguousarray(tone, np.float64), hard,
                         b.complaint_hardship_pressure, float(third_party),
                         self.people.complaint_prop, p, u, comp)
        if comp.any():
            self._complaints(d, idx[comp], ep[comp])

    def _complaints(self, d: int, idx: np.ndarray, ep: np.ndarray) -> None:
        """Complaints made today by the customers of slots ``idx`` (episodes ``ep``)."""
        self.complained[idx] = True
        self.eps.complaints[ep[ep >= 0]] += 1  # distinct slots, distinct episodes
        self.daily["complaints"][d] += len(idx)
        each = self.sc.customer.complaint_handling_cost * 100
        self.daily["complaint_cost"][d] += len(idx) * each
        self._charge(idx, each, ep)

    @staticmethod
    def _complaint_draw(chan: int | np.ndarray) -> int | np.ndarray:
        return np.asarray(chan, dtype=np.int64) * 4 + 1000

    def deliver(self, d: int, hour: float, chan: int, idx: np.ndarray, tone: np.ndarray,
                reminder: bool) -> None:
        """An automated channel (a message, an automated call, a letter: never a call to
        a third party, which only collectors make) at its hour: gate, reach, cost,
        effect, log."""
        kind = int(self.cat.kind[chan])
        req = self.cat.requires[chan]
        # the slots still held (not vacated since the request) whose holder has what the
        # channel needs (the app, an e-mail address), with their persons, in one pass
        has = self._no_need if not req else (self.people.app_user if req == 1
                                             else self.people.email)
        gate, m, col = self.gate, len(idx), d % 7
        idx, tone = np.asarray(idx, np.int64), np.asarray(tone, np.float64)
        before = gate.counts.copy()
        # the slots held, whose person the channel can reach, that the gate lets through
        sent, p, sent_tone = np.empty(m, np.int64), np.empty(m, np.int64), np.empty(m)
        if gate.whole_refusal(d, hour, kind) >= 0:
            # closed now (the window, a holiday): every request that could have been
            # delivered is refused, and counted so
            n = _deliverable(idx, tone, self.vacant, self.book.person, has, False, False, d,
                             col, gate.optout, *gate.call_limits(), gate.counts, sent, p,
                             sent_tone)
            gate.check(d, hour, sent[:n], kind)
            self._count_blocked(d, before)
            return
        # the reach, complaint and opt-out draws, hashed in the pass where they are needed
        keys = self.streams.keys([("contact", d, 500 + chan),
                                  ("complaint", d, int(self._complaint_draw(chan))),
                                  ("optout", d, chan)])
        b, pp, cls = self.sc.behaviour, self.people, int(self.cat.response[chan])
        outcome, ep = np.empty(m, np.int8), np.empty(m, np.int64)
        got, complained, out = np.empty(m, np.int64), np.empty(m, bool), np.empty(m, np.int64)
        log, at = self._today.reserve(m)
        call = kind in CALL_KINDS
        n, n_got, n_out = _deliver_batch(
            idx, tone, self.vacant, self.book.person, has, kind == MESSAGE, call, d, col,
            gate.optout, *gate.call_limits(), gate.counts, *gate.call_books(),
            gate.last_rpc_day, chan, float(self.cat.cost_cents[chan]), self.channel_cost[d],
            self.channel_attempts[d], self.ep, self.eps.cost, keys, kind == IVR,
            float(self.cat.reach[chan]), pp.contactability, float(self.profile[int(hour) % 24]),
            self._imp_tab[chan], self.stim[cls], pp.segment, reminder, self.last_reminder,
            self._seg_traits.get("cause", self._no_tab8), pp.cause, self.shock_active,
            self._recent_flat, self._recent_sum, self.eps.contacts,
            float(self.cat.complaint_base[chan]), b.complaint_alpha, b.complaint_free_contacts,
            b.complaint_hardship_pressure, pp.complaint_prop,
            b.optout_per_message if kind == MESSAGE else -1.0, log["day"], log["hour"],
            log["slot"], log["person"], log["channel"], log["kind"], log["outcome"], at, hour,
            kind, sent, p, sent_tone, outcome, ep, got, complained, out)
        self._count_blocked(d, before)
        if not n:
            return
        self._today.written(n)
        self._stirred[cls] = True
        idx, p = sent[:n], p[:n]
        if call:
            gate.booked(d, idx)
        if n_got:
            got = got[:n_got]
            self._recent_touched[col].append(idx[got])
            if self._in_window(d):
                self.daily["contacts"][d] += n_got
            complained = complained[:n_got]
            if complained.any():
                c = got[complained]
                self._complaints(d, idx[c], ep[c])
            if n_out:
                self.auditor.optouts(d, hour, p[out[:n_out]])

    def _count_blocked(self, d: int, before: np.ndarray) -> None:
        """Today's refusals by rule: the gate's counts since ``before``."""
        self.blocked[d] += self.gate.counts - before

    # called by the collector teams ------------------------------------------

    def arms_dialling(self, a: float, b: float) -> np.ndarray:
        """Per arm: does its strategy dial in the block [a, b)?"""
        return np.array([s.call_hours[0] <= a and b <= s.call_hours[1] for s in self.strategies])

    def call_gate(self, d: int, hour: float, idx: np.ndarray, chan: np.ndarray,
                  count: bool, third: bool = True) -> np.ndarray:
        """The gate's verdict on a batch of calls; ``third``: may it hold third-party
        calls (False: agent calls only)."""
        if not count and not third:
            return self.gate.check(d, hour, idx, AGENT, count=False)  # the usual batch
        kinds = self.cat.kind[chan]
        if not count and not (kinds == THIRD).any():
            return self.gate.check(d, hour, idx, AGENT, count=False)
        ok = np.zeros(len(idx), bool)
        before = self.gate.counts.copy()
        for k in (AGENT, THIRD):
            m = kinds == k
            if m.any():
                ok[m] = self.gate.check(d, hour, idx[m], k, count=count)
        if count:
            self._count_blocked(d, before)
        return ok

    def third_party_among(self, chan: np.ndarray) -> bool:
        """Is any of these calls' channels a call to a third party?"""
        return bool((self.cat.kind[chan] == THIRD).any())

    def agent_calls_open(self, d: int, hour: float) -> bool:
        """Does the gate let agent calls through at this hour of day ``d`` at all (the
        contact window, holidays)?"""
        return self.gate.whole_refusal(d, hour, AGENT) < 0

    def place_agent_calls(self, d: int, hour: float, end: float, desk: Desk, cand: np.ndarray,
                          used: float, total: float, tried: np.ndarray, at: int,
                          x: tuple[np.ndarray, ...], r_at: int,
                          refused: tuple[np.ndarray, np.ndarray]) -> tuple[int, int, int, float]:
        """A crew's batch of agent calls (queue positions ``cand`` of ``desk``, its block
        [hour, end), ``used`` of its ``total`` minutes spent) checked, drawn and placed
        in one pass (``_crew_calls``): the executed attempts' columns into ``x``
        (account, channel, outcome, minutes, person, hour) from ``at``, the refused
        ones' accounts and channels into ``refused`` from ``r_at``. Nothing is booked.
        Returns (fitted, executed, refused, minutes spent)."""
        c = self.sc.collectors
        return _crew_calls(cand, desk.acct, desk.channel, desk.made, self.book.person, d, d % 7,
                           *self.gate.call_limits(), self._call_draw_keys(d),
                           self.people.contactability, float(self.profile[int(hour) % 24]),
                           c.right_party_given_answer, self._fixed_minutes,
                           self._log_rpc_median, c.rpc_sigma, used, total, hour, end,
                           self.retry_gap, tried, desk.left, desk.not_before, at, *x, r_at,
                           *refused)

    def _call_draw_keys(self, d: int) -> np.ndarray:
        """The keys of day ``d``'s call draws (``_call_draws``), hashed once a day."""
        if self._call_keys[0] != d:
            self._call_keys = (d, self.streams.keys(_call_draws(d)))
        return self._call_keys[1]

    def call_outcomes(self, d: int, hour: float, idx: np.ndarray, chan: np.ndarray,
                      made: np.ndarray, third: bool,
                      p: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Outcome and handle minutes of each attempt: pure draws, nothing booked.
        ``third``: may the batch hold third-party calls (False: agent calls only)."""
        c = self.sc.collectors
        p = self.book.person[idx] if p is None else p
        prof = self.profile[int(hour) % 24]
        if third:
            third = self.cat.kind[chan] == THIRD
            some_third = bool(third.any())
        else:
            some_third = False  # a queue of agent calls only
        if not some_third:  # the usual batch: agent calls only, draws and all in one pass
            n = len(idx)
            outcome, minutes = np.empty(n, np.int8), np.empty(n)
            _agent_calls(np.asarray(idx, np.int64), p, made, self._call_draw_keys(d),
                         self.people.contactability, float(prof), c.right_party_given_answer,
                         self._fixed_minutes, self._log_rpc_median, c.rpc_sigma, outcome,
                         minutes)
            return outcome, minutes
        # with third-party calls: answer, right party and talk time of attempt k (draws 8k,
        # 8k + 1 and 8k) in one hash, then numpy
        u = self.streams.uniform_rows(_call_draws(d), idx, made.astype(np.int64) * 8)
        answer = np.minimum(0.95, self.people.contactability[p] * prof)
        answered = u[0] < np.where(third, 0.5 * prof, answer)
        rpc = answered & (u[1] < c.right_party_given_answer)
        outcome = np.zeros(len(idx), np.int8)  # NO_ANSWER
        outcome[answered] = WRONG_PARTY
        outcome[rpc] = CONVERSATION
        outcome[answered & third] = THIRD_PARTY_REACHED
        minutes = self._fixed_minutes[outcome]
        conv = np.flatnonzero(outcome == CONVERSATION)
        if len(conv):  # talk time, lognormal
            talk = np.empty(len(conv))
            _talk_minutes_of(u[2, conv], self._log_rpc_median, c.rpc_sigma, talk)
            minutes[conv] += talk
        return outcome, minutes

    def execute_calls(self, d: int, hours: np.ndarray, idx: np.ndarray, chan: np.ndarray,
                      outcome: np.ndarray, minutes: np.ndarray, teams: list[tuple[Desk, int]],
                      p: np.ndarray | None = None) -> None:
        """Book executed call attempts: ``teams`` lists (desk, number of attempts) in the
        order of the arrays, a team's attempts contiguous."""
        p = self.book.person[idx] if p is None else p
        if not any(desk.any_third for desk, _ in teams) or not self.third_party_among(chan):
            self._agent_batch(d, hours, idx, chan, outcome, minutes, teams, p)  # the usual
            return
        kinds = self.cat.kind[chan]
        agent = kinds == AGENT
        for k in (AGENT, THIRD):
            m = kinds == k
            if m.any():
                conv = (outcome[m] == CONVERSATION) if k == AGENT else None
                self.gate.record(d, idx[m], k, conversation=conv, rpc=conv)
        n = len(idx)
        rates, ends = self._teams(teams)
        labour, ep = np.empty(n), np.empty(n, np.int64)
        conv, conv_skill, tp = np.empty(n, np.int64), np.empty(n), np.empty(n, np.int64)
        n_conv, n_tp = _book_calls(
            idx, chan, minutes, outcome, ends, rates[0], rates[1], agent,
            self.cat.cost_cents, self.channel_cost[d], self.channel_attempts[d], self.ep,
            self.eps.cost, self.attempts_hist, labour, ep, conv, conv_skill, tp,
            self.daily["collector_cost"], d)
        self._today.append(d, hours, idx, p, chan, kinds, outcome)
        win = self._in_window(d)
        if win:
            self.daily["call_attempts"][d] += int(np.count_nonzero(agent))
        if n_conv:
            conv = conv[:n_conv]
            self._conversations(d, idx[conv], chan[conv], conv_skill[:n_conv], win, p[conv],
                                ep[conv])
        if n_tp:
            tp = tp[:n_tp]
            ti = idx[tp]
            for c in np.unique(chan[tp]):
                sel = ti[chan[tp] == c]
                self._impulse(sel, int(c), 0.5)
                self._contact_delivered(d, sel, int(c), self._tone(sel),
                                        third_party=self.sc.behaviour.complaint_third_party)

    def _teams(self, teams: list[tuple[Desk, int]]) -> tuple[tuple[np.ndarray, np.ndarray],
                                                              np.ndarray]:
        """The teams' (hourly costs, skills), and where each team's calls end."""
        crew = tuple(desk.index for desk, _ in teams)
        rates = self._team_rates.get(crew)
        if rates is None:
            rates = self._team_rates[crew] = (
                np.array([desk.cfg.hourly_cost for desk, _ in teams]),
                np.array([desk.cfg.skill for desk, _ in teams]))
        return rates, np.array(list(accumulate(k for _, k in teams)), np.int64)

    def _agent_batch(self, d: int, hours: np.ndarray, idx: np.ndarray, chan: np.ndarray,
                     outcome: np.ndarray, minutes: np.ndarray, teams: list[tuple[Desk, int]],
                     p: np.ndarray) -> None:
        """``execute_calls`` for a batch of agent calls only (the usual one): the gate's
        record, the books, the log and the conversations in one compiled call."""
        n = len(idx)
        rates, ends = self._teams(teams)
        log, at = self._today.reserve(n)
        conv_idx, conv_ep = np.empty(n, np.int64), np.empty(n, np.int64)
        comp, acc_pos, prom_pos = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
        acc_kind = np.empty(n, np.int8)
        ag = self._promise_on
        ag.reserve(n)
        n_conv, n_comp, n_acc, n_prom = _agent_batch(
            idx, chan, outcome, minutes, hours, p, ends, rates[0], rates[1],
            *self.gate.call_books(), self.gate.last_conversation,
            self.gate.last_rpc_day, self.cat.cost_cents, self.channel_cost[d],
            self.channel_attempts[d], self.ep, self.eps.cost, self.attempts_hist,
            self.daily["collector_cost"], log["day"], log["hour"], log["slot"], log["person"],
            log["channel"], log["kind"], log["outcome"], at, *self._conversation_state(d),
            conv_idx, conv_ep, comp, acc_pos, acc_kind, prom_pos, ag.head, ag.slot, ag.next,
            ag.free)
        self.gate.booked(d, idx)
        self._today.written(n)
        win = self._in_window(d)
        if win:
            self.daily["call_attempts"][d] += n
            self.daily["promises"][d] += n_prom
        if n_conv:  # the promises are filed
            self._conversations_counted(d, conv_idx[:n_conv], win)
            self._conversation_results(d, conv_idx[:n_conv], conv_ep[:n_conv], win,
                                       comp[:n_comp], acc_pos[:n_acc], acc_kind[:n_acc],
                                       prom_pos[:0])

    def _tone(self, idx: np.ndarray) -> np.ndarray:
        r = self.rule_today[idx]
        if len(self.tones) == 1:
            return self.tones[0][r]  # r == -1 picks the last entry (gentle)
        out = np.empty(len(idx))
        for arm, tones in enumerate(self.tones):
            m = self.arm[idx] == arm
            out[m] = tones[r[m]]
        return out

    def _conversations(self, d: int, idx: np.ndarray, chan: np.ndarray,
                       skill: float | np.ndarray, win: bool, p: np.ndarray | None = None,
                       ep: np.ndarray | None = None) -> None:
        """Right-party contact: the cause comes out; a plan or a promise may follow.
        ``skill``: of the collector's team (one number, or one per conversation)."""
        n = len(idx)
        p = self.book.person[idx] if p is None else p
        ep = self.ep[idx] if ep is None else ep
        self._conversations_counted(d, idx, win)
        comp, acc_pos, prom_pos = (np.empty(n, np.int64) for _ in range(3))
        acc_kind = np.empty(n, np.int8)
        # the cause comes out; the treatment's impulse; the contact, maybe a complaint; the
        # plan the account's rule offers, accepted or not; if not, a promise to pay, kept
        # or not a few days later
        n_comp, n_acc, n_prom = _conversation_pass(
            np.asarray(idx, np.int64), p, chan, np.atleast_1d(np.asarray(skill, np.float64)), ep,
            *self._conversation_state(d), comp, acc_pos, acc_kind, prom_pos)
        self._conversation_results(d, idx, ep, win, comp[:n_comp], acc_pos[:n_acc],
                                   acc_kind[:n_acc], prom_pos[:n_prom])

    def _conversations_counted(self, d: int, idx: np.ndarray, win: bool) -> None:
        """Conversations with the slots ``idx``: the day's counts, this week's contacts."""
        if win:
            self.daily["rpc"][d] += len(idx)
            self.daily["contacts"][d] += len(idx)
        self._recent_touched[d % 7].append(idx)

    def _conversation_state(self, d: int) -> tuple:
        """``_conversation_pass``'s arguments from ``tone_tab`` to ``keys``, on day ``d``."""
        b, pp = self.sc.behaviour, self.people
        if self._conv_keys[0] != d:  # the complaint, plan, promise and promised-day draws
            self._conv_keys = (d, self.streams.keys([("complaint", d, 0), ("plan", d, 0),
                                                     ("promise", d, 0), ("promise", d, 2)]))
        return (self._tone_tab, pp.segment, self._seg_traits.get("cause", self._no_tab8),
                pp.cause, pp.misread, self.shock_active, self.rpc_hist, self.cause,
                self.cat.response, self._imp_tab, self.stim, self._stirred, d % 7,
                self._recent_flat, self._recent_sum, self.eps.contacts,
                self.cat.complaint_base, b.complaint_alpha, b.complaint_free_contacts,
                b.complaint_hardship_pressure, pp.complaint_prop, d, self.book.oldest_day,
                self.arm if len(self.strategies) > 1 else self._no_arm, self.rule_today,
                self._offer_late, self._offer_early, self.last_plan, b.plan_cooldown_days,
                self._seg_traits.get("willingness", self._no_tab32), pp.willingness,
                self.seg_accept, b.hardship_acceptance_boost, b.promise_rate,
                b.promise_days_max, self.promise_day, _NO_U, self._conv_keys[1])

    def _conversation_results(self, d: int, idx: np.ndarray, ep: np.ndarray, win: bool,
                              comp: np.ndarray, acc_pos: np.ndarray, acc_kind: np.ndarray,
                              prom_pos: np.ndarray) -> None:
        """What the conversations with the slots ``idx`` (episodes ``ep``) led to, as
        ``_conversation_pass`` returns it: complaints, plans agreed, promises made (at
        those positions of ``idx``)."""
        if len(comp):
            self._complaints(d, idx[comp], ep[comp])
        if len(acc_pos):
            self._plans(d, idx[acc_pos], acc_kind)
        if len(prom_pos):
            pi = idx[prom_pos]  # their promised days are set
            self._promise_on.add(self.promise_day[pi], pi)
            if win:
                self.daily["promises"][d] += len(prom_pos)

    def _plans(self, d: int, idx: np.ndarray, kind: np.ndarray) -> None:
        if not len(idx):
            return
        bk, b = self.book, self.sc.behaviour
        self.last_plan[idx] = d
        if self._in_window(d):
            self.daily["plans_agreed"][d] += len(idx)
        s = idx[kind == 0]
        if len(s):
            ep = self.ep[s]
            pays, waived = lg.settle(bk, s, b.settlement_discount)
            self._charge(s, waived)
            self.daily["payments"][d] += pays.sum()
            self.daily["collected_delinquent"][d] += pays.sum()
            self.daily["waived"][d] += waived.sum()
            np.add.at(self.eps.collected, ep[ep >= 0], pays[ep >= 0])
            e = ep[ep >= 0]
            self.eps.cure_day[e] = d
            self.eps.cure_type[e] = CURE_PLAN
            self._leave(d, s, EXIT_SETTLED)
        for k, fn, months in ((1, lg.reterm, b.reterm_months), (2, lg.defer, b.deferral_months)):
            j = idx[kind == k]
            if len(j):
                waived = fn(bk, self.cal, j, d, months)
                self.daily["waived"][d] += waived.sum()
                self._charge(j, waived)
                self._planned_today[j] = True
                self._replanned.add(np.sort(j))
                self._cured(d, j, CURE_PLAN)

    # ------------------------------------------------------------------ end of day

    def end_of_day(self, d: int) -> None:
        bk = self.book
        # the auditor (on its own thread) is done with the columns the flush hands back
        self.auditor.wait()
        log = self._flush_log()
        self.auditor.day(d, log)
        if self.record_contacts and len(log["day"]):
            self._log.append({k: v.copy() for k, v in log.items()})
        for desk in self.desks:
            desk.end_of_day()
        if self._in_window(d):
            for desk in self.desks:
                self.daily["capacity_minutes"][d] += desk.capacity_min
                self.daily["used_minutes"][d] += desk.used_min
                self.daily["backlog"][d] += desk.backlog
                self.daily["expired"][d] += desk.expired
        for desk in self.desks:
            desk.capacity_min = desk.used_min = 0.0
            desk.expired = 0
        # Every slot past due is in the owing set (nothing is billed during the day), so
        # the bucket mix is counted there; the rest of the active book is current. Sums
        # of whole cents are exact in float64, so the order of summation cannot matter.
        w = self._owing.members()
        counts, money, owed = lg.bucket_mix(bk, w, d, self.vacant)
        # vacant now: the slots vacated today (all others were refilled this morning)
        n_vacant = len(self._vacated_slots())
        n_idle = self._n_idle
        counts[0] = self.n - n_vacant - n_idle - counts[1:].sum()
        # a slot that is not active owes nothing (a plan ends paid, a closed slot is zeroed);
        # due and fees are owed in the owing set only, the unbilled total is kept by the ledger
        total = bk.unbilled_total + owed
        money[0] = total - money[1:].sum()
        self.bucket_count[d] = counts
        self.bucket_balance[d] = money
        # the sets drop the slots that left their state (none to look at if none was added)
        n_agency = n_legal = n_replanned = 0
        if self._placed.any():
            agency = self._placed.members()
            n_agency = len(self._placed.keep(self.agency_until[agency] != NONE))
        if self._filed.any():
            legal = self._filed.members()
            n_legal = len(self._filed.keep(self.legal_day[legal] != NONE))
        if self._replanned.any():
            re = self._replanned.members()
            re = self._replanned.keep(bk.plan_type[re] != lg.ORIGINAL)
            n_replanned = np.count_nonzero(~self.vacant[re] & (bk.status[re] == lg.ACTIVE))
        self.state_count[d] = n_idle, n_vacant, n_agency, n_legal, n_replanned
        self.daily["balance"][d] = total
        if self.cal.month_end[d]:
            code = np.zeros(self.n, np.int8)
            act_w = ~self.vacant[w] & (bk.status[w] == lg.ACTIVE)
            code[w[act_w]] = lg.bucket_of(bk.dpd_of(d, w[act_w]))
            self.snapshots.append((d, code, bk.person.copy(), bk.balance()))
        if self.check_invariants:
            # the shortcuts above, checked against the whole book
            dpd = bk.dpd(d)
            bucket = lg.bucket_of(dpd)
            active = ~self.vacant & (bk.status == lg.ACTIVE)
            bal = bk.balance()
            assert np.array_equal(self.bucket_count[d], np.bincount(bucket[active], minlength=7)[:7])
            assert np.array_equal(self.bucket_balance[d], np.bincount(
                bucket[active], weights=bal[active], minlength=7)[:7])
            assert not bal[~active].any(), "a slot that is not active owes money"
            assert total == int(bal.sum()), "the running unbilled total drifted"
            assert np.array_equal(self._recent_sum, self.recent.sum(axis=1)), "7-day counts drifted"
            # the repayment pass's bound for the whole book holds only while every shock
            # log-sum above zero is on the list
            assert np.isin(np.flatnonzero(self.shock_logsum > 0), self._drifted).all(), \
                "a shock log-sum above zero is not on the drift list"
            # the owing set's passes skip these arrays when the sets say nobody is there
            assert np.isin(np.flatnonzero(self.agency_until != NONE), self._placed.members()).all()
            assert np.isin(np.flatnonzero(self.legal_day != NONE), self._filed.members()).all()
            assert (n_idle, n_vacant) == lg.count_idle_vacant(bk.status, self.vacant), \
                "the running counts of idle and vacant slots drifted"
            same = bk.person == self._prev_person
            # a slot closed today (charge-off, settlement) has no DPD left, and that is fine
            back = (same & (dpd < self._prev_dpd) & ~self._paid_today & ~self._planned_today
                    & ~self.vacant)
            self.daily["dpd_regressions"][d] = np.count_nonzero(back)
            self._prev_dpd = dpd
            self._prev_person = bk.person.copy()
            # tomorrow's due scan over the due-day runs finds what a scan of the book finds
            whole = (np.zeros(1, np.int64), np.full(1, self.n, np.int64))
            assert np.array_equal(
                _due_within(bk.next_due_day, d + 1, self._pre_due_offsets, *self._due_runs(d + 1)),
                _due_within(bk.next_due_day, d + 1, self._pre_due_offsets, *whole)), \
                "a due date off the slot's due day, or the book out of due-day order"
            res = bk.residual()
            if res.any():
                raise AssertionError(f"money not conserved on day {d}: "
                                     f"{np.count_nonzero(res)} slots off, total {res.sum()} cents")

    def _flush_log(self) -> dict[str, np.ndarray]:
        return self._today.flush()

    def contact_log(self):
        import pandas as pd

        if not self._log:
            return pd.DataFrame({k: [] for k in LOG_COLUMNS})
        df = pd.DataFrame({k: np.concatenate([r[k] for r in self._log]) for k in LOG_COLUMNS})
        df["channel"] = pd.Categorical.from_codes(df["channel"], self.cat.names)
        return df

    # ------------------------------------------------------------------ go

    def start(self) -> simpy.Environment:
        env = simpy.Environment()
        self.env = env
        env.process(self.portfolio(env))
        if any(desk.blocks for desk in self.desks):
            env.process(floor_process(env, self.desks, self))
        return env

    def execute(self) -> None:
        self.start().run(until=self.days)


class Simulation:
    """One run driven in steps, for callers that report progress (the app) or stop early.

        sim = Simulation(scenario, strategy, seed=1)
        while not sim.done:
            sim.advance(30)          # days; returns the share of the horizon done
        result = sim.result()
    """

    def __init__(self, scenario: Scenario, strategy: Strategy | list[Strategy],
                 seed: int | np.random.SeedSequence = 0, shares: list[float] | None = None,
                 record_contacts: bool = False, check_invariants: bool = False):
        self._t0 = time.perf_counter()
        self.seed = seed
        strategies = strategy if isinstance(strategy, list) else [strategy]
        arms = None
        if len(strategies) > 1:
            streams = Streams(seed)
            arms = assign_arms(streams, scenario.population.accounts, shares, len(strategies))
        self.run = Run(scenario, strategies[0], seed, record_contacts=record_contacts,
                       check_invariants=check_invariants, arms=arms,
                       strategies=strategies if len(strategies) > 1 else None)
        self.env = self.run.start()

    @property
    def days(self) -> int:
        return self.run.days

    @property
    def day(self) -> int:
        return int(min(self.env.now, self.days))

    @property
    def done(self) -> bool:
        return self.env.now >= self.days

    def advance(self, days: int) -> float:
        self.env.run(until=min(self.days, int(self.env.now) + max(1, int(days))))
        return self.env.now / self.days

    def result(self):
        """Finish the run (if not done) and build its RunResult."""
        from .metrics import build_result

        if not self.done:
            self.env.run(until=self.days)
        self.run.auditor.close()
        return build_result(self.run, wall_seconds=time.perf_counter() - self._t0, seed=self.seed)


def assign_arms(streams: Streams, n: int, shares: list[float] | None, k: int) -> np.ndarray:
    """Champion/challenger: each account (slot) goes to an arm at random, by share."""
    shares = [1.0 / k] * k if shares is None else list(shares)
    if len(shares) != k or any(s < 0 for s in shares) or not np.isclose(sum(shares), 1.0):
        raise ValueError(f"arm shares {shares} must be {k} non-negative numbers summing to 1")
    u = streams.uniform("arms", 0, np.arange(n))
    cum = np.cumsum(shares)
    cum[-1] = 1.0
    return np.searchsorted(cum, u, side="right").clip(0, k - 1).astype(np.int8)


def run(scenario: Scenario, strategy: Strategy, seed: int | np.random.SeedSequence = 0,
        record_contacts: bool = False, check_invariants: bool = False):
    """Simulate one strategy on one scenario; returns a :class:`sim.results.RunResult`."""
    return Simulation(scenario, strategy, seed, record_contacts=record_contacts,
                      check_invariants=check_invariants).result()


def run_arms(scenario: Scenario, strategies: list[Strategy], shares: list[float],
             seed: int | np.random.SeedSequence = 0, record_contacts: bool = False):
    """Champion/challenger inside one operation: accounts are split at random between the
    strategies by ``shares`` and share the same collectors, queues and compliance gate.
    KPIs per arm are in ``result.arms``; ``result.kpis`` is the whole book."""
    names = [s.name for s in strategies]
    if len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"champion/challenger needs two or more distinct strategies, got {names}")
    return Simulation(scenario, list(strategies), seed, shares=shares,
                      record_contacts=record_contacts).result()


# --------------------------------------------------------------------------- memory

# Peak memory of one run, fitted to measured peak RSS (VmHWM of a fresh process that
# imported sim and ran `run` with seed_playbook on the baseline: 5,000 to 1,000,000
# accounts, 60 to 2,160 days, within 2.5% of every measurement; docs/RELIABILITY.md):
# the interpreter with numpy, pandas, scipy, simpy, numba (LLVM: ~128 MB of it) and sim
# loaded, then a part per
# account (ledger, per-slot state, gate, queues), per account and day (month-end
# snapshots, episodes, daily records), per person drawn (the book and the reserve of
# joiners: traits, auditor history) and per hardship shock drawn up front (measured with
# shock rates of 50 a year: 95 bytes each).
MEMORY_FIXED = 275_000_000
MEMORY_PER_ACCOUNT = 280
MEMORY_PER_ACCOUNT_DAY = 1.0
MEMORY_PER_PERSON = 80
MEMORY_PER_SHOCK = 95
MAX_SHOCKS_PER_TYPE = 10_000  # sim.population draws at most this many per person and type


def expected_shocks(scenario: Scenario) -> float:
    """How many hardship shocks a run draws up front, on average."""
    from .population import reserve_size

    days = scenario.horizon.days
    persons = scenario.population.accounts + reserve_size(scenario.population, days)
    intensity = float(macro_curve(scenario.economy, max(days, 1)).sum()) / 365.0
    per_person = sum(min(MAX_SHOCKS_PER_TYPE, s.rate_per_year * intensity)
                     for s in scenario.economy.shocks.values())
    return persons * per_person


def estimate_memory(scenario: Scenario) -> int:
    """Bytes one run of ``scenario`` needs at its peak (a process of its own)."""
    from .population import reserve_size

    pop, days = scenario.population, scenario.horizon.days
    persons = pop.accounts + reserve_size(pop, days)
    return int(MEMORY_FIXED + pop.accounts * (MEMORY_PER_ACCOUNT + MEMORY_PER_ACCOUNT_DAY * days)
               + persons * MEMORY_PER_PERSON + expected_shocks(scenario) * MEMORY_PER_SHOCK)


def available_memory() -> int:
    """Bytes this machine can give a new run now: MemAvailable, else physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2**62  # unknown: do not refuse on a guess


def check_memory(scenarios: Scenario | list[Scenario], concurrent: int = 1) -> None:
    """Refuse, before any work, runs that would not fit in memory: ``concurrent`` runs of
    the largest of ``scenarios`` at once (one per worker process)."""
    from .errors import ConfigError

    items = scenarios if isinstance(scenarios, list) else [scenarios]
    sc = max(items, key=estimate_memory)
    need, have = estimate_memory(sc) * max(1, concurrent), available_memory()
    if need <= have:
        return
    gib = 2**30
    per_run = need / max(1, concurrent)
    # accounts that would fit: invert the estimate's linear part in population.accounts
    slope = (estimate_memory(sc) - MEMORY_FIXED) / sc.population.accounts
    fits = max(0, int((have / max(1, concurrent) - MEMORY_FIXED) / slope)) if slope > 0 else 0
    runs = f" x {concurrent} runs at once" if concurrent > 1 else ""
    hint = f"at most about {fits:,} accounts would fit" if fits else "no book size would fit"
    if concurrent > 1:
        hint += "; or use fewer --workers"
    msg = (f"{sc.population.accounts:,} accounts over {sc.horizon.days:,} days need about "
           f"{per_run / gib:.1f} GiB per run{runs} ({need / gib:.1f} GiB); this machine has "
           f"{have / gib:.1f} GiB available; {hint}")
    raise ConfigError(f"scenario {sc.name}", [("population.accounts", msg)])


__all__ = ["Run", "Simulation", "run", "run_arms", "assign_arms", "CAUSES", "estimate_memory",
           "check_memory", "available_memory"]
