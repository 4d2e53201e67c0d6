"""Adversarial strategies: hypothesis writes strategies that ask for any channel at any
hour, as often as the schema allows, on any bucket, with any holiday, offer, agency and
legal setting. Whatever they ask, the executed contacts break no rule of the active
compliance profile and money is conserved to the cent.

Violations are counted three ways: by the gate (it refuses), by the engine's auditor
(sim.audit), and by the checker below, written from MODEL.md's rule table. It reads only
the contact log and the rules (sim.compliance.PROFILES, the scenario's compliance
settings and holiday dates), shares no code with the gate or the auditor, and works per
person on absolute times with pandas, not per slot with ring buffers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.compliance import PROFILES
from sim.config import Scenario, apply_overrides, check_pair, load_scenario, validate_strategy
from sim.engine import Simulation

EXAMPLES_PER_PROFILE = 20
pytestmark = pytest.mark.slow

# log codes (sim.audit's documented log format)
MESSAGE, IVR, AGENT, LETTER, THIRD = 0, 1, 2, 3, 4
CONVERSATION = 2

BUCKETS = ["M1", "M2", "M3", "M4", "M5", "M6"]
CAUSES = ["unknown", "oversight", "hardship", "terms", "unwilling", "suspected_fraud"]
AUTOMATED = ["sms", "app_push", "email", "ivr", "letter", "lawyer_letter"]

# A small book that turns delinquent fast (more oversight misses, more shocks), so that
# every bucket up to M4 is reached inside a short horizon.
BASE = {
    "cn_2022": load_scenario("baseline"),
    "us_reg_f": load_scenario("us_reg_f"),
}
SMALL = [("population.accounts", 500), ("horizon.warmup_days", 60),
         ("horizon.window_days", 45), ("horizon.followup_days", 0),
         ("economy.shock_multiplier", 4.0),
         ("population.segments.steady.oversight_miss", 0.08)]

# any hour, with weight on the edges of the legal windows and on working hours (where
# agents actually dial), so that many asks are allowed and many are refused
# (hypothesis starts from the first choices: they are the productive ones)
EDGES = [12.0, 8.0, 20.99, 21.0, 21.5, 21.99, 22.0, 0.0, 7.99, 8.001, 23.99, 24.0]
hours = st.one_of(st.sampled_from(EDGES), st.floats(8.0, 21.0), st.floats(0.0, 24.0))
small_ints = st.integers(0, 200)


@st.composite
def action(draw: st.DrawFn, channels: list[str]) -> dict:
    a: dict = {"channel": draw(st.sampled_from(channels)),
               "every_days": draw(st.integers(1, 10)),
               "hour": draw(hours),
               "attempts_per_day": draw(st.integers(1, 50)),
               "priority": draw(st.sampled_from(["dpd", "balance", "risk",
                                                 "expected_recovery"])),
               "if_no_contact_days": draw(st.sampled_from([0, 0, 1, 3, 7, 30]))}
    if draw(st.booleans()):
        a["on_dpd"] = draw(st.lists(st.integers(0, 150), max_size=8))
    return a


def maybe(strategy, none_first: bool = True):
    """Mostly absent (a condition that narrows nothing), sometimes drawn."""
    return st.one_of(st.none(), st.none(), strategy) if none_first else strategy


@st.composite
def rule(draw: st.DrawFn, channels: list[str]) -> dict:
    r: dict = {
        "buckets": draw(st.lists(st.sampled_from(BUCKETS), min_size=1, max_size=6, unique=True)),
        "tone": draw(st.sampled_from(["gentle", "normal", "firm"])),
        "actions": draw(st.lists(action(channels), min_size=1, max_size=6)),
        "offers": draw(st.lists(st.sampled_from(["reterm", "deferral", "settlement"]),
                                max_size=3, unique=True)),
    }
    extra = {
        "causes": maybe(st.lists(st.sampled_from(CAUSES), min_size=1, max_size=6,
                                 unique=True)),
        "dpd": maybe(st.tuples(small_ints, small_ints).map(lambda t: [t[0], t[0] + t[1]])),
        "risk": maybe(st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted)),
        "min_broken_promises": maybe(st.integers(1, 3)),
        "min_overdue": maybe(st.sampled_from([100.0, 3000.0])),
        "place_agency_at_dpd": maybe(st.integers(1, 60)),
        "legal_at_dpd": maybe(st.integers(1, 60)),
        "legal_min_balance": maybe(st.sampled_from([100.0, 5000.0])),
    }
    for key, strategy in extra.items():
        value = draw(strategy)
        if value is not None:
            r[key] = value
    return r


@st.composite
def adversarial(draw: st.DrawFn, channels: list[str]) -> dict:
    a, b = draw(st.one_of(st.just((0.0, 24.0)), st.lists(hours, min_size=2, max_size=2,
                                                          unique=True).map(sorted)))
    return {
        "name": "adversary",
        "avoid_holidays": draw(st.booleans()),
        "call_hours": [a, b],
        "pre_due": {"days_before": draw(st.lists(st.integers(0, 28), max_size=6)),
                    "channels": draw(st.lists(st.sampled_from(AUTOMATED), max_size=4)),
                    "hour": draw(hours)},
        "rules": draw(st.lists(rule(channels), min_size=1, max_size=4)),
    }


compliance = st.fixed_dictionaries({
    "daily_call_cap": st.integers(1, 20),
    "third_party_per_week": st.integers(0, 7),
    "block_calls_on_holidays": st.booleans(),
})


# --------------------------------------------------------------------------- the checker


def independent_violations(log: pd.DataFrame, sc: Scenario) -> dict[str, int]:
    """Violations of the scenario's compliance profile, from the contact log alone."""
    law = PROFILES[sc.compliance.profile]
    c = sc.compliance
    v: dict[str, int] = {}
    log = log.assign(t=log["day"] + log["hour"] / 24.0)

    # every contact but a letter inside the profile's window (start inclusive, end exclusive)
    spoken = log[log["kind"] != LETTER]
    v["window"] = int(((spoken["hour"] < law.window_start)
                       | (spoken["hour"] >= law.window_end)).sum())
    # third parties are never told the debt (cn) / asked for location only (us)
    v["disclosed"] = int(log["disclosed"].astype(bool).sum())

    start = sc.horizon.start_date
    holiday_days = {(h - start).days for h in c.holidays}
    calls = log[log["kind"].isin([IVR, AGENT])]
    if c.block_calls_on_holidays:
        v["holiday"] = int(log[log["kind"].isin([IVR, AGENT, THIRD])]["day"]
                           .isin(holiday_days).sum())

    # calls to the debtor per person and day, and in any 7 consecutive days
    per_day = calls.groupby(["person", "day"]).size()
    v["daily_cap"] = int((per_day > c.daily_call_cap).sum())
    if law.weekly_cap is not None and len(per_day):
        v["weekly_cap"] = _rolling_excess(per_day, law.weekly_cap)

    # no call within cooloff_days of a telephone conversation (after it, same day included)
    if law.cooloff_days:
        conv = log[(log["kind"] == AGENT) & (log["outcome"] == CONVERSATION)]
        v["cooloff"] = _after_event(calls, conv, lambda gap: gap < law.cooloff_days)

    tp = log[log["kind"] == THIRD]
    if law.third_party_once:
        v["third_party_twice"] = int(tp.groupby("person").size().gt(1).sum())
        reached = log[(log["kind"] == AGENT) & (log["outcome"] == CONVERSATION)]
        v["third_party_after_rpc"] = _after_event(
            tp, reached, lambda gap: gap < law.third_party_needs_no_rpc_days)
    elif len(tp):
        v["third_party_weekly"] = _rolling_excess(tp.groupby(["person", "day"]).size(),
                                                  c.third_party_per_week)
    return v


