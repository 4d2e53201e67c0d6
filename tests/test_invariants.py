"""Invariants of every run: money to the cent, buckets that add up, DPD that only moves
back with a payment or a plan, and zero executed compliance violations, checked from
the contact log independently of the gate."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.config import bundled_strategies, load_strategy, validate_strategy
from sim.engine import Simulation
from tests.conftest import cached_run, small

STRATEGIES = sorted(bundled_strategies())
BUCKET_COLS = ["n_current", "n_M1", "n_M2", "n_M3", "n_M4", "n_M5", "n_M6"]

ADVERSARIAL = validate_strategy({
    "name": "adversarial",
    "description": "asks for calls at 06:00 and 23:00, on holidays, twenty times a day",
    "avoid_holidays": False,
    "call_hours": [0, 24],
    "pre_due": {"days_before": [0, 1, 2], "channels": ["sms", "ivr"], "hour": 23},
    "rules": [{
        "buckets": ["M1", "M2", "M3", "M4", "M5", "M6"],
        "actions": [
            {"channel": "call", "every_days": 1, "attempts_per_day": 20},
            {"channel": "ivr", "every_days": 1, "hour": 6},
            {"channel": "ivr", "every_days": 1, "hour": 12},
            {"channel": "ivr", "every_days": 1, "hour": 23},
            {"channel": "sms", "every_days": 1, "hour": 23.5},
            {"channel": "sms", "every_days": 1, "hour": 9},
            {"channel": "emergency_contact", "every_days": 1, "attempts_per_day": 20},
            {"channel": "letter", "every_days": 1},
        ],
    }],
}, "adversarial")


@pytest.mark.parametrize("scenario", ["baseline", "us_reg_f"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_money_buckets_and_compliance(scenario, strategy):
    # check=True makes the engine verify conservation for every slot at every day's end
    r = cached_run(scenario, strategy, check=True)
    d = r.daily
    n = r.meta["accounts"]
    total = d[BUCKET_COLS].sum(axis=1) + d["n_idle"] + d["n_closed_today"]
    assert (total == n).all(), "bucket counts must sum to the population every day"
    assert (d["dpd_regressions"] == 0).all(), "DPD moved back without a payment or a plan"
    assert r.kpis["violations"] == 0, r.meta["violations_by_rule"]
    assert (d[BUCKET_COLS + ["n_idle", "n_agency", "n_legal"]] >= 0).all().all()


def test_conservation_at_the_end_of_a_run_for_the_portfolio():
    sim = Simulation(small("us_reg_f", 1500), load_strategy("seed_playbook"), seed=3)
    sim.advance(10_000)
    b = sim.run.book
    assert (b.residual() == 0).all()
    lhs = int(b.opening.sum() + b.lent.sum() + b.fee_flow.sum() + b.interest_flow.sum())
    rhs = int(b.paid.sum() + b.waived.sum() + b.charged_off.sum() + b.balance().sum())
    assert lhs == rhs


def _independent_check(log: pd.DataFrame, profile: str, holidays: set[int]) -> dict[str, int]:
    """A third implementation of the rules, on the log alone, with pandas."""
    v = {}
    calls = log[log["kind"].isin([1, 2])].copy()
    contacts = log[log["kind"] != 3]
    end = 21.0 if profile == "us_reg_f" else 22.0
    v["window"] = int(((contacts["hour"] < 8.0) | (contacts["hour"] >= end)).sum())
    per_day = calls.groupby(["person", "day"]).size()
    v["daily_cap"] = int((per_day > 3).sum())
    if profile == "cn_2022":
        v["holiday"] = int(log[log["kind"].isin([1, 2, 4]) & log["day"].isin(holidays)].shape[0])
    else:
        counts = per_day.unstack(fill_value=0)
        full = counts.reindex(columns=range(int(log["day"].max()) + 1), fill_value=0)
        v["seven_in_seven"] = int((full.T.rolling(7, min_periods=1).sum().T > 7).to_numpy().sum())
        conv = calls[(calls["kind"] == 2) & (calls["outcome"] == 2)]
        calls["t"] = calls["day"] + calls["hour"] / 24.0
        conv = conv.assign(t=conv["day"] + conv["hour"] / 24.0, conv_day=conv["day"])
        # the latest conversation strictly before each call, for the same person
        last = pd.merge_asof(calls.sort_values("t"), conv[["t", "person", "conv_day"]]
                             .sort_values("t"), on="t", by="person",
                             allow_exact_matches=False)
        bad = int(((last["day"] - last["conv_day"]) < 7).sum())
        v["cooloff"] = bad
    return v


@pytest.mark.parametrize("scenario", ["baseline", "us_reg_f"])
@pytest.mark.parametrize("strategy", ["adversarial", "call_heavy"])
def test_zero_violations_under_pressure(scenario, strategy):
    st = ADVERSARIAL if strategy == "adversarial" else load_strategy(strategy)
    sc = small(scenario, 1500)
    sim = Simulation(sc, st, seed=11, record_contacts=True)
    r = sim.result()
    assert r.kpis["violations"] == 0, r.meta["violations_by_rule"]
    log = r.contacts
    assert len(log) > 1000
    holidays = sim.run.cal.holidays
    found = _independent_check(log, sc.compliance.profile, holidays)
    assert all(x == 0 for x in found.values()), found
    # and the gate really had something to refuse
    k = r.kpis
    if strategy == "adversarial":
        assert k["blocked_window"] > 0
        assert k["blocked_daily_cap"] > 0 or k["blocked_weekly_cap"] > 0
        if scenario == "baseline":
            assert sim.run.blocked[:, 1].sum() > 0  # holidays, over the whole run
        else:
            assert k["blocked_cooloff"] > 0 and k["blocked_third_party"] > 0
    assert not log["disclosed"].any()
