"""Determinism and common random numbers: same seed, same results; same people and the
same misfortunes under every strategy."""

from __future__ import annotations

import copy
import datetime
import functools

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.config import load_scenario, load_strategy
from sim.engine import (
    Agenda,
    Run,
    Simulation,
    _due_within,
    dom_runs,
    due_day_runs,
    due_day_runs_table,
    merge_sorted,
    run,
    run_arms,
)
from tests.conftest import small


def _drop_timing(k: dict) -> dict:
    return {key: v for key, v in k.items() if key != "run_seconds"}


def test_same_seed_same_results_bit_for_bit():
    sc = small("baseline", 1200)
    st = load_strategy("seed_playbook")
    a, b = run(sc, st, seed=5), run(sc, st, seed=5)
    assert _drop_timing(a.kpis) == _drop_timing(b.kpis)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.cohorts, b.cohorts)
    c = run(sc, st, seed=6)
    assert _drop_timing(c.kpis) != _drop_timing(a.kpis)


def test_stepwise_equals_one_go():
    sc = small("baseline", 1000)
    st = load_strategy("risk_based")
    sim = Simulation(sc, st, seed=2)
    while not sim.done:
        sim.advance(17)
    assert _drop_timing(sim.result().kpis) == _drop_timing(run(sc, st, seed=2).kpis)


def test_population_and_shocks_identical_across_strategies():
    sc = small("recession", 1500, "economy.macro_path=[[0, 1.0], [60, 3.0]]")
    runs = [Run(sc, load_strategy(s), 9) for s in ("no_action", "call_heavy")]
    a, b = (r.people for r in runs)
    for field in ("segment", "ability", "willingness", "contactability", "score_logit",
                  "shock_person", "shock_start", "shock_end", "shock_loss"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert len(a.shock_person) > 0
    # the starting book is the same too
    assert np.array_equal(runs[0].book.unbilled, runs[1].book.unbilled)
    # and joiner k is the same person whatever the strategy did before they joined
    for r in runs:
        r.execute()
    k = min(runs[0].next_joiner, runs[1].next_joiner)
    assert np.array_equal(a.ability[:k], b.ability[:k])


def test_champion_challenger_arms_share_one_operation():
    sc = small("baseline", 3000)
    r = run_arms(sc, [load_strategy("seed_playbook"), load_strategy("digital_first")],
                 [0.8, 0.2], seed=4)
    sizes = r.meta["arm_accounts"]
    assert sum(sizes.values()) == 3000
    # binomial share: 0.2 +- 4 standard errors
    se = np.sqrt(0.2 * 0.8 / 3000)
    assert abs(sizes["digital_first"] / 3000 - 0.2) < 4 * se
    assert set(r.arms) == {"seed_playbook", "digital_first"}
    total = sum(r.arms[a]["entry_cohort_size"] for a in r.arms)
    assert total == r.kpis["entry_cohort_size"]
    assert r.kpis["violations"] == 0


@settings(max_examples=200, deadline=None)
@given(next_due=st.lists(st.integers(-(10**6), 600), max_size=300), day=st.integers(0, 540),
       ahead=st.sets(st.integers(1, 40), max_size=4))
def test_the_compiled_due_scan_equals_its_numpy_definition(next_due, day, ahead):
    """Billing's scan (numba): the slots due today or on a pre-due reminder day, ascending,
    exactly as the numpy comparisons would find them (NONE dates never match)."""
    nd = np.array(next_due, dtype=np.int32)
    wanted = np.zeros(max(ahead, default=0) + 1, bool)
    wanted[[0, *ahead]] = True
    near = nd == day
    for k in ahead:
        near |= nd == day + k
    whole = np.zeros(1, np.int64), np.full(1, len(nd), np.int64)
    assert np.array_equal(_due_within(nd, day, wanted, *whole), np.flatnonzero(near))


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), day=st.integers(0, 540),
       ahead=st.sets(st.integers(1, 70), max_size=4))
def test_the_due_scan_over_due_day_runs_finds_what_the_whole_book_scan_finds(seed, n, day,
                                                                            ahead):
    """On a book in due-day order, with due dates on each slot's due day of month (as
    the ledger sets them), scanning only the runs of the days looked at (which may span
    months, so two of them can share a day of month) gives the same slots."""
    import datetime as dt

    from sim import ledger as lg

    rng = np.random.default_rng(seed)
    cal = lg.Calendar(dt.date(2025, 1, 1), 540, [])
    dom = np.sort(rng.integers(1, 29, n)).astype(np.int8)
    nd = cal.due_day(rng.integers(-1, 20, n), dom).astype(np.int32)
    nd[rng.random(n) < 0.2] = lg.NONE
    wanted = np.zeros(max(ahead, default=0) + 1, bool)
    wanted[[0, *ahead]] = True
    whole = np.zeros(1, np.int64), np.full(1, n, np.int64)
    runs = dom_runs(dom)
    assert np.array_equal(_due_within(nd, day, wanted, *due_day_runs(cal, runs, day, wanted)),
                          _due_within(nd, day, wanted, *whole))
    assert dom_runs(dom[::-1]) is None or np.all(dom == dom[0])
    # the table worked out at set-up holds the same runs, day by day
    table = due_day_runs_table(cal, runs, 540, wanted)
    for d in {0, day, 539, 540}:
        for got, want in zip(table[d], due_day_runs(cal, runs, d, wanted), strict=True):
            assert np.array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(a=st.lists(st.integers(0, 60), max_size=40), b=st.lists(st.integers(0, 60), max_size=40),
       c=st.lists(st.integers(0, 60), max_size=5), sort_a=st.booleans(), sort_b=st.booleans())
def test_merge_sorted_is_the_sorted_union(a, b, c, sort_a, sort_b):
    # ascending inputs take the compiled merge, others the sort: both are the union
    a = np.array(sorted(a) if sort_a else a, np.int64)
    b = np.array(sorted(b) if sort_b else b, np.int64)
    c = np.array(c, np.int64)
    for parts in ((b,), (b, c)):
        got = merge_sorted(a, *parts)
        assert got.dtype == np.int64
        if not any(len(p) for p in parts):
            assert got is a
        else:
            assert np.array_equal(got, np.union1d(a, np.concatenate(parts)))


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.lists(st.integers(-3, 12), max_size=30),
                              st.lists(st.integers(0, 50), max_size=30)), max_size=40))
def test_the_agenda_returns_what_was_filed_for_the_day(ops):
    """Against a dict of sets: a pop gives the sorted distinct slots filed for that day
    since it was last read, days outside the horizon are never filed, and cells freed by
    a read are reused without mixing days (a small start capacity forces growth)."""
    days = 10
    ag, ref, today = Agenda(days, cap=2), {}, 0
    for read, when, slots in ops:
        if read:
            want = np.array(sorted(ref.pop(today, set())), dtype=np.int64)
            assert np.array_equal(ag.pop(today), want)
            today = (today + 1) % days
            continue
        k = min(len(when), len(slots))
        d, s = np.array(when[:k], np.int64), np.array(slots[:k], np.int64)
        ag.add(d if k != 1 else int(d[0]), s)
        for day, slot in zip(d.tolist(), s.tolist(), strict=True):
            if 0 <= day < days:
                ref.setdefault(day, set()).add(slot)
    for day in range(days):
        assert ag.pop(day).tolist() == sorted(ref.get(day, set()))
    assert ag.free[1] == len(ag.slot)  # every cell is free again


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), free=st.integers(0, 5),
       alpha=st.floats(0, 3), third=st.sampled_from([1.0, 2.5]),
       per_contact_c0=st.booleans())
def test_the_compiled_contact_pass_equals_the_behaviour_definitions(seed, n, free, alpha,
                                                                     third, per_contact_c0):
    """_contacts_kernel against behaviour.complaint_probability and the plain counts:
    the week's count includes this contact, episodes count contacts, the complaint draw
    compares the same probability bit for bit."""
    from sim import behaviour as bh
    from sim.engine import _contacts_kernel

    rng = np.random.default_rng(seed)
    slots, persons, col = 60, 80, int(rng.integers(0, 7))
    idx = rng.choice(slots, n, replace=False).astype(np.int64)
    ep = np.where(rng.random(n) < 0.3, -1, rng.choice(100, n, replace=False)).astype(np.int64)
    recent = rng.integers(0, 4, (slots, 7)).astype(np.int16)
    week_sum = recent.sum(axis=1).astype(np.int16)
    c0 = rng.random(n if per_contact_c0 else 1) * 0.01
    tone, hard = rng.random(n) * 2, rng.random(n) < 0.3
    prop = (rng.random(persons) * 2).astype(np.float32)
    person = rng.integers(0, persons, n).astype(np.int64)
    u = rng.random(n)
    flat, sums, contacts = recent.reshape(-1).copy(), week_sum.copy(), np.zeros(100, np.int32)
    out = np.empty(n, bool)
    _contacts_kernel(idx, ep, col, flat, sums, contacts, c0, alpha, free, tone, hard, 1.7,
                     third, prop, person, u, out)
    week = week_sum[idx] + 1
    prob = bh.complaint_probability(c0 if per_contact_c0 else c0[0], alpha, week, free, tone,
                                    hard, 1.7, third, prop[person])
    assert np.array_equal(out, u < prob)
    assert np.array_equal(sums[idx], week) and np.array_equal(sums, flat.reshape(-1, 7).sum(axis=1))
    assert np.array_equal(contacts[ep[ep >= 0]], np.ones(int((ep >= 0).sum()), np.int32))


def _talk_minutes_in_python(u: np.ndarray, log_median: float, sigma: float) -> np.ndarray:
    """The talk time's definition, one value at a time: the C library's exp (the one
    compiled code calls; numpy may use its own SIMD exp on some CPUs) of scipy's ndtri."""
    import math

    from scipy.special import ndtri

    return np.array([math.exp(log_median + sigma * float(ndtri(x))) for x in u])


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), prof=st.floats(0, 3),
       rpc=st.floats(0, 1))
