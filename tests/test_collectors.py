"""The collection floor: teams worked together equal teams worked one after another, and
the compiled placement of a batch equals the numpy code it replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import behaviour as bh
from sim import collectors
from sim.config import load_strategy
from sim.engine import run
from tests.conftest import small


def test_teams_worked_together_equal_teams_worked_one_after_another(monkeypatch):
    """work_hour takes the teams' batches of an hour through the gate, the draws and the
    books together. A team's accounts are its own and everything is keyed by account, so
    that must be the same as working each team's block on its own: every table the same,
    but for the day's cost totals, float sums whose order changes (last bits only)."""
    sc = small("us_reg_f", 3000)  # three teams, third-party calls, a weekly cap, cool-off
    st_ = load_strategy("call_heavy")
    widest = []
    batch = collectors._work_batch

    def counted(run_, day, a, crews):
        widest.append(len(crews))
        return batch(run_, day, a, crews)

    monkeypatch.setattr(collectors, "_work_batch", counted)
    together = run(sc, st_, seed=4, check_invariants=True)
    assert max(widest) == 3  # batches of three teams were worked together
    real = collectors.work_hour

    def one_after_another(run_, day, a, blocks):
        for block in blocks:
            real(run_, day, a, [block])

    monkeypatch.setattr(collectors, "work_hour", one_after_another)
    apart = run(sc, st_, seed=4, check_invariants=True)
    assert together.kpis["call_attempts"] > 2_000  # the teams did work
    for name in ("cohorts", "roll_matrix", "cure_curve", "episodes"):
        pd.testing.assert_frame_equal(getattr(together, name), getattr(apart, name),
                                      check_exact=True)
    float_sums = ["collector_cost", "cost"]
    a, b = together.daily, apart.daily
    exact = [c for c in a.columns if not any(f in c for f in float_sums)]
    pd.testing.assert_frame_equal(a[exact], b[exact], check_exact=True)
    pd.testing.assert_frame_equal(a.drop(columns=exact), b.drop(columns=exact), rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(0, 400), used=st.floats(0, 50),
       total=st.floats(0.5, 1200))
def test_the_compiled_placement_equals_the_numpy_code(seed, k, used, total):
    """_place against the numpy steps of a crew's batch it replaced (work_block)."""
    rng = np.random.default_rng(seed)
    q = 600
    cand = np.sort(rng.choice(q, k, replace=False)).astype(np.int64)
    ok = rng.random(k) < 0.8
    minutes = np.where(rng.random(k) < 0.5, rng.uniform(0.3, 1.0, k), rng.lognormal(1.5, 0.6, k))
    outcome = rng.integers(0, 4, k).astype(np.int8)
    a, b, gap = 9.0, 10.0, 2.0
    left0 = rng.integers(1, 4, q).astype(np.int16)
    made0 = rng.integers(0, 3, q).astype(np.int16)
    nb0 = rng.uniform(0, 9, q)
    # the numpy steps
    m = np.where(ok, minutes, 0.0)
    start = used + np.cumsum(m) - m
    n_fit = int(np.count_nonzero(start < total))
    sel = cand[:n_fit]
    okf = ok[:n_fit]
    tried_w = np.zeros(q, bool)
    tried_w[sel] = True
    left_w, made_w, nb_w = left0.copy(), made0.copy(), nb0.copy()
    left_w[sel[~okf]] = 0
    ex = sel[okf]
    hours_w = a + (b - a) * (start[:n_fit][okf] / total)
    made_w[ex] += 1
    left_w[ex] = np.where(outcome[:n_fit][okf] >= 2, 0, left_w[ex] - 1)
    nb_w[ex] = hours_w + gap
    # the kernel
    tried, left, made, nb = np.zeros(q, bool), left0.copy(), made0.copy(), nb0.copy()
    mm, ss, hours = np.empty(k), np.empty(k), np.empty(k)
    pos, ref = np.empty(k, np.int64), np.empty(k, np.int64)
    got = collectors._place(cand, ok, minutes, outcome, used, total, a, b, gap, tried, left,
                            made, nb, mm, ss, pos, hours, ref)
    n_fit_k, n_ex, n_ref, spent = got
    assert n_fit_k == n_fit
    assert np.float64(spent).view(np.uint64) == m[:n_fit].sum().view(np.uint64)
    assert np.array_equal(pos[:n_ex], np.flatnonzero(okf))
    assert np.array_equal(ref[:n_ref], np.flatnonzero(~okf))
    assert np.array_equal(hours[:n_ex], hours_w)  # bit for bit
    assert float(mm[:n_fit].sum()) == float(m[:n_fit].sum())
    for got_a, want in ((tried, tried_w), (left, left_w), (made, made_w), (nb, nb_w)):
        assert np.array_equal(got_a, want)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 50))
