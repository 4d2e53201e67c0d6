"""Scenario and strategy documents: strict, with errors that name file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.config import (
    apply_overrides,
    bundled_strategies,
    check_pair,
    load_scenario,
    load_strategy,
    valid_paths,
    validate_scenario,
    validate_strategy,
)
from sim.errors import ConfigError

SCENARIOS = ["baseline", "us_reg_f", "recession"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_bundled_scenarios_load_and_pair_with_every_strategy(name):
    sc = load_scenario(name)
    assert sc.population.accounts == 100_000
    assert sc.horizon.days == 540
    for st in bundled_strategies():
        check_pair(sc, load_strategy(st))


def test_profiles_and_currencies():
    assert load_scenario("baseline").compliance.profile == "cn_2022"
    assert load_scenario("baseline").currency == "CNY"
    us = load_scenario("us_reg_f")
    assert (us.compliance.profile, us.currency) == ("us_reg_f", "USD")
    assert load_scenario("recession").economy.macro_path[-1][1] == 2.0


def test_every_bundled_parameter_line_has_a_comment_or_is_structure():
    # "Every parameter carries a comment with its unit": scalar lines in the bundled
    # files that set a number must have a comment on the line or in the block above.
    for f in Path("scenarios").glob("*.toml"):
        lines = f.read_text().splitlines()
        for i, line in enumerate(lines):
            s = line.strip()
            if not s or s.startswith(("#", "[", "]", "{")) or "=" not in s:
                continue
            key = s.split("=")[0].strip()
            commented = "#" in line or any(lines[j].lstrip().startswith("#")
                                           for j in range(max(0, i - 12), i))
            assert commented, f"{f}:{i + 1}: {key} has no comment nearby"


def problems(exc: ConfigError) -> dict[str, str]:
    return dict(exc.problems)


def test_unknown_key_is_named_with_file_and_field(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('name = "x"\n[population]\naccountz = 5\n')
    with pytest.raises(ConfigError) as e:
        load_scenario(f)
    assert str(f) in str(e.value)
    assert "population.accountz" in problems(e.value)
    assert "unknown key" in problems(e.value)["population.accountz"]


@pytest.mark.parametrize("doc, field, words", [
    ({"population": {"accounts": -5}}, "population.accounts", "greater than or equal to 1"),
    ({"product": {"late_fee_rate": 2.0}}, "product.late_fee_rate", "less than or equal"),
    ({"economy": {"shock_multiplier": float("nan")}}, "economy.shock_multiplier", "finite"),
    ({"compliance": {"profile": "eu"}}, "compliance.profile", "cn_2022"),
    ({"horizon": {"window_days": 0}}, "horizon.window_days", "greater than or equal to 1"),
])
def test_out_of_range_values(doc, field, words):
    with pytest.raises(ConfigError) as e:
        validate_scenario({"name": "x", **doc}, "f.toml")
    msg = problems(e.value)
    assert field in msg, msg
    assert words in msg[field]


def test_inconsistent_combinations():
    base = load_scenario("baseline")
    with pytest.raises(ConfigError, match="shares sum to"):
        apply_overrides(base, ["population.segments.steady.share=0.5"])
    with pytest.raises(ConfigError, match="outside the legal contact window"):
        apply_overrides(base, ["collectors.teams.early.shifts=[{start_hour=7, end_hour=12, headcount=1}]"])
    # cn_2022 allows 21:00 shifts, Regulation F does not
    with pytest.raises(ConfigError, match="us_reg_f"):
        apply_overrides(base, ['compliance.profile="us_reg_f"',
                               "collectors.teams.early.shifts=[{start_hour=13, end_hour=22, headcount=1}]"])
    with pytest.raises(ConfigError, match="covered by teams"):
        apply_overrides(base, ['collectors.teams.mid.buckets=["M1", "M2"]'])


def test_override_typo_lists_nearest_paths():
    with pytest.raises(ConfigError) as e:
        apply_overrides(load_scenario("baseline"), ["economy.shock_multiplyer=2"])
    assert "economy.shock_multiplier" in str(e.value)
    assert "--set" in str(e.value)


def test_override_applies_and_revalidates():
    sc = apply_overrides(load_scenario("baseline"), ["population.accounts=1234",
                                                     "channels.sms.cost=0.5"])
    assert sc.population.accounts == 1234 and sc.channels["sms"].cost == 0.5
    assert "channels.sms.cost" in valid_paths(sc)
    with pytest.raises(ConfigError, match="population.accounts"):
        apply_overrides(sc, ["population.accounts=abc"])


def test_strategy_errors(tmp_path):
    with pytest.raises(ConfigError) as e:
        validate_strategy({"name": "s", "rules": [{"buckets": ["M9"]}]}, "s.toml")
    assert "rules[0].buckets[0]" in problems(e.value)
    with pytest.raises(ConfigError) as e:
        validate_strategy({"name": "s", "rules": [{"buckets": ["M1"], "dpd": [20, 10]}]}, "s.toml")
    assert "empty" in str(e.value)
    st = validate_strategy({"name": "s", "rules": [{"buckets": ["M1"],
                                                    "actions": [{"channel": "smss"}]}]})
    with pytest.raises(ConfigError) as e:
        check_pair(load_scenario("baseline"), st, "s.toml")
    assert "did you mean sms" in str(e.value)
    with pytest.raises(ConfigError, match="no such strategy"):
        load_strategy("seed_playbok")


def test_toml_syntax_error_is_a_config_error(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenario(f)


def test_digest_changes_with_content():
    a = load_scenario("baseline")
    b = apply_overrides(a, ["channels.sms.cost=0.06"])
    assert a.digest() != b.digest() and a.digest() == load_scenario("baseline").digest()
