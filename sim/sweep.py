"""Sweeps: a grid of scenario parameters x strategies x replications.

A sweep file (TOML) looks like this::

    name = "capacity"
    scenario = "baseline"                     # bundled name, or a path relative to this file
    strategies = ["seed_playbook", "call_heavy"]
    replications = 3
    seed = 0
    show = ["cure_rate_30", "net_recovery"]   # optional: KPIs the CLI prints at the end

    [grid]                                    # dotted paths into the scenario -> values
    "collectors.teams.early.shifts.0.headcount" = [4, 6, 8]
    economy.shock_multiplier = [1.0, 1.5]

Everything is checked before the first run starts: keys, types, every grid path
(a typo lists the nearest valid paths), every value, every grid point as a whole
scenario, and every strategy against every point. A bad sweep raises ConfigError.

Replication r of every strategy at every grid point uses the same seed child r (common
random numbers across strategies *and* grid points), and each run depends on nothing but
its RunSpec, so results are bit-identical on any executor and any number of workers.
Each run has a stable id, a hash of (scenario digest after the grid point's overrides,
strategy digest, replication, root seed): the key that lets a killed sweep resume.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
import platform
import re
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from . import __version__
from .config import (
    SCENARIO_DIR,
    Scenario,
    Strategy,
    _read_toml,
    apply_overrides,
    check_pair,
    load_scenario,
    load_strategy,
    parse_value,
    set_path,
    valid_paths,
)
from .errors import ConfigError
from .experiment import RunSpec, execute, open_executor
from .results import KPI_KEYS, KPI_UNITS, clean
from .runstore import KIND, SweepStore, combine_tables, now

SWEEP_DIR = SCENARIO_DIR / "sweeps"
KEYS = ("name", "description", "scenario", "strategies", "replications", "seed", "grid", "show")
# Wall-clock figures differ from machine to machine; they go to runs.parquet, not to the
# KPI table, which must be identical whatever ran it.
WALL_CLOCK_KPIS = frozenset({"run_seconds"})
DEFAULT_SHOW = ("cure_rate_30", "roll_m1_m2", "net_recovery", "collection_cost",
                "collector_utilisation", "complaints_per_1k")
TAGS = (("run_id", pa.string()), ("strategy", pa.string()), ("replication", pa.int64()),
        ("seed", pa.int64()))


@dataclass(frozen=True)
class SweepFile:
    """A sweep document, checked field by field but not yet expanded into runs."""

    source: str
    name: str
    description: str
    scenario: str  # as written
    scenario_path: Path
    strategies: tuple[str, ...]  # as written
    strategy_paths: tuple[str, ...]
    replications: int
    seed: int
    grid: dict[str, list[Any]]  # the well-formed entries
    show: tuple[str, ...]
    digest: str  # of the file's bytes (or of the dict's canonical JSON)
    # Malformed grid entries (empty list, not a list, ...): reported by plan_sweep together
    # with bad paths and values, so one attempt shows every problem of the grid.
    grid_problems: tuple[tuple[str, str], ...] = ()

    @property
    def n_points(self) -> int:
        return math.prod(len(v) for v in self.grid.values())

    @property
    def n_runs(self) -> int:
        return self.n_points * len(self.strategies) * self.replications


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    spec: RunSpec
    point: dict[str, Any]  # grid path -> value at this run's grid point


@dataclass(frozen=True)
class SweepStatus:
    """What a progress callback is told after the start and after every run."""

    total: int
    skipped: int  # finished in an earlier invocation, not run again
    done: int  # finished, including the skipped ones
    failed: int


def resolve_sweep_path(name_or_path: str | Path) -> Path:
    """A path as given, or a bundled sweep by name (``capacity``)."""
    p = Path(name_or_path)
    if p.exists() or p.suffix == ".toml" or "/" in str(name_or_path):
        return p
    return SWEEP_DIR / f"{name_or_path}.toml"


def _is_path(ref: str) -> bool:
    return ref.endswith(".toml") or "/" in ref


def parse_sweep(path_or_dict: str | Path | dict[str, Any]) -> SweepFile:
    """Read and check a sweep document; relative paths are relative to its file."""
    if isinstance(path_or_dict, dict):
        raw, source, base_dir = path_or_dict, "sweep", Path.cwd()
        digest = _hash(json.dumps(raw, sort_keys=True, default=str).encode())
    else:
        path = resolve_sweep_path(path_or_dict)
        raw, source, base_dir = _read_toml(path), str(path), path.resolve().parent
        digest = _hash(path.read_bytes())
    problems: list[tuple[str, str]] = []
    for key in raw:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append((key, f"unknown key; allowed: {', '.join(KEYS)}{hint}"))

    scenario = raw.get("scenario")
    if not isinstance(scenario, str) or not scenario:
        problems.append(("scenario", "required: a bundled scenario name (baseline) or a path "
                                     "relative to the sweep file"))
        scenario = ""
    strategies = raw.get("strategies")
    if (not isinstance(strategies, list) or not strategies
            or not all(isinstance(s, str) and s for s in strategies)):
        problems.append(("strategies", "required: a non-empty list of strategy names or files, "
                                       "e.g. [\"no_action\", \"seed_playbook\"]"))
        strategies = []
    elif len(set(strategies)) != len(strategies):
        problems.append(("strategies", f"lists a strategy twice: {strategies}"))
    replications = raw.get("replications", 1)
    if not _is_int(replications) or not 1 <= replications <= 100_000:
        problems.append(("replications", f"must be a whole number from 1 to 100000 "
                                         f"(got {replications!r})"))
        replications = 1
    seed = raw.get("seed", 0)
    if not _is_int(seed) or seed < 0:
        problems.append(("seed", f"must be a whole number >= 0 (got {seed!r})"))
        seed = 0
    for key in ("name", "description"):
        if key in raw and not isinstance(raw[key], str):
            problems.append((key, "must be a string"))
    show = raw.get("show", list(DEFAULT_SHOW))
    known_kpis = set(KPI_KEYS) | set(KPI_UNITS)
    if not isinstance(show, list) or not all(isinstance(k, str) for k in show):
        problems.append(("show", "must be a list of KPI names"))
        show = list(DEFAULT_SHOW)
    for k in show:
        if k not in known_kpis:
            close = difflib.get_close_matches(k, sorted(known_kpis), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            problems.append(("show", f"unknown KPI {k!r}{hint}"))

    grid: dict[str, list[Any]] = {}
    grid_problems: list[tuple[str, str]] = []
    raw_grid = raw.get("grid")
    if raw_grid is None or raw_grid == {}:
        problems.append(("grid", "the grid is empty: name at least one parameter and its "
                                 "values, e.g. [grid] economy.shock_multiplier = [1.0, 1.5]"))
    elif not isinstance(raw_grid, dict):
        problems.append(("grid", "must be a table of dotted.path = [values]"))
    else:
        _flatten_grid("", raw_grid, grid, grid_problems)
        paths = sorted(grid)
        for a, b in itertools.pairwise(paths):
            if b.startswith(a + "."):
                grid_problems.append((f"grid.{b}", f"overlaps grid.{a}; sweep one or the other"))
    if problems:
        raise ConfigError(source, problems + grid_problems)

    def resolve(ref: str) -> str:
        return str(base_dir / ref) if _is_path(ref) and not Path(ref).is_absolute() else ref

    return SweepFile(
        source=source, name=raw.get("name") or Path(source).stem, digest=digest,
        description=raw.get("description", ""), scenario=scenario,
        scenario_path=Path(resolve(scenario)) if _is_path(scenario) else Path(scenario),
        strategies=tuple(strategies), strategy_paths=tuple(resolve(s) for s in strategies),
        replications=int(replications), seed=int(seed), grid=grid, show=tuple(show),
        grid_problems=tuple(grid_problems))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _flatten_grid(prefix: str, node: dict[str, Any], out: dict[str, list[Any]],
                  problems: list[tuple[str, str]]) -> None:
    # TOML gives `a.b = [..]` as nested tables and `"a.b" = [..]` as one key; both mean
    # the same dotted path.
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            if not value:
                problems.append((f"grid.{path}", "empty table; give dotted.path = [values]"))
            _flatten_grid(path, value, out, problems)
        elif not isinstance(value, list):
            problems.append((f"grid.{path}", f"give a list of values, e.g. {path} = "
                                             f"[{json.dumps(value, default=str)}]"))
        elif not value:
            problems.append((f"grid.{path}", "empty list; give at least one value"))
        else:
            seen = [json.dumps(v, sort_keys=True, default=str) for v in value]
            dups = sorted({s for s in seen if seen.count(s) > 1})
            if dups:
                problems.append((f"grid.{path}", f"lists {', '.join(dups)} more than once"))
            out[path] = value


def normalise_overrides(overrides: Sequence[str]) -> list[str]:
    """``path=value`` with the value in canonical form, so spacing does not matter."""
    out = []
    for ov in overrides:
        if "=" not in ov:
            raise ConfigError("--set", [(ov, "expected dotted.path=value, e.g. "
                                             "population.accounts=5000")])
        path, text = ov.split("=", 1)
        out.append(f"{path.strip()}={json.dumps(parse_value(text.strip()), default=str)}")
    return out


# --------------------------------------------------------------------------- the plan


@dataclass
class SweepPlan:
    """A checked sweep expanded into runs, in a fixed order (grid point, replication,
    strategy)."""

    file: SweepFile
    overrides: list[str]
    base: Scenario
    strategies: list[Strategy]
    runs: list[PlannedRun]
    grid_types: dict[str, pa.DataType]

    @property
    def digest(self) -> str:
        return _hash("\n".join(r.run_id for r in self.runs).encode())

    def manifest(self) -> dict[str, Any]:
        f = self.file
        return {
            "kind": KIND, "format": 1, "name": f.name, "description": f.description,
            "sweep_file": str(Path(f.source).resolve()) if f.source != "sweep" else None,
            "sweep_digest": f.digest, "overrides": self.overrides, "plan_digest": self.digest,
            "scenario": {"name": self.base.name, "source": f.scenario,
                         "digest": self.base.digest(), "accounts": self.base.population.accounts,
                         "days": self.base.horizon.days},
            "strategies": {s.name: s.digest() for s in self.strategies},
            "grid": f.grid, "replications": f.replications, "seed": f.seed,
            "seeds": {"root": f.seed, "replications": list(range(f.replications)),
                      "scheme": "replication r runs on numpy SeedSequence(root, spawn_key=(r,)),"
                                " the same for every strategy and grid point"},
            "runs_planned": len(self.runs),
            "runs": [{"run_id": r.run_id, "strategy": r.spec.strategy.name,
                      "replication": r.spec.replication, "seed": r.spec.seed,
                      "scenario_digest": r.spec.scenario.digest(), "grid": r.point}
                     for r in self.runs],
            "version": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "pandas": pd.__version__, "pyarrow": pa.__version__,
        }

    # ------------------------------------------------------------------ tables of one run

    def _tag_columns(self, run: PlannedRun, n: int) -> list[tuple[str, pa.Array]]:
        values = [run.run_id, run.spec.strategy.name, run.spec.replication, run.spec.seed]
        cols = [(name, pa.array([v] * n, type=t)) for (name, t), v in zip(TAGS, values,
                                                                           strict=True)]
        for path, t in self.grid_types.items():
            cols.append((path, pa.array([grid_cell(run.point[path], t)] * n, type=t)))
        return cols

    def tables(self, run: PlannedRun, kpis: dict[str, float | None],
               daily: pd.DataFrame) -> dict[str, pa.Table]:
        """The run's tidy KPI rows and its daily series, each tagged with run and grid."""
        items = [(k, clean(v)) for k, v in kpis.items() if k not in WALL_CLOCK_KPIS]
        cols = self._tag_columns(run, len(items))
        cols += [("kpi", pa.array([k for k, _ in items], type=pa.string())),
                 ("value", pa.array([v for _, v in items], type=pa.float64()))]
        kt = pa.table(dict(cols))
        dt = pa.Table.from_pandas(daily, preserve_index=False)
        for i, (name, arr) in enumerate(self._tag_columns(run, len(dt))):
            dt = dt.add_column(i, name, arr)
        return {"kpis": kt, "daily": dt}

    def runs_table(self, status: dict[str, str], seconds: dict[str, float],
                   errors: dict[str, str]) -> pa.Table:
        """One row per planned run: how it went (done, failed, pending)."""
        ids = [r.run_id for r in self.runs]
        cols: dict[str, pa.Array] = {
            "run_id": pa.array(ids, pa.string()),
            "strategy": pa.array([r.spec.strategy.name for r in self.runs], pa.string()),
            "replication": pa.array([r.spec.replication for r in self.runs], pa.int64()),
            "seed": pa.array([r.spec.seed for r in self.runs], pa.int64())}
        for path, t in self.grid_types.items():
            cols[path] = pa.array([grid_cell(r.point[path], t) for r in self.runs], type=t)
        cols["scenario_digest"] = pa.array([r.spec.scenario.digest() for r in self.runs])
        cols["status"] = pa.array([status.get(i, "pending") for i in ids], pa.string())
        cols["run_seconds"] = pa.array([seconds.get(i) for i in ids], pa.float64())
        cols["error"] = pa.array([errors.get(i) for i in ids], pa.string())
        return pa.table(cols)