def test_the_compiled_call_outcomes_equal_the_numpy_comparisons(seed, n, prof, rpc):
    """_agent_calls against the numpy code it replaced in Run.call_outcomes: the draws
    of Streams.uniform_rows (attempt k: 8k, 8k + 1 and 8k of contact, contact, handle),
    the outcomes, the fixed minutes and the conversations' talk time."""
    from sim.engine import CONVERSATION, WRONG_PARTY, _agent_calls
    from sim.rng import Streams

    rng = np.random.default_rng(seed)
    streams, d = Streams(int(rng.integers(0, 2**31))), int(rng.integers(0, 540))
    contact = rng.uniform(0, 1, 80).astype(np.float32)
    idx = np.sort(rng.choice(200, n, replace=False)).astype(np.int64)
    p = rng.integers(0, 80, n)
    made = rng.integers(0, 6, n).astype(np.int16)
    u = streams.uniform_rows([("contact", d, 0), ("contact", d, 1), ("handle", d, 0)], idx,
                             made.astype(np.int64) * 8)
    fixed = rng.uniform(0, 5, 4)
    log_median, sigma = float(np.log(rng.uniform(1, 12))), float(rng.uniform(0.05, 1.5))
    answered = u[0] < np.minimum(0.95, contact[p] * np.float64(prof))
    want = np.zeros(n, np.int8)
    want[answered] = WRONG_PARTY
    want[answered & (u[1] < rpc)] = CONVERSATION
    keys = np.array([streams.key("contact", d, 0), streams.key("contact", d, 1),
                     streams.key("handle", d, 0)], np.uint64)
    outcome, minutes = np.empty(n, np.int8), np.empty(n)
    _agent_calls(idx, p, made, keys, contact, prof, rpc, fixed, log_median, sigma, outcome,
                 minutes)
    assert np.array_equal(outcome, want)
    conv = want == CONVERSATION
    want_minutes = fixed[want]
    want_minutes[conv] += _talk_minutes_in_python(u[2, conv], log_median, sigma)
    assert np.array_equal(minutes, want_minutes)  # bit for bit


def test_the_compiled_talk_time_is_scipys_ndtri_bit_for_bit():
    """sim.special.ndtri is scipy's own function: the talk time drawn in compiled code
    equals the definition on uniforms across (0, 1), the far tails included."""
    from sim.engine import _talk_minutes_of

    rng = np.random.default_rng(7)
    u = np.concatenate([rng.random(20_000), rng.random(2_000) * 1e-12,
                        1.0 - rng.random(2_000) * 1e-12, 10.0 ** -rng.uniform(14, 300, 2_000),
                        [2.0**-53, 0.5, 1.0 - 2.0**-53, 0.13533528323661269, 0.8646647167633873]])
    for log_median, sigma in ((float(np.log(6.0)), 0.6), (0.0, 1.0), (2.5, 0.05)):
        out = np.empty(len(u))
        _talk_minutes_of(u, log_median, sigma, out)
        assert np.array_equal(out, _talk_minutes_in_python(u, log_median, sigma))


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(0, 300), used=st.floats(0, 60),
       total=st.floats(0.5, 900), profile=st.sampled_from(["cn_2022", "us_reg_f"]))
def test_a_crews_calls_in_one_pass_equal_the_calls_drawn_whole(seed, k, used, total, profile):
    """_crew_calls (the usual batch: check, draw and place in one pass, drawing nothing
    past the end of the crew's minutes) against the path that checks and draws every
    candidate first (Gate.check, _agent_calls, then collectors._place), on random
    queues, histories with refusals, and clocks that run out anywhere in the batch:
    the same fits, placements, queue state, executed and refused attempts, bit for bit."""
    from sim.collectors import _place
    from sim.compliance import KIND_CODES, PROFILES, Gate
    from sim.engine import _agent_calls, _crew_calls
    from sim.rng import Streams

    rng = np.random.default_rng(seed)
    slots, persons, q = 500, 700, 400
    day, hour, end, gap = int(rng.integers(8, 540)), 10.0, 12.0, 2.0
    g = Gate(slots, PROFILES[profile], daily_call_cap=3, third_party_per_week=1, holidays=set())
    g.calls[:] = rng.integers(0, 3, (slots, 7))
    g.last_conversation[:] = np.where(rng.random(slots) < 0.7, -(10**6),
                                      rng.integers(day - 12, day + 1, slots))
    acct_q = rng.choice(slots, q, replace=False).astype(np.int64)
    chan_q = rng.choice([4, 5], q).astype(np.int16)
    made0 = rng.integers(0, 4, q).astype(np.int16)
    left0 = rng.integers(1, 4, q).astype(np.int16)
    nb0 = rng.uniform(0, 9, q)
    cand = np.sort(rng.choice(q, k, replace=False)).astype(np.int64)
    person_of = rng.choice(persons, slots, replace=False).astype(np.int64)
    contact = rng.uniform(0, 1, persons).astype(np.float32)
    streams = Streams(int(rng.integers(0, 2**31)))
    keys = streams.keys([("contact", day, 0), ("contact", day, 1), ("handle", day, 0)])
    fixed = np.array([0.5, 1.5, 1.0, 3.0]) * rng.uniform(0.5, 2.0)
    prof, rpc = float(rng.uniform(0.2, 1.5)), float(rng.uniform(0.2, 0.9))
    log_median, sigma = float(np.log(rng.uniform(2, 10))), float(rng.uniform(0.1, 1.0))
    # drawn whole, then placed
    acct, chan, made = acct_q[cand], chan_q[cand], made0[cand]
    person = person_of[acct]
    ok = g.check(day, hour, acct, KIND_CODES["agent_call"], count=False)
    outcome, minutes = np.empty(k, np.int8), np.empty(k)
    _agent_calls(acct, person, made, keys, contact, prof, rpc, fixed, log_median, sigma,
                 outcome, minutes)
    tried_w, left_w, made_w, nb_w = np.zeros(q, bool), left0.copy(), made0.copy(), nb0.copy()
    m, start, hours = np.empty(k), np.empty(k), np.empty(k)
    pos, ref = np.empty(k, np.int64), np.empty(k, np.int64)
    want = _place(cand, ok, minutes, outcome, used, total, hour, end, gap, tried_w, left_w,
                  made_w, nb_w, m, start, pos, hours, ref)
    n_ex, n_ref = want[1], want[2]
    ex, rf = pos[:n_ex], ref[:n_ref]
    # in one pass, into buffers at an offset
    at, r_at = 3, 5
    x = (np.zeros(k + at, np.int64), np.zeros(k + at, np.int16), np.zeros(k + at, np.int8),
         np.zeros(k + at), np.zeros(k + at, np.int64), np.zeros(k + at))
    refused = (np.zeros(k + r_at, np.int64), np.zeros(k + r_at, np.int16))
    tried, left, made1, nb = np.zeros(q, bool), left0.copy(), made0.copy(), nb0.copy()
    got = _crew_calls(cand, acct_q, chan_q, made1, person_of, day, day % 7, *g.call_limits(),
                      keys, contact, prof, rpc, fixed, log_median, sigma, used, total, hour, end,
                      gap, tried, left, nb, at, *x, r_at, *refused)
    assert got[:3] == want[:3]
    assert np.float64(got[3]).view(np.uint64) == np.float64(want[3]).view(np.uint64)
    for a, b in ((tried, tried_w), (left, left_w), (made1, made_w), (nb, nb_w)):
        assert np.array_equal(a, b)
    for col, w in zip(x, (acct[ex], chan[ex], outcome[ex], minutes[ex], person[ex],
                          hours[:n_ex]), strict=True):
        assert np.array_equal(col[at:at + n_ex], w)
    assert np.array_equal(refused[0][r_at:r_at + n_ref], acct[rf])
    assert np.array_equal(refused[1][r_at:r_at + n_ref], chan[rf])


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), needs=st.booleans())
def test_the_compiled_reach_filter_equals_the_numpy_masks(seed, n, needs):
    """_deliverable with no per-account rule (a letter, or a channel closed for the
    batch) against the masks deliver applied: not vacant, then the channel's
    requirement (app, e-mail) of the slot's person; slots, persons and tones, nothing
    counted."""
    from sim.compliance import PROFILES, Gate
    from sim.engine import _deliverable

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(100, n, replace=False)).astype(np.int64)
    tone = rng.uniform(0.5, 2, n)
    vacant, person = rng.random(100) < 0.2, rng.permutation(150)[:100].astype(np.int64)
    has = rng.random(150) < 0.6 if needs else np.zeros(0, bool)
    want = _reachable_mask(idx, vacant, person, has)
    g = Gate(100, PROFILES["cn_2022"], daily_call_cap=0, third_party_per_week=1,
             holidays=set())
    g.optout[:] = True  # every rule would refuse: none may be applied
    sent, p, sent_tone = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n)
    k = _deliverable(idx, tone, vacant, person, has, False, False, 9, 2, g.optout,
                     *g.call_limits(), g.counts, sent, p, sent_tone)
    assert np.array_equal(sent[:k], idx[want])
    assert np.array_equal(p[:k], person[idx[want]])
    assert np.array_equal(sent_tone[:k], tone[want])
    assert not g.counts.any()


def _reachable_mask(idx: np.ndarray, vacant: np.ndarray, person: np.ndarray,
                    has: np.ndarray) -> np.ndarray:
    """The requests a channel can reach, as numpy masks: the slot held, its person with
    what the channel needs (``has``; empty: nothing)."""
    return ~vacant[idx] & (has[person[idx]] if len(has) else True)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), needs=st.booleans(),
       kind=st.sampled_from(["message", "automated_call", "letter"]),
       profile=st.sampled_from(["cn_2022", "us_reg_f"]))
