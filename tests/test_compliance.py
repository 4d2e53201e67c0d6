"""The gate refuses what the law forbids, counts each refusal by rule; the independent
auditor catches violations in a log that the gate would never have let through."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.audit import (
    AGENT_CALL,
    AUTOMATED_CALL,
    LETTER,
    LOG_COLUMNS,
    MESSAGE,
    THIRD_PARTY,
    Auditor,
    AuditThread,
)
from sim.compliance import KIND_CODES, PROFILES, Gate
from sim.engine import ContactLog

CALL, SMS, TP = (KIND_CODES[k] for k in ("agent_call", "message", "third_party_call"))


def gate(profile: str, holidays=frozenset()) -> Gate:
    return Gate(10, PROFILES[profile], daily_call_cap=3, third_party_per_week=1,
                holidays=set(holidays))


def test_contact_window_per_profile():
    acct = np.arange(4)
    hours = np.array([7.99, 8.0, 21.5, 22.0])
    g = gate("cn_2022")
    g.new_day(0)
    assert g.check(0, hours, acct, CALL).tolist() == [False, True, True, False]
    u = gate("us_reg_f")
    u.new_day(0)
    assert u.check(0, hours, acct, CALL).tolist() == [False, True, False, False]
    assert u.blocked["window"] == 3
    assert u.check(0, 23.0, acct, LETTER).all()  # mail is not a contact at an hour


def test_cn_daily_cap_and_holidays():
    g = gate("cn_2022", holidays={5})
    a = np.array([1])
    for day in (0, 1):
        g.new_day(day)
        for _ in range(3):
            assert g.check(day, 10.0, a, CALL)[0]
            g.record(day, a, CALL)
        assert not g.check(day, 10.0, a, CALL)[0]
    g.new_day(5)
    assert not g.check(5, 10.0, a, CALL)[0]
    assert g.check(5, 10.0, a, SMS)[0]
    assert g.blocked["daily_cap"] == 2 and g.blocked["holiday"] == 1


def test_us_seven_in_seven_and_cooloff():
    g = gate("us_reg_f")
    a = np.array([2])
    made = []
    for day in range(10):
        g.new_day(day)
        for _ in range(3):
            if g.check(day, 9.0, a, CALL)[0]:
                g.record(day, a, CALL)
                made.append(day)
    # never more than 7 calls in any 7 consecutive days
    for d in range(10):
        assert sum(1 for x in made if d <= x < d + 7) <= 7
    assert g.blocked["weekly_cap"] > 0
    # a conversation blocks calls for 7 days, the day of the conversation included
    h = gate("us_reg_f")
    b = np.array([3])
    h.new_day(20)
    h.record(20, b, CALL, conversation=np.array([True]), rpc=np.array([True]))
    for day in range(20, 28):
        h.new_day(day)
        assert h.check(day, 10.0, b, CALL)[0] == (day >= 27)


def test_third_parties_and_optout():
    u = gate("us_reg_f")
    a = np.array([4])
    u.new_day(100)
    assert u.check(100, 10.0, a, TP)[0]  # never reached: location information allowed once
    u.record(100, a, TP)
    u.new_day(101)
    assert not u.check(101, 10.0, a, TP)[0]
    c = gate("cn_2022")
    c.new_day(0)
    c.record(0, a, TP)
    c.new_day(3)
    assert not c.check(3, 10.0, a, TP)[0]  # one a week
    c.new_day(7)
    assert c.check(7, 10.0, a, TP)[0]
    c.optout[a] = True
    assert not c.check(7, 10.0, a, SMS)[0] and c.check(7, 10.0, a, LETTER)[0]


def log(rows) -> dict[str, np.ndarray]:
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in LOG_COLUMNS]
    types = (np.int32, np.float64, np.int64, np.int64, np.int16, np.int8, np.int8, bool)
    return {c: np.asarray(v, dtype=t) for c, v, t in zip(LOG_COLUMNS, cols, types, strict=True)}


def test_auditor_flags_each_kind_of_violation():
    cn = Auditor(10, PROFILES["cn_2022"], 3, 1, holidays={1}, block_holidays=True)
    cn.day(0, log([(0, 6.0, 0, 0, 0, AGENT_CALL, 0, False)]
                  + [(0, 10.0 + i, 0, 1, 0, AGENT_CALL, 0, False) for i in range(4)]
                  + [(0, 11.0, 0, 2, 0, THIRD_PARTY, 3, True)]))
    cn.day(1, log([(1, 10.0, 0, 3, 0, AGENT_CALL, 0, False)]))
    v = cn.violations
    assert v["window"] == 1 and v["daily_cap"] == 1 and v["holiday"] == 1
    assert v["disclosed_to_third_party"] == 1
    us = Auditor(10, PROFILES["us_reg_f"], 7, 1, holidays=set(), block_holidays=False)
    us.day(0, log([(0, 9.0, 0, 5, 0, AGENT_CALL, 2, False), (0, 15.0, 0, 5, 0, AGENT_CALL, 0, False)]))
    us.day(1, log([(1, 9.0, 0, 5, 0, AGENT_CALL, 0, False)]))
    for d in range(2, 9):
        us.day(d, log([(d, 9.0 + i, 0, 6, 0, AGENT_CALL, 0, False) for i in range(2)]))
    assert us.violations["cooloff"] == 2
    assert us.violations["weekly_cap"] > 0
    us.optouts(9, 10.0, np.array([7]))
    us.day(9, log([(9, 9.0, 0, 7, 0, MESSAGE, 4, False), (9, 11.0, 0, 7, 0, MESSAGE, 4, False)]))
    assert us.violations["optout"] == 1
    clean = Auditor(10, PROFILES["cn_2022"], 3, 1, holidays=set(), block_holidays=True)
    clean.day(0, log([(0, 10.0, 0, 1, 0, AGENT_CALL, 2, False)] * 3))
    assert clean.total == 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), profile=st.sampled_from(sorted(PROFILES)))
def test_the_auditor_on_its_thread_counts_what_it_counts_inline(seed, profile):
    """The engine's use of the auditor: each day's log written into a ContactLog, flushed,
    handed to the auditor's thread, the next day written while the thread reads, opt-outs
    in between. The counts equal those of the same calls made inline."""
    rng = np.random.default_rng(seed)
    args = (40, PROFILES[profile], 3, 1, {3}, True)
    inline = Auditor(*args)
    threaded = AuditThread(Auditor(*args), thread_from=int(rng.integers(0, 40)))
    today = ContactLog(cap=8)  # small: the columns grow by doubling on the way
    kinds = np.array([MESSAGE, AUTOMATED_CALL, AGENT_CALL, THIRD_PARTY], np.int8)
    for d in range(12):
        for _ in range(rng.integers(0, 4)):
            k = int(rng.integers(1, 30))
            today.append(d, rng.uniform(6.0, 23.0), rng.integers(0, 40, k), rng.integers(0, 40, k),
                         0, kinds[rng.integers(0, 4)], rng.integers(0, 4, k).astype(np.int8))
            if rng.random() < 0.3:
                who = rng.integers(0, 40, 3)
                inline.optouts(d, 12.0, who)
                threaded.optouts(d, 12.0, who.copy())
        threaded.wait()  # what end_of_day does before the flush reuses columns
        day = today.flush()
        inline.day(d, {k: v.copy() for k, v in day.items()})
        threaded.day(d, day)
    assert inline.total > 0  # the stream breaks rules, so a lost or reordered call shows
    assert threaded.violations == inline.violations
    threaded.close()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), profile=st.sampled_from(sorted(PROFILES)))
def test_the_auditors_counts_do_not_depend_on_the_order_of_a_days_rows(seed, profile):
    """The auditor sorts a day's log by hour with an unstable sort: rows at the same hour
    may come in any order. Logs full of such ties (a few hours, few persons, every kind),
    audited as written and with their rows shuffled, give the same counts."""
    rng = np.random.default_rng(seed)
    args = (12, PROFILES[profile], 3, 1, {2}, True)
    a, b = Auditor(*args), Auditor(*args)
    kinds = np.array([MESSAGE, AUTOMATED_CALL, AGENT_CALL, THIRD_PARTY], np.int8)
    for d in range(8):
        n = int(rng.integers(0, 60))
        rows = {"day": np.full(n, d, np.int32),
                "hour": rng.choice([7.5, 9.0, 10.0, 10.0, 14.25, 21.5], n),
                "slot": rng.integers(0, 12, n), "person": rng.integers(0, 12, n),
                "channel": np.zeros(n, np.int16), "kind": kinds[rng.integers(0, 4, n)],
                "outcome": rng.integers(0, 4, n).astype(np.int8), "disclosed": np.zeros(n, bool)}
        shuffle = rng.permutation(n)
        if rng.random() < 0.3:
            who = rng.integers(0, 12, 2)
            a.optouts(d, 9.5, who)
            b.optouts(d, 9.5, who)
        a.day(d, rows)
        b.day(d, {k: v[shuffle] for k, v in rows.items()})
    assert a.total > 0  # the rows break rules, so a count that moved would show
    assert a.violations == b.violations


def test_a_flushed_day_survives_the_next_days_writes_and_errors_reach_the_caller():
    """ContactLog hands out views of one set of columns and writes the next day into the
    other (the auditor's thread may still be reading); an auditor call that fails raises
    in the engine's thread when it next waits."""
    log_ = ContactLog(cap=4)
    log_.append(0, 10.0, np.arange(3), np.arange(3), 1, AGENT_CALL, np.zeros(3, np.int8))
    first = log_.flush()
    log_.append(1, 11.0, np.arange(2) + 50, np.arange(2), 2, MESSAGE, np.ones(2, np.int8))
    log_.append(1, 12.0, np.arange(7) + 52, np.arange(7), 2, MESSAGE, np.ones(7, np.int8))
    assert first["slot"].tolist() == [0, 1, 2] and (first["hour"] == 10.0).all()
    assert first["day"].tolist() == [0, 0, 0] and (first["channel"] == 1).all()
    assert log_.flush()["slot"].tolist() == list(range(50, 59))  # grown on the way
    broken = AuditThread(Auditor(5, PROFILES["cn_2022"], 3, 1, set(), False), thread_from=0)
    broken.day(0, {"day": np.zeros(1, np.int32)})  # no hours: the auditor's KeyError
    with pytest.raises(KeyError):
        _ = broken.total
    broken.close()


def _rank_within(keys: np.ndarray) -> np.ndarray:
    """The definition by stable sort: 0, 1, 2, ... for successive equal keys."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    start = np.r_[True, k[1:] != k[:-1]]
    idx = np.arange(len(k))
    rank = np.empty(len(k), dtype=np.int64)
    rank[order] = idx - np.maximum.accumulate(np.where(start, idx, 0))
    return rank


def _audit_day_in_numpy(a: Auditor, day: int, log_: dict[str, np.ndarray]) -> dict[str, int]:
    """The auditor's day as numpy steps (the code the compiled pass replaced): the
    violations it finds, and the day booked into ``a``'s history."""
    v = dict.fromkeys(a.violations, 0)
    col = day % 7
    a.calls_by_day[:, col] = 0  # the auditor clears the column of the week before
    a.tp_by_day[:, col] = 0
    if len(log_["day"]) == 0:
        return v
    order = np.argsort(log_["hour"], kind="stable")
    hour, person = log_["hour"][order], log_["person"][order]
    kind, outcome = log_["kind"][order], log_["outcome"][order]
    law, t = a.law, day + hour / 24.0
    v["window"] += int(np.count_nonzero(
        ((hour < law.window_start) | (hour >= law.window_end)) & (kind != LETTER)))
    v["disclosed_to_third_party"] += int(np.count_nonzero(log_["disclosed"]))
    msg = kind == MESSAGE
    v["optout"] += int(np.count_nonzero(a.optout_time[person[msg]] < t[msg]))
    call = (kind == AUTOMATED_CALL) | (kind == AGENT_CALL)
    tp = kind == THIRD_PARTY
    if day in a.holidays:
        v["holiday"] += int(np.count_nonzero(call | tp))
    conv = (kind == AGENT_CALL) & (outcome == 2)
    first = np.full(len(a.tp_ever), np.inf)
    np.minimum.at(first, person[conv], hour[conv])
    p, h = person[call], hour[call]
    nth = _rank_within(p) + 1
    v["daily_cap"] += int(np.count_nonzero(nth > a.cap))
    if law.weekly_cap is not None:
        v["weekly_cap"] += int(np.count_nonzero(a.calls_by_day[p].sum(axis=1) + nth
                                                > law.weekly_cap))
    if law.cooloff_days:
        v["cooloff"] += int(np.count_nonzero((day - a.last_conversation[p] < law.cooloff_days)
                                             | (first[p] < h)))
    np.add.at(a.calls_by_day[:, col], p, 1)
    p, h = person[tp], hour[tp]
    nth = _rank_within(p) + 1
    if law.third_party_once:
        recent = (day - a.last_reached[p] < law.third_party_needs_no_rpc_days) | (first[p] < h)
        v["third_party"] += int(np.count_nonzero((a.tp_ever[p] + nth > 1) | recent))
    else:
        v["third_party"] += int(np.count_nonzero(a.tp_by_day[p].sum(axis=1) + nth > a.tp_week))
    np.add.at(a.tp_by_day[:, col], p, 1)
    np.add.at(a.tp_ever, p, 1)
    a.last_conversation[person[conv]] = day
    a.last_reached[person[conv]] = day
    return v


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), profile=st.sampled_from(sorted(PROFILES)),
       tp_per_week=st.integers(1, 3))
