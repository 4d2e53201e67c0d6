"""The Streamlit app, driven through its widgets with Streamlit's AppTest (no browser).

Runs are small (3,000 accounts, 60 + 60 + 30 days) so the whole file stays near a minute.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import app_support as sup
from analysis.stats import format_value
from sim.config import apply_overrides, load_scenario, load_strategy, validate_scenario
from sim.errors import ConfigError
from sim.experiment import compare
from sim.results import ExperimentResult
from sim.sweep import WALL_CLOCK_KPIS, sweep

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SMALL = {"lever.accounts": 3000, "lever.warmup_days": 60, "lever.window_days": 60,
         "lever.followup_days": 30}
SMALL_OVERRIDES = ["population.accounts=3000", "horizon.warmup_days=60",
                   "horizon.window_days=60", "horizon.followup_days=30"]
STRATEGIES = ["no_action", "seed_playbook"]


@pytest.fixture(autouse=True)
def fresh_caches():
    # the app's result and figure stores are st.cache_resource: shared across AppTests
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def small_app(seed: int = 0) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    for key, value in SMALL.items():
        at.number_input(key=key).set_value(value)
    at.number_input(key="seed").set_value(seed)
    at.run()
    assert list(at.multiselect(key="strategies").value) == STRATEGIES
    return at


def no_trouble(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def exact_table(at: AppTest) -> pd.DataFrame:
    """The Overview's "exact values" table: KPIs x strategies, numbers as stored."""
    for df in at.dataframe:
        v = df.value
        if list(v.columns) == STRATEGIES and "cure_rate_30" in v.index:
            return v
    raise AssertionError("the exact KPI table is not on the page")


def cards(at: AppTest) -> list[tuple[str, str, str]]:
    return [(m.label, m.value, m.delta) for m in at.metric]


def run(at: AppTest) -> AppTest:
    at.button(key="run").click().run()
    no_trouble(at)
    return at


def test_app_loads_with_every_tab_and_no_exception():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    no_trouble(at)
    assert [t.label for t in at.tabs] == ["Overview", "Delinquency", "Money", "Customers",
                                          "Operations", "Sweep explorer", "Downloads",
                                          "Strategy viewer"]
    assert not at.button(key="run").disabled
    # the accounts bound is enforced and explained
    assert at.number_input(key="lever.accounts").max == sup.MAX_ACCOUNTS
    assert any(f"{sup.MAX_ACCOUNTS:,}" in c.value for c in at.caption)
    # the strategy viewer shows every bundled strategy's rules (sim.strategy.describe)
    at.session_state["tab"] = "Strategy viewer"
    at.run()
    no_trouble(at)
    names = [h.value for h in at.subheader]
    assert {"seed_playbook", "no_action", "call_heavy"} <= set(names)
    rules = [df.value for df in at.dataframe if "when" in df.value.columns]
    assert any(r["when"].str.startswith("M1").any() for r in rules)


def test_small_run_shows_the_librarys_numbers_and_offers_its_tables():
    at = run(small_app(seed=7))
    lib = compare(load_scenario("baseline", SMALL_OVERRIDES),
                  [load_strategy(s) for s in STRATEGIES], replications=1, seed=7,
                  reference="no_action")
    # every KPI the library reports, to the last bit (run_seconds is wall-clock time)
    shown = exact_table(at).drop(index=list(WALL_CLOCK_KPIS))
    expected = lib.kpi_table().drop(index=list(WALL_CLOCK_KPIS))
    pd.testing.assert_frame_equal(shown, expected, check_names=False, check_exact=True)
    # the cards: value as the library's formatter writes it, difference against no_action
    got = cards(at)
    assert len(got) == len(STRATEGIES) * len(sup.CARD_KPIS)
    labels = [c[0] for c in got]
    for s, row in zip(STRATEGIES, (got[:6], got[6:]), strict=True):
        for (lab, value, _), k in zip(row, sup.CARD_KPIS, strict=True):
            assert value == format_value(lib.kpis(s)[k], k, "CNY"), (s, k)
            assert lab in labels
    ref_deltas = [d for _, _, d in got[:6]]
    assert all(not d for d in ref_deltas)  # the reference has no difference to itself
    p = lib.paired.set_index(["strategy", "kpi"])
    diff = p.loc[("seed_playbook", "cure_rate_30"), "diff"]
    assert got[6][2] == f"{100 * diff:+.1f} pp"
    # the sentence names the winner and the price in complaints
    text = " ".join(m.value for m in at.markdown)
    assert "complaints per 1,000" in text and "seed_playbook" in text
    assert not at.progress  # the bar is gone once the run is done

    # Downloads: CSV and Parquet of every table, and the HTML report of analysis.report
    at.session_state["tab"] = "Downloads"
    at.run()
    no_trouble(at)
    keys = {b.key for b in at.get("download_button")}
    assert {f"{fmt}.{t}" for t in ExperimentResult.TABLES for fmt in ("csv", "parquet")} <= keys
    at.button(key="build_report").click().run()
    no_trouble(at)
    assert "report_html" in {b.key for b in at.get("download_button")}
    html = at.session_state["report"][1]
    assert html.startswith(b"<!DOCTYPE html>") and b"seed_playbook" in html


