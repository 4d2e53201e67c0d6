"""Randomness: named streams from one SeedSequence, and counter-based draws.

Two kinds of draws, as DESIGN.md asks:

* exogenous draws (population, shock timelines, joiners) come from ordinary numpy
  Generators, one per named stream, spawned from the replication's SeedSequence and
  used up front, so every strategy faces the same people and the same misfortunes;
* per-account-per-day decisions come from a counter-based generator: the uniform for
  (stream, day, account, draw) is a keyed hash of those four numbers. Touching account
  17 on day 40 consumes nothing, so account 18 and day 41 see the same numbers whatever
  the strategy did. That is what makes paired comparisons precise.

The hash is SplitMix64's finaliser (Steele, Lea & Flood 2014) applied twice over the
keyed counter; it passes BigCrush as a counter-based generator. Counter and hash run
in one compiled loop (numba), because in numpy they are some twenty passes over the
array and a run draws hundreds of millions of numbers (measured: three rows over 200,000
accounts 13.0 -> 4.4 ms; one row over 300 accounts 50 -> 12 us). The numpy form
(``Streams.reference_uniform_rows``) stays as the definition the tests hold the loop to,
bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.special import ndtri

from .cores import Halves
from .prefetch import scalar_loop

STREAMS = (
    "population", "shocks", "joiners", "due", "repay", "promise", "contact", "handle",
    "complaint", "plan", "optout", "attrition", "legal", "reborrow", "arms",
)

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_DAY = np.uint64(0xD1B54A32D192ED03)
_DRAW = np.uint64(0xAEF17502108EF2D9)
_MASK = (1 << 64) - 1
_DAY_I, _DRAW_I = int(_DAY), int(_DRAW)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / float(1 << 53)
_HALF53 = 0.5 / float(1 << 53)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _to_unit_numpy(z: np.ndarray) -> np.ndarray:
    """Keyed counters -> uniforms in (0, 1) in numpy: the top 53 bits of the hash, centred
    (the reference form of ``_finalise``)."""
    z = _mix(_mix(z) + _GOLD) >> _S11
    return z * _INV53 + _HALF53


@numba.njit(cache=True, nogil=True, inline="always")
def _finalise(x: np.uint64) -> float:  # pragma: no cover - compiled
    # every constant a uint64: numba promotes a uint64 mixed with an int64 to float64
    m1, m2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
    s30, s27, s31, s11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
    x = (x ^ (x >> s30)) * m1
    x = (x ^ (x >> s27)) * m2
    x = (x ^ (x >> s31)) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> s30)) * m1
    x = (x ^ (x >> s27)) * m2
    x = x ^ (x >> s31)
    # (x + 0.5) * 2**-53 == x * 2**-53 + 2**-54 bit for bit: x < 2**53 converts exactly
    # and scaling by a power of two commutes with rounding
    return float(np.int64(x >> s11)) * (1.0 / 9007199254740992.0) + (0.5 / 9007199254740992.0)


@numba.njit(cache=True, nogil=True, inline="always")
def draw_at(i, key: np.uint64) -> float:  # pragma: no cover - compiled
    """``uniform(name, day, [i], draw)`` inside a compiled loop, ``key`` being
    ``Streams.key(name, day, draw)``: the same bits as the row kernel's."""
    return _finalise(np.uint64(i) * np.uint64(0x9E3779B97F4A7C15) + key)


@numba.njit(cache=True, nogil=True, inline="always")
def draw_at_n(i, key: np.uint64, n) -> float:  # pragma: no cover - compiled
    """``uniform(name, day, [i], draw + n)`` inside a compiled loop, for a per-account
    draw number ``n`` and ``key`` being ``Streams.key(name, day, draw)``: the same bits
    as ``uniform_rows`` with ``n`` as its per-account draw."""
    return draw_at(i, key + np.uint64(n) * np.uint64(0xAEF17502108EF2D9))  # mod 2**64