def test_the_compiled_audit_equals_the_numpy_steps(seed, profile, tp_per_week):
    """Auditor.day's compiled pass against the numpy steps it replaced, day after day on
    random logs full of same-hour ties, every kind and outcome, opt-outs and a holiday:
    the same violations by rule each day, the same history kept, the scratch left clean."""
    rng = np.random.default_rng(seed)
    args = (15, PROFILES[profile], 3, tp_per_week, {4}, True)
    compiled, numpy_ = Auditor(*args), Auditor(*args)
    kinds = np.array([MESSAGE, AUTOMATED_CALL, AGENT_CALL, THIRD_PARTY, LETTER], np.int8)
    for d in range(16):
        n = int(rng.integers(0, 50))
        rows = {"day": np.full(n, d, np.int32),
                "hour": rng.choice([6.5, 8.0, 9.0, 9.0, 13.5, 20.0, 21.5, 22.0], n),
                "slot": rng.integers(0, 15, n), "person": rng.integers(0, 15, n),
                "channel": np.zeros(n, np.int16), "kind": kinds[rng.integers(0, 5, n)],
                "outcome": rng.integers(0, 4, n).astype(np.int8),
                "disclosed": rng.random(n) < 0.05}
        if rng.random() < 0.3:
            who, at = rng.integers(0, 15, 2), float(rng.choice([7.0, 9.0, 15.0]))
            compiled.optouts(d, at, who)
            numpy_.optouts(d, at, who)
        before = dict(compiled.violations)
        compiled.day(d, rows)
        want = _audit_day_in_numpy(numpy_, d, rows)
        assert {k: compiled.violations[k] - before[k] for k in before} == want
        for name in ("calls_by_day", "tp_by_day", "tp_ever", "last_conversation",
                     "last_reached"):
            assert np.array_equal(getattr(compiled, name), getattr(numpy_, name)), name
        assert np.isinf(compiled._first).all() and not compiled._seen.any()
        assert not compiled._seen_tp.any()
    assert compiled.total > 0


