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


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


class Streams:
    """All randomness of one replication, derived from one root seed."""

    def __init__(self, seed: int | np.random.SeedSequence):
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.root = root
        children = root.spawn(len(STREAMS))
        self._seqs = dict(zip(STREAMS, children, strict=True))
        self._keys = {n: np.uint64(s.generate_state(1, np.uint64)[0]) for n, s in self._seqs.items()}

    def generator(self, name: str) -> np.random.Generator:
        """A fresh sequential generator for an up-front (exogenous) draw."""
        return np.random.Generator(np.random.PCG64(self._seqs[name]))

    def uniform(self, name: str, day: int, idx: np.ndarray, draw: int | np.ndarray = 0) -> np.ndarray:
        """Uniforms in (0, 1) for (stream, day, idx, draw); same inputs, same outputs."""
        idx = np.asarray(idx, dtype=np.uint64)
        if np.ndim(draw) == 0:
            # scalar parts in Python ints (mod 2**64): numpy warns on scalar overflow only
            base = np.uint64((int(self._keys[name]) ^ (int(day) * _DAY_I & _MASK))
                             + int(draw) * _DRAW_I & _MASK)
        else:
            base = np.uint64(int(self._keys[name]) ^ (int(day) * _DAY_I & _MASK)) + (
                np.asarray(draw, dtype=np.uint64) * _DRAW)
        z = _mix(_mix(base + idx * _GOLD) + _GOLD)
        return ((z >> _S11).astype(np.float64) + 0.5) * _INV53

    def normal(self, name: str, day: int, idx: np.ndarray, draw: int | np.ndarray = 0) -> np.ndarray:
        return ndtri(self.uniform(name, day, idx, draw))

    def exponential(self, name: str, day: int, idx: np.ndarray,
                    draw: int | np.ndarray = 0) -> np.ndarray:
        return -np.log(self.uniform(name, day, idx, draw))
