"""A million accounts, and how run time scales with the book.

Usage: .venv/bin/python benchmarks/scale.py [--sizes 10000,30000,100000,300000,1000000]
                                            [--runs 3] [--big-runs 1]

The baseline scenario with every team's headcount scaled with the book (x10 at 1,000,000
accounts), the default 540-day frame, ``seed_playbook``, full collector operations, one
process. Each run is a fresh subprocess (its own peak RSS). Books of up to 100,000
accounts are run ``--runs`` times and the median counts; larger ones ``--big-runs`` times.

Prints ``million_accounts_seconds``, ``million_accounts_peak_rss``,
``scaling_1m_over_100k`` and the time of every size; merges them into results.json under
"scale"; draws docs/scaling.png (accounts vs seconds, log-log).
Targets: 1,000,000 accounts in <= 30 s and <= 4 GB; time(1M) / time(100k) <= 12.
"""

from __future__ import annotations

import argparse
import sys

from _common import ROOT, emit, load_average, median, merge, run_case


def plot(sizes: list[int], seconds: list[float], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    ax.loglog(sizes, seconds, "o-", color="#1f5f8b", label="measured (median)")
    if 100_000 in sizes:
        t = seconds[sizes.index(100_000)]
        ref = [t * n / 100_000 for n in sizes]
        ax.loglog(sizes, ref, "--", color="#999999", label="linear through 100k")
    ax.axhline(30, color="#c0392b", lw=0.8, ls=":", label="target at 1M: 30 s")
    for n, s in zip(sizes, seconds, strict=True):
        ax.annotate(f"{s:.1f} s", (n, s), textcoords="offset points", xytext=(4, -12),
                    fontsize=8)
    ax.set_xlabel("accounts (collector headcount scaled with the book)")
    ax.set_ylabel("wall-clock seconds, 540 days")
    ax.set_title("collectsim: baseline, seed_playbook, one process")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,30000,100000,300000,1000000")
    ap.add_argument("--runs", type=int, default=3, help="runs per size up to 100,000")
    ap.add_argument("--big-runs", type=int, default=1, help="runs per larger size")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    load_start = load_average()
    cases: dict[int, list[dict]] = {}
    for n in sizes:
        k = args.runs if n <= 100_000 else args.big_runs
        cases[n] = [run_case(n) for _ in range(k)]
        secs = [c["seconds"] for c in cases[n]]
        emit(f"seconds_{n}_accounts", round(median(secs), 2), "s")
        emit(f"cpu_seconds_{n}_accounts", round(median([c["cpu_seconds"] for c in cases[n]]), 2),
             "s")
    secs = [median([c["seconds"] for c in cases[n]]) for n in sizes]
    figures: dict = {
        "sizes": sizes, "seconds_median": [round(s, 3) for s in secs],
        "cpu_seconds_median": [round(median([c["cpu_seconds"] for c in cases[n]]), 3)
                               for n in sizes],
        "runs": {str(n): [{k: c[k] for k in ("seconds", "cpu_seconds", "peak_rss_bytes",
                                               "load_before", "load_after",
                                               "agent_call_attempts", "kpis")}
                          for c in cases[n]] for n in sizes},
        "scenario": "baseline, headcounts x accounts/100,000 (at least 1 per shift), "
                    "seed_playbook, seed 1, 540 days",
        "load_average_start": load_start, "load_average_end": load_average()}
    if 1_000_000 in cases:
        big = cases[1_000_000]
        t = median([c["seconds"] for c in big])
        rss = max(c["peak_rss_bytes"] for c in big) / 1024**3
        cpu = median([c["cpu_seconds"] for c in big])
        emit("million_accounts_seconds", round(t, 2), "s")
        # CPU time of the run's process: what it costs when it has a core to itself
        emit("million_accounts_cpu_seconds", round(cpu, 2), "s")
        emit("million_accounts_peak_rss", round(rss, 2), "GB")
        figures.update(million_accounts_seconds=round(t, 2), million_target_seconds=30,
                       million_accounts_cpu_seconds=round(cpu, 2),
                       million_accounts_peak_rss_gb=round(rss, 3), million_target_rss_gb=4)
    if 1_000_000 in cases and 100_000 in cases:
        ratio = secs[sizes.index(1_000_000)] / secs[sizes.index(100_000)]
        cpus = {n: median([c["cpu_seconds"] for c in cases[n]]) for n in (100_000, 1_000_000)}
        cpu_ratio = cpus[1_000_000] / cpus[100_000]
        emit("scaling_1m_over_100k", round(ratio, 2), "x")
        emit("scaling_1m_over_100k_cpu", round(cpu_ratio, 2), "x")
        figures.update(scaling_1m_over_100k=round(ratio, 3), scaling_target_at_most=12,
                       scaling_1m_over_100k_cpu=round(cpu_ratio, 3))
    path = ROOT / "docs" / "scaling.png"
    path.parent.mkdir(exist_ok=True)
    plot(sizes, secs, path)
    figures["plot"] = "docs/scaling.png"
    merge("scale", figures)
    print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