def _check_by_the_rules(g: Gate, day: int, hour, acct: np.ndarray, kind: int):
    """Gate.check's verdict and counts as the rules define them, in numpy: the window per
    attempt, then _refusals in order, each refusal counted against its first rule."""
    law, n = g.law, len(acct)
    ok, counts = np.ones(n, bool), dict.fromkeys(g.blocked, 0)
    if kind != LETTER:
        out = (np.asarray(hour) < law.window_start) | (np.asarray(hour) >= law.window_end)
        out = np.broadcast_to(out, (n,))
        counts["window"] += int(np.count_nonzero(out))
        ok &= ~out
    for rule, refused in g._refusals(day, acct, kind):
        counts[rule] += int(np.count_nonzero(ok & refused))
        ok &= ~refused
    return ok, counts


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), profile=st.sampled_from(sorted(PROFILES)),
       n=st.integers(0, 40), day=st.integers(0, 60), per_attempt=st.booleans())
def test_the_compiled_check_equals_the_rules(seed, profile, n, day, per_attempt):
    """Gate.check's compiled pass (calls, automated calls, messages, letters; verdict
    only, and counting) against the refusals the rules give (_refusals), on a random
    history, with a scalar hour or one hour per attempt (some outside the window)."""
    rng = np.random.default_rng(seed)
    g = Gate(60, PROFILES[profile], daily_call_cap=3, third_party_per_week=1, holidays=set())
    g.calls[:] = rng.integers(0, 3, (60, 7))
    g.last_conversation[:] = np.where(rng.random(60) < 0.5, -(10**6),
                                      rng.integers(max(day - 12, 0), day + 1, 60))
    g.optout[:] = rng.random(60) < 0.3
    acct = rng.choice(60, n, replace=False).astype(np.int64)
    hour = rng.choice([6.0, 10.0, 21.5, 23.0], n) if per_attempt else 10.0
    for kind in (CALL, KIND_CODES["automated_call"], SMS, LETTER):
        want, counts = _check_by_the_rules(g, day, hour, acct, kind)
        assert np.array_equal(g.check(day, hour, acct, kind, count=False), want)
        before = g.blocked
        assert np.array_equal(g.check(day, hour, acct, kind), want)
        assert {r: g.blocked[r] - before[r] for r in before} == counts
