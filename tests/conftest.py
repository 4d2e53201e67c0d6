"""Shared fixtures: small, fast scenarios and a cache of runs shared by the test modules."""

from __future__ import annotations

import functools

import pytest

from sim.config import Scenario, load_scenario, load_strategy
from sim.engine import run
from sim.results import RunResult

# A short time frame keeps a run to a few seconds: 60 days of warm-up, a 90-day window,
# 60 days of follow-up (cure_rate_180 is then undefined for most of the cohort: None).
SHORT = ("horizon.warmup_days=60", "horizon.window_days=90", "horizon.followup_days=60")


def small(name: str = "baseline", accounts: int = 2000, *extra: str) -> Scenario:
    return load_scenario(name, [f"population.accounts={accounts}", *SHORT, *extra])


@functools.lru_cache(maxsize=64)
def cached_run(scenario_name: str, strategy: str, seed: int = 1, accounts: int = 2000,
               extra: tuple[str, ...] = (), check: bool = True,
               contacts: bool = False) -> RunResult:
    """One small run, computed once per test session (results are read-only)."""
    sc = small(scenario_name, accounts, *extra)
    return run(sc, load_strategy(strategy), seed=seed, check_invariants=check,
               record_contacts=contacts)


@pytest.fixture(scope="session")
def small_run():
    return cached_run
