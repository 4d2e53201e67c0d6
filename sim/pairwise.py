"""numpy's sum of a float64 slice, bit for bit, inside compiled passes.

A float sum depends on the order of its additions. numpy's ``add.reduce`` (what
``a.sum()`` runs) adds a contiguous float64 array by pairwise summation: below eight
elements one after another, up to 128 in eight interleaved accumulators combined as
``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`` with the remainder added on, and
above that the two halves (the first a multiple of eight) summed the same way and
added; the result is added to the identity, 0.0 (so a sum of -0.0s is 0.0). The engine
keeps the sums it always made (a team's clock, a day's labour cost) with the same bits
while the passes that hold the values are compiled: ``pairwise_sum`` is that
algorithm, and the tests hold it to ``ndarray.sum`` on random slices.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _block(a, lo, n):  # pragma: no cover - compiled
    """numpy's sum of ``a[lo:lo + n]`` for n <= 128: the leaves of the pairwise tree."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i, end = 8, n - n % 8
    while i < end:
        k = lo + i
        r0 += a[k]
        r1 += a[k + 1]
        r2 += a[k + 2]
        r3 += a[k + 3]
        r4 += a[k + 4]
        r5 += a[k + 5]
        r6 += a[k + 6]
        r7 += a[k + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(cache=True, nogil=True, inline="always")
def _left(n):  # pragma: no cover - compiled
    """The first half's length: half, less its remainder by eight (numpy's split)."""
    h = n // 2
    return h - h % 8


@numba.njit(cache=True, nogil=True)
def pairwise_sum(a, lo, hi):  # pragma: no cover - compiled
    """``float(a[lo:hi].sum())`` for a contiguous float64 array ``a``, bit for bit.
    Callers in compiled code pass ``lo`` and ``hi`` as int64 (``np.int64(0)``, not ``0``):
    a constant is typed as a literal, and each literal is one more compiled version.

    numpy recurses on the halves; this walks the same tree with a stack of its own
    (numba's on-disk cache mishandles recursive functions: a kernel calling one ran
    fine when compiled and crashed when loaded from the cache)."""
    n = max(hi - lo, 0)
    if n <= 128:
        return 0.0 + _block(a, lo, n)
    # frames of the walk: start, length, and the left half's sum once it is known
    start, size, left = np.empty(64, np.int64), np.empty(64, np.int64), np.empty(64)
    right = np.zeros(64, np.bool_)  # the frame's left half is summed, its right one is next
    top, start[0], size[0], right[0] = 0, lo, n, False
    value, back = 0.0, False  # back: ``value`` is the sum of the frame just finished
    while True:
        if back:
            if top < 0:
                return 0.0 + value
            if not right[top]:  # the left half is done: on to the right one
                left[top], right[top] = value, True
                h = _left(size[top])
                start[top + 1], size[top + 1], right[top + 1] = start[top] + h, size[top] - h, False
                top += 1
                back = False
            else:
                value = left[top] + value
                top -= 1
            continue
        m = size[top]
        if m <= 128:
            value = _block(a, start[top], m)
            top -= 1
            back = True
        else:
            start[top + 1], size[top + 1], right[top + 1] = start[top], _left(m), False
            top += 1
