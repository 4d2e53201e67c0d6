"""The scenario's channel catalogue as arrays indexed by a channel code."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .compliance import KIND_CODES
from .config import RESPONSE_CLASSES, Channel

REQUIRES = {"none": 0, "app": 1, "email": 2}


@dataclass(frozen=True)
class Catalogue:
    names: list[str]
    kind: np.ndarray  # int8 compliance kind code
    cost_cents: np.ndarray  # float64 cents per attempt
    reach: np.ndarray
    requires: np.ndarray  # int8 0 none, 1 app, 2 email
    response: np.ndarray  # int8 index into RESPONSE_CLASSES
    uplift: np.ndarray
    complaint_base: np.ndarray

    @classmethod
    def from_config(cls, channels: dict[str, Channel]) -> Catalogue:
        chs = list(channels.values())
        return cls(
            names=list(channels),
            kind=np.array([KIND_CODES[c.kind] for c in chs], dtype=np.int8),
            cost_cents=np.array([c.cost * 100.0 for c in chs]),
            reach=np.array([c.reach for c in chs]),
            requires=np.array([REQUIRES[c.requires] for c in chs], dtype=np.int8),
            response=np.array([RESPONSE_CLASSES.index(c.response_class) for c in chs],
                              dtype=np.int8),
            uplift=np.array([c.uplift for c in chs]),
            complaint_base=np.array([c.complaint_base for c in chs]),
        )

    def code(self, name: str) -> int:
        return self.names.index(name)