def test_the_deliverable_requests_are_the_reachable_ones_the_gate_lets_through(
        seed, n, needs, kind, profile):
    """_deliverable (Run.deliver's one pass) against the reachable ones (numpy masks),
    then Gate.check on them: the same slots, persons and tones, the same refusals
    counted by rule, on a random contact history with opt-outs and calls near the caps."""
    from sim.compliance import KIND_CODES, PROFILES, Gate
    from sim.engine import _deliverable

    rng = np.random.default_rng(seed)
    slots, persons, day, code = 100, 150, int(rng.integers(8, 60)), KIND_CODES[kind]
    idx = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    tone = rng.uniform(0.5, 2, n)
    vacant, person = rng.random(slots) < 0.2, rng.permutation(persons)[:slots].astype(np.int64)
    has = rng.random(persons) < 0.6 if needs else np.zeros(0, bool)

    def gate() -> Gate:
        g = Gate(slots, PROFILES[profile], daily_call_cap=3, third_party_per_week=1,
                 holidays=set())
        g.calls[:] = np.random.default_rng(seed).integers(0, 3, (slots, 7))
        g.last_conversation[:] = np.where(np.random.default_rng(seed + 1).random(slots) < 0.6,
                                          -(10**6), day - 3)
        g.optout[:] = np.random.default_rng(seed + 2).random(slots) < 0.3
        return g

    want_g, got_g = gate(), gate()
    keep = np.flatnonzero(_reachable_mask(idx, vacant, person, has))
    ok = want_g.check(day, 10.0, idx[keep], code)
    sent, sent_p, sent_tone = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n)
    m = _deliverable(idx, tone, vacant, person, has, code == KIND_CODES["message"],
                     code == KIND_CODES["automated_call"], day, day % 7, got_g.optout,
                     *got_g.call_limits(), got_g.counts, sent, sent_p, sent_tone)
    assert np.array_equal(sent[:m], idx[keep][ok])
    assert np.array_equal(sent_p[:m], person[idx[keep]][ok])
    assert np.array_equal(sent_tone[:m], tone[keep][ok])
    assert got_g.blocked == want_g.blocked


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), co_dpd=st.integers(0, 200),
       court=st.booleans(), agency=st.booleans())
def test_the_compiled_triage_equals_the_numpy_masks(seed, n, co_dpd, court, agency):
    """_triage against the numpy masks it replaced in Run.start_of_day, _episodes and
    _strategy: the charge-offs, then (with their DPD zeroed, as the old code did) the
    slots past due, the new episodes and the slots the rules work. With nobody in court
    or at an agency the pass may be told so (and then need not read those arrays)."""
    from sim.engine import NONE, _triage

    rng = np.random.default_rng(seed)
    slots = 100
    w = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    dpd = rng.choice([0, 1, 2, co_dpd, co_dpd + 1, 400], n).astype(np.int32)
    legal_day = np.where(rng.random(slots) < 0.2 * court, 9, NONE).astype(np.int32)
    agency_until = np.where(rng.random(slots) < 0.2 * agency, 30, NONE).astype(np.int32)
    # the flags say "may be": True whenever somebody is, and sometimes when nobody is
    any_court = bool((legal_day != NONE).any() or rng.random() < 0.5)
    any_agency = bool((agency_until != NONE).any() or rng.random() < 0.5)
    vacant, ep = rng.random(slots) < 0.2, np.where(rng.random(slots) < 0.5, 3, -1)
    co_m = (dpd > co_dpd) & (legal_day[w] == NONE) & ~vacant[w]
    after = np.where(co_m, 0, dpd)
    co, new, late = (np.empty(n, np.int64) for _ in range(3))
    open_ = np.empty(n, bool)
    n_co, n_new, n_late = _triage(w, dpd, co_dpd, legal_day, any_court, vacant, ep,
                                  agency_until, any_agency, co, new, late, open_)
    assert np.array_equal(co[:n_co], np.flatnonzero(co_m))
    assert np.array_equal(w[late[:n_late]], w[after >= 1])
    assert np.array_equal(new[:n_new], w[(after >= 1) & (ep[w] < 0) & ~vacant[w]])
    assert np.array_equal(open_, (after >= 1) & ~vacant[w] & (agency_until[w] == NONE)
                          & (legal_day[w] == NONE))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60))
def test_the_compiled_ending_scan_equals_the_numpy_masks(seed, n):
    """_plans_ending against the numpy masks it replaced in Run._billing: the plans paid
    off today, and the ending slots kept after they go idle or leave (each field that
    decides is set at random, so every clause is exercised)."""
    from sim import ledger as lg
    from sim.engine import NONE, _plans_ending

    rng = np.random.default_rng(seed)
    slots = 100
    e = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    status = rng.choice([lg.ACTIVE, lg.IDLE], slots, p=[0.8, 0.2]).astype(np.int8)
    n_left = rng.choice([0, 0, 0, 1, 5], slots).astype(np.int32)
    due, fees = (np.where(rng.random(slots) < 0.3, rng.integers(1, 10**5, slots), 0)
                 for _ in range(2))
    vacant = rng.random(slots) < 0.15
    legal_day = np.where(rng.random(slots) < 0.15, 9, NONE).astype(np.int32)
    ending = (status[e] == lg.ACTIVE) & (n_left[e] == 0) & ~vacant[e]
    off = ending & (due[e] == 0) & (fees[e] == 0) & (legal_day[e] == NONE)
    done, still = np.empty(n, np.int64), np.empty(n, bool)
    k = _plans_ending(e, status, n_left, due, fees, vacant, legal_day, done, still)
    assert np.array_equal(done[:k], e[off])
    # the old code read the mask again after the paid-off plans went idle or left
    status2, vacant2 = status.copy(), vacant.copy()
    gone = e[off]
    status2[gone[: len(gone) // 2]] = lg.IDLE
    vacant2[gone[len(gone) // 2:]] = True
    assert np.array_equal(still, (status2[e] == lg.ACTIVE) & (n_left[e] == 0) & ~vacant2[e])


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60),
       exponent=st.sampled_from([0.0, 0.5, 1.0, 4.0]),
       hazard=st.sampled_from([0.0, 0.04, 0.3, 5.0]), drifted=st.booleans(),
       stirred=st.lists(st.booleans(), min_size=4, max_size=4), placed=st.booleans())
def test_the_repayment_candidates_hold_every_slot_that_repays(seed, n, exponent, hazard,
                                                              drifted, stirred, placed):
    """_repayment_candidates against the numpy code it replaced in Run._repayments: of the
    slots that owe and paid nothing today it keeps, in order, exactly those whose uniform
    is below the slot's own bound (or at an agency, or with a log-sum above zero), with
    the same persons, traits, stimulus (summed over its four rows bit for bit, of which
    only the stirred ones are read) and uniforms; the first pass's bound for the whole
    book drops none of them. And it drops only slots that do not pay."""
    from sim import behaviour as bh
    from sim.engine import NONE, _repayment_candidates
    from sim.rng import Streams

    rng = np.random.default_rng(seed)
    slots, persons, day = 100, 150, int(rng.integers(0, 540))
    streams = Streams(int(rng.integers(0, 2**31)))
    w = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    due = np.where(rng.random(slots) < 0.7, rng.integers(1, 10**6, slots), 0)
    paid, person = rng.random(slots) < 0.2, rng.permutation(persons)[:slots].astype(np.int64)
    ability = rng.random(persons).astype(np.float32)
    # a shock's log-sum is never positive but for float drift; the kernel keeps a positive
    # one whatever the bound (here a large one, so that the guard is what keeps it)
    logsum = np.where(rng.random(persons) < 0.3, np.log(rng.random(persons)), 0.0)
    if drifted:
        logsum = np.where(rng.random(persons) < 0.1, 0.7, logsum)
    logsum = logsum.astype(np.float32)
    will = (rng.random(persons) * 1.5).astype(np.float32)
    stim_all = (rng.random((4, slots)) * rng.choice([0, 1e-3, 1, 50], (4, slots))).astype(
        np.float32)
    stim_all[~np.array(stirred)] = 0.0  # a row never written to is zero
    rows = np.flatnonzero(stirred)
    agency_until = np.where(rng.random(slots) < 0.3 * placed, 7, NONE).astype(np.int32)
    any_agency = bool((agency_until != NONE).any() or rng.random() < 0.5)  # "may be"
    want = w[(due[w] > 0) & ~paid[w]]
    out = [np.empty(n, np.int64), np.empty(n, np.int64), *(np.empty(n, np.float32)
                                                           for _ in range(4)),
           np.empty(n, np.bool_), np.empty(n)]
    idx, p, base, ls, stim, wl, agency, u = out
    by_ability = exponent >= 1.0
    top = hazard * (float(ability.max()) if by_ability else 1.0) * float(will.max())
    k = _repayment_candidates(w, due, paid, person, ability, logsum, stim_all, rows,
                              agency_until, any_agency, will, hazard, top,
                              bool((logsum > 0).any()),
                              by_ability, streams.key("repay", day), idx, p, base, ls, stim,
                              wl, agency, u)
    kept = idx[:k]
    # the one-pass decision, slot by slot, in float64 as the kernel computes it
    q = person[want]
    s_want = np.take(stim_all, want, axis=1).sum(axis=0)
    a = ability[q].astype(np.float64) if by_ability else 1.0
    bound = hazard * a * will[q].astype(np.float64) * (1.0 + s_want.astype(np.float64)) * 1.001
    u_want = streams.uniform("repay", day, want, 0)
    assert np.array_equal(kept, want[(u_want < bound) | (agency_until[want] != NONE)
                                     | (logsum[q] > 0)])
    q = person[kept]
    assert np.array_equal(p[:k], q)
    assert np.array_equal(base[:k], ability[q]) and np.array_equal(ls[:k], logsum[q])
    assert np.array_equal(wl[:k], will[q])
    summed = np.take(stim_all, kept, axis=1).sum(axis=0)
    assert np.array_equal(stim[:k].view(np.uint32), summed.view(np.uint32))
    assert np.array_equal(agency[:k], agency_until[kept] != NONE)
    assert np.array_equal(u[:k], streams.uniform("repay", day, kept, 0))
    # the numpy decision over every slot that owes (at an agency: any raised stimulus)
    s_all = s_want.copy()
    s_all[agency_until[want] != NONE] += np.float32(2.0)
    q = person[want]
    prob = bh.repayment_probability(hazard, ability[q] * np.exp(logsum[q]), will[q], s_all,
                                    exponent)
    pays = want[u_want < prob]
    assert np.all(np.isin(pays, kept))


def _conversation_state(rng, n, tables):
    """Random state for _conversation_pass: slots, persons and the tables it reads."""
    from sim.engine import NONE

    slots, persons, d = 200, 300, 300
    segment = rng.integers(0, 4, persons).astype(np.int8)
    cause_tab = rng.integers(0, 6, 4).astype(np.int8)
    will_tab = rng.uniform(0, 1, 4).astype(np.float32)
    return {
        "d": d, "slots": slots,
        "idx": np.sort(rng.choice(slots, n, replace=False)).astype(np.int64),
        "p": rng.choice(persons, n, replace=False).astype(np.int64),
        "chan": rng.choice([2, 3, 5], n).astype(np.int16),
        "ep": np.where(rng.random(n) < 0.3, -1, rng.permutation(100)[:n]).astype(np.int64),
        "tone_tab": rng.uniform(0.5, 2, (2, 4)), "segment": segment, "cause_tab": cause_tab,
        "cause_of": cause_tab[segment] if tables else rng.integers(0, 6, persons).astype(np.int8),
        "will_tab": will_tab,
        "will_of": will_tab[segment] if tables else np.where(
            rng.random(persons) < 0.1, 0, rng.uniform(0, 1, persons)).astype(np.float32),
        "misread": rng.random(persons) < 0.2,
        "shock": rng.integers(0, 2, persons).astype(np.int16),
        "response": np.array([0, 1, 2, 3, 1, 2], np.int8),
        "imp_tab": rng.uniform(0, 2, (6, 4)), "complaint_base": rng.uniform(0, 0.5, 6),
        "prop": rng.uniform(0, 3, persons).astype(np.float32),
        "week": rng.integers(0, 3, (slots, 7)).astype(np.int16),
        "oldest": np.where(rng.random(slots) < 0.3, NONE, rng.integers(0, d, slots)).astype(np.int32),
        "arm": rng.integers(0, 2, slots).astype(np.int8),
        "rule_today": rng.integers(-1, 3, slots).astype(np.int16),
        "offer_late": rng.integers(-1, 3, (2, 4)).astype(np.int8),
        "offer_early": rng.integers(-1, 3, (2, 4)).astype(np.int8),
        "last_plan": np.where(rng.random(slots) < 0.7, NONE, rng.integers(0, d, slots)).astype(np.int32),
        "seg_accept": rng.uniform(0, 0.6, 4)}


def _conversation_pass_on(x, skill, tables, arms, u, keys):
    """_conversation_pass on state ``x`` (copied): its counts, outputs and written state."""
    from sim.engine import NONE, _conversation_pass

    n, slots = len(x["idx"]), x["slots"]
    out = {"rpc": np.zeros(slots, np.int32), "cause": np.zeros(slots, np.int8),
           "stim": np.ones((4, slots), np.float32), "stirred": np.zeros(4, bool),
           "flat": x["week"].reshape(-1).copy(), "sums": x["week"].sum(axis=1).astype(np.int16),
           "contacts": np.zeros(100, np.int32), "promise_day": np.full(slots, NONE, np.int32),
           "comp": np.empty(n, np.int64), "acc_pos": np.empty(n, np.int64),
           "acc_kind": np.empty(n, np.int8), "prom_pos": np.empty(n, np.int64)}
    counts = _conversation_pass(
        x["idx"], x["p"], x["chan"], np.atleast_1d(np.asarray(skill, np.float64)), x["ep"],
        x["tone_tab"], x["segment"], x["cause_tab"] if tables else np.zeros(0, np.int8),
        x["cause_of"], x["misread"], x["shock"], out["rpc"], out["cause"], x["response"],
        x["imp_tab"], out["stim"], out["stirred"], x["d"] % 7, out["flat"], out["sums"],
        out["contacts"], x["complaint_base"], 0.4, 2, 1.7, x["prop"], x["d"], x["oldest"],
        x["arm"] if arms else np.zeros(0, np.int8), x["rule_today"], x["offer_late"],
        x["offer_early"], x["last_plan"], 365, x["will_tab"] if tables else np.zeros(0, np.float32),
        x["will_of"], x["seg_accept"], 0.8, 0.45, 7, out["promise_day"], u, keys, out["comp"],
        out["acc_pos"], out["acc_kind"], out["prom_pos"])
    return counts, out


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), per_conv_skill=st.booleans(),
       tables=st.booleans(), arms=st.booleans())
