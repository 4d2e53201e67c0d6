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


def _sigma_by_argsort(latent, noise, target, g):
    """_sigma_for_auc as it was written first: every AUC from a fresh stable argsort."""
    from scipy.special import expit

    m = min(len(latent), 20_000)
    lat, eps = latent[:m], noise[:m]
    bad = g.random(m) < 1 - (1 - expit(lat)) ** 12
    if bad.all() or not bad.any():
        return 0.0
    ones_up = np.arange(1.0, m + 1.0)

    def auc(sig):
        ranks = np.empty(m)
        ranks[np.argsort(lat + sig * eps, kind="stable")] = ones_up
        nb = bad.sum()
        return float((ranks[bad].sum() - nb * (nb + 1) / 2) / (nb * (m - nb)))

    if auc(0.0) <= target:
        return 0.0
    lo, hi = 0.0, 1.0
    while auc(hi) > target and hi < 1e3:
        hi *= 2
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if auc(mid) > target else (lo, mid)
    return (lo + hi) / 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(2, 25_000),
       target=st.floats(0.5, 0.95), rounded=st.sampled_from([None, 0, 1]))
def test_the_auc_bisection_mends_its_order_to_the_same_bits(seed, m, target, rounded):
    """The score's noise scale for a target AUC: each AUC from the last order mended by
    insertion (falling back to a sort when it is far off) must give the sigma of fresh
    stable argsorts, bit for bit, ties (rounded latents and noise) included."""
    from sim.population import _sigma_for_auc

    rng = np.random.default_rng(seed)
    lat, eps = rng.normal(-3.0, 1.5, m), rng.normal(size=m)
    if rounded is not None:
        lat, eps = np.round(lat, rounded), np.round(eps, rounded)
    want = _sigma_by_argsort(lat, eps, target, np.random.default_rng(seed + 1))
    assert _sigma_for_auc(lat, eps, target, np.random.default_rng(seed + 1)) == want


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 3_000),
       step=st.sampled_from([1e-6, 1e-2, 1.0]), rounded=st.sampled_from([None, 0, 1]))
def test_a_mended_order_is_the_stable_argsort(seed, m, step, rounded):
    """``_mend_order`` from the order of nearby scores (or from any permutation) is the
    stable argsort of the new ones, ties by position; when it gives up over its budget,
    the order is still a permutation (the caller sorts afresh)."""
    from sim.population import _mend_order, _rank_sum

    rng = np.random.default_rng(seed)
    lat, eps = rng.normal(size=m), rng.normal(size=m)
    old, new = lat + 0.5 * eps, lat + (0.5 + step) * eps
    if rounded is not None:
        old, new = np.round(old, rounded), np.round(new, rounded)
    for start in (np.argsort(old, kind="stable"), rng.permutation(m)):
        order = start.copy()
        assert _mend_order(new, order, 10 * m * m)
        np.testing.assert_array_equal(order, np.argsort(new, kind="stable"))
        bad = rng.random(m) < 0.3
        ranks = np.empty(m)
        ranks[order] = np.arange(1.0, m + 1.0)
        assert _rank_sum(order, bad) == ranks[bad].sum()
        order = start.copy()
        if not _mend_order(new, order, 0):
            np.testing.assert_array_equal(np.sort(order), np.arange(m))
