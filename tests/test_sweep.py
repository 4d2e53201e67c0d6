"""Sweeps: a killed sweep resumes without losing, repeating or recomputing runs; damaged
parts are redone; failures are recorded; bad sweep files are refused before any run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sim.sweep as sweep_mod
from sim.cli import app
from sim.config import load_scenario
from sim.errors import ConfigError
from sim.sweep import SWEEP_DIR, parse_sweep, plan_sweep, sweep

TINY = ("population.accounts=1000", "horizon.warmup_days=30", "horizon.window_days=45",
        "horizon.followup_days=30")
SETS = [a for ov in TINY for a in ("--set", ov)]
DAYS = 105

SWEEP_TOML = """\
name = "resume"
scenario = "baseline"
strategies = {strategies}
replications = 1
seed = 4
show = ["cure_rate_30", "net_recovery"]

[grid]
economy.shock_multiplier = [1.0, 1.5, 2.0, 2.5]
"""


def write_sweep(path: Path, strategies: str = '["no_action"]') -> Path:
    path.write_text(SWEEP_TOML.format(strategies=strategies), encoding="utf-8")
    return path


def cli(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args])


def fingerprint(out: Path) -> dict[str, tuple[int, int]]:
    """inode and mtime of every part and marker: a recomputed run would change them."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in (out / "runs").iterdir() if not p.name.startswith(".")}


def done_ids(out: Path) -> set[str]:
    return {p.name.split(".")[0] for p in (out / "runs").glob("*.done.json")}


def check_tables(out: Path) -> None:
    """Every planned run exactly once in both combined tables."""
    manifest = json.loads((out / "manifest.json").read_text())
    planned = {r["run_id"] for r in manifest["runs"]}
    kpis = pd.read_parquet(out / "kpis.parquet")
    daily = pd.read_parquet(out / "daily.parquet")
    assert set(kpis["run_id"]) == planned and set(daily["run_id"]) == planned
    assert not kpis.duplicated(["run_id", "kpi"]).any()
    assert (kpis.groupby("run_id").size() == kpis.groupby("run_id").size().iloc[0]).all()
    assert not daily.duplicated(["run_id", "day"]).any()
    assert (daily.groupby("run_id").size() == DAYS).all()
    assert manifest["status"] == "complete" and manifest["done"] == len(planned)


# --------------------------------------------------------------------------- kill and resume


@pytest.mark.slow  # two CLI start-ups and a process pool: 15-40 s on 2 shared cores
def test_sigkill_part_way_then_resume(tmp_path):
    file = write_sweep(tmp_path / "resume.toml", '["no_action", "risk_based"]')
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sim.cli", "sweep", str(file), "--out", str(out),
           "--workers", "2", *SETS]
    # a session of its own, so the pool workers orphaned by the kill can be cleaned up
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while (not (out / "runs").exists() or len(done_ids(out)) < 2) and proc.poll() is None:
            assert time.monotonic() < deadline, "the sweep never finished two runs"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    finished = done_ids(out)
    assert 2 <= len(finished) < 8, "the kill came too late to test a resume"
    before = {k: v for k, v in fingerprint(out).items() if k.split(".")[0] in finished}
    assert not (out / "kpis.parquet").exists()

    # in-process this time: the resume must not depend on how the first attempt ran
    cmd[cmd.index("--workers") + 1] = "1"
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(finished)} skipped (finished earlier)" in " ".join(again.stdout.split())
    after = fingerprint(out)
    assert {k: after[k] for k in before} == before  # the finished runs were not recomputed
    assert done_ids(out) == {r["run_id"] for r in json.loads(
        (out / "manifest.json").read_text())["runs"]}
    check_tables(out)


# --------------------------------------------------------------------------- damaged parts


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """A finished 4-run sweep made from a file; tests copy it before changing anything."""
    root = tmp_path_factory.mktemp("finished")
    file = write_sweep(root / "sweep.toml")
    out = root / "out"
    df = sweep(file, out=out, overrides=TINY, workers=1)
    return file, out, df


def copy_sweep(finished_sweep, tmp_path) -> tuple[Path, Path, pd.DataFrame]:
    file, out, df = finished_sweep
    shutil.copy2(file, tmp_path / file.name)
    shutil.copytree(out, tmp_path / "out")
    return tmp_path / file.name, tmp_path / "out", df