def test_bad_upload_shows_the_validation_message_not_a_traceback():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.radio(key="source").set_value("Upload").run()
    bad = b'name = "mine"\n[population]\naccounts = -5\ncolour = "red"\n'
    at.file_uploader(key="upload").set_value(("mine.toml", bad, "application/toml")).run()
    no_trouble(at)
    with pytest.raises(ConfigError) as e:
        validate_scenario(tomllib.loads(bad.decode()), "mine.toml")
    shown = "\n".join(err.value for err in at.error)
    for line in e.value.render().splitlines():  # the CLI's wording, line by line
        assert line in shown
    assert "population.accounts" in shown and "unknown key" in shown
    assert at.button(key="run").disabled

    at.file_uploader(key="upload").set_value(("bin.toml", b"\xff\xfe\x00", "text/plain")).run()
    no_trouble(at)
    assert "not UTF-8 text" in "\n".join(err.value for err in at.error)


def test_upload_parsing_limits_and_errors():
    good = Path(sup.bundled_scenarios()["us_reg_f"]).read_bytes()
    assert sup.parse_upload("us.toml", good).name == "us_reg_f"
    with pytest.raises(ConfigError, match="limited to 256 KB"):
        sup.parse_upload("big.toml", good + b"#" * sup.MAX_UPLOAD_BYTES)
    with pytest.raises(ConfigError, match="not valid TOML"):
        sup.parse_upload("x.toml", b"name = [unclosed")
    with pytest.raises(ConfigError, match=r"^up\.toml: population\.accounts"):
        sup.parse_upload("../../etc/up.toml", b'name = "x"\n[population]\naccounts = 0\n')


def test_bad_lever_shows_the_validation_message():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    # a late shift to 21:30 is legal under cn_2022 (08-22) ...
    at.slider(key="lever.team.early.1.hours").set_range(12.0, 21.5).run()
    no_trouble(at)
    assert not at.error
    assert not at.button(key="run").disabled
    # ... but not under Regulation F (08-21): the library's message, the run refused
    at.selectbox(key="lever.profile").set_value("us_reg_f").run()
    no_trouble(at)
    with pytest.raises(ConfigError) as e:
        apply_overrides(load_scenario("baseline"), [
            ("collectors.teams.early.shifts.1.end_hour", 21.5),
            ("compliance.profile", "us_reg_f")], source="levers")
    shown = "\n".join(err.value for err in at.error)
    assert "outside the legal contact window of us_reg_f" in shown
    assert e.value.render() in shown
    assert at.button(key="run").disabled


def test_changing_a_lever_changes_the_result_and_same_settings_come_from_cache():
    at = run(small_app())
    first = exact_table(at)
    at.number_input(key="lever.shock_multiplier").set_value(4.0).run()
    diff = [df.value for df in at.dataframe if "parameter" in df.value.columns][0]
    assert "economy.shock_multiplier" in set(diff["parameter"])
    assert any("earlier settings" in w.value for w in at.warning)
    second = exact_table(run(at))
    assert second.loc["entry_cohort_size", "no_action"] > first.loc["entry_cohort_size",
                                                                     "no_action"]
    assert not math.isclose(second.loc["net_recovery", "seed_playbook"],
                            first.loc["net_recovery", "seed_playbook"])
    # back to the first settings: served from the cache, same numbers, no new run
    at.number_input(key="lever.shock_multiplier").set_value(1.0).run()
    again = exact_table(run(at))
    assert any("Served from the cache" in i.value for i in at.info)
    pd.testing.assert_frame_equal(again, first, check_exact=True)


def test_recession_lever_reproduces_the_bundled_recession_path():
    base = load_scenario("baseline")
    assert sup.recession_path(base.horizon, 2.0) == [list(p) for p in
                                                      load_scenario("recession").economy.macro_path]
    short = load_scenario("baseline", SMALL_OVERRIDES[1:]).horizon  # 150 days
    path = sup.recession_path(short, 2.0)
    assert path[0] == [0, 1.0] and path[-1][0] == short.days
    assert path[-1][1] == pytest.approx(1.0 + (short.days - 60) / sup.RECESSION_RAMP_DAYS)


def test_sweep_explorer_draws_lines_and_a_heatmap(tmp_path: Path):
    grid = {"economy.shock_multiplier": [1.0, 3.0],
            "collectors.teams.early.shifts.0.headcount": [1, 6]}
    sweep({"name": "tiny", "scenario": "baseline", "strategies": ["seed_playbook"],
           "replications": 1, "seed": 0, "grid": grid}, out=tmp_path / "sweep", workers=1,
          overrides=["population.accounts=1000", "horizon.warmup_days=30",
                     "horizon.window_days=30", "horizon.followup_days=0"])
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["tab"] = "Sweep explorer"
    at.run()
    at.text_input(key="sweep_dir").set_value(str(tmp_path / "sweep")).run()
    no_trouble(at)
    assert not at.error and not at.warning
    assert at.selectbox(key="sweep_x").options == list(grid)
    # lines over x, the other parameter held at one of its values
    assert at.selectbox(key="sweep_fix.collectors.teams.early.shifts.0.headcount")
    assert len(at.image) == 1
    at.selectbox(key="sweep_y").set_value("collectors.teams.early.shifts.0.headcount").run()
    no_trouble(at)
    assert len(at.image) == 1 and not at.warning  # the heatmap, nothing held fixed

    at.text_input(key="sweep_dir").set_value(str(tmp_path)).run()
    no_trouble(at)
    assert "no finished sweep here" in at.error[0].value
