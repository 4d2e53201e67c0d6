"""Extreme but legal scenarios run and stay sane: no NaN or infinity in any KPI, a KPI
that is undefined says so (None) instead of printing 0 or NaN, no violation, money
conserved to the cent, buckets that add up to the book.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import pytest

from sim.config import Scenario, apply_overrides, load_scenario, load_strategy, validate_strategy
from sim.engine import Simulation
from sim.errors import ConfigError
from sim.experiment import compare
from sim.results import unit_of

BASE = load_scenario("baseline", ["population.accounts=300", "horizon.warmup_days=30",
                                  "horizon.window_days=60", "horizon.followup_days=30"])
SEGMENTS = list(BASE.population.segments)
BUCKET_COLS = ["n_current", "n_M1", "n_M2", "n_M3", "n_M4", "n_M5", "n_M6"]
# Everything that follows the entry cohort: None when there is no cohort.
COHORT_KPIS = ("cure_rate_30", "cure_rate_180", "self_cure_share", "contact_cure_share",
               "plan_cure_share", "recovery_rate", "collected", "collection_cost",
               "net_recovery", "cost_per_collected", "cohort_charged_off", "cohort_net_value",
               "cohort_complaints_per_1k", "charged_off_share", "retained_cured",
               "retained_value", "hardship_cure_rate_180", "other_cure_rate_180",
               "hardship_complaints_per_1k", "other_complaints_per_1k",
               "hardship_charge_off_share", "other_charge_off_share")


def no_collectors(sc: Scenario) -> list[tuple[str, object]]:
    return [(f"collectors.teams.{name}.shifts.{i}.headcount", 0)
            for name, team in sc.collectors.teams.items() for i in range(len(team.shifts))]


def only_segment(name: str) -> list[tuple[str, object]]:
    return [(f"population.segments.{s}.share", 1.0 if s == name else 0.0) for s in SEGMENTS]


def free_everything(sc: Scenario) -> list[tuple[str, object]]:
    return ([(f"channels.{c}.cost", 0.0) for c in sc.channels]
            + [(f"collectors.teams.{t}.hourly_cost", 0.0) for t in sc.collectors.teams]
            + [("legal.fixed_cost", 0.0), ("legal.court_fee_rate", 0.0),
               ("agency.fee_rate", 0.0), ("customer.complaint_handling_cost", 0.0)])


def every_day_a_holiday(sc: Scenario) -> list[tuple[str, object]]:
    start = sc.horizon.start_date
    return [("compliance.block_calls_on_holidays", True),
            ("compliance.holidays", [(start + dt.timedelta(d)).isoformat()
                                     for d in range(sc.horizon.days)])]


# Asks only for what the law refuses: messages and IVR at 23:00 and 03:00 (outside every
# window), calls and third parties on days that are all holidays. No letters: a letter
# has no hour.
BLOCKED = validate_strategy({
    "name": "all_blocked", "avoid_holidays": False,
    "pre_due": {"days_before": [0, 1, 2, 3], "channels": ["sms", "app_push", "email", "ivr"],
                "hour": 23},
    "rules": [{"buckets": ["M1", "M2", "M3", "M4", "M5", "M6"], "actions": [
        {"channel": "sms", "hour": 23}, {"channel": "email", "hour": 3},
        {"channel": "app_push", "hour": 22.5}, {"channel": "ivr", "hour": 23.5},
        {"channel": "call", "attempts_per_day": 5},
        {"channel": "emergency_contact", "attempts_per_day": 5}]}],
}, "all_blocked")

CASES = {
    "zero collectors": (no_collectors(BASE), "seed_playbook"),
    "one account": ([("population.accounts", 1)], "seed_playbook"),
    "all in hardship (every share on stretched)": (only_segment("stretched"), "hardship_first"),
    "all in hardship (shock rates at the maximum)": (
        [(f"economy.shocks.{k}.rate_per_year", 50.0) for k in BASE.economy.shocks],
        "seed_playbook"),
    "shock multiplier 10": ([("economy.shock_multiplier", 10.0)], "call_heavy"),
    "every channel free": (free_everything(BASE), "call_heavy"),
    "every channel blocked": (every_day_a_holiday(BASE), BLOCKED),
    "1-day horizon": ([("horizon.warmup_days", 0), ("horizon.window_days", 1),
                       ("horizon.followup_days", 0)], "seed_playbook"),
    "unwilling and fraud only, no collectors": (
        [*only_segment("fraud"), *no_collectors(BASE)], "risk_based"),
}


def sane(sim: Simulation, r) -> None:
    k = r.kpis
    bad = {key: v for key, v in k.items()
           if v is not None and not (isinstance(v, float) and math.isfinite(v))}
    assert not bad, bad
    assert k["violations"] == 0, r.meta["violations_by_rule"]
    for key, v in k.items():
        if v is None:
            continue
        if unit_of(key) == "count":
            assert v >= 0, (key, v)
        if unit_of(key) == "rate" and key != "charge_off_rate":  # annualised: may pass 1
            assert -1e-12 <= v <= 1 + 1e-9, (key, v)
    if k["entry_cohort_size"] == 0:
        defined = {key: k[key] for key in COHORT_KPIS if k.get(key) is not None}
        assert not defined, f"no entry cohort, yet {defined}"
    # money to the cent, for every slot and the portfolio
    b = sim.run.book
    assert not b.residual().any()
    lhs = int(b.opening.sum() + b.lent.sum() + b.fee_flow.sum() + b.interest_flow.sum())
    rhs = int(b.paid.sum() + b.waived.sum() + b.charged_off.sum() + b.balance().sum())
    assert lhs == rhs
    d = r.daily
    total = d[BUCKET_COLS].sum(axis=1) + d["n_idle"] + d["n_closed_today"]
    assert (total == r.meta["accounts"]).all()
    json.dumps(k, allow_nan=False)  # the --json output: null, never NaN


@pytest.mark.parametrize("case", list(CASES))
def test_extreme_scenarios_run_and_stay_sane(case, tmp_path):
    overrides, strategy = CASES[case]
    sc = apply_overrides(BASE, overrides, case)
    st_ = strategy if not isinstance(strategy, str) else load_strategy(strategy)
    sim = Simulation(sc, st_, seed=4, record_contacts=True, check_invariants=True)
    r = sim.result()
    sane(sim, r)
    r.save(tmp_path / "run")  # every table of an odd run can be written
    k = r.kpis
    if case == "zero collectors":
        assert k["call_attempts"] == 0 and k["collector_utilisation"] is None
    elif case == "one account":
        assert k["accounts"] == 1
    elif case.startswith("all in hardship"):
        assert k["entry_cohort_size"] > 0
        assert k["hardship_cohort_size"] >= 0.9 * k["entry_cohort_size"]
    elif case == "every channel free":
        assert k["contact_cost"] == 0 and k["contacts"] > 0
    elif case == "every channel blocked":
        assert len(r.contacts) == 0 and k["contacts"] == 0 and k["call_attempts"] == 0
        assert k["blocked_attempts"] > 0 and k["blocked_window"] > 0
        assert sim.run.blocked.sum() > 0
        assert k["contact_cure_share"] in (0.0, None)
    elif case == "1-day horizon":
        assert k["entry_cohort_size"] == 0  # nobody can enter and be followed in one day
        assert r.cohorts.empty


def test_no_entry_cohort_says_undefined_in_every_layer(tmp_path):
    """A 1-day horizon through compare (2 replications): summary, paired differences and
    the CLI's table show the cohort KPIs as undefined, not as 0 or NaN."""
    from rich.console import Console

    from sim.cli import kpi_table

    sc = apply_overrides(BASE, CASES["1-day horizon"][0], "1 day")
    res = compare(sc, [load_strategy("no_action"), load_strategy("seed_playbook")],
                  replications=2, seed=1)
    for s in res.strategies:
        k = res.kpis(s)
        for key in ("cure_rate_30", "collected", "net_recovery", "recovery_rate"):
            assert k.get(key) is None, (s, key, k.get(key))
    console = Console(record=True, width=200)
    console.print(kpi_table(res))
    text = console.export_text()
    assert "nan" not in text.lower()
    row = next(line for line in text.splitlines()
               if re.search(r"(^|[\s│┃|])collected\s", line))
    assert "n/a" in row, row
    res.save(tmp_path / "out")


