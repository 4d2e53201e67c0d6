"""Behaviour the model must show, with tolerances derived from the sample size."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config import load_scenario, load_strategy
from sim.engine import run
from sim.experiment import replication_seed
from tests.conftest import cached_run, small


def two_proportion_z(p1: float, n1: float, p2: float, n2: float) -> float:
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return (p1 - p2) / se


def test_seed_playbook_cures_more_than_no_action():
    a = cached_run("baseline", "seed_playbook", accounts=6000)
    b = cached_run("baseline", "no_action", accounts=6000)
    ka, kb = a.kpis, b.kpis
    z = two_proportion_z(ka["cure_rate_30"], ka["entry_cohort_size"], kb["cure_rate_30"],
                         kb["entry_cohort_size"])
    assert z > 3, (ka["cure_rate_30"], kb["cure_rate_30"], z)


@pytest.mark.slow
def test_recession_charges_off_more_than_baseline():
    # the full 540-day frame: charge-offs lag hardship by six months. Paired by seed:
    # shocks share their randomness across economies (population._shocks).
    diffs, totals = [], []
    for r in range(3):
        seed = replication_seed(21, r)
        co = []
        for name in ("baseline", "recession"):
            res = run(load_scenario(name, ["population.accounts=6000"]),
                      load_strategy("no_action"), seed=seed)
            d = res.daily
            co.append(d.loc[d["day"] >= 180, "charged_off_accounts"].sum())
        diffs.append(co[1] - co[0])
        totals.append(co[0])
    # every replication charges off more, and the total gain is beyond Poisson noise
    assert all(x >= 0 for x in diffs), diffs
    assert sum(diffs) > 2 * np.sqrt(sum(totals)), (diffs, totals)


def test_more_collectors_never_fewer_completed_calls():
    # one-hour shifts make capacity bind, as it does in a real operation at peak
    attempts = []
    for heads in (1, 2, 4):
        shift = f"[{{start_hour=10, end_hour=11, headcount={heads}}}]"
        sc = small("baseline", 3000, *(f"collectors.teams.{t}.shifts={shift}"
                                       for t in ("early", "mid", "late")))
        attempts.append(run(sc, load_strategy("call_heavy"), seed=3).kpis["call_attempts"])
    assert attempts[0] > 0
    assert attempts == sorted(attempts) and attempts[0] < attempts[-1], attempts


def test_hardship_first_spares_hardship_accounts_complaints():
    a = cached_run("baseline", "hardship_first", accounts=6000)
    b = cached_run("baseline", "call_heavy", accounts=6000)
    na, nb = a.kpis["hardship_cohort_size"], b.kpis["hardship_cohort_size"]
    ca = a.kpis["hardship_complaints_per_1k"] * na / 1000
    cb = b.kpis["hardship_complaints_per_1k"] * nb / 1000
    # Poisson counts: the difference of rates exceeds 3 standard errors
    rate_a, rate_b = ca / na, cb / nb
    se = np.sqrt(ca / na**2 + cb / nb**2)
    assert rate_b - rate_a > 3 * se, (ca, na, cb, nb)


def test_no_action_costs_nothing_and_contacts_nobody():
    k = cached_run("baseline", "no_action").kpis
    assert k["contact_cost"] == 0 and k["contacts"] == 0 and k["call_attempts"] == 0
    assert k["collection_cost"] == 0 and k["complaints"] == 0
    assert k["rpc_rate"] is None  # undefined, not 0 or NaN
    assert k["self_cure_share"] == 1.0


def test_reminders_cut_oversight_misses():
    # the same people with and without pre-due reminders: fewer enter delinquency
    base = cached_run("baseline", "no_action", accounts=6000).kpis["entry_cohort_size"]
    sc = small("baseline", 6000)
    from sim.config import validate_strategy

    remind = validate_strategy({"name": "remind_only", "pre_due": {
        "days_before": [2], "channels": ["sms"], "hour": 10}})
    k = run(sc, remind, seed=1).kpis
    assert k["entry_cohort_size"] < base - 2 * np.sqrt(base), (k["entry_cohort_size"], base)
