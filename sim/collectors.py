"""Collector teams as SimPy processes working a prioritised queue of call tasks.

One process per team walks its shift plan through the day in blocks of at most an hour;
in each block the collectors on duty take tasks from the head of the queue and the block
is worked as a batch: each attempt's outcome and handle time are drawn, attempts are
placed one after another on the team's clock (h collectors in parallel work h minutes of
calls per minute), and the block ends when its minutes are spent. Capacity, backlog,
expiry and the hour of day all matter, and a day costs a few dozen events, not one per
call. No SimPy process per account, ever.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np
import simpy

from .config import Team

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
                 accounts: int | None = None):
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
        # tasks per account while the queue is built (all zero between days)
        self._count = None if accounts is None else np.zeros(accounts, dtype=np.int32)
        self._dial: dict[tuple[float, float], tuple[np.ndarray, bool, bool]] = {}
        self.any_third = False  # a third-party call in the queue (set by the engine)
        # per-day counters, read and reset by the recorder
        self.capacity_min = 0.0
        self.used_min = 0.0
        self.backlog = 0
        self.expired = 0

    def enqueue(self, acct: np.ndarray, channel: np.ndarray, prio: np.ndarray,
                attempts: np.ndarray, expiry_days: int) -> None:
        """Today's requests; yesterday's unworked tasks keep their age, or expire."""
        if not len(acct):
            # no requests: yesterday's tasks are not asked for again, so none ages or expires
            self.acct, self.channel, self.prio = acct.astype(np.int64), channel, prio
            self.left, self.made, self.age = (np.zeros(0, dtype=np.int16) for _ in range(3))
            self.not_before, self.multi = np.zeros(0), np.zeros(0, dtype=bool)
            return
        age = np.zeros(len(acct), dtype=np.int16)
        if len(self.acct):
            unworked = self.made == 0
            old_key = self.acct[unworked] * 1024 + self.channel[unworked]
            _, i_old, i_new = np.intersect1d(old_key, acct * 1024 + channel, assume_unique=True,
                                             return_indices=True)
            age[i_new] = self.age[unworked][i_old] + 1
            self.expired += int(np.count_nonzero(age >= expiry_days))
        keep = age < expiry_days
        acct, channel, prio, attempts, age = acct[keep], channel[keep], prio[keep], attempts[keep], age[keep]
        order = np.lexsort((acct, -age, -prio))
        self.acct, self.channel, self.prio = acct[order], channel[order], prio[order]
        self.left = attempts[order].astype(np.int16)
        self.made = np.zeros(len(acct), dtype=np.int16)
        self.not_before = np.zeros(len(acct))
        self.age = age[order]
        # most accounts have one task; only those with more need the per-batch dedup
        if self._count is None:
            _, inv, counts = np.unique(self.acct, return_inverse=True, return_counts=True)
            self.multi = counts[inv] > 1
        else:
            # typed ones: np.add.at with a Python scalar takes a slow path
            np.add.at(self._count, self.acct, np.ones(len(self.acct), self._count.dtype))
            self.multi = self._count[self.acct] > 1
            self._count[self.acct] = 0

    def end_of_day(self) -> None:
        self.backlog = int(np.count_nonzero(self.made == 0))


def team_process(env: simpy.Environment, desk: Desk, run: Run) -> Generator:
    """The team's working days: wait for each block of the shift plan and work it."""
    for day in range(run.days):
        if run.cal.weekday[day] in desk.cfg.work_days:
            for a, b, heads in desk.blocks:
                t = day + a / 24.0
                if t > env.now:
                    yield env.timeout(t - env.now)
                work_block(desk, run, day, a, b, heads)
        nxt = day + 1
        if nxt > env.now:
            yield env.timeout(nxt - env.now)


def work_block(desk: Desk, run: Run, day: int, a: float, b: float, heads: int) -> None:
    total = heads * (b - a) * 60.0 * desk.cfg.productive_share
    desk.capacity_min += total
    if not len(desk.acct):
        return  # an empty queue: the block is idle capacity
    # each strategy (arm) dials only inside its own call hours; outside them collectors wait
    cached = desk._dial.get((a, b))
    if cached is None:
        dial = run.arms_dialling(a, b)
        cached = desk._dial[(a, b)] = (dial, bool(dial.any()), bool(dial.all()))
    dial, some, every = cached
    if not some:
        return
    used = 0.0
    # tasks tried in this block (or of an arm not dialling now); None while there are none
    tried = None if every else ~dial[run.arm[desk.acct]]
    while used < total:
        ready = (desk.left > 0) & (desk.not_before <= a)
        if tried is not None:
            ready &= ~tried
        elig = np.flatnonzero(ready)
        if len(elig) == 0:
            break
        k = min(len(elig), int((total - used) / run.min_handle) + 1)
        whole = k == len(elig)  # the batch takes every ready task
        cand = elig[:k]
        # one attempt per account per batch: the gate checks a batch against the history
        # before it, so a second task for the same account (an emergency contact after a
        # conversation, say) must wait for the next batch, when that history is booked
        multi = desk.multi[cand]
        if multi.any():
            at = np.flatnonzero(multi)
            _, first = np.unique(desk.acct[cand[at]], return_index=True)
            if len(first) < len(at):
                keep = ~multi
                keep[at[first]] = True
                cand = cand[keep]
                k = len(cand)
                whole = False
        acct, chan = desk.acct[cand], desk.channel[cand]
        person = run.book.person[acct]
        ok = run.call_gate(day, a, acct, chan, count=False, desk=desk)
        outcome, minutes = run.call_outcomes(day, a, acct, chan, desk.made[cand], desk, person)
        m = np.where(ok, minutes, 0.0)
        start = used + np.cumsum(m) - m
        fits = start < total
        n_fit = int(np.count_nonzero(fits))
        sel = cand[:n_fit]
        if tried is None:
            tried = np.zeros(len(desk.acct), dtype=bool)
        tried[sel] = True
        okf = ok[:n_fit]
        if not okf.all():
            # count refusals once, and drop the task for the day: the law will not change
            run.call_gate(day, a, acct[:n_fit][~okf], chan[:n_fit][~okf], count=True)
            desk.left[sel[~okf]] = 0
        ex = sel[okf]
        if len(ex):
            hours = a + (b - a) * (start[:n_fit][okf] / total)
            out = outcome[:n_fit][okf]
            run.execute_calls(day, hours, desk.acct[ex], desk.channel[ex], out,
                              minutes[:n_fit][okf], desk, person[:n_fit][okf])
            desk.made[ex] += 1
            reached = out >= 2
            desk.left[ex] = np.where(reached, 0, desk.left[ex] - 1)
            desk.not_before[ex] = hours + run.retry_gap
            used += float(m[:n_fit].sum())
        if n_fit < k or whole:
            # every ready task was taken and is now tried, refused or waiting for its retry
            # gap (hours + gap > a): another pass would find none
            break
    desk.used_min += min(used, total)