def _rolling_excess(per_day: pd.Series, cap: int) -> int:
    """Person-days at which the last 7 days (that day included) hold more than ``cap``."""
    bad = 0
    for _, s in per_day.groupby(level="person"):
        days = s.index.get_level_values("day").to_numpy()
        counts = s.to_numpy()
        full = np.zeros(days.max() + 1, dtype=np.int64)
        full[days] = counts
        window = np.convolve(full, np.ones(7, dtype=np.int64))[: len(full)]
        bad += int((window[days] > cap).sum())
    return bad


def _after_event(rows: pd.DataFrame, events: pd.DataFrame, too_soon) -> int:
    """Rows that come after an event of the same person (strictly later) too soon."""
    if rows.empty or events.empty:
        return 0
    ev = events[["person", "t", "day"]].rename(columns={"t": "t_event", "day": "event_day"})
    ev = ev.sort_values("t_event")
    r = rows[["person", "t", "day"]].sort_values("t")
    last = pd.merge_asof(r, ev, left_on="t", right_on="t_event", by="person",
                         allow_exact_matches=False)
    last = last.dropna(subset=["event_day"])
    return int(too_soon(last["day"] - last["event_day"]).sum())


def strategy_limits(log: pd.DataFrame, st_, sc: Scenario) -> dict[str, int]:
    """What the strategy itself said: agents dial inside call_hours, and with
    avoid_holidays nobody is phoned (agent, IVR or third party) on a holiday."""
    a, b = st_.call_hours
    agent = log[log["kind"].isin([AGENT, THIRD])]
    out = {"call_hours": int(((agent["hour"] < a) | (agent["hour"] >= b)).sum())}
    if st_.avoid_holidays:
        start = sc.horizon.start_date
        days = {(h - start).days for h in sc.compliance.holidays}
        phoned = log[log["kind"].isin([IVR, AGENT, THIRD])]
        out["avoid_holidays"] = int(phoned["day"].isin(days).sum())
    return out


