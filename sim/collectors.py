"""Collector teams working prioritised queues of call tasks, as one SimPy process.

The floor walks the teams' shift plans through the day in blocks of at most an hour. At
each block start, the teams on duty take tasks from the heads of their queues and the
blocks are worked as batches: each attempt's outcome and handle time are drawn, attempts
are placed one after another on the team's clock (h collectors in parallel work h minutes
of calls per minute), and a team's block ends when its minutes are spent. Capacity,
backlog, expiry and the hour of day all matter, and a day costs a few dozen events, not
one per call. No SimPy process per account, ever.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import numba
import numpy as np
import simpy

from .config import Team
from .pairwise import pairwise_sum

if TYPE_CHECKING:
    from .engine import Run


def shift_blocks(team: Team) -> list[tuple[float, float, int]]:
    """(start hour, end hour, collectors on duty) blocks of at most one hour."""
    edges = {s.start_hour for s in team.shifts} | {s.end_hour for s in team.shifts}
    if not edges:
        return []
    lo, hi = min(edges), max(edges)
    edges |= {float(h) for h in range(int(np.ceil(lo)), int(np.floor(hi)) + 1)}
    cuts = sorted(e for e in edges if lo <= e <= hi)
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        heads = sum(s.headcount for s in team.shifts if s.start_hour <= a and s.end_hour >= b)
        if heads > 0 and b > a:
            out.append((a, b, heads))
    return out


class Desk:
    """One team's queue of call tasks for the day, plus its capacity bookkeeping."""

    def __init__(self, name: str, index: int, cfg: Team, buckets: list[int],
                 accounts: int):
        self.name, self.index, self.cfg = name, index, cfg
        self.buckets = buckets
        self.blocks = shift_blocks(cfg)
        self.acct = np.zeros(0, dtype=np.int64)
        self.channel = np.zeros(0, dtype=np.int16)
        self.prio = np.zeros(0)
        self.left = np.zeros(0, dtype=np.int16)
        self.made = np.zeros(0, dtype=np.int16)
        self.not_before = np.zeros(0)
        self.age = np.zeros(0, dtype=np.int16)
        self.multi = np.zeros(0, dtype=bool)  # the account has another task in the queue
        # per account, all zero between uses: tasks per account while the queue is built
        # (enqueue), the accounts already in a batch (_ready_tasks)
        self.scratch = np.zeros(accounts, dtype=np.int32)
        self._dial: dict[tuple[float, float], tuple[np.ndarray, bool, bool]] = {}
        self.any_third = False  # a third-party call in the queue (set by the engine)
        # per-day counters, read and reset by the recorder
        self.capacity_min = 0.0
        self.used_min = 0.0
        self.backlog = 0
        self.expired = 0

    def enqueue(self, acct: np.ndarray, channel: np.ndarray, prio: np.ndarray,
                attempts: np.ndarray, expiry_days: int) -> None:
        """Today's requests (in any order; one task per account and channel, the most
        attempts asked for winning, the first asked for among equals); yesterday's
        unworked tasks keep their age, or expire. The queue: highest priority first, then
        the oldest, then by account and channel (``_day_queue``, one compiled call)."""
        if not len(acct):
            # no requests: yesterday's tasks are not asked for again, so none ages or expires
            self.acct, self.channel, self.prio = acct.astype(np.int64), channel, prio
            self.left, self.made, self.age = (np.zeros(0, dtype=np.int16) for _ in range(3))
            self.not_before, self.multi = np.zeros(0), np.zeros(0, dtype=bool)
            return
        (self.acct, self.channel, self.prio, self.left, self.age, self.multi,
         expired) = _day_queue(np.asarray(acct, np.int64), np.asarray(channel, np.int16),
                               np.asarray(prio, np.float64), np.asarray(attempts, np.int16),
                               self.acct, self.channel, self.made, self.age, expiry_days,
                               self.scratch)
        self.expired += expired
        self.made = np.zeros(len(self.acct), dtype=np.int16)
        self.not_before = np.zeros(len(self.acct))

    def end_of_day(self) -> None:
        self.backlog = int(np.count_nonzero(self.made == 0))