@numba.njit(cache=True, nogil=True)
def _rows_kernel(idx: np.ndarray, draw: np.ndarray, bases: np.ndarray, offs: np.ndarray,
                 out: np.ndarray, lo: int, hi: int) -> None:  # pragma: no cover - compiled
    """out[r, i] = unit(idx[i] * GOLD + bases[r] + (draw[i] + offs[r, i]) * DRAW) for i in
    [lo, hi), where an empty ``draw`` or an ``offs`` with no columns counts as zero (all
    mod 2**64)."""
    gold, step = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xAEF17502108EF2D9)
    has_draw, has_offs = draw.shape[0] > 0, offs.shape[1] > 0
    for r in range(bases.shape[0]):
        b = bases[r]
        for i in range(lo, hi):
            scalar_loop()  # AVX2 has no 64-bit multiply: the widened hash is slower
            x = idx[i] * gold + b
            if has_draw:
                x += draw[i] * step
            if has_offs:
                x += offs[r, i] * step
            out[r, i] = _finalise(x)


@numba.njit(cache=True, nogil=True)
def _row_kernel(idx: np.ndarray, key: np.uint64, out: np.ndarray, lo: int,
                hi: int) -> None:  # pragma: no cover - compiled
    """One row of ``_rows_kernel`` with no per-account draws: out[i] = draw_at(idx[i], key)."""
    for i in range(lo, hi):
        scalar_loop()
        out[i] = draw_at(idx[i], key)


_NO_DRAW = np.zeros(0, dtype=np.uint64)
_NO_OFFS = np.zeros((0, 0), dtype=np.uint64)  # no per-account offsets: the kernel reads no row
HASH_SPLIT_FROM = 32_768  # accounts in one call of the hash from which it runs as two halves


def _as_u64(idx: np.ndarray) -> np.ndarray:
    idx = np.asarray(idx)
    # an int64 array reinterprets without a copy (same bits as the cast)
    return idx.view(np.uint64) if idx.dtype == np.int64 else idx.astype(np.uint64)


