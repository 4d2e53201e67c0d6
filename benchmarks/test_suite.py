"""The test suite's wall-clock time on this machine.

Usage: .venv/bin/python benchmarks/test_suite.py [pytest marker expression]

Runs ``pytest -q -p no:cacheprovider -m "not browser"`` once (the browser test needs
chromium and is timed by `make test` only; no ``-x``, so that a failing test does not cut
the timing short: failures are reported with the time) and prints
``test_suite_seconds``; merges it into results.json under "test_suite".
Target: `make test` <= 10 minutes.
"""

from __future__ import annotations

import subprocess
import sys
import time

from _common import ROOT, emit, load_average, merge


def main() -> int:
    marker = sys.argv[1] if len(sys.argv) > 1 else "not browser"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", marker]
    load_start = load_average()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    emit("test_suite_seconds", round(seconds, 1), "s")
    print(f"pytest: {tail} (exit {proc.returncode})")
    for line in proc.stdout.splitlines():  # which tests failed, so a flaky one can be found
        if line.startswith(("FAILED", "ERROR")):
            print(line)
    merge("test_suite", {"test_suite_seconds": round(seconds, 1), "target_at_most": 600,
                         "command": " ".join(cmd[1:]), "pytest_summary": tail,
                         "exit_code": proc.returncode, "load_average_start": load_start,
                         "load_average_end": load_average()})
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