def grid_type(values: Sequence[Any]) -> pa.DataType:
    """One column type per grid path, the same in every part file."""
    if all(isinstance(v, bool) for v in values):
        return pa.bool_()
    if all(_is_int(v) for v in values):
        return pa.int64()
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return pa.float64()
    return pa.string()


def grid_cell(value: Any, t: pa.DataType) -> Any:
    if t == pa.string() and not isinstance(value, str):
        return json.dumps(value, sort_keys=True, default=str)  # lists, tables, dates
    if t == pa.float64():
        return float(value)
    return value


def _reasons(e: ConfigError) -> str:
    # A whole-scenario check quotes the whole scenario as its input; that is noise here.
    return "; ".join(re.sub(r" \(got \{.*$", "", f"{loc}: {m}" if loc else m)
                     for loc, m in e.problems)


def run_id_of(scenario_digest: str, strategy_digest: str, replication: int, seed: int) -> str:
    blob = json.dumps([scenario_digest, strategy_digest, replication, seed])
    return _hash(blob.encode())


def plan_sweep(sweep_file: SweepFile, overrides: Sequence[str] = ()) -> SweepPlan:
    """Expand a sweep into runs, checking every path, value and point before any runs."""
    f = sweep_file
    overrides = normalise_overrides(overrides)
    base = load_scenario(f.scenario_path, overrides)
    strategies = [load_strategy(p) for p in f.strategy_paths]
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise ConfigError(f.source, [("strategies", f"two strategies share a name: {names}")])

    known = valid_paths(base)
    dump = base.model_dump(mode="json")
    fixed = {ov.split("=", 1)[0] for ov in overrides}
    problems: list[tuple[str, str]] = list(f.grid_problems)
    for path, values in f.grid.items():
        field = f"grid.{path}"
        if path in fixed:
            problems.append((field, "is also fixed by --set; drop one of the two"))
            continue
        try:  # the path alone first: a typo gets the nearest valid paths, not a value error
            set_path(copy.deepcopy(dump), path, None, known, f.source)
        except ConfigError as e:
            problems.append((field, "; ".join(m for _, m in e.problems)
                             + f" (scenario {base.name!r})"))
        else:
            for v in values:
                try:
                    apply_overrides(base, [(path, v)], f.source)
                except ConfigError as e:
                    problems.append((field, f"value {json.dumps(v, default=str)} is refused: "
                                            + _reasons(e)))
    if problems:
        raise ConfigError(f.source, problems)

    paths = list(f.grid)
    points: list[tuple[dict[str, Any], Scenario]] = []
    seen: dict[str, dict[str, Any]] = {}
    for combo in itertools.product(*(f.grid[p] for p in paths)):
        point = dict(zip(paths, combo, strict=True))
        try:
            sc = apply_overrides(base, list(point.items()), f.source)
            for st in strategies:
                check_pair(sc, st, source=f"strategy {st.name}")
        except ConfigError as e:
            problems.append((f"grid point {json.dumps(point, default=str)}", _reasons(e)))
            if len(problems) >= 10:
                break
            continue
        d = sc.digest()
        if d in seen:
            problems.append((f"grid point {json.dumps(point, default=str)}",
                             f"gives the same scenario as {json.dumps(seen[d], default=str)}"))
        seen[d] = point
        points.append((point, sc))
    if problems:
        raise ConfigError(f.source, problems)

    runs = []
    digests = {s.name: s.digest() for s in strategies}
    for point, sc in points:
        sd = sc.digest()
        for r in range(f.replications):
            for st in strategies:
                spec = RunSpec(sc, st, f.seed, r)
                runs.append(PlannedRun(run_id_of(sd, digests[st.name], r, f.seed), spec, point))
    return SweepPlan(file=f, overrides=overrides, base=base, strategies=strategies, runs=runs,
                     grid_types={p: grid_type(f.grid[p]) for p in paths})


