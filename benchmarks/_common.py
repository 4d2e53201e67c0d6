"""Shared by the benchmark scripts: the machine description, results.json, the scaled
baseline scenario, and measured runs in fresh subprocesses.

Each measured case runs in its own interpreter (``python benchmarks/_common.py --case
JSON``), so that its peak RSS is its own and no case warms the caches of the next (a
"warm" case warms its own interpreter with a small run first, untimed: see run_case). The
peak is the process's own high-water mark (``VmHWM``): ``getrusage``'s ``ru_maxrss``
survives ``exec`` and would report the parent's peak when the parent is bigger. Times
are ``time.perf_counter`` around ``sim.engine.run`` (set-up of the population and the
result tables included).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
ROOT = HERE.parent


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def peak_rss_bytes() -> int:
    """This process's peak resident set since it started (``VmHWM``), in bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    # not Linux: getrusage (kilobytes on Linux, bytes on macOS; only Linux is measured here)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def machine() -> dict:
    import numpy as np
    import simpy

    from sim import __version__

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": cores(), "logical_cpus": os.cpu_count(), "memory_gb": mem,
            "python": platform.python_version(), "numpy": np.__version__,
            "simpy": simpy.__version__, "platform": platform.platform(),
            "collectsim": __version__}


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def emit(name: str, value: float | int | str, unit: str = "") -> None:
    """One figure, as a line ``name: value unit``."""
    print(f"{name}: {value} {unit}".rstrip(), flush=True)


def merge(key: str, figures: dict) -> None:
    """Merge one benchmark's figures into results.json (atomically), with the machine."""
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    figures = {**figures, "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "machine": machine()}
    data[key] = figures
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, RESULTS)


def median(xs: list[float]) -> float:
    s = sorted(xs)
    k = len(s) // 2
    return s[k] if len(s) % 2 else 0.5 * (s[k - 1] + s[k])


# --------------------------------------------------------------------------- scenarios


def scaled_scenario(accounts: int, scenario: str = "baseline", extra: tuple = ()):
    """The scenario at ``accounts``, every shift's headcount scaled by accounts / 100,000
    (the baseline's size), rounded, at least one collector per shift."""
    from sim.config import apply_overrides, load_scenario

    sc = load_scenario(scenario)
    f = accounts / sc.population.accounts
    overrides: list = [("population.accounts", accounts), *extra]
    for name, team in sc.collectors.teams.items():
        shifts = [{"start_hour": s.start_hour, "end_hour": s.end_hour,
                   "headcount": max(1, round(s.headcount * f))} for s in team.shifts]
        overrides.append((f"collectors.teams.{name}.shifts", shifts))
    return apply_overrides(sc, overrides, source="benchmark")


#: the warm-up run of a warm case: small, every day, the result built
WARM_UP_ACCOUNTS = 2_000


def run_case(accounts: int, strategy: str = "seed_playbook", scenario: str = "baseline",
             scale_collectors: bool = True, seed: int = 1, warm: bool = False) -> dict:
    """One measured run in a fresh interpreter; returns its figures. ``warm``: the
    interpreter first makes a small run of the same case (WARM_UP_ACCOUNTS accounts, its
    result built), untimed, as a sweep's worker has before its second run: the libraries
    imported (pandas comes with the first result) and the compiled kernels loaded from
    numba's cache. A cold case times all of that too."""
    spec = {"accounts": accounts, "strategy": strategy, "scenario": scenario,
            "scale_collectors": scale_collectors, "seed": seed, "warm": warm}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--case",
                          json.dumps(spec)], check=True, capture_output=True, text=True,
                         cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _case(spec: dict) -> dict:
    from sim.config import load_scenario, load_strategy
    from sim.engine import Simulation

    def scenario(accounts: int):
        if spec["scale_collectors"]:
            return scaled_scenario(accounts, spec["scenario"])
        return load_scenario(spec["scenario"], [f"population.accounts={accounts}"])

    st = load_strategy(spec["strategy"])
    if spec.get("warm"):
        warm_up = Simulation(scenario(WARM_UP_ACCOUNTS), st, seed=spec["seed"])
        warm_up.advance(warm_up.days)
        warm_up.result()
        del warm_up
    sc = scenario(spec["accounts"])
    load_before = load_average()
    # what sim.engine.run does, in three timed steps: set-up, the days, the result tables
    t0, c0 = time.perf_counter(), time.process_time()
    sim = Simulation(sc, st, seed=spec["seed"])
    t1, c1 = time.perf_counter(), time.process_time()
    sim.advance(sim.days)
    t2, c2 = time.perf_counter(), time.process_time()
    r = sim.result()
    t3, cpu = time.perf_counter(), time.process_time() - c0
    seconds = t3 - t0
    d = r.daily
    agent_calls = [c for c in d.columns if c.startswith("attempts_")
                   and sc.channels[c[len("attempts_"):]].kind == "agent_call"]
    return {**spec, "seconds": seconds, "cpu_seconds": cpu, "days": r.meta["days"],
            "seconds_setup": t1 - t0, "seconds_days": t2 - t1, "seconds_result": t3 - t2,
            "cpu_seconds_days": c2 - c1,
            "peak_rss_bytes": peak_rss_bytes(),
            "agent_call_attempts": float(d[agent_calls].to_numpy().sum()),
            "load_before": load_before, "load_after": load_average(),
            "kpis": {k: r.kpis.get(k) for k in ("call_attempts", "cure_rate_30",
                                                "collector_utilisation", "recovery_rate")}}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_case(json.loads(sys.argv[2]))))
    else:
        sys.exit("usage: _common.py --case JSON (used by the benchmark scripts)")