def test_promise_probability_per_conversation_skill_equals_one_team_at_a_time(seed, n):
    """With teams' conversations worked together, skill is one number per conversation;
    the probabilities must be those of each team's own call, bit for bit (willingness is
    float32: numpy rounds a Python number to float32 first)."""
    rng = np.random.default_rng(seed)
    skills = np.array([1.0, 1.1, 1.2, 0.7])
    team = rng.integers(0, len(skills), n)
    will = rng.uniform(0, 1, n).astype(np.float32)
    misread = rng.random(n) < 0.1
    together = bh.promise_probability(0.37, skills[team], will, misread)
    for t, s in enumerate(skills):
        sel = team == t
        alone = bh.promise_probability(0.37, float(s), will[sel], misread[sel])
        assert together.dtype == alone.dtype
        assert np.array_equal(together[sel], alone)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), q=st.integers(1, 60), cap=st.integers(1, 70),
       tried=st.booleans())
def test_the_compiled_task_pick_equals_the_numpy_code(seed, q, cap, tried):
    """_ready_tasks against the numpy steps of work_block it replaced: the first ready
    tasks up to the cap, each account once among the tasks that share one."""
    rng = np.random.default_rng(seed)
    acct = rng.integers(0, 25, q).astype(np.int64)  # repeats: accounts with several tasks
    counts = np.bincount(acct, minlength=25)
    multi = counts[acct] > 1
    left = rng.integers(0, 3, q).astype(np.int16)
    not_before = rng.uniform(8, 12, q)
    tried_a = rng.random(q) < 0.3 if tried else np.zeros(0, bool)
    a = 10.0
    # the numpy steps
    ready = (left > 0) & (not_before <= a)
    if tried:
        ready &= ~tried_a
    elig = np.flatnonzero(ready)
    k = min(len(elig), cap)
    whole = k == len(elig)
    cand = elig[:k]
    m = multi[cand]
    if m.any():
        at = np.flatnonzero(m)
        _, first = np.unique(acct[cand[at]], return_index=True)
        if len(first) < len(at):
            keep = ~m
            keep[at[first]] = True
            cand = cand[keep]
            whole = False
    # the kernel
    seen, out = np.zeros(25, np.int32), np.empty(min(cap, q), np.int64)
    n_ready, n, dup = collectors._ready_tasks(left, not_before, a, tried_a, multi, acct, seen, out)
    assert n_ready == len(elig)
    assert np.array_equal(out[:n], cand)
    assert (min(n_ready, cap) == n_ready and not dup) == whole
    assert not seen.any()


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_old=st.integers(0, 40), n_new=st.integers(1, 40))
def test_enqueue_equals_the_sort_based_code(seed, n_old, n_new):
    """Desk.enqueue (requests in (account, channel) order: bisection and a two-key sort)
    against the code it replaced (np.intersect1d and a three-key sort): the same queue,
    ages and expiries."""
    from sim.config import load_scenario

    rng = np.random.default_rng(seed)
    team = next(iter(load_scenario("baseline").collectors.teams.values()))
    desk = collectors.Desk("t", 0, team, [1], 50)
    keys = np.sort(rng.choice(50 * 3, n_old, replace=False))
    desk.acct, desk.channel = (keys // 3).astype(np.int64), (keys % 3).astype(np.int16)
    desk.made = rng.integers(0, 2, n_old).astype(np.int16)
    desk.age = rng.integers(0, 3, n_old).astype(np.int16)
    keys = np.sort(rng.choice(50 * 3, n_new, replace=False))
    acct, chan = (keys // 3).astype(np.int64), (keys % 3).astype(np.int16)
    prio = rng.integers(0, 4, n_new).astype(np.float64)  # ties: the later keys decide
    attempts = rng.integers(1, 3, n_new).astype(np.int16)
    # the code before
    age = np.zeros(n_new, np.int16)
    unworked = desk.made == 0
    _, i_old, i_new = np.intersect1d(desk.acct[unworked] * 1024 + desk.channel[unworked],
                                     acct * 1024 + chan, assume_unique=True, return_indices=True)
    age[i_new] = desk.age[unworked][i_old] + 1
    expired = int(np.count_nonzero(age >= 3))
    keep = age < 3
    order = np.lexsort((acct[keep], -age[keep], -prio[keep]))
    desk.enqueue(acct, chan, prio, attempts, 3)
    assert np.array_equal(desk.acct, acct[keep][order])
    assert np.array_equal(desk.channel, chan[keep][order])
    assert np.array_equal(desk.prio, prio[keep][order])
    assert np.array_equal(desk.left, attempts[keep][order])
    assert np.array_equal(desk.age, age[keep][order])
    assert desk.expired == expired


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_old=st.integers(0, 60), n_new=st.integers(1, 120),
       expiry=st.integers(1, 4), nan=st.booleans())
def test_a_days_queue_from_raw_requests_equals_the_numpy_steps(seed, n_old, n_new, expiry,
                                                               nan):
    """Desk.enqueue from the day's raw requests (in any order, an (account, channel)
    asked for more than once, priorities with ties, 0.0 and -0.0, NaN) against the numpy
    steps it replaced: the engine's lexsort keeping the most attempts per key, then the
    bisection for yesterday's unworked tasks, the expiry and the three-key order. The
    same queue, attempts, ages, shared-account flags and expiries; the scratch left zero."""
    from sim.config import load_scenario

    rng = np.random.default_rng(seed)
    team = next(iter(load_scenario("baseline").collectors.teams.values()))
    desk = collectors.Desk("t", 0, team, [1], 40)
    keys = rng.permutation(rng.choice(40 * 3, n_old, replace=False))
    desk.acct, desk.channel = (keys // 3).astype(np.int64), (keys % 3).astype(np.int16)
    desk.made = rng.integers(0, 2, n_old).astype(np.int16)
    desk.age = rng.integers(0, expiry + 1, n_old).astype(np.int16)
    keys = rng.choice(40 * 3, n_new)  # repeats
    acct, chan = (keys // 3).astype(np.int64), (keys % 3).astype(np.int16)
    values = np.array([0.0, -0.0, 1.5, 3.0] + ([np.nan] if nan else []))
    prio = rng.choice(values, n_new)
    attempts = rng.integers(1, 4, n_new).astype(np.int16)
    # the numpy steps
    key = acct * 1024 + chan
    order = np.lexsort((-attempts, key))
    ks = key[order]
    keep = order[np.flatnonzero(np.concatenate(([True], ks[1:] != ks[:-1])))]
    a, c, p, t, k = acct[keep], chan[keep], prio[keep], attempts[keep], key[keep]
    age = np.zeros(len(a), np.int16)
    unworked = desk.made == 0
    old_key = desk.acct[unworked] * 1024 + desk.channel[unworked]
    at = np.minimum(np.searchsorted(k, old_key), len(k) - 1)
    hit = k[at] == old_key
    age[at[hit]] = desk.age[unworked][hit] + 1
    expired = int(np.count_nonzero(age >= expiry))
    live = age < expiry
    a, c, p, t, age = a[live], c[live], p[live], t[live], age[live]
    q = np.lexsort((-age, -p))
    count = np.zeros(40, np.int32)
    np.add.at(count, a, 1)
    desk.enqueue(acct, chan, prio, attempts, expiry)
    assert np.array_equal(desk.acct, a[q]) and np.array_equal(desk.channel, c[q])
    assert np.array_equal(desk.prio, p[q], equal_nan=True)
    assert np.array_equal(np.signbit(desk.prio), np.signbit(p[q]))
    assert np.array_equal(desk.left, t[q]) and np.array_equal(desk.age, age[q])
    assert desk.left.dtype == desk.age.dtype == desk.made.dtype == np.int16
    assert np.array_equal(desk.multi, count[a[q]] > 1) and not desk.scratch.any()
    assert not desk.made.any() and not desk.not_before.any()
    assert desk.expired == expired


@settings(max_examples=100, deadline=None)
@given(acct=st.lists(st.integers(0, 30), max_size=80))
def test_the_shared_account_flags_equal_the_numpy_count(acct):
    """Desk.enqueue's flag "the account has another task in the queue" (compiled) against
    the np.add.at count it replaced; the per-account scratch is left all zero."""
    from sim.collectors import _shared

    a = np.array(acct, np.int64)
    count = np.zeros(31, np.int32)
    np.add.at(count, a, 1)
    scratch, out = np.zeros(31, np.int32), np.empty(len(a), bool)
    _shared(a, scratch, out)
    assert np.array_equal(out, count[a] > 1) and not scratch.any()


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 3000), pool=st.integers(1, 50),
       nan=st.booleans())
def test_the_queue_order_equals_lexsort(seed, n, pool, nan):
    """queue_order (an unstable argsort, ties put in order by a compiled pass)
    against the two-key lexsort it replaced, on priorities with many ties (a pool of
    ``pool`` values, with 0.0 and -0.0, and NaN) and ages with ties of their own."""
    from sim.collectors import queue_order

    rng = np.random.default_rng(seed)
    values = np.concatenate([[0.0, -0.0], rng.normal(0, 1e5, pool)] + ([[np.nan]] if nan else []))
    prio = rng.choice(values, n)
    age = rng.integers(0, 3, n).astype(np.int16)
    assert np.array_equal(queue_order(prio, age), np.lexsort((-age, -prio)))