# --------------------------------------------------------------------------- running

RunOutput = tuple[dict[str, float | None], pd.DataFrame, float]


def run_one(spec: RunSpec) -> RunOutput:
    """What a worker sends back: KPIs, the daily series and wall seconds (nothing bigger)."""
    res = execute(spec)
    return res.kpis, res.daily, float(res.meta.get("wall_seconds") or 0.0)


def run_sweep(plan: SweepPlan, out: str | Path | None = None, executor: Executor | None = None,
              workers: int | None = None, scheduler: str | None = None,
              progress: Callable[[SweepStatus], None] | None = None) -> pd.DataFrame:
    """Run a planned sweep; return the tidy KPI table of every finished run.

    With ``out``, finished runs are stored as they come in and runs finished by an
    earlier invocation are skipped. ``executor`` wins over ``workers``/``scheduler``;
    with none of them, runs go to a local process pool with one worker per core. A run
    that raises is recorded as failed and the sweep goes on; the returned frame's
    ``attrs["failed"]`` maps run ids to the last line of their errors.
    """
    t0 = time.perf_counter()
    store = SweepStore(out) if out is not None else None
    manifest = plan.manifest()
    done_before: set[str] = set()
    seconds: dict[str, float] = {}
    old: dict[str, Any] | None = None
    if store is not None:
        old = store.open(manifest)
        for r in plan.runs:
            info = store.finished(r.run_id)
            if info is not None:
                done_before.add(r.run_id)
                seconds[r.run_id] = info.get("run_seconds")
        pending = [r for r in plan.runs if r.run_id not in done_before]
        store.check_disk(len(pending), plan.base.horizon.days)
    else:
        pending = list(plan.runs)

    memory: dict[str, dict[str, pa.Table]] = {}
    errors: dict[str, str] = {}
    done_now: set[str] = set()

    def report() -> None:
        if progress is not None:
            progress(SweepStatus(total=len(plan.runs), skipped=len(done_before),
                                 done=len(done_before) + len(done_now), failed=len(errors)))

    def info_of(run: PlannedRun) -> dict[str, Any]:
        return {"strategy": run.spec.strategy.name, "replication": run.spec.replication,
                "seed": run.spec.seed, "grid": run.point}

    def disk_error(e: OSError) -> ConfigError:
        # A disk that fills up (or a directory that goes away) mid-sweep: what was written
        # is complete and vouched for by its marker, so a message and a resume will do.
        kept = len(done_before) + len(done_now)
        return ConfigError(str(out), [("", f"cannot write the results: {e.strerror or e}; "
                                           f"the {kept} runs finished so far are kept; free "
                                           "some space (or fix the directory) and run the "
                                           "same command again to resume")])

    def finished(run: PlannedRun, output: RunOutput) -> None:
        kpis, daily, secs = output
        tables = plan.tables(run, kpis, daily)
        seconds[run.run_id] = secs
        if store is not None:
            try:
                store.write_run(run.run_id, tables, {**info_of(run), "run_seconds": secs})
            except OSError as e:
                raise disk_error(e) from None
        else:
            memory[run.run_id] = tables
        done_now.add(run.run_id)
        report()

    def failed(run: PlannedRun, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(exc))
        errors[run.run_id] = text.strip().splitlines()[-1]
        if store is not None:
            try:
                store.write_failure(run.run_id, info_of(run), text)
            except OSError as e:
                raise disk_error(e) from None
        report()

    # The executor comes up (a Dask scheduler is reached) before the manifest is written,
    # so an unreachable cluster leaves a new directory without a half-started sweep.
    ctx = (nullcontext(executor) if executor is not None or not pending
           else open_executor(workers, scheduler, tasks=len(pending)))
    with ctx as ex:
        if store is not None:
            manifest = store.start(manifest, old)
        report()
        if pending:
            if ex is None:
                for run in pending:
                    try:
                        output = run_one(run.spec)
                    except Exception as e:  # a run that raises must not stop the sweep
                        failed(run, e)
                    else:
                        finished(run, output)
            else:
                futures = {ex.submit(run_one, run.spec): run for run in pending}
                for fut in as_completed(futures):
                    run = futures.pop(fut)
                    try:
                        output = fut.result()
                    except Exception as e:  # includes a worker that died (BrokenProcessPool)
                        failed(run, e)
                    else:
                        finished(run, output)

    ok = [r.run_id for r in plan.runs if r.run_id in done_before or r.run_id in done_now]
    status = {i: "done" for i in ok} | {i: "failed" for i in errors}
    runs_table = plan.runs_table(status, seconds, errors)
    if store is not None:
        try:
            store.combine(ok, "kpis")
            store.combine(ok, "daily")
            store.write_table("runs", runs_table)
            manifest.update(finished=now(), done=len(ok), failed=errors,
                            status="complete" if not errors
                            else f"incomplete: {len(errors)} failed",
                            wall_seconds=round(time.perf_counter() - t0, 3))
            store.write_manifest(manifest)
        except OSError as e:
            raise disk_error(e) from None
        df = pd.read_parquet(store.root / "kpis.parquet")
    else:
        df = combine_tables(memory[i]["kpis"] for i in ok).to_pandas()
    df.attrs.update(failed=dict(errors), skipped=len(done_before), ran=len(done_now),
                    out=str(out) if out is not None else None)
    return df


