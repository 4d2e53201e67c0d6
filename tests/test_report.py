"""The HTML report: self-contained, complete, well-formed, and its numbers are the files'."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.report import REPORT_KPIS, render_report
from analysis.stats import format_interval, format_value
from sim.cli import HEADLINE, app, fmt
from sim.results import KPI_KEYS, ExperimentResult
from tests.analysis_data import STRATEGIES, one_replication, small_comparison

runner = CliRunner()
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


class ReportParser(HTMLParser):
    """Checks nesting and collects the KPI table's cells and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.cells: dict[tuple[str, str], dict] = {}
        self.rows: set[str] = set()
        self._table: str | None = None
        self._cell: dict | None = None
        self._span: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href", "srcset", "action") and v]
        if tag == "table":
            self._table = a.get("id")
        if self._table == "kpi-table" and tag == "tr" and "data-kpi" in a:
            self.rows.add(a["data-kpi"])
        if self._table == "kpi-table" and tag == "td" and "data-strategy" in a:
            self._cell = {**a, "mean_text": "", "ci_text": ""}
            self.cells[(a["data-strategy"], a["data-kpi"])] = self._cell
        if tag == "span" and self._cell is not None:
            self._span = a.get("class")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        if tag == "span":
            self._span = None
        if tag == "td":
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None and self._span == "mean":
            self._cell["mean_text"] += data
        if self._cell is not None and self._span == "ci":
            self._cell["ci_text"] += data


def parse(html: str) -> ReportParser:
    p = ReportParser()
    p.feed(html)
    p.close()
    return p


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[ExperimentResult, Path, str]:
    """The comparison written by compare --out's code, reported by `collectsim report`."""
    d = tmp_path_factory.mktemp("results")
    small_comparison().save(d)
    out = d / "report.html"
    res = runner.invoke(app, ["report", str(d), "-o", str(out)])
    assert res.exit_code == 0, res.output
    return ExperimentResult.load(d), out, out.read_text(encoding="utf-8")


def test_report_is_self_contained(saved):
    _, _, html = saved
    p = parse(html)
    assert not re.search(r"https?://", html)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "@import" not in html and "url(" not in html  # no CSS fetches either
    assert p.urls and all(u.startswith("data:image/png;base64,") for u in p.urls)
    assert len(p.urls) >= 8  # the figures are really there


def test_report_is_well_formed_html(saved):
    _, _, html = saved
    assert html.startswith("<!DOCTYPE html>")
    p = parse(html)
    assert p.errors == [] and p.stack == []
    assert {"html", "head", "body", "title", "style", "table", "figure"} <= p.tags


def test_report_names_every_strategy_and_headline_kpi(saved):
    result, _, html = saved
    p = parse(html)
    present = set(result.summary["kpi"])
    wanted = (set(HEADLINE) | set(KPI_KEYS)) & present
    assert wanted <= p.rows, wanted - p.rows
    assert set(REPORT_KPIS) & present == p.rows
    for s in STRATEGIES:
        assert all((s, k) in p.cells for k in wanted)
        assert html.count(s) >= 3  # table header, scenario summary, paired table


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_golden_kpi_table_equals_the_results_files(saved):
    """Every cell of the KPI table against summary.parquet, value and formatted text."""
    result, _, html = saved
    pd.testing.assert_frame_equal(result.summary, small_comparison().summary)
    p = parse(html)
    checked = 0
    for r in result.summary.itertuples():
        if r.kpi not in REPORT_KPIS:
            continue
        cell = p.cells[(r.strategy, r.kpi)]
        assert same(float(cell["data-mean"]), r.mean), (r.strategy, r.kpi)
        assert same(float(cell["data-ci-low"]), r.ci_low)
        assert same(float(cell["data-ci-high"]), r.ci_high)
        assert int(cell["data-n"]) == r.n
        assert cell["mean_text"] == format_value(r.mean, r.kpi)
        assert cell["ci_text"] == format_interval(r.ci_low, r.ci_high, r.kpi)
        checked += 1
    assert checked == len(STRATEGIES) * len(set(REPORT_KPIS) & set(result.summary["kpi"]))


def test_report_formats_numbers_as_the_cli_does(saved):
    result, _, _ = saved
    for r in result.summary.itertuples():
        value = None if math.isnan(r.mean) else r.mean
        assert format_value(value, r.kpi) == fmt(value, r.kpi), r.kpi


def test_one_replication_report_has_no_intervals():
    html = render_report(one_replication(), title="single run")
    p = parse(html)
    assert p.errors == [] and "<title>single run</title>" in html
    assert p.cells and all(c["ci_text"] == "" for c in p.cells.values())
    assert "without confidence intervals" in html
    assert "1 replication" in html


def test_report_command_rejects_a_missing_or_incomplete_results_dir(tmp_path):
    res = runner.invoke(app, ["report", str(tmp_path / "nope"), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "no such results directory" in res.output
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "runs.parquet").write_bytes(b"not parquet")
    res = runner.invoke(app, ["report", str(tmp_path / "partial")])
    assert res.exit_code == 2 and "missing" in res.output and "summary.parquet" in res.output
    assert "Traceback" not in res.output


def test_report_command_rejects_unreadable_results(saved, tmp_path):
    _, out, _ = saved
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in out.parent.iterdir():
        if f.suffix in (".parquet", ".json"):
            (bad / f.name).write_bytes(b"garbage" if f.name == "summary.parquet"
                                       else f.read_bytes())
    res = runner.invoke(app, ["report", str(bad), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "cannot read the results" in res.output
    res = runner.invoke(app, ["report", str(out.parent), "-o", str(tmp_path)])
    assert res.exit_code == 2 and "is a directory" in res.output


def test_compare_writes_the_report_directly(tmp_path):
    """One strategy, one run: also the report's "nothing to compare" path."""
    out = tmp_path / "sub" / "cmp.html"
    res = runner.invoke(app, [
        "compare", "baseline", "--strategies", "seed_playbook", "--accounts", "600",
        "--set", "horizon.warmup_days=30", "--set", "horizon.window_days=30",
        "--set", "horizon.followup_days=10", "--json", "--report", str(out)])
    assert res.exit_code == 0, res.output
    assert "report written to" in res.output
    html = out.read_text(encoding="utf-8")
    p = parse(html)
    assert p.errors == [] and {s for s, _ in p.cells} == {"seed_playbook"}
    assert "Differences against" not in html  # no paired section without a second strategy
    assert oct(out.stat().st_mode & 0o777) == "0o644"  # shareable, not mkstemp's 0600
