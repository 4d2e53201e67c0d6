"""Experiments: executors give bit-identical results, intervals cover at the nominal rate,
common random numbers make paired intervals narrow, sequential stopping, sample sizes."""

from __future__ import annotations

import math
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim import experiment
from sim.cli import app
from sim.config import Strategy, load_scenario, load_strategy, validate_strategy
from sim.experiment import (
    STOP_MAX,
    STOP_PRECISION,
    compare,
    compare_until,
    open_executor,
    paired_differences,
    sample_size,
    sweep,
    t_interval,
)

# A tiny book and a short horizon: about a second a run.
TINY = ("population.accounts=1000", "horizon.warmup_days=30", "horizon.window_days=45",
        "horizon.followup_days=30")
SWEEP = {"scenario": "baseline", "strategies": ["no_action", "risk_based"], "replications": 1,
         "seed": 11, "grid": {"economy.shock_multiplier": [1.0, 2.0]}}


@pytest.fixture(scope="module")
def pool():
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        yield ex


@pytest.fixture(scope="module")
def tiny():
    return load_scenario("baseline", TINY)


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "sweep"
    return sweep(SWEEP, out=out, overrides=TINY, workers=1), out


def _tables(out) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(out / "kpis.parquet"), pd.read_parquet(out / "daily.parquet")


def _assert_identical(a, b) -> None:
    (df_a, out_a), (df_b, out_b) = a, b
    pd.testing.assert_frame_equal(df_a, df_b, check_exact=True)
    for ta, tb in zip(_tables(out_a), _tables(out_b), strict=True):
        pd.testing.assert_frame_equal(ta, tb, check_exact=True)


def test_sweep_identical_on_one_and_two_workers(one_worker, tmp_path):
    out = tmp_path / "two"
    two = sweep(SWEEP, out=out, overrides=TINY, workers=2), out
    assert len(one_worker[0]["run_id"].unique()) == 4
    assert one_worker[0]["value"].notna().any()
    _assert_identical(one_worker, two)


