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
keyed counter; it passes BigCrush as a counter-based generator and vectorises in numpy.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

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


def _mix_inplace(z: np.ndarray, t: np.ndarray) -> None:
    """``_mix`` overwriting z (t: scratch of z's shape). Same bits; in place because the
    hash runs on every draw of a run and fresh temporaries dominated its cost."""
    np.right_shift(z, _S30, out=t)
    np.bitwise_xor(z, t, out=z)
    np.multiply(z, _M1, out=z)
    np.right_shift(z, _S27, out=t)
    np.bitwise_xor(z, t, out=z)
    np.multiply(z, _M2, out=z)
    np.right_shift(z, _S31, out=t)
    np.bitwise_xor(z, t, out=z)


def _to_unit(z: np.ndarray) -> np.ndarray:
    """Hashed counters (consumed) -> uniforms in (0, 1): the top 53 bits, centred."""
    t = np.empty_like(z)
    _mix_inplace(z, t)
    z += _GOLD
    _mix_inplace(z, t)
    z >>= _S11
    # (x + 0.5) * 2**-53 == x * 2**-53 + 2**-54 bit for bit (x < 2**53 converts exactly
    # and scaling by a power of two commutes with rounding): one numpy call fewer
    u = np.multiply(z, _INV53, dtype=np.float64)
    u += _HALF53
    return u


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

    def generator(self, name: str) -> np.random.Generator:
        """A fresh sequential generator for an up-front (exogenous) draw."""
        return np.random.Generator(np.random.PCG64(self._seqs[name]))

    def _base(self, name: str, day: int) -> int:
        return self._ikeys[name] ^ (int(day) * _DAY_I & _MASK)

    def uniform(self, name: str, day: int, idx: np.ndarray, draw: int | np.ndarray = 0) -> np.ndarray:
        """Uniforms in (0, 1) for (stream, day, idx, draw); same inputs, same outputs."""
        z = np.multiply(_as_u64(idx), _GOLD)
        if np.ndim(draw) == 0:
            # scalar parts in Python ints (mod 2**64): numpy warns on scalar overflow only
            z += np.uint64(self._base(name, day) + int(draw) * _DRAW_I & _MASK)
        else:
            z = z + (np.uint64(self._base(name, day)) + np.asarray(draw, dtype=np.uint64) * _DRAW)
        return _to_unit(z)

    def uniform_rows(self, rows: list[tuple[str, int, int | np.ndarray]], idx: np.ndarray,
                     draw: int | np.ndarray = 0) -> np.ndarray:
        """Several draws for the same accounts in one pass: row r is exactly
        ``uniform(name_r, day_r, idx, draw + offset_r)`` for rows = [(name, day, offset)],
        an offset being a number or an array over idx. One hash over a (rows, n) block
        costs far fewer numpy calls than one per row."""
        z = np.multiply(_as_u64(idx), _GOLD)
        if np.ndim(draw) != 0:
            z += np.asarray(draw, dtype=np.uint64) * _DRAW
            draw = 0
        # all terms are added mod 2**64, so regrouping them leaves every bit unchanged
        bases = np.array([self._base(nm, dy) + ((int(draw) + int(off)) * _DRAW_I if np.ndim(off)
                                                == 0 else int(draw) * _DRAW_I) & _MASK
                          for nm, dy, off in rows], dtype=np.uint64)
        block = z[None, :] + bases[:, None]
        for r, (_, _, off) in enumerate(rows):
            if np.ndim(off) != 0:
                block[r] += np.asarray(off, dtype=np.uint64) * _DRAW
        return _to_unit(block)

    def normal(self, name: str, day: int, idx: np.ndarray, draw: int | np.ndarray = 0) -> np.ndarray:
        return ndtri(self.uniform(name, day, idx, draw))

    def exponential(self, name: str, day: int, idx: np.ndarray,
                    draw: int | np.ndarray = 0) -> np.ndarray:
        return -np.log(self.uniform(name, day, idx, draw))