@pytest.mark.slow
def test_five_year_horizon():
    sc = apply_overrides(BASE, [("population.accounts", 60), ("horizon.warmup_days", 365),
                                ("horizon.window_days", 1095),
                                ("horizon.followup_days", 365)], "5 years")
    sim = Simulation(sc, load_strategy("seed_playbook"), seed=4, check_invariants=True)
    r = sim.result()
    sane(sim, r)
    assert r.meta["days"] == 1825
    assert r.kpis["cure_rate_180"] is not None and r.kpis["roll_m1_m2"] is not None


def test_a_reserve_that_runs_out_is_a_clear_error_not_a_crash():
    """More cardholders leave than the up-front reserve holds (charge-off at 30 DPD under
    ten times the shocks): the run stops with a ConfigError naming
    population.reserve_share and a value that would do, instead of a RuntimeError (it
    was one) or a book that quietly shrinks."""
    sc = apply_overrides(BASE, [("population.accounts", 600), ("population.reserve_share", 0.0),
                                ("product.charge_off_dpd", 30),
                                ("economy.shock_multiplier", 10.0)], "harsh")
    with pytest.raises(ConfigError) as e:
        Simulation(sc, load_strategy("no_action"), seed=2).result()
    (field, msg), = e.value.problems
    assert field == "population.reserve_share"
    assert "ran out on day" in msg and "raise it to at least" in msg
    suggested = float(msg.rsplit("at least ", 1)[1])
    assert 0 < suggested <= 5