def test_sweep_identical_on_a_dask_cluster(one_worker, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "dask"
        # through the same path as `--scheduler tcp://...`
        df = sweep(SWEEP, out=out, overrides=TINY, scheduler=cluster.scheduler_address)
    _assert_identical(one_worker, (df, out))


def test_t_interval_covers_the_mean_at_the_nominal_rate():
    rng = np.random.default_rng(20240601)
    trials, hits = 4000, 0
    for _ in range(trials):
        _, lo, hi = t_interval(rng.normal(3.0, 2.0, size=5))
        hits += lo <= 3.0 <= hi
    # binomial sd of the coverage estimate is 0.0034: +-0.012 is about 3.5 sd
    assert abs(hits / trials - 0.95) < 0.012


def test_paired_intervals_cover_a_known_difference_and_are_narrower():
    # Each "KPI" is one trial: 8 replications of two strategies that share a large
    # replication effect (what common random numbers buy) and differ by exactly 0.3.
    rng = np.random.default_rng(7)
    trials, reps, diff = 1500, 8, 0.3
    shared = rng.normal(0, 5.0, size=(trials, reps))
    a = 10 + shared + rng.normal(0, 0.5, size=(trials, reps))
    b = 10 + diff + shared + rng.normal(0, 0.5, size=(trials, reps))
    rows = [{"strategy": s, "replication": r, "kpi": f"k{t}", "value": v[t, r]}
            for s, v in (("ref", a), ("new", b)) for t in range(trials) for r in range(reps)]
    p = paired_differences(pd.DataFrame(rows), "ref")
    coverage = ((p["ci_low"] <= diff) & (diff <= p["ci_high"])).mean()
    assert abs(coverage - 0.95) < 0.02  # sd 0.0056
    assert (p["paired_half_width"] < p["unpaired_half_width"] / 3).mean() > 0.99


def sms_variant() -> Strategy:
    """seed_playbook with every SMS sent more often: a small, realistic change."""
    raw = load_strategy("seed_playbook").model_dump()
    raw["name"] = "seed_playbook_more_sms"
    for rule in raw["rules"]:
        for action in rule["actions"]:
            if action["channel"] == "sms":
                action["every_days"] = max(1, action["every_days"] - 2)
    return validate_strategy(raw)


@pytest.fixture(scope="module")
def real_compare(tiny, pool):
    strategies = [load_strategy("seed_playbook"), load_strategy("no_action"), sms_variant()]
    return compare(tiny, strategies, replications=4, seed=3, reference="seed_playbook",
                   executor=pool)


def test_paired_narrower_than_unpaired_on_the_simulator(real_compare):
    p = real_compare.paired.set_index(["strategy", "kpi"])
    ratio = p["paired_half_width"] / p["unpaired_half_width"]
    # A small change to a strategy: most accounts live the same lives under both, so the
    # replication-to-replication noise cancels almost entirely in the paired difference.
    for kpi in ("net_recovery", "collection_cost", "contacts"):
        assert ratio["seed_playbook_more_sms", kpi] < 0.5, kpi
    # Doing nothing at all against the playbook, on this test's small, short setting: the
    # KPIs fixed early on (who enters the cohort, who cures in 30 days) keep some of the
    # pairing. Over the full 540 days far-apart books drift apart and keep much less
    # (README, "What common random numbers buy": python -m analysis.pairing).
    for kpi in ("cure_rate_30", "entry_cohort_size"):
        assert ratio["no_action", kpi] < 0.8, kpi


def test_a_strategy_against_a_renamed_copy_of_itself_differs_by_exactly_zero(tiny):
    st = load_strategy("no_action")
    twin = st.model_copy(update={"name": "no_action_twin"})
    res = compare(tiny, [st, twin], replications=2, seed=5)
    p = res.paired[res.paired["kpi"] != "run_seconds"].dropna(subset=["diff"])
    assert len(p) > 20
    assert (p["diff"] == 0).all() and (p["paired_half_width"] == 0).all()
    assert ((p["ci_low"] <= 0) & (p["ci_high"] >= 0)).all()


def test_sequential_stopping_hits_the_cap_and_matches_compare(tiny, pool, real_compare):
    strategies = [load_strategy("no_action"), load_strategy("seed_playbook")]
    res = compare_until(tiny, strategies, precision=1e-9, kpi="net_recovery",
                        max_replications=4, min_replications=3, seed=3, executor=pool)
    assert res.meta["stopped"] == STOP_MAX
    assert res.meta["replications"] == 4 and res.meta["batches"] == [3, 4]
    # batches do not change the draws: replication r always uses seed child r
    key = ["strategy", "replication", "kpi"]
    a = res.runs[res.runs["kpi"] != "run_seconds"]
    b = real_compare.runs[(real_compare.runs["kpi"] != "run_seconds")
                          & real_compare.runs["strategy"].isin(["no_action", "seed_playbook"])]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                  b.sort_values(key).reset_index(drop=True))


def test_sequential_stopping_stops_once_precision_is_reached(tiny, pool):
    strategies = [load_strategy("no_action"), load_strategy("seed_playbook")]
    res = compare_until(tiny, strategies, precision=0.5, kpi="cure_rate_30",
                        max_replications=10, seed=3, executor=pool)
    assert res.meta["stopped"] == STOP_PRECISION and res.meta["replications"] == 3


class _Fake:
    """A run result with only KPIs: enough for assemble(), no simulator needed."""

    def __init__(self, kpis: dict[str, float]):
        self.kpis, self.meta = kpis, {}

    def __getattr__(self, name: str) -> pd.DataFrame:
        return pd.DataFrame()