def test_the_compiled_conversations_equal_the_numpy_code(seed, n, per_conv_skill, tables, arms):
    """_conversation_pass against the numpy code of Run._conversations it replaced:
    causes, hardship, the impulse (float32), the contact and complaint (held to
    behaviour.complaint_probability), plan offers and acceptance, promises and promised
    days, bit for bit, with draws placed exactly on the probabilities."""
    from sim import behaviour as bh
    from sim.engine import HARDSHIP, NONE, TERMS

    rng = np.random.default_rng(seed)
    x = _conversation_state(rng, n, tables)
    idx, p, chan, d, cooldown = x["idx"], x["p"], x["chan"], x["d"], 365
    skill = rng.choice([0.9, 1.0, 1.1, 1.2], n) if per_conv_skill else 1.1
    # causes: the numpy steps
    seg = x["segment"][p]
    own = x["cause_tab"][seg] if tables else x["cause_of"][p]
    hard_w = (x["shock"][p] > 0) | (own == HARDSHIP)
    cause_w = np.where(hard_w, HARDSHIP, np.where(x["misread"][p], TERMS, own))
    # the impulse: Run._impulse, channel by channel
    stim_w = np.ones((4, x["slots"]), np.float32)
    for c in np.unique(chan):
        sel = chan == c
        row = stim_w[x["response"][c]]
        row[idx[sel]] += (x["imp_tab"][c][seg[sel]]
                          * (skill if np.ndim(skill) == 0 else skill[sel])).astype(np.float32)
    # the contact and complaint, in the tone of the account's rule (Run._tone)
    oldest, arm, rule_today = x["oldest"], x["arm"], x["rule_today"]
    a = arm[idx] if arms else 0
    tone = x["tone_tab"][a, rule_today[idx]]
    week = x["week"].sum(axis=1)[idx] + 1
    prob_c = bh.complaint_probability(x["complaint_base"][chan], 0.4, week, 2, tone, hard_w,
                                      1.7, 1.0, x["prop"][p])
    u = rng.uniform(0, 1, (4, n))
    # draws exactly on the thresholds for half the conversations: a probability off in its
    # last bit (float64 where numpy computes in float32, say) flips the outcome
    tie = rng.random(n) < 0.5
    u[0, tie] = prob_c[tie]
    comp_w = u[0] < prob_c
    # offers and promises: the numpy steps
    dpd = np.where(oldest[idx] == NONE, 0, d - oldest[idx])
    kind = np.where(dpd > 90, x["offer_late"][a, rule_today[idx]],
                    x["offer_early"][a, rule_today[idx]])
    offered = (kind >= 0) & (d - x["last_plan"][idx] >= cooldown)
    will = x["will_tab"][seg] if tables else x["will_of"][p]
    acc = bh.plan_acceptance(x["seg_accept"][seg], skill, hard_w, 0.8, will)
    u[1, tie] = acc[tie]
    accepted = offered & (u[1] < acc)
    rest = ~accepted
    pr = bh.promise_probability(0.45, skill if not per_conv_skill else skill[rest], will[rest],
                                x["misread"][p][rest])
    u_rest = u[2, rest]
    u_rest[tie[rest]] = pr[tie[rest]]
    u[2, rest] = u_rest
    promise = u[2, rest] < pr
    want_day = d + (1 + np.floor(u[3, rest][promise] * 7)).astype(np.int32)
    (n_comp, n_acc, n_prom), out = _conversation_pass_on(x, skill, tables, arms, u,
                                                         np.zeros(4, np.uint64))
    assert np.array_equal(out["cause"][idx], cause_w) and np.array_equal(out["rpc"][idx], np.ones(n))
    assert np.array_equal(out["stim"], stim_w)  # bit for bit
    assert np.array_equal(np.flatnonzero(out["stirred"]), np.unique(x["response"][chan]))
    assert np.array_equal(out["comp"][:n_comp], np.flatnonzero(comp_w))
    assert np.array_equal(out["sums"][idx], week)
    assert np.array_equal(out["acc_pos"][:n_acc], np.flatnonzero(accepted))
    assert np.array_equal(out["acc_kind"][:n_acc], kind[accepted])
    assert np.array_equal(out["prom_pos"][:n_prom], np.flatnonzero(rest)[promise])
    assert np.array_equal(out["promise_day"][idx[out["prom_pos"][:n_prom]]], want_day)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), tables=st.booleans())
