"""Crash safety of sweeps: a sweep killed with SIGKILL at random moments resumes to the
same tables, bit for bit, as a sweep that was never interrupted; a full disk or an
unwritable directory is refused before any run; damaged parts are redone, never read.

(tests/test_sweep.py covers one kill and a truncated part; this file kills at random
points, over several trials, and compares whole tables with an uninterrupted reference.)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import sim.sweep as sweep_mod
from sim.cli import app
from sim.runstore import SweepStore
from sim.sweep import WALL_CLOCK_KPIS, sweep

KILL_TRIALS = 3
TINY = ("population.accounts=200", "horizon.warmup_days=15", "horizon.window_days=30",
        "horizon.followup_days=5")
SETS = [a for ov in TINY for a in ("--set", ov)]
SWEEP = """\
name = "crash"
scenario = "baseline"
strategies = ["no_action", "seed_playbook"]
replications = 1
seed = 9

[grid]
economy.shock_multiplier = [1.0, 2.0]
"""
N_RUNS = 4
WALL_CLOCK_COLUMNS = {"run_seconds"}  # runs.parquet; kpis.parquet leaves them out


def cli(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args])


def command(file: Path, out: Path, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "sim.cli", "sweep", str(file), "--out", str(out),
            "--workers", str(workers), *SETS]


def table(out: Path, name: str):
    t = pq.read_table(out / f"{name}.parquet")
    return t.drop_columns([c for c in t.column_names if c in WALL_CLOCK_COLUMNS])


def assert_complete(out: Path) -> None:
    """Every planned run exactly once in every combined table; the manifest agrees."""
    manifest = json.loads((out / "manifest.json").read_text())
    planned = [r["run_id"] for r in manifest["runs"]]
    assert len(planned) == len(set(planned)) == N_RUNS
    kpis = table(out, "kpis").to_pandas()
    assert set(kpis["run_id"]) == set(planned)
    assert not kpis.duplicated(["run_id", "kpi"]).any()
    assert not set(kpis["kpi"]) & WALL_CLOCK_KPIS
    daily = table(out, "daily").to_pandas()
    assert set(daily["run_id"]) == set(planned) and not daily.duplicated(["run_id", "day"]).any()
    runs = table(out, "runs").to_pandas()
    assert sorted(runs["run_id"]) == sorted(planned) and (runs["status"] == "done").all()
    assert manifest["status"] == "complete" and manifest["done"] == N_RUNS
    assert not list(out.glob(".*.tmp")) and not list((out / "runs").glob(".*.tmp"))
    assert not list((out / "runs").glob("*.failed.json"))


Reference = namedtuple("Reference", "file out seconds")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Reference:
    """The same sweep, never interrupted, through the same command (one worker: results
    do not depend on the number of workers, and the trials below use one or two)."""
    root = tmp_path_factory.mktemp("reference")
    file = root / "crash.toml"
    file.write_text(SWEEP, encoding="utf-8")
    out = root / "out"
    t0 = time.monotonic()
    p = subprocess.run(command(file, out, 1), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert_complete(out)
    return Reference(file, out, time.monotonic() - t0)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its pool workers
    except ProcessLookupError:
        pass
    proc.wait()


def done_count(out: Path) -> int:
    runs = out / "runs"
    return len(list(runs.glob("*.done.json"))) if runs.is_dir() else 0


def start_and_kill(file: Path, out: Path, workers: int, rng: random.Random,
                   reference_seconds: float, phase: str) -> int:
    """Start the sweep and SIGKILL it (and its pool) at a random point of ``phase``:
    "between" (after 1..N-1 runs are done, plus a random slice of a run's time) or
    "anywhere" (a random moment between start and the uninterrupted sweep's end).
    Returns how many runs were done at the kill (-1: it finished before the kill)."""
    proc = subprocess.Popen(command(file, out, workers), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        if phase == "between":
            target = rng.randint(1, N_RUNS - 1)
            deadline = time.monotonic() + 300
            while done_count(out) < target and proc.poll() is None:
                assert time.monotonic() < deadline, "the sweep never got going"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, reference_seconds / (2 * N_RUNS)))
        else:
            try:
                proc.wait(timeout=rng.uniform(0.05, reference_seconds))
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is not None:
            return -1
        done = done_count(out)
    finally:
        kill_group(proc)
    return done


# (workers, phase of the first kill, kill the resume as well?) per trial
TRIALS = [(2, "between", False), (1, "between", True), (1, "anywhere", False)]
assert len(TRIALS) == KILL_TRIALS


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_gives_the_same_tables(reference, tmp_path):
    rng = random.Random(20260101)  # fixed, so that a failure can be replayed
    file = tmp_path / "crash.toml"
    shutil.copy2(reference.file, file)
    kills_between = 0
    for trial, (workers, phase, again) in enumerate(TRIALS):
        out = tmp_path / f"out{trial}"
        done = start_and_kill(file, out, workers, rng, reference.seconds, phase)
        kills_between += 0 < done < N_RUNS
        if again and done != -1:  # killed while resuming, at any point
            start_and_kill(file, out, workers, rng, reference.seconds, "anywhere")
        p = subprocess.run(command(file, out, workers), capture_output=True, text=True,
                           timeout=600)
        assert p.returncode == 0, (trial, p.stderr)
        assert_complete(out)
        for name in ("kpis", "daily", "runs"):
            assert table(out, name).equals(table(reference.out, name)), (trial, name)
    assert kills_between >= 2, "the kills never landed between two finished runs"


def test_leftovers_of_a_kill_before_the_manifest_do_not_block_the_next_start(tmp_path):
    """Killed between creating the directory and writing the manifest: a write probe or
    a half-written manifest temp file is ours, not a stranger's files."""
    file = tmp_path / "s.toml"
    file.write_text(SWEEP.replace("[1.0, 2.0, 3.0]", "[1.0]").replace(
        '["no_action", "seed_playbook"]', '["no_action"]'), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".write-probe.abc123").write_bytes(b"")
    (out / ".manifest.json.xyz.tmp").write_bytes(b'{"kind": "collectsim-sw')
    r = cli("sweep", file, "--out", out, "--workers", "1", *SETS)
    assert r.exit_code == 0, r.output
    assert not list(out.glob(".*"))


def test_damaged_parts_and_markers_are_redone_not_read(reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference.out, out)
    runs = out / "runs"
    ids = sorted(p.name.split(".")[0] for p in runs.glob("*.done.json"))
    assert len(ids) == N_RUNS
    a, b, c, d = ids
    # a: one byte flipped in the KPI part, same size (only the checksum can tell)
    part = runs / f"{a}.kpis.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    # b: the marker itself is cut short by the kill
    marker = runs / f"{b}.done.json"
    marker.write_bytes(marker.read_bytes()[:10])
    # c: the daily part is another run's (a valid parquet file, the wrong content)
    shutil.copy2(runs / f"{d}.daily.parquet", runs / f"{c}.daily.parquet")
    # d: the marker says nothing about its files (and d's daily part was copied above:
    # it is intact, but its marker no longer vouches for it)
    (runs / f"{d}.done.json").write_text('{"run_id": "x"}')
    for name in ("kpis", "daily", "runs"):
        (out / f"{name}.parquet").unlink()

    calls = []
    real = sweep_mod.run_one

    def counting(spec):
        calls.append(spec)
        return real(spec)

    mp = pytest.MonkeyPatch()
    mp.setattr(sweep_mod, "run_one", counting)
    try:
        df = sweep(reference.file, out=out, overrides=TINY, workers=1)
    finally:
        mp.undo()
    assert len(calls) == 4 and df.attrs["ran"] == 4 and df.attrs["skipped"] == 0
    assert_complete(out)
    for name in ("kpis", "daily", "runs"):
        assert table(out, name).equals(table(reference.out, name)), name


def test_a_full_disk_is_refused_before_any_run(reference, tmp_path, monkeypatch):
    out = tmp_path / "out"
    ran = []
    monkeypatch.setattr(sweep_mod, "run_one", lambda spec: ran.append(spec))
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**12, 10**12 - 10**6, 10**6))
    r = cli("sweep", reference.file, "--out", out, *SETS)
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert f"{out}: not enough free disk" in text and "MiB are free" in text, text
    assert not ran
    assert not (out / "manifest.json").exists() and not (out / "runs").exists()


