"""The README's figures, reproducibly: ``python -m analysis.make_docs_figures RESULTS_DIR docs/``.

RESULTS_DIR is a directory written by ``collectsim compare ... --out RESULTS_DIR``; the
README names the exact command that produced the committed images.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.results import ExperimentResult

from . import figures

DPI = 100  # ~1,100 px wide: sharp on GitHub, small enough to commit


def make_docs_figures(results_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Write tradeoff.png, cure_curves.png and delinquency.png; return their paths."""
    result = ExperimentResult.load(results_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    made = {
        "tradeoff.png": figures.tradeoff_frontier(result, ["complaints_per_1k",
                                                           "collection_cost"]),
        "cure_curves.png": figures.cure_curves(result),
        "delinquency.png": figures.delinquency_over_time(result, "accounts"),
    }
    paths = []
    for name, fig in made.items():
        path = out / name
        # no timestamp or software tag in the PNG: re-running gives identical bytes
        fig.savefig(path, dpi=DPI, metadata={"Software": None})
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    for path in make_docs_figures(args[0], args[1]):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
