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