def test_the_conversation_pass_hashes_the_draws_of_uniform_rows(seed, n, tables):
    """_conversation_pass with its draws hashed inside (keys, as Run._conversations calls
    it) against the same pass given Run._conversations' former uniform_rows draws: the
    same complaints, plans, promises and state."""
    from sim.engine import _NO_U
    from sim.rng import Streams

    rng = np.random.default_rng(seed)
    x = _conversation_state(rng, n, tables)
    streams, d = Streams(int(rng.integers(0, 2**31))), x["d"]
    u = streams.uniform_rows([("complaint", d, x["chan"].astype(np.int64) * 4 + 1000),
                              ("plan", d, 0), ("promise", d, 0), ("promise", d, 2)], x["idx"])
    keys = np.array([streams.key(*k) for k in (("complaint", d, 0), ("plan", d, 0),
                                               ("promise", d, 0), ("promise", d, 2))], np.uint64)
    a = _conversation_pass_on(x, 1.1, tables, True, u, np.zeros(4, np.uint64))
    b = _conversation_pass_on(x, 1.1, tables, True, _NO_U, keys)
    assert a[0] == b[0]
    for name in a[1]:
        k = {"comp": a[0][0], "acc_pos": a[0][1], "acc_kind": a[0][1], "prom_pos": a[0][2]}
        end = k.get(name)
        assert np.array_equal(a[1][name][:end], b[1][name][:end]), name


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), ivr=st.booleans(),
       reach=st.sampled_from([0.6, 0.97, 1.0]), message=st.booleans(), tables=st.booleans(),
       reminder=st.booleans())
def test_the_compiled_message_pass_equals_the_numpy_steps(seed, n, ivr, reach, message, tables,
                                                         reminder):
    """_messages_kernel against the numpy steps of Run.deliver it replaced: the cost
    charged, reached or not, the impulse (float32), the reminder day, the contact and
    complaint (held to behaviour.complaint_probability), the opt-outs."""
    from sim import behaviour as bh
    from sim.engine import DELIVERED, HARDSHIP, NOT_DELIVERED, _messages_kernel

    rng = np.random.default_rng(seed)
    slots, persons, col, d = 60, 80, int(rng.integers(0, 7)), 40
    idx = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    p = rng.choice(persons, n, replace=False).astype(np.int64)
    ep_of = np.where(rng.random(slots) < 0.4, -1, rng.permutation(100)[:slots]).astype(np.int64)
    u = rng.random((3, n))
    contact = rng.uniform(0, 1, persons).astype(np.float32)
    prof = float(rng.uniform(0.3, 1.5))
    lut = rng.uniform(0, 2, 4)
    segment = rng.integers(0, 4, persons).astype(np.int8)
    cause_tab = rng.integers(0, 5, 4).astype(np.int8)
    cause_of = cause_tab[segment] if tables else rng.integers(0, 5, persons).astype(np.int8)
    shock = rng.integers(0, 2, persons).astype(np.int16)
    recent = rng.integers(0, 3, (slots, 7)).astype(np.int16)
    week_sum = recent.sum(axis=1).astype(np.int16)
    tone = rng.uniform(0.5, 2, n)
    prop = rng.uniform(0, 2, persons).astype(np.float32)
    stim0 = rng.uniform(0, 3, slots).astype(np.float32)
    rate = 0.3 if message else -1.0
    # the numpy steps
    cost = 7.5
    ep_w = ep_of[idx]
    cost_w = np.zeros(100)
    cost_w[ep_w[ep_w >= 0]] += cost
    # draws exactly on the probabilities for half the attempts: a probability off in its
    # last bit flips the outcome
    tie = rng.random(n) < 0.5
    if ivr:
        answer = np.minimum(0.95, contact[p] * np.float64(prof))
        u[0, tie] = answer[tie]
        got = u[0] < answer
    else:
        got = np.ones(n, bool) if reach >= 1.0 else u[0] < reach
    gi, gp = idx[got], p[got]
    stim_w = stim0.copy()
    stim_w[gi] += (lut[segment[gp]] * 1.0).astype(np.float32)
    hard = (shock[gp] > 0) | ((cause_tab[segment[gp]] if tables else cause_of[gp]) == HARDSHIP)
    week = week_sum[gi] + 1
    prob = bh.complaint_probability(0.02, 0.4, week, 2, tone[got], hard, 1.7, 1.0, prop[gp])
    u1 = u[1, got]
    u1[tie[got]] = prob[tie[got]]
    u[1, got] = u1
    comp_w = u[1][got] < prob
    out_w = np.flatnonzero(got)[u[2][got] < 0.3] if message else np.zeros(0, np.int64)
    # the kernel
    stim, last = stim0.copy(), np.full(slots, -1, np.int32)
    flat, sums, contacts = recent.reshape(-1).copy(), week_sum.copy(), np.zeros(100, np.int32)
    ep_cost, optout = np.zeros(100), np.zeros(slots, bool)
    outcome, ep = np.empty(n, np.int8), np.empty(n, np.int64)
    got_pos, comp, out = np.empty(n, np.int64), np.empty(n, bool), np.empty(n, np.int64)
    n_got, n_out = _messages_kernel(
        idx, p, ep_of, cost, ep_cost, u, np.zeros(3, np.uint64), ivr, reach, contact, prof, lut, stim, segment, reminder,
        last, d, cause_tab if tables else np.zeros(0, np.int8), cause_of, shock, col, flat, sums,
        contacts, 0.02, 0.4, 2, tone, 1.7, prop, rate, optout, outcome, ep, got_pos, comp, out)
    assert np.array_equal(ep, ep_w) and np.array_equal(ep_cost, cost_w)
    assert np.array_equal(outcome, np.where(got, DELIVERED, NOT_DELIVERED))
    assert np.array_equal(got_pos[:n_got], np.flatnonzero(got))
    assert np.array_equal(stim, stim_w)  # bit for bit
    assert np.array_equal(last[gi], np.full(len(gi), d if reminder else -1))
    assert np.array_equal(comp[:n_got], comp_w)
    assert np.array_equal(sums[gi], week)
    assert np.array_equal(out[:n_out], out_w)
    assert np.array_equal(np.flatnonzero(optout), np.sort(idx[out_w]))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), ivr=st.booleans(),
       chan=st.integers(0, 12))
def test_the_message_pass_hashes_the_draws_of_uniform_rows(seed, n, ivr, chan):
    """_messages_kernel with its draws hashed inside (keys, as Run.deliver calls it)
    against the same pass given the draws of Streams.uniform_rows: the same outcomes,
    complaints, opt-outs and state."""
    from sim.engine import _NO_U, _messages_kernel
    from sim.rng import Streams

    rng = np.random.default_rng(seed)
    streams, d = Streams(int(rng.integers(0, 2**31))), int(rng.integers(0, 540))
    slots, persons = 60, 80
    idx = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    p = rng.choice(persons, n, replace=False).astype(np.int64)
    comp_draw = chan * 4 + 1000
    rows = [("contact", d, 500 + chan), ("complaint", d, comp_draw), ("optout", d, chan)]
    keys = np.array([streams.key(name, day, k) for name, day, k in rows], np.uint64)
    fixed = {"ep_of": rng.integers(-1, 100, slots), "contact": rng.random(persons).astype(np.float32),
             "segment": rng.integers(0, 4, persons).astype(np.int8),
             "cause_of": rng.integers(0, 5, persons).astype(np.int8),
             "shock": rng.integers(0, 2, persons).astype(np.int16),
             "tone": rng.uniform(0.5, 2, n), "prop": rng.uniform(0, 20, persons).astype(np.float32)}
    results = []
    for u, k in ((streams.uniform_rows(rows, idx), np.zeros(3, np.uint64)), (_NO_U, keys)):
        state = {"ep_cost": np.zeros(100), "stim": np.zeros(slots, np.float32),
                 "last": np.full(slots, -1, np.int32), "flat": np.zeros(slots * 7, np.int16),
                 "sums": np.zeros(slots, np.int16), "contacts": np.zeros(100, np.int32),
                 "optout": np.zeros(slots, bool), "outcome": np.empty(n, np.int8),
                 "ep": np.empty(n, np.int64), "got": np.empty(n, np.int64),
                 "comp": np.empty(n, bool), "out": np.empty(n, np.int64)}
        f = {**fixed, **state}
        counts = _messages_kernel(
            idx, p, f["ep_of"], 7.5, f["ep_cost"], u, k, ivr, 0.7, f["contact"], 1.1,
            np.array([0.5, 1.0, 1.5, 2.0]), f["stim"], f["segment"], True, f["last"], d,
            np.zeros(0, np.int8), f["cause_of"], f["shock"], d % 7, f["flat"], f["sums"],
            f["contacts"], 0.3, 0.4, 0, f["tone"], 1.7, f["prop"], 0.3, f["optout"],
            f["outcome"], f["ep"], f["got"], f["comp"], f["out"])
        results.append((counts, state))
    (c_u, s_u), (c_k, s_k) = results
    assert c_u == c_k
    g, o = c_u
    for name in state:
        a, b = s_u[name], s_k[name]
        if name in ("got", "comp"):
            a, b = a[:g], b[:g]
        elif name == "out":
            a, b = a[:o], b[:o]
        assert np.array_equal(a, b), name


_EVERY_FEATURE = {
    "name": "every_action_feature", "avoid_holidays": True, "rules": [
        {"buckets": ["M1"], "tone": "gentle", "actions": [
            {"channel": "call", "attempts_per_day": 2, "priority": "expected_recovery"},
            {"channel": "sms", "every_days": 2, "hour": 11},
            {"channel": "ivr", "on_dpd": [3, 5, 40], "hour": 9},
            {"channel": "sms", "every_days": 3, "hour": 11}]},  # the same request as above
        {"buckets": ["M2", "M3"], "dpd": [31, 90], "actions": [
            {"channel": "call", "priority": "balance", "if_no_contact_days": 5},
            {"channel": "email", "on_dpd": [31, 45, 200]},
            {"channel": "emergency_contact", "every_days": 7, "if_no_contact_days": 14,
             "priority": "risk"}]},
        {"buckets": ["M2", "M3", "M4", "M5", "M6"], "tone": "firm", "actions": [
            {"channel": "letter", "every_days": 15},
            {"channel": "call", "attempts_per_day": 3}]}]}


