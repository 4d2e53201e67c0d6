"""The population's plan draws: the compiled pass equals its numpy definition."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

from sim.config import load_scenario
from sim.population import _plan_of, _term_table, draw_plan
from sim.rng import Streams


def _numpy_plan(e, u2, median, top, cum, terms):
    principal = np.clip(median * e, 100.0, top)
    term = terms[np.minimum(np.searchsorted(cum, u2, side="right"), len(cum) - 1)]
    return np.round(principal * 100).astype(np.int64), term


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40),
       shares=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6),
       median=st.floats(1.0, 1e5), top=st.floats(100.0, 1e6))
def test_the_compiled_plan_pass_equals_the_numpy_definition(seed, n, shares, median, top):
    rng = np.random.default_rng(seed)
    shares = np.asarray(shares) + 1e-3
    cum, terms = _term_table(tuple(shares / shares.sum()), tuple(range(3, 3 + len(shares))))
    e = np.exp(rng.normal(0, 2, n))
    # uniforms on the cumulative shares themselves: "right" puts a tie in the next term
    u2 = np.where(rng.random(n) < 0.3, rng.choice(cum, n), rng.random(n))
    cents, term = np.empty(n, np.int64), np.empty(n, np.int32)
    _plan_of(e, u2, median, top, cum, terms, cents, term)
    want_cents, want_term = _numpy_plan(e, u2, median, top, cum, terms)
    assert np.array_equal(cents, want_cents)
    assert np.array_equal(term, want_term) and term.dtype == want_term.dtype


def test_draw_plan_is_the_lognormal_principal_and_the_term_shares():
    pr = load_scenario("baseline").product
    streams = Streams(7)
    person, plan_no = np.arange(5000, dtype=np.int64), np.arange(5000, dtype=np.int64) % 4
    cents, term = draw_plan(pr, streams, person, plan_no)
    u1, u2 = streams.uniform_rows([("reborrow", 0, 0), ("reborrow", 0, 1)], person, plan_no * 2)
    cum, terms = _term_table(tuple(pr.term_shares), tuple(pr.terms))
    want = _numpy_plan(np.exp(pr.principal_sigma * ndtri(u1)), u2, pr.principal_median,
                       pr.principal_max, cum, terms)
    assert np.array_equal(cents, want[0]) and np.array_equal(term, want[1])
    # a pure function of (person, plan number)
    again = draw_plan(pr, streams, person[::-1].copy(), plan_no[::-1].copy())
    assert np.array_equal(again[0], cents[::-1]) and np.array_equal(again[1], term[::-1])