class Streams:
    """All randomness of one replication, derived from one root seed."""

    def __init__(self, seed: int | np.random.SeedSequence):
        # a copy: spawning counts children on the SeedSequence itself, so reusing the
        # caller's object would hand a second run different streams for the "same" seed
        if isinstance(seed, np.random.SeedSequence):
            root = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key,
                                          pool_size=seed.pool_size)
        else:
            root = np.random.SeedSequence(seed)
        self.root = root
        children = root.spawn(len(STREAMS))
        self._seqs = dict(zip(STREAMS, children, strict=True))
        self._keys = {n: np.uint64(s.generate_state(1, np.uint64)[0]) for n, s in self._seqs.items()}
        self._ikeys = {n: int(k) for n, k in self._keys.items()}
        # a large batch of draws (a day's messages at a million accounts) is hashed in two
        # halves at once: about 7 ns a draw here, the hand-off some tens of microseconds
        self._halves = Halves(HASH_SPLIT_FROM)

    def generator(self, name: str) -> np.random.Generator:
        """A fresh sequential generator for an up-front (exogenous) draw."""
        return np.random.Generator(np.random.PCG64(self._seqs[name]))

    def _base(self, name: str, day: int) -> int:
        return self._ikeys[name] ^ (int(day) * _DAY_I & _MASK)

    def _key_int(self, name: str, day: int, draw: int) -> int:
        return (self._base(name, day) + int(draw) * _DRAW_I) & _MASK

    def key(self, name: str, day: int, draw: int = 0) -> np.uint64:
        """The key of (stream, day, draw) that ``draw_at`` hashes with an account."""
        return np.uint64(self._key_int(name, day, draw))

    def keys(self, rows: list[tuple[str, int, int]]) -> np.ndarray:
        """``key(name, day, draw)`` of each row, as the uint64 array the compiled passes
        hash with (``draw_at``, ``draw_at_n``)."""
        # Python ints, one array at the end: no numpy scalar per row (the engine asks for
        # a few keys per batch of contacts)
        return np.array([self._key_int(*row) for row in rows], np.uint64)

    def uniform(self, name: str, day: int, idx: np.ndarray, draw: int | np.ndarray = 0) -> np.ndarray:
        """Uniforms in (0, 1) for (stream, day, idx, draw); same inputs, same outputs."""
        if isinstance(draw, np.ndarray) and draw.ndim:
            return self.uniform_rows([(name, day, 0)], idx, draw)[0]
        # the common case, a few times a day and per batch of calls: few Python steps
        u = _as_u64(idx)
        out = np.empty(len(u))
        self._halves(_row_kernel, len(u), u if u.flags.c_contiguous else np.ascontiguousarray(u),
                     self.key(name, day, draw), out)
        return out

    def uniform_rows(self, rows: list[tuple[str, int, int | np.ndarray]], idx: np.ndarray,
                     draw: int | np.ndarray = 0) -> np.ndarray:
        """Several draws for the same accounts in one pass: row r is exactly
        ``uniform(name_r, day_r, idx, draw + offset_r)`` for rows = [(name, day, offset)],
        an offset being a number or an array over idx."""
        u = _as_u64(idx)
        n, k = len(u), len(rows)
        # scalar parts folded into one base per row, in Python ints mod 2**64 (numpy warns
        # on scalar overflow); all terms are added mod 2**64, so the grouping is free.
        # This runs a few times per batch of calls: it keeps its numpy calls few.
        if isinstance(draw, np.ndarray) and draw.ndim:
            d0, draws = 0, np.ascontiguousarray(draw, dtype=np.uint64)
        else:
            d0, draws = int(draw), _NO_DRAW
        keys, bases, offs = self._ikeys, [], _NO_OFFS
        for r, (name, day, off) in enumerate(rows):
            base = keys[name] ^ (int(day) * _DAY_I & _MASK)
            if isinstance(off, np.ndarray) and off.ndim:
                if offs is _NO_OFFS:
                    offs = np.zeros((k, n), dtype=np.uint64)
                offs[r] = off
                bases.append((base + d0 * _DRAW_I) & _MASK)
            else:
                bases.append((base + (d0 + int(off)) * _DRAW_I) & _MASK)
        out = np.empty((k, n), dtype=np.float64)
        self._halves(_rows_kernel, n, u if u.flags.c_contiguous else np.ascontiguousarray(u),
                     draws, np.array(bases, dtype=np.uint64), offs, out)
        return out

    def reference_uniform_rows(self, rows: list[tuple[str, int, int | np.ndarray]],
                               idx: np.ndarray, draw: int | np.ndarray = 0) -> np.ndarray:
        """``uniform_rows`` in plain numpy: the definition the kernel is tested against."""
        z = np.multiply(_as_u64(idx), _GOLD)
        if np.ndim(draw) != 0:
            z += np.asarray(draw, dtype=np.uint64) * _DRAW
            draw = 0
        out = []
        for name, day, off in rows:
            zr = z + np.uint64(self._base(name, day) + int(draw) * _DRAW_I & _MASK)
            if np.ndim(off) != 0:
                zr += np.asarray(off, dtype=np.uint64) * _DRAW
            else:
                zr += np.uint64(int(off) * _DRAW_I & _MASK)
            out.append(_to_unit_numpy(zr))
        return np.array(out).reshape(len(rows), -1)

    def normal(self, name: str, day: int, idx: np.ndarray, draw: int | np.ndarray = 0) -> np.ndarray:
        return ndtri(self.uniform(name, day, idx, draw))

    def exponential(self, name: str, day: int, idx: np.ndarray,
                    draw: int | np.ndarray = 0) -> np.ndarray:
        return -np.log(self.uniform(name, day, idx, draw))