@functools.lru_cache(maxsize=8)
def _run_for(strategy: str):
    from sim.config import validate_strategy

    st_ = (validate_strategy(_EVERY_FEATURE) if strategy == "every_action_feature"
           else load_strategy(strategy))
    return Run(load_scenario("baseline", ["population.accounts=300"]), st_, 5)


def _ref_rule_actions(run, d, arm, idx, rule, dpd, bucket, gone, avoid):
    """The numpy loop Run._strategy ran over rules and actions before it was compiled."""
    from sim.engine import AGENT, IVR, NONE, THIRD
    from sim.strategy import rule_start_dpd

    requests, tones, tasks = {}, {}, [[] for _ in run.desks]
    for i, r in enumerate(run.strategies[arm].rules):
        sel = (rule == i) & ~gone
        if not sel.any():
            continue
        ri, rd, rb = idx[sel], dpd[sel], bucket[sel]
        start = rule_start_dpd(r)
        for a in r.actions:
            c = run.cat.code(a.channel)
            if a.on_dpd:
                lut = np.zeros(max(a.on_dpd) + 2, bool)
                lut[a.on_dpd] = True
                due = lut[np.minimum(rd, max(a.on_dpd) + 1)]
            else:
                due = (rd - start) % a.every_days == 0
            if a.if_no_contact_days:
                lc = run.gate.last_conversation[ri]
                due &= (lc == NONE) | (d - lc >= a.if_no_contact_days)
            ai = ri[due]
            if not len(ai):
                continue
            kind = run.cat.kind[c]
            if kind in (AGENT, THIRD):
                if avoid:
                    continue
                hold = run.promise_day[ai] < d
                ai, ad = ai[hold], rd[due][hold]
                tasks_for = run.desk_of_bucket[rb[due][hold]]
                over = run.book.overdue(ai).astype(np.float64)
                risk = run.risk[ai].astype(np.float64)
                p_rpc = (run.rpc_hist[ai] + 1.0) / (run.attempts_hist[ai] + 3.0)
                prio = {"dpd": ad.astype(np.float64), "balance": over, "risk": risk,
                        "expected_recovery": over * (1.0 - risk) * p_rpc / (0.6 + p_rpc * 6.0),
                        }[a.priority]
                for k in range(len(run.desks)):
                    sk = tasks_for == k
                    if sk.any():
                        tasks[k].append(np.stack([ai[sk].astype(np.float64),
                                                  np.full(sk.sum(), c, float), prio[sk],
                                                  np.full(sk.sum(), a.attempts_per_day, float)]))
            else:
                if avoid and kind == IVR:
                    continue
                requests.setdefault((a.hour, c), []).append(ai)
                tones.setdefault((a.hour, c), []).append(np.full(len(ai), run.tones[arm][i]))
    return requests, tones, tasks


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), avoid=st.booleans(),
       strategy=st.sampled_from(["every_action_feature", "seed_playbook", "risk_based",
                                 "digital_first", "call_heavy", "hardship_first"]))
def test_the_compiled_rule_actions_equal_the_numpy_loop(seed, n, avoid, strategy):
    """Run._rule_actions (numba) against the numpy loop it replaced: the same requests by
    (hour, channel) in the same order with the same tones, and the same call tasks per
    desk in the same order with the same priorities bit for bit, on random state (DPDs,
    rules, slots taken by placements, last conversations, promises, balances, scores)."""
    from sim import ledger as lg
    from sim.engine import NONE

    run, rng, d = _run_for(strategy), np.random.default_rng(seed), int(seed % 500) + 20
    run.gate.last_conversation[:] = np.where(rng.random(300) < 0.5, NONE,
                                             d - rng.integers(0, 30, 300))
    run.promise_day[:] = np.where(rng.random(300) < 0.7, NONE, d + rng.integers(-3, 4, 300))
    run.book.due[:] = rng.integers(0, 10**6, 300)
    run.book.fees[:] = rng.integers(0, 10**4, 300)
    run.risk[:] = rng.random(300).astype(np.float32)
    run.rpc_hist[:], run.attempts_hist[:] = rng.integers(0, 5, 300), rng.integers(0, 20, 300)
    idx = np.sort(rng.choice(300, n, replace=False)).astype(np.int64)
    dpd = rng.integers(1, 220, n).astype(np.int32)
    rule = rng.integers(-1, len(run.strategies[0].rules), n).astype(np.int16)
    gone = rng.random(n) < 0.1
    bucket = lg.bucket_of(dpd)
    requests, tones, tasks = {}, {}, [[] for _ in run.desks]
    bound = int(np.diff(run._actions[0].first)[rule[(rule >= 0) & ~gone]].sum())
    run._rule_actions(d, 0, idx, rule, dpd, bucket, gone, avoid, requests, tones, tasks, bound)
    ref = _ref_rule_actions(run, d, 0, idx, rule, dpd, bucket, gone, avoid)
    assert sorted(requests) == sorted(ref[0])
    for key in requests:
        assert np.array_equal(np.concatenate(requests[key]), np.concatenate(ref[0][key]))
        assert np.array_equal(np.concatenate(tones[key]), np.concatenate(ref[1][key]))
    for got, want in zip(tasks, ref[2], strict=True):
        assert bool(got) == bool(want)
        if got:
            # the old loop stacked the columns as floats, which _strategy cast back
            b = np.concatenate(want, axis=1)
            cols = [np.concatenate(c) for c in zip(*got, strict=True)]
            for col, row, dtype in zip(cols, b, (np.int64, np.int16, np.float64, np.int16),
                                       strict=True):
                assert col.dtype == dtype and np.array_equal(col, row.astype(dtype))
            assert np.array_equal(cols[2].view(np.uint64), b[2].view(np.uint64))


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300),
       strategy=st.sampled_from(["every_action_feature", "seed_playbook", "risk_based",
                                 "digital_first", "call_heavy", "hardship_first"]))
def test_the_compiled_rule_match_equals_strategy_match(seed, n, strategy):
    """strategy.match_rules (numba) against strategy.match (numpy, the definition) on
    random state and on the stock strategies with random conditions added: the same
    first rule per slot, the bucket of ledger.bucket_of, and the action count. Score
    bounds such as 0.7 lie between two float32s: numpy compares the float32 scores in
    float32, and so must the kernel (scores are drawn on and around those bounds)."""
    from sim import ledger as lg
    from sim.config import CAUSES
    from sim.strategy import Observed, compile_rules, match, match_rules, rule_table

    rng = np.random.default_rng(seed)
    base = _run_for(strategy).strategies[0]
    edges = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]
    rules = []
    for r in base.rules:
        lo, hi = sorted(rng.choice(edges, 2))
        up = {"risk": (float(lo), float(hi)) if rng.random() < 0.5 else r.risk,
              "min_overdue": float(rng.choice([0.0, 50.0, 2000.0])) if rng.random() < 0.5
              else r.min_overdue,
              "min_broken_promises": int(rng.integers(0, 3)) if rng.random() < 0.5
              else r.min_broken_promises}
        if rng.random() < 0.3:
            up["causes"] = list(rng.choice(CAUSES, int(rng.integers(1, len(CAUSES))), replace=False))
        if rng.random() < 0.3:
            a = int(rng.integers(0, 200))
            up["dpd"] = (a, a + int(rng.integers(0, 100)))
        rules.append(r.model_copy(update=up))
    strat = base.model_copy(update={"rules": rules})
    slots = 400
    near = np.array(edges, np.float32)
    risk = np.where(rng.random(slots) < 0.5, rng.choice(near, slots),
                    rng.random(slots)).astype(np.float32)
    risk = np.where(rng.random(slots) < 0.2, np.nextafter(risk, np.float32(2 * rng.random())),
                    risk).astype(np.float32)
    cause = rng.integers(0, len(CAUSES), slots).astype(np.int8)
    due, fees = rng.integers(0, 300_000, slots), rng.integers(0, 10_000, slots)
    broken = rng.integers(0, 4, slots).astype(np.int16)
    idx = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    dpd = rng.integers(1, 400, n).astype(np.int32)
    obs = Observed(bucket=lg.bucket_of(dpd), dpd=dpd, risk=risk[idx], cause=cause[idx],
                   overdue_cents=due[idx] + fees[idx], broken_promises=broken[idx],
                   days_since_conversation=np.zeros(n, np.int64))
    want = match(strat, obs, compile_rules(strat))
    rule, bucket, n_act = match_rules(rule_table(strat), idx, dpd, risk, cause, due, fees,
                                      broken)
    assert rule.dtype == want.dtype and np.array_equal(rule, want)
    assert np.array_equal(bucket, obs.bucket)
    per_rule = np.array([len(r.actions) for r in strat.rules], np.int64)
    assert n_act == int(per_rule[want[want >= 0]].sum())


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 200), arms=st.integers(1, 3),
       days=st.lists(st.integers(0, 28), min_size=1, max_size=4))
def test_the_compiled_pre_due_pick_equals_the_numpy_code(seed, n, arms, days):
    """_pre_due against the numpy code of Run._strategy it replaced: the slots due in
    one of the reminder days, held, active, with nothing due, of the arm."""
    from sim import ledger as lg
    from sim.engine import NONE, _pre_due

    rng = np.random.default_rng(seed)
    slots, d = 300, int(rng.integers(0, 540))
    near = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    next_due = np.where(rng.random(slots) < 0.1, NONE, d + rng.integers(-3, 31, slots))
    next_due = next_due.astype(np.int32)
    status = rng.choice([lg.ACTIVE, lg.ACTIVE, 2, 3], slots).astype(np.int8)
    due = np.where(rng.random(slots) < 0.8, 0, rng.integers(1, 10**5, slots))
    vacant = rng.random(slots) < 0.1
    arm_of = rng.integers(0, arms, slots).astype(np.int8)
    arm = int(rng.integers(0, arms))
    until = next_due[near] - d
    m = until == days[0]
    for k in days[1:]:
        m |= until == k
    m &= (status[near] == lg.ACTIVE) & (due[near] == 0) & ~vacant[near]
    if arms > 1:
        m &= arm_of[near] == arm
    lut = np.zeros(max(days) + 1, bool)
    lut[days] = True
    out = np.empty(n, np.int64)
    k = _pre_due(near, d, lut, next_due, status, due, vacant,
                 arm_of if arms > 1 else np.zeros(0, np.int8), arm, out)
    assert np.array_equal(out[:k], near[m])