@numba.njit(cache=True, nogil=True)
def _day_queue(acct, chan, prio, att, old_acct, old_chan, old_made, old_age, expiry,
               scratch):  # pragma: no cover - compiled
    """A desk's queue for the day from its requests and yesterday's queue, in one pass
    over the steps of the numpy code it replaced, so the same queue:

    * one task per (account, channel): ``np.lexsort((-att, key))`` with key = account x
      1024 + channel, the first of each run of equal keys (a stable sort on key x 2^16 +
      (32767 - att), one key the same order; no sort when the keys already ascend);
    * yesterday's unworked tasks found among today's by bisection: one day older; those
      ``expiry`` days old expire (counted) and leave;
    * ``queue_order``: highest priority first, then the oldest, then by position (the
      requests are in key order by now);
    * "the account has another task in the queue" (``_shared``; ``scratch`` left zero).

    Returns the queue's accounts, channels, priorities, attempts left, ages, shared flags,
    and the number expired."""
    n = acct.shape[0]
    key = np.empty(n, np.int64)
    ascending = True
    for j in range(n):
        key[j] = acct[j] * 1024 + chan[j]
        if j > 0 and key[j] <= key[j - 1]:
            ascending = False
    if ascending:  # the usual day: one list of requests, in account order, one per key
        order = np.arange(n)
    else:
        wide = np.empty(n, np.int64)
        for j in range(n):
            wide[j] = key[j] * 65536 + (32767 - np.int64(att[j]))
        order = np.argsort(wide, kind="mergesort")
    sel = np.empty(n, np.int64)
    m = 0
    for r in range(n):
        if r == 0 or key[order[r]] != key[order[r - 1]]:
            sel[m] = order[r]
            m += 1
    ks = np.empty(m, np.int64)
    for j in range(m):
        ks[j] = key[sel[j]]
    age = np.zeros(m, np.int16)
    for j in range(old_acct.shape[0]):
        if old_made[j] == 0:
            ok = old_acct[j] * 1024 + old_chan[j]
            at = min(np.searchsorted(ks, ok), m - 1)
            if ks[at] == ok:
                age[at] = old_age[j] + 1
    expired, k = 0, 0
    for j in range(m):
        if age[j] >= expiry:
            expired += 1
        else:
            sel[k] = sel[j]
            age[k] = age[j]
            k += 1
    kept_prio = np.empty(k)
    for j in range(k):
        kept_prio[j] = prio[sel[j]]
    q = queue_order(kept_prio, age[:k])
    q_acct, q_chan, q_prio = np.empty(k, np.int64), np.empty(k, np.int16), np.empty(k)
    q_left, q_age, multi = np.empty(k, np.int16), np.empty(k, np.int16), np.empty(k, np.bool_)
    for j in range(k):
        i = sel[q[j]]
        q_acct[j], q_chan[j], q_prio[j], q_left[j] = acct[i], chan[i], prio[i], att[i]
        q_age[j] = age[q[j]]
    _shared(q_acct, scratch, multi)
    return q_acct, q_chan, q_prio, q_left, q_age, multi, expired


@numba.njit(cache=True, nogil=True)
def queue_order(prio, age):  # pragma: no cover - compiled
    """``np.lexsort((-age, -prio))``: highest priority first, then the oldest, then by
    position. A stable sort of floats is a merge sort (about 100 ns a task at a million
    accounts' queues); an unstable one is several times faster, and the ties it leaves in
    no defined order are few (priorities are amounts, scores, DPDs), so they are put in
    order afterwards. The order is total, so the result is the same whatever sort runs."""
    key = -prio
    order = np.argsort(key)
    _order_ties(key, age, order)
    return order


