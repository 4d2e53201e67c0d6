"""The command line: tables and JSON for people and scripts; bad input gets one clear
message per problem, exit code 2 and no traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sim.results import KPI_KEYS

SMALL = ["--accounts", "800", "--set", "horizon.warmup_days=30", "--set",
         "horizon.window_days=60", "--set", "horizon.followup_days=30"]


def cli(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True,
                       timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def assert_user_error(p: subprocess.CompletedProcess, *words: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    for w in words:
        assert w in p.stderr, (w, p.stderr)


def test_compare_json_has_every_kpi_for_every_strategy():
    p = cli("compare", "baseline", "--strategies", "no_action,seed_playbook", "--json", *SMALL,
            check=True)
    data = json.loads(p.stdout)
    assert set(data) == {"no_action", "seed_playbook"}
    for kpis in data.values():
        assert set(KPI_KEYS) <= set(kpis)
        assert kpis["violations"] == 0
        assert all(v is None or v == v for v in kpis.values())  # None, never NaN


def test_run_prints_a_table_and_writes_files(tmp_path):
    out = tmp_path / "r"
    p = cli("run", "us_reg_f", "--strategy", "hardship_first", "--out", str(out), *SMALL,
            check=True)
    assert "cure_rate_30" in p.stdout and "USD" in p.stdout
    for f in ("runs.parquet", "summary.parquet", "daily.parquet", "experiment.json"):
        assert (out / f).exists(), f


def test_bad_scenario_file(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('name = "x"\n[population]\naccounts = -3\nfoo = 1\n')
    p = cli("run", str(f))
    assert_user_error(p, str(f), "population.accounts", "population.foo", "unknown key")
    assert len([ln for ln in p.stderr.splitlines() if str(f) in ln]) == 2  # one per problem


def test_bad_strategy_file(tmp_path):
    f = tmp_path / "strategies" / "s.toml"
    f.parent.mkdir()
    f.write_text('name = "s"\n[[rules]]\nbuckets = ["M1"]\nactions = [{channel = "fax"}]\n')
    assert_user_error(cli("compare", "baseline", "--strategies", str(f), *SMALL),
                      "fax", "unknown channel")
    g = tmp_path / "strategies" / "t.toml"
    g.write_text('name = "t"\n[[rules]]\nbuckets = ["M7"]\n')
    assert_user_error(cli("validate", str(g)), str(g), "rules[0].buckets[0]")


@pytest.mark.parametrize("args, words", [
    (["--set", "economy.shock_multiplyer=2"], ["economy.shock_multiplier", "no such parameter"]),
    (["--set", "channels.sms.cost=-1"], ["channels.sms.cost", "greater than or equal to 0"]),
    (["--strategies", "seed_playbok"], ["did you mean seed_playbook"]),
    (["--reference", "nobody", "--strategies", "no_action,seed_playbook"], ["--reference"]),
])
def test_bad_options(args, words):
    assert_user_error(cli("compare", "baseline", *args, "--accounts", "500"), *words)


def test_validate_and_strategies_listing():
    p = cli("validate", "scenarios/baseline.toml", "scenarios/strategies/seed_playbook.toml",
            check=True)
    assert p.stdout.count("ok ") == 2
    p = cli("strategies", check=True)
    for name in ("no_action", "seed_playbook", "call_heavy", "digital_first", "hardship_first",
                 "risk_based"):
        assert name in p.stdout
    p = cli("strategies", "--show", "seed_playbook", check=True)
    assert "lawyer_letter" in p.stdout
