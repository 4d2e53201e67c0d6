"""The prefetch hint compiles for the arrays and index types the passes use, and reads
nothing into the program: a pass with it gives what the pass without it gives."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from sim.prefetch import AHEAD, prefetch, prefetch_2d, scalar_loop


@numba.njit
def _gather(a, b2, at, hint):
    total, m = 0.0, at.shape[0]
    for j in range(m):
        if hint and j + AHEAD < m:
            prefetch(a, at[j + AHEAD])
            prefetch_2d(b2, 1, at[j + AHEAD])
        total += a[at[j]] * b2[1, at[j]]
    return total


@pytest.mark.parametrize("index_dtype", [np.int64, np.int32, np.uint64])
def test_a_pass_with_prefetches_gives_what_it_gives_without(index_dtype):
    rng = np.random.default_rng(3)
    a = rng.random(5_000)
    b2 = rng.random((3, 5_000)).astype(np.float32)
    at = rng.integers(0, 5_000, 1_000).astype(index_dtype)
    at[-1] = 4_999  # the last element, prefetched too
    want = _gather(a, b2, at, False)
    assert _gather(a, b2, at, True) == want
    assert want == pytest.approx(float((a[at] * b2[1, at]).sum()))


@numba.njit
def _hash_loop(x, keep_scalar):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        if keep_scalar:
            scalar_loop()
        z = (x[i] ^ (x[i] >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        out[i] = z ^ (z >> np.uint64(31))
    return out


def test_a_loop_kept_scalar_gives_what_the_vectorised_one_gives():
    x = np.random.default_rng(5).integers(0, 2**63, 10_001).astype(np.uint64)
    assert np.array_equal(_hash_loop(x, True), _hash_loop(x, False))
