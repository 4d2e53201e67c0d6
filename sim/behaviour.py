"""How cardholders behave: pure functions, arrays in, arrays out.

Nothing here keeps state or draws random numbers; the engine passes the uniforms.
"""

from __future__ import annotations

import numpy as np


def due_pay_probability(ability: np.ndarray, oversight: np.ndarray, strategic: np.ndarray,
                        reminded: np.ndarray, reminder_cut: float) -> np.ndarray:
    """P(pay the instalment in full on its due date): able, not forgetting, not refusing.

    A reminder in the last few days cuts the oversight miss by ``reminder_cut``.
    """
    miss = oversight * np.where(reminded, 1.0 - reminder_cut, 1.0)
    return ability * (1.0 - miss) * (1.0 - strategic)


def repayment_probability(base: float, ability: np.ndarray, willingness: np.ndarray,
                          stimulus: np.ndarray, exponent: float = 3.0) -> np.ndarray:
    """Daily probability of a payment while delinquent.

    lambda = lambda0 * g(a, w) * (1 + sum_k u_k s_k exp(-(t - t_k) / tau_k)); the sum is
    carried as ``stimulus`` (the engine adds impulses and decays them), g = a^k * w
    (Chehrazi & Weber 2015; Chehrazi, Glynn & Weber 2019). The exponent k > 1 makes the
    hazard collapse when a shock has cut ability: the hard-hit roll, the slightly
    stretched recover, which is what separates cure rates from roll rates.
    """
    lam = base * ability**exponent * willingness * (1.0 + stimulus)
    return -np.expm1(-lam)


def cure_share(ability: np.ndarray, cycles_behind: np.ndarray, u_full: np.ndarray,
               u_share: np.ndarray, share_min: float, share_max: float,
               catch_up: float = 1.0) -> np.ndarray:
    """Share of the overdue amount a payment covers.

    All of it with probability ability / cycles_behind^catch_up: one missed instalment is
    easy to make good, four months of arrears after a job loss are not, so long
    delinquencies tend to be paid down cycle by cycle (or charged off) rather than cured
    at once. Otherwise a partial amount, bounded by ability.
    """
    p_full = ability / np.maximum(cycles_behind, 1.0) ** catch_up
    partial = share_min + (share_max - share_min) * u_share * ability
    return np.where(u_full < p_full, 1.0, partial)


def promise_probability(rate: float, skill: float, willingness: np.ndarray,
                        misread: np.ndarray) -> np.ndarray:
    """P(a promise to pay) after a right-party conversation. ``skill``: the collector
    team's, one number or one per conversation; both give the same bits (numpy rounds a
    Python number to the precision of ``willingness``, float32, before multiplying)."""
    if np.ndim(skill) == 0:
        p = rate * skill * np.sqrt(willingness)
    else:
        dtype = np.result_type(np.asarray(willingness).dtype, np.float32)
        p = (rate * np.asarray(skill, np.float64)).astype(dtype) * np.sqrt(willingness)
    return np.clip(np.where(misread, 0.9, p), 0.0, 0.95)


def promise_keep_probability(keep: np.ndarray, ability: np.ndarray,
                             misread: np.ndarray) -> np.ndarray:
    return np.where(misread, 0.95, keep * ability)


def plan_acceptance(base: np.ndarray, skill: float, hardship: np.ndarray, boost: float,
                    willingness: np.ndarray) -> np.ndarray:
    """P(accept an offered plan): rises with willingness and with hardship."""
    p = base * skill * (1.0 + boost * hardship) * np.where(willingness > 0, 1.0, 0.0)
    return np.clip(p, 0.0, 0.95)


def complaint_probability(c0: float, alpha: float, recent_contacts: np.ndarray,
                          free_contacts: int, tone: np.ndarray, hardship: np.ndarray,
                          hardship_pressure: float, third_party: float,
                          propensity: np.ndarray) -> np.ndarray:
    """MODEL.md: c0 * (1 + alpha * excess contacts in 7 days) * tone * hardship * 3rd * prop."""
    excess = np.maximum(0, recent_contacts - free_contacts)
    p = (c0 * (1.0 + alpha * excess) * tone * np.where(hardship, hardship_pressure, 1.0)
         * third_party * propensity)
    return np.clip(p, 0.0, 1.0)


def attrition_probability(base: float, per_contact: float, episode_contacts: np.ndarray,
                          propensity: np.ndarray, complained: np.ndarray) -> np.ndarray:
    """P(a cured customer leaves once the plan ends): harsh treatment raises it."""
    p = (base + per_contact * episode_contacts) * propensity * np.where(complained, 2.0, 1.0)
    return np.clip(p, 0.0, 1.0)