def sweep(path_or_spec: str | Path | dict[str, Any] | SweepFile, out: str | Path | None = None,
          executor: Executor | None = None, overrides: Sequence[str] = (),
          progress: Callable[[SweepStatus], None] | None = None, workers: int | None = None,
          scheduler: str | None = None) -> pd.DataFrame:
    """Check, plan and run a sweep; the tidy KPI table comes back (one row per run x KPI).

    ``df = sweep("scenarios/sweeps/capacity.toml", overrides=["population.accounts=20000"])``
    then e.g. ``df.query("kpi == 'cure_rate_30'").groupby([...])["value"].mean()``. Give
    ``out`` to keep the daily series (``read_results(out, "daily")``) and to resume.
    """
    sf = path_or_spec if isinstance(path_or_spec, SweepFile) else parse_sweep(path_or_spec)
    plan = plan_sweep(sf, overrides)
    return run_sweep(plan, out=out, executor=executor, workers=workers, scheduler=scheduler,
                     progress=progress)


def read_results(out: str | Path, table: str = "kpis") -> pd.DataFrame:
    """A table of a finished sweep directory: ``kpis``, ``daily`` or ``runs``."""
    return pd.read_parquet(Path(out) / f"{table}.parquet")


def summary(df: pd.DataFrame, grid: Sequence[str], kpis: Sequence[str]) -> pd.DataFrame:
    """Mean and 95% t half-width of ``kpis`` per grid point and strategy (wide table)."""
    from .experiment import t_interval

    rows = []
    keys = [*grid, "strategy"]
    sub = df[df["kpi"].isin(kpis)]
    for key, g in sub.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        for k in kpis:
            v = g.loc[g["kpi"] == k, "value"].to_numpy(dtype=float)
            m, lo, hi = t_interval(v)
            row[k] = m
            row[f"{k}_half_width"] = (hi - lo) / 2
        row["replications"] = int(g["replication"].nunique())
        rows.append(row)
    return pd.DataFrame(rows)