@numba.njit(cache=True, nogil=True)
def _order_ties(key, age, order):  # pragma: no cover - compiled
    """Within each run of equal ``key`` along ``order``: the oldest (``age``) first,
    then by position (NaN keys count as equal to each other, as lexsort orders them)."""
    n, i = order.shape[0], 0
    while i < n:
        ki, j = key[order[i]], i + 1
        while j < n and (key[order[j]] == ki or (ki != ki and key[order[j]] != key[order[j]])):
            j += 1
        for a in range(i + 1, j):  # insertion sort: runs are short
            o, b = order[a], a - 1
            while b >= i and (age[order[b]] < age[o] or (age[order[b]] == age[o] and order[b] > o)):
                order[b + 1] = order[b]
                b -= 1
            order[b + 1] = o
        i = j


def floor_plan(desks: list[Desk]) -> dict[int, list[tuple[float, list[tuple[Desk, float, int]]]]]:
    """Per weekday: the block start hours of the teams at work, each with the blocks
    (team, end hour, collectors on duty) that start then, teams in configuration order."""
    plan = {}
    for weekday in range(7):
        starts: dict[float, list[tuple[Desk, float, int]]] = {}
        for desk in desks:
            if weekday in desk.cfg.work_days:
                for a, b, heads in desk.blocks:
                    starts.setdefault(a, []).append((desk, b, heads))
        plan[weekday] = sorted(starts.items(), key=lambda step: step[0])
    return plan


def floor_process(env: simpy.Environment, desks: list[Desk], run: Run) -> Generator:
    """The collection floor's working days: at each block start, the teams on duty work
    their blocks together (``work_hour``).

    One process for every team: at any moment the teams work in a defined order (their
    order in the scenario), not in the order SimPy happened to schedule their wake-ups."""
    plan = floor_plan(desks)
    for day in range(run.days):
        steps = plan[int(run.cal.weekday[day])]
        for i, (a, blocks) in enumerate(steps):
            t = day + a / 24.0
            if t > env.now:
                yield env.timeout(t - env.now)
            if a > 0 and not any(len(desk.acct) for desk in desks):
                # Tasks are queued only at the start of the day (time ``day``, before this
                # block), so empty queues stay empty: the rest of the day is idle capacity,
                # booked block by block in the same order, with no wake-up per block.
                # Under no_action that is every block of every day.
                for a2, rest in steps[i:]:
                    for desk, b, heads in rest:
                        desk.capacity_min += block_minutes(desk, a2, b, heads)
                break
            work_hour(run, day, a, blocks)
        nxt = day + 1
        if nxt > env.now:
            yield env.timeout(nxt - env.now)


def block_minutes(desk: Desk, a: float, b: float, heads: int) -> float:
    """Productive collector minutes of a block."""
    return heads * (b - a) * 60.0 * desk.cfg.productive_share


class _Crew:
    """One team's block in progress: its clock (minutes used of ``total``) and the tasks
    it has tried in the block."""

    __slots__ = ("desk", "b", "total", "used", "tried", "cand", "whole")

    def __init__(self, desk: Desk, b: float, total: float, tried: np.ndarray | None):
        self.desk, self.b, self.total, self.used, self.tried = desk, b, total, 0.0, tried
        self.cand, self.whole = np.zeros(0, np.int64), False


def work_hour(run: Run, day: int, a: float, blocks: list[tuple[Desk, float, int]]) -> None:
    """The blocks that start at hour ``a``, worked as batches.

    In each batch every team on duty takes tasks from the head of its queue; each
    attempt's outcome and handle time are drawn, attempts are placed one after another on
    the team's clock (h collectors in parallel work h minutes of calls per minute), and a
    team's block ends when its minutes are spent. The teams' batches go through the gate,
    the draws and the bookkeeping together: a team's accounts are its own (a bucket
    belongs to one team) and every draw and every piece of state is keyed by account, so
    that is the same as working them one after another (but for the order of float sums
    of the day's costs), for the fixed cost of one batch instead of one per team."""
    crews = []
    for desk, b, heads in blocks:
        total = block_minutes(desk, a, b, heads)
        desk.capacity_min += total
        if not len(desk.acct):
            continue  # an empty queue: the block is idle capacity
        # each strategy (arm) dials only inside its own call hours; outside them collectors wait
        cached = desk._dial.get((a, b))
        if cached is None:
            dial = run.arms_dialling(a, b)
            cached = desk._dial[(a, b)] = (dial, bool(dial.any()), bool(dial.all()))
        dial, some, every = cached
        if some:
            # tasks tried in this block (or of an arm not dialling now); None while there are none
            crews.append(_Crew(desk, b, total, None if every else ~dial[run.arm[desk.acct]]))
    working = crews
    while working:
        working = [c for c in working if c.used < c.total and _take(run, c, a)]
        if working:
            working = _work_batch(run, day, a, working)
    for c in crews:
        c.desk.used_min += min(c.used, c.total)


