"""Synthetic cardholders as a structure of arrays, drawn up front.

Persons 0..N-1 hold the book's slots at the start; persons N.. are the reserve of
joiners, taken in order when a slot is vacated, so joiner k is the same person under
every strategy. Shock timelines are drawn here too, over the whole horizon, from their
own stream: strategies cannot change who falls ill or loses a job, or when.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from scipy.special import betaincinv, expit, logit, ndtri

from .config import Economy, Population, Product, Scenario
from .cores import helpers_on
from .rng import Streams

CAUSE_CODES = {"unknown": 0, "oversight": 1, "hardship": 2, "terms": 3, "unwilling": 4,
               "suspected_fraud": 5}


@dataclass
class People:
    """Latent traits (never shown to a strategy) and the risk score (shown)."""

    segment: np.ndarray  # int8 index into segment_names
    segment_names: list[str]
    ability: np.ndarray  # float32, baseline probability of being able to pay when due
    oversight: np.ndarray  # float32, probability of a miss by oversight per cycle
    strategic: np.ndarray  # float32, probability of a deliberate miss per cycle
    willingness: np.ndarray  # float32
    misread: np.ndarray  # bool: pays once a conversation explains the terms
    contactability: np.ndarray  # float32 answer probability at profile 1
    app_user: np.ndarray  # bool
    email: np.ndarray  # bool
    complaint_prop: np.ndarray  # float32, mean 1
    attrition_prop: np.ndarray  # float32, mean 1
    score_logit: np.ndarray  # float32, the bank's static risk signal (logit scale)
    due_dom: np.ndarray  # int8 day of month 1..28
    cause: np.ndarray  # int8 cause code of the segment (revealed in conversation)
    # Shock timelines, sorted by start day: who, when, how bad.
    shock_person: np.ndarray
    shock_start: np.ndarray
    shock_end: np.ndarray
    shock_loss: np.ndarray  # float32, log(1 - severity) (adds up over overlapping shocks)

    @property
    def size(self) -> int:
        return len(self.segment)


def macro_curve(economy: Economy, days: int) -> np.ndarray:
    """m(t) for t = 0..days-1: the scenario's multiplier times the piecewise-linear path."""
    t = np.arange(days, dtype=np.float64)
    if economy.macro_path:
        xs = [d for d, _ in economy.macro_path]
        ys = [m for _, m in economy.macro_path]
        path = np.interp(t, xs, ys)
    else:
        path = np.ones(days)
    return economy.shock_multiplier * path


def reserve_size(pop: Population, days: int) -> int:
    return max(64, math.ceil(pop.accounts * pop.reserve_share * max(days, 1) / 365.0))


def generate(scenario: Scenario, streams: Streams) -> People:
    pop, days = scenario.population, scenario.horizon.days
    n = pop.accounts + reserve_size(pop, days)
    # The shocks are counter-based draws, independent of the population's generator: they
    # are drawn on a helper thread meanwhile (the hash and numpy release the GIL), so the
    # same bits in about two thirds of the time at a million accounts.
    if helpers_on():
        with ThreadPoolExecutor(1, thread_name_prefix="collectsim-shocks") as pool:
            shocks = pool.submit(_shocks, scenario.economy, n, days, streams)
            traits = _traits(pop, n, streams)
            sp, ss, se, sl = shocks.result()
    else:
        traits = _traits(pop, n, streams)
        sp, ss, se, sl = _shocks(scenario.economy, n, days, streams)
    return People(**traits, shock_person=sp, shock_start=ss, shock_end=se, shock_loss=sl)


