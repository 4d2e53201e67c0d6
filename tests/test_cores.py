"""Halves runs a pass over [0, n) exactly once per element, split over two threads or not,
and gives what a single call gives; errors reach the caller."""

from __future__ import annotations

import pickle

import numba
import numpy as np
import pytest

from sim.cores import Halves, helpers_on, use_helpers


@numba.njit(nogil=True)
def _count(hits, lo, hi):
    for i in range(lo, hi):
        hits[i] += 1


@pytest.mark.parametrize("n", [0, 1, 5, 6, 1000])
@pytest.mark.parametrize("on", [True, False])
def test_every_element_once_whether_split_or_not(n, on):
    hits = np.zeros(n, np.int64)
    halves = Halves(split_from=2)
    use_helpers(on)
    try:
        halves(_count, n, hits)
        assert helpers_on() is on
    finally:
        use_helpers(True)
    assert (hits == 1).all()
    assert (halves._pool is not None) == (on and n >= 2)  # the thread only when it splits


def test_an_error_in_either_half_reaches_the_caller_and_a_copy_starts_clean():
    def fails_on_second_half(lo, hi):
        if lo > 0:
            raise ValueError("second half")

    halves = Halves(split_from=2)
    with pytest.raises(ValueError, match="second half"):
        halves(fails_on_second_half, 10)
    copy = pickle.loads(pickle.dumps(halves))
    assert copy._pool is None and copy.split_from == 2