def _take(run: Run, crew: _Crew, a: float) -> bool:
    """The crew's next batch of tasks (``crew.cand``); False when none is ready."""
    desk = crew.desk
    # no more than could fit in the minutes left (every attempt takes at least min_handle)
    cap = min(len(desk.acct), int((crew.total - crew.used) / run.min_handle) + 1)
    out = np.empty(cap, np.int64)
    n_ready, n, dup = _ready_tasks(desk.left, desk.not_before, a,
                                   _NONE_TRIED if crew.tried is None else crew.tried, desk.multi,
                                   desk.acct, desk.scratch, out)
    if n_ready == 0:
        return False
    # the batch takes every ready task (and each account once)
    crew.whole = min(n_ready, cap) == n_ready and not dup
    crew.cand = out[:n]
    return True


_NONE_TRIED = np.zeros(0, bool)


@numba.njit(cache=True, nogil=True)
def _shared(acct, scratch, out):  # pragma: no cover - compiled
    """out[j]: account acct[j] has another task in the list (``scratch``: per account,
    all zero, and left so)."""
    for j in range(acct.shape[0]):
        scratch[acct[j]] += 1
    for j in range(acct.shape[0]):
        out[j] = scratch[acct[j]] > 1
    for j in range(acct.shape[0]):
        scratch[acct[j]] = 0


@numba.njit(cache=True, nogil=True)
def _ready_tasks(left, not_before, a, tried, multi, acct, seen, out):  # pragma: no cover
    """The first ``len(out)`` ready tasks in queue order (attempts left, retry gap over by
    hour ``a``, not tried in this block (``tried``; empty: none)), each account once: one
    attempt per account per batch, because the gate checks a batch against the history
    before it, so a second task for the same account (an emergency contact after a
    conversation, say) waits for the next batch, when that history is booked. Only the
    tasks flagged ``multi`` can share an account; ``seen`` (zeros, per account) is left
    zero. Returns (ready tasks in all, tasks taken into ``out``, whether one was left
    for a repeated account)."""
    has_tried, cap = tried.shape[0] > 0, out.shape[0]
    n_ready = 0
    for q in range(left.shape[0]):
        if left[q] > 0 and not_before[q] <= a and not (has_tried and tried[q]):
            if n_ready < cap:
                out[n_ready] = q
            n_ready += 1
    n, dup = 0, False
    for j in range(min(n_ready, cap)):
        q = out[j]
        if multi[q]:
            if seen[acct[q]]:
                dup = True
                continue
            seen[acct[q]] = 1
        out[n] = q
        n += 1
    for j in range(n):
        if multi[out[j]]:
            seen[acct[out[j]]] = 0
    return n_ready, n, dup