def test_damaged_or_half_written_parts_are_detected_and_redone(finished_sweep, tmp_path):
    file, out, df = copy_sweep(finished_sweep, tmp_path)
    ids = sorted(done_ids(out))
    assert len(ids) == 4
    bad, gone = ids[0], ids[1]
    daily = out / "runs" / f"{bad}.daily.parquet"
    daily.write_bytes(daily.read_bytes()[: daily.stat().st_size // 2])  # truncated
    (out / "runs" / f"{gone}.done.json").unlink()  # killed before its marker was written
    (out / "runs" / f".{gone}.kpis.parquet.x.tmp").write_bytes(b"half")  # a stray temp file
    before = fingerprint(out)

    df2 = sweep(file, out=out, overrides=TINY, workers=1)
    assert df2.attrs["skipped"] == 2 and df2.attrs["ran"] == 2
    after = fingerprint(out)
    for name, stamp in before.items():
        if name.split(".")[0] in (bad, gone):
            continue
        assert after[name] == stamp, name
    assert after[f"{bad}.daily.parquet"] != before[f"{bad}.daily.parquet"]
    assert not list((out / "runs").glob(".*.tmp"))
    pd.testing.assert_frame_equal(df, df2, check_exact=True)  # redone runs are identical
    check_tables(out)


def test_a_run_that_raises_is_recorded_and_the_sweep_goes_on(finished_sweep, tmp_path,
                                                             monkeypatch):
    file, _, _ = copy_sweep(finished_sweep, tmp_path)
    out = tmp_path / "fresh"
    real = sweep_mod.run_one

    def flaky(spec):
        if spec.scenario.economy.shock_multiplier == 2.0:
            raise RuntimeError("collector queue exploded")
        return real(spec)

    monkeypatch.setattr(sweep_mod, "run_one", flaky)
    r = cli("sweep", file, "--out", out, "--workers", "1", *SETS)
    assert r.exit_code == 1, r.output
    failures = list((out / "runs").glob("*.failed.json"))
    assert len(failures) == 1
    assert "collector queue exploded" in json.loads(failures[0].read_text())["error"]
    assert len(done_ids(out)) == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete: 1 failed"
    assert pd.read_parquet(out / "kpis.parquet")["run_id"].nunique() == 3
    runs = pd.read_parquet(out / "runs.parquet")
    assert sorted(runs["status"]) == ["done", "done", "done", "failed"]

    monkeypatch.setattr(sweep_mod, "run_one", real)  # the cause is fixed: the rerun retries
    r = cli("sweep", file, "--out", out, "--workers", "1", *SETS)
    assert r.exit_code == 0, r.output
    assert not list((out / "runs").glob("*.failed.json"))
    check_tables(out)


# --------------------------------------------------------------------------- refused up front


def test_a_changed_sweep_file_or_set_on_an_existing_directory_is_refused(finished_sweep,
                                                                         tmp_path):
    file, out, _ = copy_sweep(finished_sweep, tmp_path)
    stamp = fingerprint(out)
    r = cli("sweep", file, "--out", out, *SETS[:-2])  # one --set fewer
    assert r.exit_code == 2 and "--set" in r.output and "never mixed" in r.output
    file.write_text(file.read_text().replace("seed = 4", "seed = 5"))
    r = cli("sweep", file, "--out", out, *SETS)
    assert r.exit_code == 2
    assert "different sweep file" in r.output and "never mixed" in r.output
    assert fingerprint(out) == stamp


BAD = {
    "typo in a path": ("[grid]\ncollectors.early.headcount = [4, 8]\n",
                       "nearest valid paths: collectors.teams.early.shifts"),
    "value out of range": ("[grid]\neconomy.shock_multiplier = [1.0, -2.0]\n",
                           "value -2.0 is refused"),
    "wrong type": ("[grid]\npopulation.accounts = [1000, \"many\"]\n",
                   'value "many" is refused'),
    "empty grid": ("[grid]\n", "the grid is empty"),
    "no grid": ("", "the grid is empty"),
    "empty list": ("[grid]\neconomy.shock_multiplier = []\n", "empty list"),
    "not a list": ("[grid]\neconomy.shock_multiplier = 1.5\n", "give a list of values"),
    "shift index": ("[grid]\n\"collectors.teams.early.shifts.7.headcount\" = [1]\n",
                    "has 2 entries"),
    "illegal point": ("[grid]\ncollectors.teams.early.shifts.0.start_hour = [6.0, 9.0]\n",
                      "outside the legal contact window"),
    "unknown key": ("replicatons = 3\n[grid]\neconomy.shock_multiplier = [1.0]\n",
                    "did you mean replications"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_sweep_files_are_refused_before_any_run(tmp_path, case):
    body, expected = BAD[case]
    file = tmp_path / "bad.toml"
    file.write_text('scenario = "baseline"\nstrategies = ["no_action"]\n' + body)
    out = tmp_path / "out"
    r = cli("sweep", file, "--out", out)
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit)  # a message, not a crash
    text = " ".join(r.output.split())
    assert f"{file}: " in text and expected in text, text
    assert not out.exists()  # nothing started


def test_bad_sweep_from_a_real_shell_has_no_traceback(tmp_path):
    file = tmp_path / "typo.toml"
    file.write_text('scenario = "baseline"\nstrategies = ["no_action"]\n'
                    "[grid]\neconomy.shock_multiplyer = [1.0, 2.0]\n")
    r = subprocess.run([sys.executable, "-m", "sim.cli", "sweep", str(file), "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "grid.economy.shock_multiplyer: no such parameter" in " ".join(r.stderr.split())
    assert "economy.shock_multiplier" in r.stderr


def test_unwritable_or_foreign_output_directories_are_refused(tmp_path):
    file = write_sweep(tmp_path / "s.toml")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    r = cli("sweep", file, "--out", blocker / "out", *SETS)
    assert r.exit_code == 2 and "cannot write results here" in r.output
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    r = cli("sweep", file, "--out", foreign, *SETS)
    assert r.exit_code == 2 and "holds no sweep manifest" in " ".join(r.output.split())


def test_more_than_ten_thousand_runs_need_yes(tmp_path):
    file = tmp_path / "big.toml"
    file.write_text('scenario = "baseline"\nstrategies = ["no_action"]\n'
                    "replications = 10001\n[grid]\neconomy.shock_multiplier = [1.0]\n")
    r = cli("sweep", file, "--out", tmp_path / "out")
    assert r.exit_code == 2 and "needs --yes" in r.output
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- planning


def test_grid_paths_index_lists_of_shifts():
    sf = parse_sweep({"scenario": "baseline", "strategies": ["no_action"],
                      "grid": {"collectors.teams.early.shifts.1.headcount": [1, 2],
                               "collectors.teams.mid.shifts.0.headcount": [3]}})
    plan = plan_sweep(sf, ["population.accounts=500"])
    got = [(r.spec.scenario.collectors.teams["early"].shifts[1].headcount,
            r.spec.scenario.collectors.teams["mid"].shifts[0].headcount,
            r.spec.scenario.collectors.teams["early"].shifts[0].headcount) for r in plan.runs]
    assert got == [(1, 3, 6), (2, 3, 6)]  # the other shift keeps the scenario's value
    assert len({r.run_id for r in plan.runs}) == 2
    # run ids are stable: the same plan again gives the same ids
    assert [r.run_id for r in plan_sweep(sf, ["population.accounts=500"]).runs] == \
        [r.run_id for r in plan.runs]


def test_a_grid_path_also_fixed_by_set_is_refused():
    sf = parse_sweep({"scenario": "baseline", "strategies": ["no_action"],
                      "grid": {"population.accounts": [500, 1000]}})
    with pytest.raises(ConfigError, match="also fixed by --set"):
        plan_sweep(sf, ["population.accounts=2000"])


@pytest.mark.parametrize("name", ["capacity", "recession_stress", "channel_costs"])
def test_bundled_sweeps_plan_cleanly(name):
    sf = parse_sweep(name)
    assert Path(sf.source) == SWEEP_DIR / f"{name}.toml"
    plan = plan_sweep(sf, ["population.accounts=20000"])
    assert len(plan.runs) == sf.n_runs <= 60
    assert plan.base.population.accounts == 20000
    assert plan.base == load_scenario("baseline", ["population.accounts=20000"])
