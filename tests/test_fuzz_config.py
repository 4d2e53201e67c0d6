"""Fuzzing the inputs: a mutated scenario or strategy document either loads as a valid,
runnable configuration or is refused with a ConfigError that names file and field.
Any other exception is a bug.

The documents start as the bundled files (tomllib dicts) and are broken the way a
half-edited file is (tests/fuzzing.py). Valid results must survive what the product
does with them next: a dump/validate round trip (every --set and sweep point does it),
pairing with the bundled strategies or scenarios, and, for a sample, a tiny run.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.config import (
    Scenario,
    Strategy,
    apply_overrides,
    check_pair,
    load_scenario,
    load_strategy,
    valid_paths,
    validate_scenario,
    validate_strategy,
)
from sim.engine import run
from sim.errors import ConfigError
from sim.strategy import describe
from tests.fuzzing import (
    SCENARIO_DOCS,
    STRATEGY_DOCS,
    TINY,
    check_config_error,
    finite_or_none,
    mutated,
)

# Example counts (docs/RELIABILITY.md quotes them): fast checks, many examples.
SCENARIO_EXAMPLES = 1500
STRATEGY_EXAMPLES = 1000
RUN_EXAMPLES = 50  # mutated scenarios that are valid are also run (tiny)
STRATEGY_RUN_EXAMPLES = 30
BOUND_EXAMPLES = 30  # numbers at their schema bounds, run tiny

FAST = settings(deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

SCENARIOS_FOR_PAIRS = [load_scenario(n) for n in ("baseline", "us_reg_f")]
STRATEGIES_FOR_PAIRS = [load_strategy(n) for n in sorted(STRATEGY_DOCS)]


def scenario_or_error(doc) -> Scenario | None:
    try:
        sc = validate_scenario(doc, "fuzz.toml")
    except ConfigError as e:
        check_config_error(e, "fuzz.toml")
        event("refused")
        return None
    event("valid")
    assert isinstance(sc, Scenario)
    # what --set and every sweep point do: dump, change, validate again
    again = validate_scenario(sc.model_dump(mode="json"), "round trip")
    assert again == sc and again.digest() == sc.digest()
    assert valid_paths(sc)
    return sc


def strategy_or_error(doc) -> Strategy | None:
    try:
        st_ = validate_strategy(doc, "fuzz.toml")
    except ConfigError as e:
        check_config_error(e, "fuzz.toml")
        event("refused")
        return None
    event("valid")
    assert validate_strategy(st_.model_dump(mode="json"), "round trip") == st_
    assert describe(st_) is not None and st_.digest()
    return st_


def pair_or_error(sc: Scenario, st_: Strategy) -> bool:
    try:
        check_pair(sc, st_, "fuzz pair")
    except ConfigError as e:
        check_config_error(e, "fuzz pair")
        return False
    return True


@settings(FAST, max_examples=SCENARIO_EXAMPLES)
@given(mutated(SCENARIO_DOCS))
def test_mutated_scenarios_load_or_raise_config_error(doc):
    sc = scenario_or_error(doc)
    if sc is not None:
        for st_ in STRATEGIES_FOR_PAIRS:
            pair_or_error(sc, st_)


@settings(FAST, max_examples=STRATEGY_EXAMPLES)
@given(mutated(STRATEGY_DOCS))
def test_mutated_strategies_load_or_raise_config_error(doc):
    st_ = strategy_or_error(doc)
    if st_ is not None:
        for sc in SCENARIOS_FOR_PAIRS:
            pair_or_error(sc, st_)


@settings(FAST, max_examples=300)
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(),
                 st.lists(st.integers(), max_size=3)))
def test_a_document_that_is_not_a_table_is_refused(doc):
    for validate in (validate_scenario, validate_strategy):
        try:
            validate(doc, "fuzz.toml")
        except ConfigError as e:
            check_config_error(e, "fuzz.toml")
        else:
            raise AssertionError(f"{doc!r} was accepted")


def tiny(sc: Scenario) -> Scenario:
    # shrinking a valid scenario to a tiny book and horizon is always valid
    return apply_overrides(sc, list(TINY), "tiny")


def first_pairing(sc: Scenario) -> Strategy:
    for st_ in STRATEGIES_FOR_PAIRS:  # no_action needs no channel: something always pairs
        if pair_or_error(sc, st_) and st_.name != "no_action":
            return st_
    return load_strategy("no_action")


@settings(FAST, max_examples=RUN_EXAMPLES)
@given(mutated(SCENARIO_DOCS, max_mutations=1))
def test_valid_mutated_scenarios_run(doc):
    sc = scenario_or_error(doc)
    if sc is None:
        return
    r = run(tiny(sc), first_pairing(sc), seed=3, check_invariants=True)
    assert not finite_or_none(r.kpis), finite_or_none(r.kpis)
    assert r.kpis["violations"] == 0
    assert not r.daily.select_dtypes("number").isin([math.inf, -math.inf]).any().any()


@settings(FAST, max_examples=STRATEGY_RUN_EXAMPLES)
@given(mutated(STRATEGY_DOCS, max_mutations=1))
def test_valid_mutated_strategies_run(doc):
    st_ = strategy_or_error(doc)
    if st_ is None:
        return
    sc = tiny(SCENARIOS_FOR_PAIRS[0])
    if not pair_or_error(sc, st_):
        return
    r = run(sc, st_, seed=5, check_invariants=True)
    assert not finite_or_none(r.kpis), finite_or_none(r.kpis)
    assert r.kpis["violations"] == 0


def test_messages_name_file_field_problem_and_what_is_allowed():
    cases = {
        ("population", "accounts"): (10**30, "population.accounts",
                                     "less than or equal to 20000000"),
        ("economy", "shock_multiplier"): (math.nan, "economy.shock_multiplier", "finite"),
        ("product", "principal_median"): (1e300, "product.principal_median",
                                          "less than or equal to"),
        ("horizon", "start_date"): ("9999-12-31", "horizon.start_date", "2200-12-31"),
    }
    for (table, key), (value, field, words) in cases.items():
        doc = {"name": "x", table: {key: value}}
        try:
            validate_scenario(doc, "mine.toml")
        except ConfigError as e:
            text = check_config_error(e, "mine.toml")
            assert f"mine.toml: {field}: " in text and words in text, text
        else:
            raise AssertionError(f"{doc} was accepted")
    # a deeply nested value is quoted briefly instead of blowing the stack
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    try:
        validate_scenario({"name": "x", "product": {"terms": deep}}, "deep.toml")
    except ConfigError as e:
        text = check_config_error(e, "deep.toml")
        assert "product.terms[0]" in text and len(text) < 300
    # every decay must be given when the table is written
    try:
        validate_scenario({"name": "x", "behaviour": {"decay_days": {"reminder": 3}}}, "d.toml")
    except ConfigError as e:
        assert "behaviour.decay_days" in dict(e.problems)
        assert "conversation" in dict(e.problems)["behaviour.decay_days"]
    else:
        raise AssertionError("a partial decay_days table was accepted")


# Every number of the baseline scenario, at the largest and the smallest value its schema
# allows: the run must not overflow (numpy warnings are errors here) nor produce NaN.
BASELINE = load_scenario("baseline")
_RAW = BASELINE.model_dump(mode="json")
_CANDIDATES_HIGH = [1e9, 1e7, 1e6, 100_000, 36_500, 10_000, 3650, 720, 600, 120, 100, 60,
                    50, 30, 24, 20, 12, 10, 7, 6, 5, 3, 2.5, 1, 0.99]
_CANDIDATES_LOW = [0, 1e-9, 0.01, 1]


def _leaf(path: str):
    node = _RAW
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


NUMERIC_LEAVES = [p for p in valid_paths(BASELINE)
                  if isinstance(_leaf(p), int | float) and not isinstance(_leaf(p), bool)
                  and not p.startswith(("population.accounts", "horizon."))]


def bound(path: str, high: bool):
    """The largest (or smallest) of a few round numbers the schema accepts at ``path``."""
    v0 = _leaf(path)
    for c in _CANDIDATES_HIGH if high else _CANDIDATES_LOW:
        v = int(c) if isinstance(v0, int) else float(c)
        try:
            return apply_overrides(BASELINE, [(path, v)], "bound")
        except ConfigError:
            continue
    return None


@pytest.mark.filterwarnings("error::RuntimeWarning")
@settings(FAST, max_examples=BOUND_EXAMPLES)
@given(path=st.sampled_from(NUMERIC_LEAVES), high=st.booleans())
def test_every_number_at_its_bounds_runs_without_overflow(path, high):
    sc = bound(path, high)
    if sc is None:  # no round number inside the range on that side
        return
    r = run(tiny(sc), load_strategy("seed_playbook"), seed=2, check_invariants=True)
    assert not finite_or_none(r.kpis), (path, high, finite_or_none(r.kpis))