# --------------------------------------------------------------------------- the property


def check(profile: str, doc: dict, comp: dict) -> None:
    sc = apply_overrides(BASE[profile], [*SMALL, *((f"compliance.{k}", v)
                                                   for k, v in comp.items())], "test")
    st_ = validate_strategy(doc, "adversary")
    check_pair(sc, st_)
    sim = Simulation(sc, st_, seed=17, record_contacts=True, check_invariants=True)
    r = sim.result()  # check_invariants: the engine asserts conservation at every day's end
    assert r.kpis["violations"] == 0, r.meta["violations_by_rule"]
    log = r.contacts
    found = independent_violations(log, sc)
    assert not any(found.values()), found
    limits = strategy_limits(log, st_, sc)
    assert not any(limits.values()), limits
    b = sim.run.book
    assert not b.residual().any()
    lhs = int(b.opening.sum() + b.lent.sum() + b.fee_flow.sum() + b.interest_flow.sum())
    rhs = int(b.paid.sum() + b.waived.sum() + b.charged_off.sum() + b.balance().sum())
    assert lhs == rhs


SETTINGS = settings(max_examples=EXAMPLES_PER_PROFILE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CHANNELS = ["call", "sms", "ivr", "emergency_contact", "letter", "email", "app_push",
            "lawyer_letter"]
assert sorted(CHANNELS) == sorted(BASE["cn_2022"].channels) == sorted(BASE["us_reg_f"].channels)


@SETTINGS
@given(doc=adversarial(CHANNELS), comp=compliance)
def test_adversarial_strategies_cn_2022(doc, comp):
    check("cn_2022", doc, comp)


@SETTINGS
@given(doc=adversarial(CHANNELS), comp=compliance)
def test_adversarial_strategies_us_reg_f(doc, comp):
    check("us_reg_f", doc, comp)


def test_the_checker_sees_violations_in_a_forged_log():
    """The checker is only worth something if it catches a breach: feed it one of each."""
    sc = apply_overrides(BASE["us_reg_f"], [("compliance.block_calls_on_holidays", True)],
                         "test")
    holiday = (sc.compliance.holidays[0] - sc.horizon.start_date).days
    rows = [  # day, hour, person, kind, outcome
        (1, 7.5, 1, AGENT, 0),  # before 08:00
        (1, 21.0, 2, MESSAGE, 4),  # at the end of the us window
        (holiday, 10.0, 3, IVR, 4),  # a call on a holiday
        *[(2, 9.0 + i, 4, AGENT, 0) for i in range(4)],  # four calls in a day (cap 3)
        *[(d, 10.0, 5, AGENT, 0) for d in range(10, 17)], (16, 15.0, 5, AGENT, 0),  # 8 in 7
        (20, 10.0, 6, AGENT, CONVERSATION), (22, 10.0, 6, IVR, 4),  # inside the cool-off
        (30, 10.0, 7, THIRD, 3), (40, 10.0, 7, THIRD, 3),  # a third party twice
        (50, 10.0, 8, AGENT, CONVERSATION), (60, 10.0, 8, THIRD, 3),  # third party after rpc
    ]
    log = pd.DataFrame(rows, columns=["day", "hour", "person", "kind", "outcome"])
    log = log.assign(slot=log["person"], channel=0, disclosed=False)
    log.loc[len(log) - 1, "disclosed"] = True
    found = independent_violations(log, sc)
    assert found == {"window": 2, "disclosed": 1, "holiday": 1, "daily_cap": 1,
                     "weekly_cap": 1, "cooloff": 1, "third_party_twice": 1,
                     "third_party_after_rpc": 1}, found


def test_a_fixed_worst_case_strategy_on_both_profiles():
    """Everything at once, every day, on every bucket: the gate has plenty to refuse."""
    doc = {"name": "worst", "avoid_holidays": False, "call_hours": [0, 24],
           "pre_due": {"days_before": list(range(29)), "channels": AUTOMATED, "hour": 23.9},
           "rules": [{"buckets": BUCKETS, "offers": ["settlement", "reterm", "deferral"],
                      "actions": [{"channel": ch, "every_days": 1, "attempts_per_day": 50,
                                   "hour": h} for ch in CHANNELS for h in (0.0, 7.99, 22.5)],
                      }]}
    for profile in BASE:
        check(profile, doc, {"daily_call_cap": 20, "third_party_per_week": 7,
                             "block_calls_on_holidays": True})



def test_the_checker_catches_a_gate_that_lets_everything_through(monkeypatch):
    """With the gate switched off, the worst case breaks rules and both the auditor and
    the checker say so: the zero above is a real zero.

    The gate is switched off by giving the engine's gate a law that allows everything
    (any hour, no caps, no cool-off, no holidays, third parties without limit): the
    engine applies the gate's rules in several places, some of them inside compiled
    passes, and whatever the gate says there is what it lets through. The auditor keeps
    the scenario's law."""
    from sim import engine
    from sim.compliance import Gate, Law

    anything = Law(name="anything", window_start=0.0, window_end=24.0, daily_cap=10**6,
                   weekly_cap=None, cooloff_days=0, third_party_once=False,
                   third_party_needs_no_rpc_days=0, source="a test's gate that lets all through")
    monkeypatch.setattr(engine, "Gate", lambda n, law, daily_cap, tp_per_week, holidays:
                        Gate(n, anything, 10**6, 10**6, set()))
    doc = {"name": "worst", "call_hours": [0, 24],
           "rules": [{"buckets": BUCKETS,
                      "actions": [{"channel": ch, "every_days": 1, "attempts_per_day": 50,
                                   "hour": 23.5} for ch in CHANNELS]}]}
    for profile in BASE:
        sc = apply_overrides(BASE[profile], SMALL, "test")
        r = Simulation(sc, validate_strategy(doc), seed=17, record_contacts=True).result()
        found = independent_violations(r.contacts, sc)
        assert r.kpis["violations"] > 0
        assert found["window"] > 0 and found["daily_cap"] > 0, found
        if profile == "us_reg_f":
            assert found["weekly_cap"] > 0 and found["cooloff"] > 0, found
            assert found["third_party_twice"] > 0, found
        else:
            assert found["holiday"] > 0 and found["third_party_weekly"] > 0, found