def _traits(pop: Population, n: int, streams: Streams) -> dict:
    """Everything of ``n`` persons but their shocks, from the "population" generator."""
    g = streams.generator("population")
    names = list(pop.segments)
    segs = list(pop.segments.values())
    shares = np.array([s.share for s in segs])
    segment = g.choice(len(segs), size=n, p=shares / shares.sum()).astype(np.int8)

    def per_seg(attr: str) -> np.ndarray:
        return np.array([getattr(s, attr) for s in segs], dtype=np.float64)[segment]

    mean = np.clip(per_seg("ability_mean"), 1e-6, 1 - 1e-6)
    conc = per_seg("ability_concentration")
    ability = g.beta(mean * conc, (1 - mean) * conc).astype(np.float32)
    oversight = per_seg("oversight_miss").astype(np.float32)
    strategic = per_seg("strategic_miss").astype(np.float32)
    willingness = per_seg("willingness").astype(np.float32)
    cause = np.array([CAUSE_CODES[s.cause] for s in segs], dtype=np.int8)[segment]
    misread = (g.random(n) < pop.misread_terms_share) & (cause == CAUSE_CODES["oversight"])
    cm, cc = pop.contactability_mean, pop.contactability_concentration
    cm = min(max(cm, 1e-6), 1 - 1e-6)
    contact = g.beta(cm * cc, (1 - cm) * cc, size=n) * per_seg("contactability_factor")
    contactability = np.clip(contact, 0.0, 0.98).astype(np.float32)
    app_user = g.random(n) < pop.app_user_share
    email = g.random(n) < pop.email_share
    s = pop.complaint_propensity_sigma
    complaint_prop = np.exp(g.normal(-s * s / 2, s, n)).astype(np.float32)
    s = pop.attrition_propensity_sigma
    attrition_prop = np.exp(g.normal(-s * s / 2, s, n)).astype(np.float32)
    # The starting book in order of due day: cardholders are exchangeable (drawn
    # independently, and the due day independently of the rest), so sorting the due days
    # changes no joint distribution, and the slots billed (and reminded) on a day are
    # neighbours. At a million accounts that cut the simulated days' time by a third
    # (61.8 s -> 41.9 s): the book is far larger than the cache, and a scattered day
    # misses it on every slot it touches.
    due_dom = g.integers(1, 29, size=n).astype(np.int8)
    due_dom[: pop.accounts].sort()

    # Latent risk: the chance of missing a cycle. The bank sees a noisy monotone signal of
    # it whose noise is set so that the score separates a year's bads at the target AUC.
    miss = 1 - ability * (1 - oversight) * (1 - strategic)
    latent = logit(np.clip(miss, 1e-4, 1 - 1e-4))
    noise = g.normal(size=n)
    sigma = _sigma_for_auc(latent, noise, pop.risk_score_auc, g)
    score_logit = (latent + sigma * noise).astype(np.float32)
    return dict(segment=segment, segment_names=names, ability=ability, oversight=oversight,
                strategic=strategic, willingness=willingness, misread=misread,
                contactability=contactability, app_user=app_user, email=email,
                complaint_prop=complaint_prop, attrition_prop=attrition_prop,
                score_logit=score_logit, due_dom=due_dom, cause=cause)


def _sigma_for_auc(latent: np.ndarray, noise: np.ndarray, target: float,
                   g: np.random.Generator) -> float:
    """Noise scale whose score reaches the target AUC for a year's default (bisection)."""
    m = min(len(latent), 20_000)
    lat, eps = latent[:m], noise[:m]
    p_year = 1 - (1 - expit(lat)) ** 12
    bad = g.random(m) < p_year
    if bad.all() or not bad.any():
        return 0.0

    nb = int(bad.sum())
    order = np.arange(m)

    def auc(sig: float) -> float:
        score = lat + sig * eps
        # the scores' ranks summed over the bads (the Mann-Whitney statistic). The ranks
        # are those of the stable sort; the bisection's scores come closer and closer, so
        # the last order, mended by insertion, is the new one in a few moves each
        if not _mend_order(score, order, 8 * m):
            order[:] = np.argsort(score, kind="stable")
        return float((_rank_sum(order, bad) - nb * (nb + 1) / 2) / (nb * (m - nb)))

    if auc(0.0) <= target:
        return 0.0
    lo, hi = 0.0, 1.0
    while auc(hi) > target and hi < 1e3:
        hi *= 2
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if auc(mid) > target else (lo, mid)
    return (lo + hi) / 2


@numba.njit(cache=True, nogil=True)
def _mend_order(score, order, budget):  # pragma: no cover - compiled
    """Sort the permutation ``order`` by (``score``, position), as a stable argsort
    orders, by insertion from the order it holds; gives up (False, ``order`` left a
    permutation) after ``budget`` moves."""
    moves = 0
    for a in range(1, order.shape[0]):
        o = order[a]
        s, b = score[o], a - 1
        while b >= 0 and (score[order[b]] > s or (score[order[b]] == s and order[b] > o)):
            order[b + 1] = order[b]
            b -= 1
            moves += 1
        order[b + 1] = o
        if moves > budget:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _rank_sum(order, bad):  # pragma: no cover - compiled
    """The sum of the (1-based) ranks of the ``bad`` ones: integers, exact in float64."""
    total = 0.0
    for r in range(order.shape[0]):
        if bad[order[r]]:
            total += r + 1
    return total