def test_the_tone_table_is_each_arms_tones():
    """The conversation pass reads an account's tone from Run._tone_tab (arm, rule; the
    last column: no rule), padded to the arm with the most rules: the same numbers as
    Run._tone, for arms with different numbers of rules and slots with no rule."""
    strategies = [load_strategy(s) for s in ("seed_playbook", "no_action", "risk_based")]
    assert len({len(s.rules) for s in strategies}) > 1
    sim = Simulation(small(accounts=600), strategies, seed=2)
    run, rng = sim.run, np.random.default_rng(0)
    width = run._tone_tab.shape[1]
    for arm, st_ in enumerate(strategies):
        idx = np.flatnonzero(run.arm == arm)
        run.rule_today[idx] = rng.integers(-1, len(st_.rules), len(idx)) if st_.rules else -1
    idx = np.arange(run.n)
    r = run.rule_today[idx].astype(np.int64)
    assert np.array_equal(run._tone_tab[run.arm[idx], np.where(r < 0, width - 1, r)],
                          run._tone(idx))


def test_only_the_stimulus_rows_written_to_are_held_nonzero_and_decayed():
    """The daily decay skips the rows of the stimulus no code has written to yet: every
    writer must mark its row, or its impulses would never decay. Checked day by day on
    strategies that write one row (no_action: repayments only) or all of them."""
    for name in ("no_action", "digital_first", "seed_playbook"):
        sim = Simulation(small(accounts=1500), load_strategy(name), seed=3)
        for _ in range(60):
            sim.advance(1)
            stim, stirred = sim.run.stim, sim.run._stirred
            assert not stim[~stirred].any(), (name, sim.day, stirred)
        assert stirred.any()
        if name == "seed_playbook":
            assert stirred.all()


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), how=st.integers(1, 3))
def test_the_compiled_cures_equal_the_numpy_code(seed, n, how):
    """_cure_slots against the numpy code of Run._cured it replaced: agendas cleared,
    episodes ended, the attrition probability (behaviour.attrition_probability) and its
    draw, the leavers, bit for bit; and with probabilities placed exactly on the draws."""
    from sim import behaviour as bh
    from sim.engine import NONE, _cure_slots
    from sim.rng import Streams

    rng = np.random.default_rng(seed)
    slots, persons, eps_n, d = 80, 120, 200, int(rng.integers(0, 540))
    streams = Streams(int(rng.integers(0, 2**31)))
    idx = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    state = {
        "agency_until": np.where(rng.random(slots) < 0.3, 9, NONE).astype(np.int32),
        "legal_day": np.where(rng.random(slots) < 0.2, 9, NONE).astype(np.int32),
        "promise_day": np.where(rng.random(slots) < 0.2, 9, NONE).astype(np.int32),
        "ep": np.where(rng.random(slots) < 0.8, rng.permutation(eps_n)[:slots], -1),
        "complained": rng.random(slots) < 0.3, "leaving": rng.random(slots) < 0.1,
        "cure_day": np.full(eps_n, NONE, np.int32), "cure_type": np.zeros(eps_n, np.int8),
        "end_day": np.full(eps_n, NONE, np.int32), "ep_leaving": rng.random(eps_n) < 0.1}
    person = rng.permutation(persons)[:slots].astype(np.int64)
    contacts = rng.integers(0, 30, eps_n).astype(np.int32)
    base, per_contact = float(rng.choice([0.0, 0.05, 0.5])), float(rng.choice([0.0, 0.01, 0.2]))
    prop = np.exp(rng.normal(0, 0.5, persons)).astype(np.float32)
    u = streams.uniform("attrition", d, idx)
    # some propensities put the probability exactly on the draw: a bit off decides
    ep0 = state["ep"][idx]
    on = (ep0 >= 0) & (rng.random(n) < 0.3) & ~state["complained"][idx]
    if base + per_contact > 0:
        want_p = u[on]
        c = base + per_contact * contacts[ep0[on]]
        prop[person[idx[on]]] = (want_p / np.where(c > 0, c, 1.0)).astype(np.float32)

    ref = {k: v.copy() for k, v in state.items()}
    ref["agency_until"][idx] = NONE
    ref["legal_day"][idx] = NONE
    ref["promise_day"][idx] = NONE
    ep = ref["ep"][idx]
    has = ep >= 0
    i2, e2 = idx[has], ep[has]
    ref["cure_day"][e2], ref["cure_type"][e2], ref["end_day"][e2] = d, how, d
    p = bh.attrition_probability(base, per_contact, contacts[e2], prop[person[i2]],
                                 ref["complained"][i2])
    leave = streams.uniform("attrition", d, i2) < p
    ref["leaving"][i2[leave]] = True
    ref["ep_leaving"][e2] = leave
    ref["ep"][i2] = -1
    ref["complained"][i2] = False

    got = {k: v.copy() for k, v in state.items()}
    k = _cure_slots(idx, d, how, streams.key("attrition", d), base, per_contact,
                    got["agency_until"], got["legal_day"], got["promise_day"], got["ep"],
                    person, prop, got["complained"], got["leaving"], got["cure_day"],
                    got["cure_type"], got["end_day"], contacts, got["ep_leaving"])
    assert k == len(i2)
    for name in state:
        assert np.array_equal(got[name], ref[name]), name


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40))
def test_the_compiled_payments_book_what_the_numpy_code_booked(seed, n):
    """_pay_slots against the numpy code of Run._pay it replaced: the payment itself
    (ledger.pay), the delinquent share (past due, at an agency or in court before
    paying), the episodes' collections, paid today, and the totals."""
    from sim import ledger as lg
    from sim.engine import NONE, _pay_slots

    rng = np.random.default_rng(seed)
    slots, eps_n, d = 60, 100, int(rng.integers(30, 400))
    cal = lg.Calendar(datetime.date(2024, 1, 1), 540, [])
    bk = lg.Book(slots)
    bk.due[:] = np.where(rng.random(slots) < 0.6, rng.integers(1, 10**5, slots), 0)
    bk.fees[:] = np.where(rng.random(slots) < 0.5, rng.integers(1, 10**4, slots), 0)
    bk.inst[:] = rng.integers(1, 10**4, slots)
    bk.fee_amt[:] = rng.integers(0, 500, slots)
    bk.dom[:] = rng.integers(1, 29, slots)
    bk.last_due_month[:] = cal.month_of[d]
    bk.oldest_month[:] = np.where(bk.due > 0, cal.month_of[d] - rng.integers(0, 4, slots), NONE)
    bk.oldest_day[:] = np.where(rng.random(slots) < 0.2, d,  # due today: DPD 0, not late
                                np.where(bk.due > 0, d - rng.integers(1, 120, slots), NONE))
    agency_until = np.where(rng.random(slots) < 0.2, d + 9, NONE).astype(np.int32)
    legal_day = np.where(rng.random(slots) < 0.1, d + 9, NONE).astype(np.int32)
    ep_of = np.where(rng.random(slots) < 0.7, rng.permutation(eps_n)[:slots], -1)
    idx = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    amount = rng.integers(0, 2 * 10**5, n).astype(np.int64)

    ref_bk, ref_collected, ref_paid_today = copy.deepcopy(bk), np.zeros(eps_n, np.int64), \
        np.zeros(slots, bool)
    od = ref_bk.oldest_day[idx]
    delinquent = (np.where(od == NONE, 0, d - od) > 0) | (agency_until[idx] != NONE) | (
        legal_day[idx] != NONE)
    paid = lg.pay(ref_bk, cal, idx, amount)
    ep = ep_of[idx]
    np.add.at(ref_collected, ep[ep >= 0], paid[ep >= 0])
    ref_paid_today[idx] = True

    collected, paid_today, out = np.zeros(eps_n, np.int64), np.zeros(slots, bool), \
        np.empty(n, np.int64)
    total, late, agency = _pay_slots(
        idx, amount, d, agency_until, legal_day, ep_of, collected, paid_today, bk.due, bk.fees,
        bk.paid, bk.inst, bk.fee_amt, bk.last_due_month, bk.oldest_month, bk.oldest_day,
        bk.dom, cal.month_first, cal._off, out)
    assert np.array_equal(out, paid)
    assert (total, late, agency) == (paid.sum(), paid[delinquent].sum(),
                                     bool((agency_until[idx] != NONE).any()))
    assert np.array_equal(collected, ref_collected) and np.array_equal(paid_today, ref_paid_today)
    for name in ("due", "fees", "paid", "oldest_month", "oldest_day"):
        assert np.array_equal(getattr(bk, name), getattr(ref_bk, name)), name


def test_the_compiled_due_date_chance_has_the_bits_of_the_numpy_definition():
    """The draws of a run seldom fall between two neighbouring floats, so a compiled
    probability one rounding away from numpy's (a float64 ``1 - strategic``, say) would
    pass the bill test below and every seeded run, and still change results at some seed:
    here its bits are compared over many traits."""
    import numba

    from sim import behaviour as bh
    from sim.engine import due_pay_chance

    @numba.njit
    def chances(a, o, s, f, out):
        for j in range(a.shape[0]):
            out[j] = due_pay_chance(a[j], o[j], s[j], f[j])

    rng = np.random.default_rng(11)
    n, cut = 20_000, 0.6
    ability, oversight, strategic = (rng.random(n).astype(np.float32) for _ in range(3))
    reminded = rng.random(n) < 0.5
    out = np.empty(n)
    chances(ability, oversight, strategic, np.where(reminded, 1.0 - cut, 1.0), out)
    want = bh.due_pay_probability(ability, oversight, strategic, reminded, cut)
    assert want.dtype == np.float64
    assert np.array_equal(out.view(np.uint64), want.view(np.uint64))