def _work_batch(run: Run, day: int, a: float, crews: list[_Crew]) -> list[_Crew]:
    """One batch of each crew (``crew.cand``), through the gate, the draws and the books
    together; returns the crews that may take another batch in this block.

    The usual batch (no call to a third party among its tasks, the gate open at this
    hour) is checked, drawn and placed crew by crew in one compiled pass each
    (``Run.place_agent_calls``), which draws no candidate past the end of the crew's
    minutes; any other batch is checked and drawn whole first (``_work_batch_drawn``).
    The two give the same results."""
    if not run.agent_calls_open(day, a) or any(
            c.desk.any_third and run.third_party_among(c.desk.channel[c.cand]) for c in crews):
        return _work_batch_drawn(run, day, a, crews)
    n = sum(len(c.cand) for c in crews)
    # the executed attempts' account, channel, outcome, minutes, person and hour, crew
    # after crew; the refused ones' account and channel
    x = (np.empty(n, np.int64), np.empty(n, np.int16), np.empty(n, np.int8), np.empty(n),
         np.empty(n, np.int64), np.empty(n))
    refused = (np.empty(n, np.int64), np.empty(n, np.int16))
    again, teams = [], []
    n_x = n_ref = 0
    for c in crews:
        desk = c.desk
        if c.tried is None:
            c.tried = np.zeros(len(desk.acct), dtype=bool)
        n_fit, n_ex, n_r, spent = run.place_agent_calls(day, a, c.b, desk, c.cand, c.used,
                                                        c.total, c.tried, n_x, x, n_ref,
                                                        refused)
        n_ref += n_r
        if n_ex:
            n_x += n_ex
            teams.append((desk, n_ex))
            c.used += spent
        if n_fit == len(c.cand) and not c.whole:  # as in _work_batch_drawn
            again.append(c)
    if n_ref:
        run.call_gate(day, a, refused[0][:n_ref], refused[1][:n_ref], count=True)
    if teams:
        x_acct, x_chan, x_outcome, x_minutes, x_person, x_hours = x
        run.execute_calls(day, x_hours[:n_x], x_acct[:n_x], x_chan[:n_x], x_outcome[:n_x],
                          x_minutes[:n_x], teams, x_person[:n_x])
    return again


def _work_batch_drawn(run: Run, day: int, a: float, crews: list[_Crew]) -> list[_Crew]:
    """``_work_batch`` for any batch: every candidate checked and drawn, then placed."""
    n = sum(len(c.cand) for c in crews)
    acct, chan = np.empty(n, np.int64), np.empty(n, np.int16)
    made, person = np.empty(n, np.int16), np.empty(n, np.int64)
    s = 0
    for c in crews:
        _gather_tasks(c.cand, c.desk.acct, c.desk.channel, c.desk.made, run.book.person, s,
                      acct, chan, made, person)
        s += len(c.cand)
    third = any(c.desk.any_third for c in crews)
    ok = run.call_gate(day, a, acct, chan, count=False, third=third)
    outcome, minutes = run.call_outcomes(day, a, acct, chan, made, third, person)
    # each crew places its attempts on its own clock; the executed ones are gathered
    # crew after crew into x_*
    x_acct, x_chan, x_person = np.empty(n, np.int64), np.empty(n, np.int16), np.empty(n, np.int64)
    x_outcome, x_minutes, x_hours = np.empty(n, np.int8), np.empty(n), np.empty(n)
    refused, again, teams = [], [], []
    s = n_x = 0
    for c in crews:
        desk, k = c.desk, len(c.cand)
        if c.tried is None:
            c.tried = np.zeros(len(desk.acct), dtype=bool)
        m, start, hours = np.empty(k), np.empty(k), np.empty(k)
        pos, ref = np.empty(k, np.int64), np.empty(k, np.int64)
        e = s + k
        n_fit, n_ex, n_ref, spent = _place(c.cand, ok[s:e], minutes[s:e], outcome[s:e], c.used,
                                           c.total, a, c.b, run.retry_gap, c.tried, desk.left,
                                           desk.made, desk.not_before, m, start, pos, hours,
                                           ref)
        if n_ref:
            refused.append(s + ref[:n_ref])
        if n_ex:
            _gather_executed(pos, n_ex, s, hours, acct, chan, outcome, minutes, person, n_x,
                             x_acct, x_chan, x_outcome, x_minutes, x_person, x_hours)
            n_x += n_ex
            teams.append((desk, n_ex))
            c.used += spent
        # another batch only if every attempt fitted and ready tasks may be left; when the
        # batch took every ready task, each is now tried, refused or waiting for its retry
        # gap (hours + gap > a): another pass would find none
        if n_fit == k and not c.whole:
            again.append(c)
        s = e
    if refused:
        # refusals are counted once (and the task was dropped for the day: the law will
        # not change)
        at = np.concatenate(refused) if len(refused) > 1 else refused[0]
        run.call_gate(day, a, acct[at], chan[at], count=True)
    if teams:
        run.execute_calls(day, x_hours[:n_x], x_acct[:n_x], x_chan[:n_x], x_outcome[:n_x],
                          x_minutes[:n_x], teams, x_person[:n_x])
    return again


