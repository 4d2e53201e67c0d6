"""Operations throughput: call attempts simulated per wall-clock second under call_heavy.

Usage: .venv/bin/python benchmarks/calls.py [--accounts 100000] [--runs 3]

The baseline scenario (its own collectors), ``call_heavy`` (as many calls as the law
allows), 540 days, median of ``--runs`` fresh subprocesses. Attempts are every agent call
attempted over the whole run (the daily ``attempts_<channel>`` series of agent-call
channels, warm-up and follow-up included: the KPI ``call_attempts`` counts the window
only); the time is the whole run. Prints ``call_attempts_per_second``; merges it into
results.json under "calls". Target: >= 50,000 a second.
"""

from __future__ import annotations

import argparse
import sys

from _common import emit, load_average, median, merge, run_case


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    load_start = load_average()
    cases = [run_case(args.accounts, strategy="call_heavy", scale_collectors=False)
             for _ in range(args.runs)]
    rates = [c["agent_call_attempts"] / c["seconds"] for c in cases]
    rate = median(rates)
    cpu_rate = median([c["agent_call_attempts"] / c["cpu_seconds"] for c in cases])
    emit("call_attempts_per_run", int(cases[0]["agent_call_attempts"]), "attempts")
    emit("call_attempts_per_second", round(rate), "attempts/s")
    emit("call_attempts_per_cpu_second", round(cpu_rate), "attempts/s")
    merge("calls", {
        "call_attempts_per_second": round(rate), "target_at_least": 50_000,
        "call_attempts_per_cpu_second": round(cpu_rate),
        "attempts_per_run": cases[0]["agent_call_attempts"],
        "runs_seconds": [round(c["seconds"], 3) for c in cases],
        "case": f"baseline, {args.accounts} accounts, call_heavy, 540 days",
        "load_average_start": load_start, "load_average_end": load_average()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