@pytest.mark.parametrize("where", ["under a file", "under /dev/null", "read-only directory"])
def test_an_unwritable_output_directory_is_refused_before_any_run(reference, tmp_path,
                                                                  monkeypatch, where):
    ran = []
    monkeypatch.setattr(sweep_mod, "run_one", lambda spec: ran.append(spec))
    if where == "under a file":
        (tmp_path / "plain").write_text("a file")
        out = tmp_path / "plain" / "out"
    elif where == "under /dev/null":
        out = Path("/dev/null/out")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        out = ro / "out"
        if os.geteuid() == 0:
            # root ignores permission bits: make the refusal happen as it would for a user
            real_mkdir = Path.mkdir

            def mkdir(self, *a, **k):
                if self == out or ro in self.parents:
                    raise PermissionError(13, "Permission denied", str(self))
                return real_mkdir(self, *a, **k)

            monkeypatch.setattr(Path, "mkdir", mkdir)
    try:
        r = cli("sweep", reference.file, "--out", out, *SETS)
    finally:
        if where == "read-only directory":
            ro.chmod(0o755)
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit)
    assert "cannot write results here" in " ".join(r.output.split()), r.output
    assert not ran


def test_a_disk_that_fills_up_mid_sweep_stops_cleanly_and_resumes(reference, tmp_path,
                                                                  monkeypatch):
    """ENOSPC while writing the third run: a clear message, the finished runs are kept,
    nothing half-written is left, and the next start completes the sweep."""
    out = tmp_path / "out"
    real = SweepStore.write_run
    written = []

    def filling(self, run_id, tables, info):
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(run_id)
        return real(self, run_id, tables, info)

    monkeypatch.setattr(SweepStore, "write_run", filling)
    r = cli("sweep", reference.file, "--out", out, "--workers", "1", *SETS)
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit)
    text = " ".join(r.output.split())
    assert "No space left on device" in text and "run the same command again" in text, text
    assert {p.name.split(".")[0] for p in (out / "runs").glob("*.done.json")} == set(written)
    assert not list((out / "runs").glob(".*.tmp"))

    monkeypatch.setattr(SweepStore, "write_run", real)
    r = cli("sweep", reference.file, "--out", out, "--workers", "1", *SETS)
    assert r.exit_code == 0, r.output
    assert_complete(out)
    for name in ("kpis", "daily", "runs"):
        assert table(out, name).equals(table(reference.out, name)), name