def _shocks(economy: Economy, n: int, days: int, streams: Streams):
    """Shock arrivals per person: a Poisson process at rate r * m(t), by time change.

    Each person has, per shock type, a fixed sequence of unit-rate arrival points
    E1 < E2 < ... (counter-based: keyed by person, type and k). A shock happens at the day
    where the integrated intensity r * M(t) = r * sum m(s) reaches E_k. A scenario with a
    harsher macro path maps the same points to earlier days and fits more of them into
    the horizon, so baseline and recession share their randomness (common random
    numbers across economies, not only across strategies) and stay comparable pairwise.
    Severity and duration are keyed the same way.
    """
    m = macro_curve(economy, max(days, 1))
    cum = np.concatenate([[0.0], np.cumsum(m)])
    persons, starts, ends, losses = [], [], [], []
    for j, shock in enumerate(economy.shocks.values()):
        rate = shock.rate_per_year / 365.0
        total = rate * cum[-1]
        if total <= 0 or days <= 0:
            continue
        who = np.arange(n, dtype=np.int64)
        e = np.zeros(n)
        mu = min(max(shock.severity_mean, 1e-6), 1 - 1e-6)
        for k in range(10_000):
            e = e + streams.exponential("shocks", j, who, 4 * k)
            inside = e < total
            who, e = who[inside], e[inside]
            if not len(who):
                break
            when = np.searchsorted(cum, e / rate, side="right") - 1
            sev = betaincinv(mu * 5.0, (1 - mu) * 5.0, streams.uniform("shocks", j, who, 4 * k + 1))
            dur = np.maximum(1, np.round(0.5 * shock.duration_days_mean * (
                streams.exponential("shocks", j, who, 4 * k + 2)
                + streams.exponential("shocks", j, who, 4 * k + 3))))
            dur = np.maximum(1, np.round(dur * m[when] ** economy.duration_elasticity))
            persons.append(who)
            starts.append(when)
            ends.append(when + dur.astype(np.int64))
            losses.append(np.log1p(-np.minimum(sev, 0.999)))
    if not persons:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e, np.zeros(0, dtype=np.float32)
    p = np.concatenate(persons)
    s = np.concatenate(starts).astype(np.int64)
    e = np.concatenate(ends)
    loss = np.concatenate(losses).astype(np.float32)
    order = np.lexsort((p, s))
    return p[order], s[order], e[order], loss[order]


def draw_plan(product: Product, streams: Streams, person: np.ndarray, plan_no: np.ndarray,
              stream: str = "reborrow"):
    """Principal (cents) and term of a person's k-th plan: a pure function of (person, k)."""
    u1, u2 = streams.uniform_rows([(stream, 0, 0), (stream, 0, 1)], person, plan_no * 2)
    # the exponential stays in numpy (its bits are numpy's); the rest is one compiled pass,
    # as this runs every day for the day's few new plans
    e = np.exp(product.principal_sigma * ndtri(u1))
    cum, terms = _term_table(tuple(product.term_shares), tuple(product.terms))
    cents, term = np.empty(len(e), np.int64), np.empty(len(e), np.int32)
    _plan_of(e, u2, product.principal_median, product.principal_max, cum, terms, cents, term)
    return cents, term


@numba.njit(cache=True, nogil=True)
def _plan_of(e, u2, median, top, cum, terms, cents, term):  # pragma: no cover - compiled
    """Principal: median x e, clipped to [100, top], in whole cents (rounded half to even,
    as np.round); term: the first whose cumulative share is above u2 (np.searchsorted,
    side "right"), the last at most."""
    last = cum.shape[0] - 1
    for j in range(e.shape[0]):
        x = min(max(median * e[j], 100.0), top)
        cents[j] = np.int64(np.rint(x * 100))
        k = 0
        while k < last and cum[k] <= u2[j]:
            k += 1
        term[j] = terms[k]


@functools.lru_cache(maxsize=16)
def _term_table(shares: tuple[float, ...], terms: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative term shares (the last exactly 1) and the terms, computed once."""
    cum = np.cumsum(shares)
    cum[-1] = 1.0
    terms_a = np.asarray(terms).astype(np.int32)
    cum.flags.writeable = terms_a.flags.writeable = False  # shared by every caller
    return cum, terms_a
