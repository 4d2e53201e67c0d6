"""pairwise_sum: numpy's summation order, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.pairwise import pairwise_sum


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.one_of(st.integers(0, 40), st.integers(0, 20_000)),
       exponent=st.integers(-6, 12), cents=st.booleans(), zeros=st.booleans())
def test_pairwise_sum_equals_numpy_sum_bit_for_bit(seed, n, exponent, cents, zeros):
    """Random slices (lengths around every branch: below 8, up to 128, halves above) of
    values of any scale, rounded to cents or not, with negative zeros or not."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, n) * 10.0**exponent
    if cents:
        a = np.round(a, 2)
    if zeros and n:
        a[rng.random(n) < 0.3] = -0.0
    lo = int(rng.integers(0, n + 1))
    hi = int(rng.integers(lo, n + 1))
    want = np.float64(a[lo:hi].sum())
    got = np.float64(pairwise_sum(a, lo, hi))
    assert got.view(np.uint64) == want.view(np.uint64), (n, lo, hi, want, got)


def test_a_sum_of_negative_zeros_is_zero_and_an_empty_sum_too():
    for n in (1, 7, 8, 20, 300):
        assert np.float64(pairwise_sum(np.full(n, -0.0), 0, n)).view(np.uint64) == 0
    assert pairwise_sum(np.ones(5), 3, 3) == 0.0 and pairwise_sum(np.ones(5), 4, 2) == 0.0
