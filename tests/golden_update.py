"""Regenerate the golden back-test: `python -m tests.golden_update` (only after a
deliberate model change; say why in the commit message)."""

from __future__ import annotations

import json
from pathlib import Path

from sim.config import load_scenario, load_strategy
from sim.engine import run

GOLDEN = Path(__file__).parent / "golden" / "small_run.json"
OVERRIDES = ["population.accounts=700", "horizon.warmup_days=40", "horizon.window_days=60",
             "horizon.followup_days=40"]
CASES = [("baseline", "seed_playbook", 7), ("us_reg_f", "call_heavy", 8)]


def compute() -> dict[str, dict[str, float | None]]:
    out = {}
    for scenario, strategy, seed in CASES:
        k = run(load_scenario(scenario, OVERRIDES), load_strategy(strategy), seed=seed).kpis
        k.pop("run_seconds")
        out[f"{scenario}/{strategy}/{seed}"] = k
    return out


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