def test_sequential_stopping_adds_batches_until_the_half_width_is_small(tiny, monkeypatch):
    # Paired differences with sd 1: a half-width of 0.5 needs about (2.1 / 0.5)^2 = 18.
    def fake_run_specs(specs, executor=None, on_done=None):
        out = []
        for s in specs:
            rng = np.random.default_rng([s.seed, s.replication])
            base, noise = rng.normal(0, 10), rng.normal(0, 1)
            out.append(_Fake({"x": base + (noise if s.strategy.name == "b" else 0.0)}))
        return out

    monkeypatch.setattr(experiment, "run_specs", fake_run_specs)
    a = load_strategy("no_action").model_copy(update={"name": "a"})
    b = a.model_copy(update={"name": "b"})
    res = compare_until(tiny, [a, b], precision=0.5, kpi="x", max_replications=200, seed=1)
    n = res.meta["replications"]
    assert res.meta["stopped"] == STOP_PRECISION
    assert len(res.meta["batches"]) >= 3 and res.meta["batches"][-1] == n
    assert 10 <= n <= 40
    hw = res.paired.set_index("kpi").loc["x", "paired_half_width"]
    assert hw <= 0.5
    # and one replication fewer would not have been enough: it did not stop late by much
    fewer = compare(tiny, [a, b], replications=res.meta["batches"][-2], seed=1)
    assert fewer.paired.set_index("kpi").loc["x", "paired_half_width"] > 0.5


def test_sample_size_matches_the_textbook():
    # (1.95996 + 0.84162)^2 * 2 / 0.5^2 = 62.8 -> 63 per arm (e.g. Chow et al., two means)
    assert sample_size(1.0, 0.5) == 63
    # 90/10 split: the challenger arm needs (1 + 1/9) / 2 of the equal-arm figure
    assert sample_size(1.0, 0.5, ratio=9) == math.ceil(7.84887 * (1 + 1 / 9) / 0.25)
    # a cure rate of 75% vs a 2-point lift, two-sided 5%, power 90%
    p = 0.75
    n = sample_size(math.sqrt(p * (1 - p)), 0.02, power=0.9)
    assert n == math.ceil((1.959964 + 1.281552) ** 2 * 2 * p * (1 - p) / 0.02**2)
    assert sample_size(2.0, 1.0, sd_reference=0.0) == math.ceil(7.84887 * 4)
    with pytest.raises(ValueError):
        sample_size(1.0, 0.0)


def test_open_executor_refuses_workers_and_scheduler_together():
    from sim.errors import ConfigError

    with pytest.raises(ConfigError), open_executor(2, "tcp://127.0.0.1:1"):
        pass
    with open_executor(1) as ex:
        assert ex is None  # one worker runs in-process


def _say(text: str) -> str:
    print(text)  # no flush: a pipe's buffer holds it until the worker leaves
    return text


def _leave_with(code: int):
    raise SystemExit(code)


class _Bomb:
    """Unpickled in the worker's loop itself (not in a task): the loop dies with it."""

    def __reduce__(self):
        return _leave_with, (3,)


def test_pool_workers_skip_the_teardown_but_keep_their_output_and_exit_codes(capfd, monkeypatch):
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the workers' stdout is buffered
    with open_executor(2, tasks=2) as ex:
        assert ex.submit(_say, "worker says hello").result() == "worker says hello"
        procs = list(ex._processes.values())
    assert procs and all(isinstance(p, experiment._QuickExitProcess) and p.exitcode == 0
                         for p in procs)
    assert "worker says hello" in capfd.readouterr().out
    # a worker whose loop dies leaves the normal way: the pool breaks, the exit code shows
    with open_executor(2, tasks=2) as ex:
        fut = ex.submit(_say, _Bomb())
        procs = list(ex._processes.values())
        with pytest.raises(Exception, match="terminated abruptly"):
            fut.result()
    assert 3 in [p.exitcode for p in procs]


def _cli(args: list[str]):
    return CliRunner().invoke(app, args)


def test_cli_compare_reports_which_criterion_stopped_it():
    tiny = [a for ov in TINY for a in ("--set", ov)]
    r = _cli(["compare", "baseline", "--strategies", "no_action,risk_based", "--precision",
              "0.0001", "--precision-kpi", "cure_rate_30", "--max-replications", "3", *tiny])
    assert r.exit_code == 0, r.output
    text = re.sub(r"\s+", " ", r.output)
    assert "stopped after 3 replications: max replications reached" in text
    assert "cure_rate_30 <= 0.0001 points" in text


def test_cli_compare_refuses_an_unknown_precision_kpi():
    r = _cli(["compare", "baseline", "--strategies", "no_action", "--precision", "1",
              "--precision-kpi", "cure_rate30"])
    assert r.exit_code == 2
    assert "unknown KPI 'cure_rate30'" in r.output and "cure_rate_30" in r.output
