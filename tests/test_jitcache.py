"""The package drops numba's cached kernels when a compiled module changes, and only then."""

from __future__ import annotations

from pathlib import Path

from sim.jitcache import STAMP, drop_stale, sources_digest


def _package(tmp: Path) -> Path:
    (tmp / "__pycache__").mkdir()
    (tmp / "kernels.py").write_text("import numba\n\n@numba.njit(cache=True)\ndef f(x):\n    return x\n")
    (tmp / "plain.py").write_text("X = 1\n")
    return tmp


def _cache_files(pkg: Path, tag: str) -> list[Path]:
    files = [pkg / "__pycache__" / f"kernels.f-3.py311.{tag}.nbi",
             pkg / "__pycache__" / f"kernels.f-3.py311.{tag}.nbc"]
    for f in files:
        f.write_bytes(b"cached")
    return files


def test_cached_kernels_go_when_a_compiled_module_changes_and_stay_otherwise(tmp_path):
    pkg = _package(tmp_path)
    first = _cache_files(pkg, "1")
    assert drop_stale(pkg) == 2  # no stamp yet: whatever is cached is of unknown age
    assert not any(f.exists() for f in first)
    assert (pkg / "__pycache__" / STAMP).read_text().strip() == sources_digest(pkg)
    kept = _cache_files(pkg, "2")
    assert drop_stale(pkg) == 0 and all(f.exists() for f in kept)
    (pkg / "plain.py").write_text("X = 2\n")  # no compiled code in it: the cache stands
    assert drop_stale(pkg) == 0 and all(f.exists() for f in kept)
    (pkg / "kernels.py").write_text((pkg / "kernels.py").read_text() + "# edited\n")
    assert drop_stale(pkg) == 2 and not any(f.exists() for f in kept)


def test_a_cache_kept_elsewhere_is_left_alone(tmp_path, monkeypatch):
    pkg = _package(tmp_path)
    files = _cache_files(pkg, "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert drop_stale(pkg) == 0 and all(f.exists() for f in files)


_ONE_VERSION_EACH = """
import importlib, pkgutil, numba, sim
from sim.config import load_scenario, load_strategy
from sim.engine import run, run_arms
for scen, strat in (("baseline", "seed_playbook"), ("us_reg_f", "call_heavy"),
                    ("baseline", "no_action")):
    run(load_scenario(scen, ["population.accounts=1500", "horizon.warmup_days=30", "horizon.window_days=60", "horizon.followup_days=30"]),
        load_strategy(strat), seed=2)
run_arms(load_scenario("baseline", ["population.accounts=1500", "horizon.warmup_days=30", "horizon.window_days=60", "horizon.followup_days=30"]),
         [load_strategy("risk_based"), load_strategy("digital_first")], [0.5, 0.5], seed=2)
many = []
for m in pkgutil.iter_modules(sim.__path__):
    mod = importlib.import_module("sim." + m.name)
    for name, f in vars(mod).items():
        if isinstance(f, numba.core.registry.CPUDispatcher) and len(f.signatures) > 1:
            many.append(f"{m.name}.{name}: {f.signatures}")
print("\\n".join(many))
"""


def test_a_run_compiles_one_version_of_each_kernel():
    """numba's on-disk cache files a kernel's versions (one per argument types) under
    numbers picked from its index. Two processes compiling different versions of one
    kernel at once (a sweep's workers on a fresh cache) can both pick number 1: the index
    then sends one version to the other's machine code, and every later run that loads
    it crashes. So the engine calls each kernel with one set of argument types (an int
    constant passed to a kernel is typed as a literal, another version): runs of every
    kind, in a fresh interpreter, leave every kernel with one version."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _ONE_VERSION_EACH], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "", out.stdout