@numba.njit(cache=True, nogil=True)
def _gather_tasks(cand, acct_q, chan_q, made_q, person_of, at, acct, chan, made,
                  person):  # pragma: no cover - compiled
    """The tasks at queue positions ``cand``: account, channel and attempts made from the
    queue's columns, the account's person; into the batch's arrays from ``at`` on."""
    for j in range(cand.shape[0]):
        q = cand[j]
        i = acct_q[q]
        acct[at + j], chan[at + j], made[at + j] = i, chan_q[q], made_q[q]
        person[at + j] = person_of[i]


@numba.njit(cache=True, nogil=True)
def _gather_executed(pos, n, s, hours, acct, chan, outcome, minutes, person, at, x_acct, x_chan,
                     x_outcome, x_minutes, x_person, x_hours):  # pragma: no cover - compiled
    """A crew's executed attempts (its batch positions ``pos[:n]``, the crew's first at
    batch position ``s``; their hours ``hours[:n]``): their columns, into x_* from ``at``."""
    for j in range(n):
        k = s + pos[j]
        x_acct[at + j], x_chan[at + j], x_outcome[at + j] = acct[k], chan[k], outcome[k]
        x_minutes[at + j], x_person[at + j], x_hours[at + j] = minutes[k], person[k], hours[j]


@numba.njit(cache=True, nogil=True)
def _place(cand, ok, minutes, outcome, used, total, a, b, retry_gap, tried, left, made,
           not_before, m, start, pos, hours, ref):  # pragma: no cover - compiled
    """A crew's batch on its clock, in one pass: the attempts (queue positions ``cand``,
    allowed ``ok``, drawn ``minutes`` and ``outcome``) start one after another from
    ``used`` minutes; those starting before ``total`` fit. Each one that fits is tried;
    a refused one is dropped for the day; an executed one gets its hour (into ``hours``,
    its batch position into ``pos``), one more attempt made, no attempts left if it
    reached someone (one fewer if not) and its retry gap. ``m``: the minutes on the
    clock. Returns (fitted, executed, refused (their positions in ``ref``), the minutes
    the fitted attempts took (numpy's sum of ``m[:fitted]``, bit for bit)).

    The arithmetic of ``start = used + np.cumsum(m) - m``, ``fits = start < total``,
    ``n_fit = count_nonzero(fits)`` and ``hours = a + (b - a) * (start / total)``, in the
    same order, so the same bits."""
    k = cand.shape[0]
    cs, n_fit = 0.0, 0
    for j in range(k):
        mj = minutes[j] if ok[j] else 0.0
        m[j] = mj
        cs += mj
        start[j] = (used + cs) - mj
        if start[j] < total:
            n_fit += 1
    n_ex, n_ref = 0, 0
    for j in range(n_fit):  # the count, as numpy's code took cand[:n_fit]
        q = cand[j]
        tried[q] = True
        if ok[j]:
            h = a + (b - a) * (start[j] / total)
            pos[n_ex], hours[n_ex] = j, h
            made[q] += 1
            left[q] = 0 if outcome[j] >= 2 else left[q] - 1
            not_before[q] = h + retry_gap
            n_ex += 1
        else:
            left[q] = 0
            ref[n_ref] = j
            n_ref += 1
    return n_fit, n_ex, n_ref, pairwise_sum(m, np.int64(0), np.int64(n_fit))