def _due_date_traits(rng, slots, persons, segs, tables, d, spread):
    """What the due-date decision reads besides ability: segments, the oversight and
    refusal shares (from per-segment tables, or per person with empty tables, each below
    ``spread``), the last reminder days (some none) and the recent misses."""
    from sim.engine import NONE

    segment = rng.integers(0, segs, persons).astype(np.int8)
    if tables:
        ov_tab, st_tab = (rng.random(segs).astype(np.float32) * spread for _ in range(2))
        oversight, strategic = ov_tab[segment], st_tab[segment]
    else:
        ov_tab = st_tab = np.zeros(0, np.float32)
        oversight, strategic = (rng.random(persons).astype(np.float32) * spread
                                for _ in range(2))
    last_reminder = np.where(rng.random(slots) < 0.5, d - rng.integers(0, 10, slots), NONE)
    miss_recent = rng.random(slots).astype(np.float32)
    return (segment, ov_tab, st_tab, oversight, strategic, last_reminder.astype(np.int32),
            miss_recent)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), tables=st.booleans())
def test_the_deferred_bills_equal_the_numpy_code(seed, n, tables):
    """_bill_deferred (the current slots of persons with a shock, whose ability is numpy's
    float32 exp) against the numpy code of Run._billing it replaced: the chance
    (behaviour.due_pay_probability), the "due" draw, the payments (ledger.pay), the late
    fees (ledger.mark_missed), one more recent miss; every field, every cent."""
    from sim import behaviour as bh
    from sim import ledger as lg
    from sim.engine import _bill_deferred
    from sim.rng import Streams

    rng = np.random.default_rng(seed)
    slots, persons, segs = 50, 80, 4
    cal = lg.Calendar(datetime.date(2024, 1, 1), 540, [])
    d = int(rng.integers(40, 400))
    streams = Streams(int(rng.integers(0, 2**31)))
    bk = lg.Book(slots)
    bk.dom[:] = rng.integers(1, 29, slots)
    bk.last_due_month[:] = cal.month_of[d]
    bk.inst[:] = rng.integers(100, 10**5, slots)
    bk.fee_amt[:] = rng.integers(0, 500, slots)
    bk.due[:] = 0  # current: the bill is what they owe
    person = rng.permutation(persons)[:slots].astype(np.int64)
    ability = rng.random(persons).astype(np.float32)
    logsum = (-rng.random(persons)).astype(np.float32)
    segment, ov_tab, st_tab, oversight, strategic, last_reminder, miss_recent = _due_date_traits(
        rng, slots, persons, segs, tables, d, 0.5)
    window, cut, late_rate, late_fixed = 5, 0.6, 0.05, 2_500
    ci = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)
    amount = rng.integers(1, 10**5, n)
    bk.due[ci] = amount  # billed today
    p = person[ci]
    a = ability[p] * np.exp(logsum[p])

    ref, ref_miss = copy.deepcopy(bk), miss_recent.copy()
    reminded = last_reminder[ci] >= d - window
    prob = bh.due_pay_probability(a, oversight[p], strategic[p], reminded, cut)
    pays = streams.uniform("due", d, ci) < prob
    paid = lg.pay(ref, cal, ci[pays], amount[pays])
    late = lg.mark_missed(ref, cal, ci[~pays], amount[~pays], late_rate, late_fixed)
    ref_miss[ci[~pays]] += 1

    got_late, got_paid = _bill_deferred(
        ci, amount, a, p, segment, ov_tab, oversight, st_tab, strategic, last_reminder,
        d - window, 1.0 - cut, streams.key("due", d), late_rate, late_fixed, bk.due, bk.fees,
        bk.fee_flow, bk.paid, bk.inst, bk.fee_amt, bk.last_due_month, bk.oldest_month,
        bk.oldest_day, bk.dom, cal.month_first, cal._off, miss_recent)
    assert (got_late, got_paid) == (late.sum(), paid.sum())
    assert np.array_equal(miss_recent, ref_miss)
    for name in ("due", "fees", "fee_flow", "paid", "oldest_month", "oldest_day"):
        assert np.array_equal(getattr(bk, name), getattr(ref, name)), name


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), tables=st.booleans())
def test_the_compiled_bills_equal_the_numpy_code(seed, n, tables):
    """_bill_due against the numpy code of Run._billing it replaced: the slots billed
    (active, held, due today), the plans' last instalments, the bills paid on the due
    date (behaviour.due_pay_probability and the "due" draw) or missed (late fees, oldest
    unpaid date, one more recent miss), the totals; and the slots it leaves to numpy
    (current, with a shock) untouched but billed."""
    from sim import behaviour as bh
    from sim import ledger as lg
    from sim.engine import NONE, _bill_due
    from sim.rng import Streams

    rng = np.random.default_rng(seed)
    slots, persons, segs = 70, 100, 4
    cal = lg.Calendar(datetime.date(2024, 1, 1), 540, [])
    d = int(rng.integers(40, 400))
    streams = Streams(int(rng.integers(0, 2**31)))
    bk = lg.Book(slots)
    bk.dom[:] = rng.integers(1, 29, slots)
    month = cal.month_of[d]
    bk.next_due_month[:] = month
    bk.next_due_day[:] = np.where(rng.random(slots) < 0.7, d, d + 3)
    bk.n_left[:] = rng.choice([1, 1, 2, 6], slots)
    bk.unbilled[:] = rng.integers(1_000, 10**6, slots)
    bk.inst[:] = rng.integers(100, 10**5, slots)
    bk.fee_amt[:] = rng.integers(0, 500, slots)
    bk.last_due_month[:] = month - 1
    behind = rng.random(slots) < 0.3
    bk.due[:] = np.where(behind, rng.integers(1, 10**5, slots), 0)
    bk.oldest_month[:] = np.where(behind, month - 1, NONE)
    bk.oldest_day[:] = np.where(behind, d - 30, NONE)
    bk.status[:] = np.where(rng.random(slots) < 0.9, lg.ACTIVE, lg.IDLE)
    vacant = rng.random(slots) < 0.1
    person = rng.permutation(persons)[:slots].astype(np.int64)
    ability = rng.random(persons).astype(np.float32)
    logsum = np.where(rng.random(persons) < 0.2, -rng.random(persons), 0.0).astype(np.float32)
    segment, ov_tab, st_tab, oversight, strategic, last_reminder, miss_recent = _due_date_traits(
        rng, slots, persons, segs, tables, d, 0.3)
    window, cut, late_rate, late_fixed = 5, 0.6, 0.05, 2_500
    soon = np.sort(rng.choice(slots, n, replace=False)).astype(np.int64)

    # the numpy code
    ref, ref_miss = copy.deepcopy(bk), miss_recent.copy()
    idx = soon[(ref.next_due_day[soon] == d) & (ref.status[soon] == lg.ACTIVE) & ~vacant[soon]]
    current = ref.due[idx] == 0
    amount, fee, left = lg.bill_parts(ref, cal, idx)
    q = person[idx]
    deferred = current & (logsum[q] != 0)
    ci, p = idx[current & ~deferred], q[current & ~deferred]
    reminded = last_reminder[ci] >= d - window
    prob = bh.due_pay_probability(ability[p] * np.exp(logsum[p]), oversight[p], strategic[p],
                                  reminded, cut)
    pays = streams.uniform("due", d, ci) < prob
    paid = lg.pay(ref, cal, ci[pays], amount[current & ~deferred][pays])
    missed = np.concatenate([ci[~pays], idx[~current]])
    late = lg.mark_missed(ref, cal, missed, np.concatenate(
        [amount[current & ~deferred][~pays], amount[~current]]), late_rate, late_fixed)
    ref_miss[missed] += 1

    k = len(soon)
    out = [np.empty(k, np.int64) for _ in range(4)]
    nb, ne, nd, billed_total, fees_total, paid_total = _bill_due(
        soon, d, bk.status, vacant, bk.n_left, bk.unbilled, bk.inst, bk.fee_amt, bk.due,
        bk.fees, bk.fee_flow, bk.paid, bk.next_due_month, bk.last_due_month, bk.next_due_day,
        bk.oldest_month, bk.oldest_day, bk.dom, cal.month_first, cal._off, person, ability,
        logsum, segment, ov_tab, oversight, st_tab, strategic, last_reminder, d - window,
        1.0 - cut, streams.key("due", d), late_rate, late_fixed, miss_recent, *out)
    billed, ending, got_deferred, deferred_amount = out
    assert np.array_equal(billed[:nb], idx)
    assert np.array_equal(ending[:ne], idx[left == 0])
    assert np.array_equal(got_deferred[:nd], idx[deferred])
    assert np.array_equal(deferred_amount[:nd], amount[deferred])
    assert billed_total == -ref.unbilled_total  # bill_parts took it off the running total (0)
    assert (fees_total, paid_total) == (fee.sum() + late.sum(), paid.sum())
    assert np.array_equal(miss_recent, ref_miss)
    for name in ("due", "fees", "fee_flow", "paid", "unbilled", "n_left", "next_due_month",
                 "last_due_month", "next_due_day", "oldest_month", "oldest_day"):
        assert np.array_equal(getattr(bk, name), getattr(ref, name)), name


@settings(max_examples=200, deadline=None)
@given(x=st.lists(st.integers(-5, 5), max_size=12))
def test_strictly_ascending_is_the_numpy_comparison(x):
    from sim.engine import _strictly_ascending

    a = np.array(x, np.int64)
    assert _strictly_ascending(a) == bool(np.all(a[1:] > a[:-1]))
