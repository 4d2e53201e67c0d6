"""collectsim in the browser: pick a scenario, move a few levers, pick strategies, run, look.

A thin layer over the library: scenarios are loaded and validated by ``sim.config``, runs
are ``sim.engine.Simulation`` driven in chunks (so the progress bar is real and a cancel
takes effect within a chunk), results are assembled by ``sim.experiment.assemble`` exactly
as ``compare`` does, and every figure comes from ``analysis.figures``. Non-layout helpers
live in ``app_support`` so that tests can import them without a Streamlit session.

Start it with ``make app`` (or ``.venv/bin/streamlit run app.py``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from matplotlib.figure import Figure

import app_support as sup
from analysis import figures
from analysis.stats import daily_mean, grid_columns, window_totals
from analysis.style import label
from sim.compliance import PROFILES
from sim.config import (
    Scenario,
    Strategy,
    apply_overrides,
    bundled_strategies,
    check_pair,
    load_scenario,
    load_strategy,
)
from sim.errors import ConfigError
from sim.results import KPI_KEYS, ExperimentResult
from sim.runstore import SweepStore
from sim.strategy import describe
from sim.sweep import WALL_CLOCK_KPIS, read_results

CHUNK_DAYS = 5  # days simulated between progress updates, where a Cancel can land
TABS = ("Overview", "Delinquency", "Money", "Customers", "Operations", "Sweep explorer",
        "Downloads", "Strategy viewer")
LEVER = "lever."  # prefix of every lever widget key: reset together when the file changes


@st.cache_resource
def result_store() -> sup.ResultStore:
    """Finished comparisons, shared by every session of this server process."""
    return sup.ResultStore(max_entries=16)


@st.cache_resource
def figure_store() -> sup.LRU:
    """Drawn figures (PNG bytes) by result and arguments, shared like result_store."""
    return sup.LRU(max_entries=96)


# ---------------------------------------------------------------- sidebar: scenario


def _reset_levers() -> None:
    # a new file brings its own defaults; stale widget state would silently override them
    for key in [k for k in st.session_state if str(k).startswith(LEVER)]:
        del st.session_state[key]


def choose_scenario() -> tuple[Scenario | None, str]:
    """The scenario as the file says it, and a name for it; None after an error."""
    st.sidebar.header("Scenario")
    source = st.sidebar.radio("Source", ["Bundled", "Upload"], horizontal=True, key="source",
                              on_change=_reset_levers)
    if source == "Bundled":
        names = list(sup.bundled_scenarios())
        name = st.sidebar.selectbox("Bundled scenario", names, key="scenario",
                                    index=names.index("baseline") if "baseline" in names else 0,
                                    on_change=_reset_levers)
        try:
            return load_scenario(name), f"{name}.toml"
        except ConfigError as e:
            st.error(e.render())
            return None, name
    up = st.sidebar.file_uploader(
        f"Scenario TOML (at most {sup.MAX_UPLOAD_BYTES // 1024} KB)", type=["toml"],
        key="upload", max_upload_size=1, on_change=_reset_levers,
        help="Validated like `collectsim validate`; the file is read as data, never run.")
    if up is None:
        st.info("Upload a scenario file (TOML) in the sidebar, or pick a bundled one.")
        return None, ""
    try:
        return sup.parse_upload(up.name, up.getvalue()), up.name
    except ConfigError as e:
        st.error("The uploaded scenario is not valid:\n\n" + _as_lines(e.render()))
        return None, up.name


def _as_lines(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())  # a code block keeps paths


# ---------------------------------------------------------------- sidebar: levers


def levers(base: Scenario) -> tuple[list[tuple[str, Any]], float | None, bool | None]:
    """Widgets for the levers that matter. Returns the scenario overrides, the peak of a
    recession ramp (None: no ramp) and the strategies' holiday policy (None: as written)."""
    ov: list[tuple[str, Any]] = []
    peak: float | None = None
    sb = st.sidebar
    sb.header("Levers")

    with sb.expander("Book and horizon", expanded=True):
        file_accounts = base.population.accounts
        accounts = st.number_input(
            "Accounts", min_value=100, max_value=sup.MAX_ACCOUNTS,
            value=min(file_accounts, sup.DEFAULT_ACCOUNTS), step=1000, key=LEVER + "accounts")
        st.caption(f"The file has {file_accounts:,}. The app stops at "
                   f"{sup.MAX_ACCOUNTS:,} so that a comparison finishes while you wait "
                   "(run time grows with accounts × days × strategies × replications); "
                   "use `collectsim compare` or a sweep for larger books.")
        ov.append(("population.accounts", int(accounts)))
        h = base.horizon
        c1, c2, c3 = st.columns(3)
        for col, field, text in ((c1, "warmup_days", "Warm-up"), (c2, "window_days", "Window"),
                                 (c3, "followup_days", "Follow-up")):
            v = col.number_input(f"{text} days", min_value=1 if field == "window_days" else 0,
                                 max_value=3650, value=getattr(h, field), step=30,
                                 key=LEVER + field)
            ov.append((f"horizon.{field}", int(v)))

    with sb.expander("Economy"):
        m = st.number_input("Shock multiplier", min_value=0.0, max_value=100.0,
                            value=float(base.economy.shock_multiplier), step=0.1,
                            key=LEVER + "shock_multiplier",
                            help="Multiplies every hardship-shock rate (job loss, illness, "
                                 "major expense).")
        ov.append(("economy.shock_multiplier", float(m)))
        has_path = bool(base.economy.macro_path)
        options = (["as in the file", "flat (no recession)", "recession ramp"] if has_path
                   else ["flat (as in the file)", "recession ramp"])
        choice = st.radio("Macro path", options, key=LEVER + "macro")
        if choice == "recession ramp":
            file_peak = max((v for _, v in base.economy.macro_path), default=2.0)
            peak = st.number_input("Peak multiplier", min_value=1.0, max_value=100.0,
                                   value=float(file_peak), step=0.1, key=LEVER + "peak")
            st.caption(f"1.0 through the warm-up, rising to the peak over "
                       f"{sup.RECESSION_RAMP_DAYS} days from the start of the window (the "
                       "bundled recession scenario's shape).")
            peak = float(peak)
        elif choice == "flat (no recession)":
            ov.append(("economy.macro_path", []))

    with sb.expander("Collectors"):
        for team, t in base.collectors.teams.items():
            st.markdown(f"**{team}** ({'/'.join(t.buckets)})")
            for i, s in enumerate(t.shifts):
                c1, c2 = st.columns([1, 2])
                n = c1.number_input(f"Shift {i + 1} headcount", min_value=0, max_value=100_000,
                                    value=s.headcount, step=1,
                                    key=f"{LEVER}team.{team}.{i}.headcount")
                lo, hi = c2.slider(f"Shift {i + 1} hours", min_value=0.0, max_value=24.0,
                                   value=(float(s.start_hour), float(s.end_hour)), step=0.5,
                                   key=f"{LEVER}team.{team}.{i}.hours")
                base_path = f"collectors.teams.{team}.shifts.{i}"
                ov += [(f"{base_path}.headcount", int(n)), (f"{base_path}.start_hour", lo),
                       (f"{base_path}.end_hour", hi)]

    with sb.expander("Channel costs"):
        st.caption(f"{base.currency} per attempt; agent time is costed by the team's hourly "
                   "rate, not here.")
        for ch, c in base.channels.items():
            v = st.number_input(ch, min_value=0.0, value=float(c.cost), step=0.01,
                                format="%.3f", key=f"{LEVER}cost.{ch}")
            ov.append((f"channels.{ch}.cost", float(v)))

    with sb.expander("Compliance"):
        profiles = list(PROFILES)
        profile = st.selectbox("Profile", profiles, index=profiles.index(base.compliance.profile),
                               key=LEVER + "profile")
        law = PROFILES[profile]
        st.caption(f"{profile}: contact window {law.window_start:g}:00–{law.window_end:g}:00. "
                   "Shifts must fit inside it; switching profile may make a shift illegal.")
        ov.append(("compliance.profile", profile))
        block = st.checkbox("Gate blocks calls on holidays",
                            value=base.compliance.block_calls_on_holidays,
                            key=LEVER + "block_holidays")
        ov.append(("compliance.block_calls_on_holidays", bool(block)))
        policy = st.selectbox("Strategies avoid holidays", ["as each strategy says", "all avoid",
                                                            "none avoid"],
                              key=LEVER + "strategy_holidays")
    avoid = {"all avoid": True, "none avoid": False}.get(policy)
    return ov, peak, avoid


def apply_levers(base: Scenario, ov: list[tuple[str, Any]], peak: float | None) -> Scenario:
    """The levers applied to the file's scenario. A recession ramp is laid over the
    horizon the other levers chose, so it is applied second."""
    sc = apply_overrides(base, ov, source="levers")
    if peak is not None:
        sc = apply_overrides(sc, [("economy.macro_path", sup.recession_path(sc.horizon, peak))],
                             source="levers")
    return sc


# ---------------------------------------------------------------- sidebar: strategies


def choose_strategies() -> tuple[list[Strategy], str, int, int] | None:
    st.sidebar.header("Strategies")
    names = list(bundled_strategies())
    picked = st.sidebar.multiselect(
        "Compare", names, default=[n for n in ("no_action", "seed_playbook") if n in names],
        key="strategies")
    if not picked:
        st.sidebar.warning("Pick at least one strategy.")
        return None
    ref = st.sidebar.selectbox("Reference (differences are taken against it)", picked,
                               index=picked.index("no_action") if "no_action" in picked else 0,
                               key="reference")
    reps = st.sidebar.number_input("Replications", min_value=1, max_value=sup.MAX_REPLICATIONS,
                                   value=1, step=1, key="replications",
                                   help="Each replication is a new book and a new history, the "
                                        "same for every strategy (common random numbers). Two "
                                        "or more give confidence intervals.")
    seed = st.sidebar.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1,
                                   key="seed")
    return [load_strategy(n) for n in picked], ref, int(reps), int(seed)


# ---------------------------------------------------------------- running


def _start(job: sup.Job) -> None:
    st.session_state.pop("notice", None)
    st.session_state["cancel_requested"] = False
    cached = result_store().get(job.key)
    if cached is None:
        st.session_state["job"] = job
        return
    st.session_state["result"] = cached
    st.session_state["result_key"] = job.key
    st.session_state["notice"] = ("Served from the cache: these settings (scenario, strategies, "
                                  "replications, seed, reference) were run before.")


def _cancel() -> None:
    st.session_state["cancel_requested"] = True


def run_section(job_ready: sup.Job | None, problems: str | None) -> None:
    """The Run button, and the progress of a running comparison.

    The loop below advances the job a few days at a time and updates the bar. Any click
    (Cancel included) makes Streamlit stop this script at its next element update, which
    is the bar's, between two chunks, and run it again: the job lives in session state, so
    the new run carries on from the last chunk, or drops the job when Cancel's flag is
    set (Cancel's callback runs before the script does). A widget state never changes in
    the middle of a script run, so the flag is read once, here at the top.
    """
    active: sup.Job | None = st.session_state.get("job")
    if active is not None and st.session_state.get("cancel_requested"):
        st.session_state.pop("job")
        st.session_state["cancel_requested"] = False
        st.session_state["notice"] = (f"Run cancelled after {len(active.results)} of "
                                      f"{active.total} runs; the results below are unchanged.")
        active = None
    c1, c2, c3 = st.columns([1, 1, 4])
    c1.button("Run comparison", type="primary", key="run", disabled=job_ready is None
              or active is not None, on_click=_start, args=(job_ready,))
    if active is None:
        if job_ready is not None:
            c3.caption(f"{job_ready.total} run{'s' * (job_ready.total > 1)}: "
                       f"{len(job_ready.strategies)} strateg"
                       f"{'ies' if len(job_ready.strategies) > 1 else 'y'} × "
                       f"{job_ready.replications} replication"
                       f"{'s' * (job_ready.replications > 1)}, "
                       f"{job_ready.scenario.population.accounts:,} accounts, "
                       f"{job_ready.scenario.horizon.days} days.")
        if problems:
            st.error("These settings cannot run:\n\n" + _as_lines(problems))
        if st.session_state.get("notice"):
            st.info(st.session_state["notice"])
        return
    c2.button("Cancel run", key="cancel", on_click=_cancel)
    bar = st.progress(active.fraction, text=active.describe_position())
    while not active.done:
        active.step(CHUNK_DAYS)
        bar.progress(active.fraction, text=active.describe_position())
    result = active.result()
    result_store().put(active.key, result)
    st.session_state["result"] = result
    st.session_state["result_key"] = active.key
    st.session_state.pop("job", None)
    st.rerun()  # draw the page again without the bar and the Cancel button


# ---------------------------------------------------------------- result tabs


def _show(draw: Callable[..., Figure], data: Any, *args: Any, source: str | None = None,
          **kwargs: Any) -> None:
    """Show an analysis figure of ``data``, drawn once per source and arguments.

    ``st.pyplot`` would draw it again on every rerun (a second or two a figure), and a
    rerun follows every click in the sidebar; the PNG it would send is kept instead.
    ``source`` names ``data`` (default: the comparison on screen).
    """
    key = (source or st.session_state.get("result_key"), draw.__name__, args,
           tuple(sorted(kwargs.items())))
    png = figure_store().get(key)
    if png is None:
        png = sup.png_bytes(draw(data, *args, **kwargs))
        figure_store().put(key, png)
    st.image(png)


def _table(result: ExperimentResult, keys: Iterable[str]) -> None:
    st.dataframe(sup.kpi_frame(result, keys), hide_index=True, width="stretch")


def overview(result: ExperimentResult) -> None:
    m = result.meta
    reps = int(m.get("replications", 1))
    st.caption(f"Scenario **{m.get('scenario')}**, {m.get('accounts'):,} accounts, "
               f"{reps} replication{'s' * (reps > 1)}, seed {m.get('seed')}, reference "
               f"**{m.get('reference')}**. Differences are paired by replication (common "
               "random numbers); intervals are 95%.")
    st.markdown(sup.verdict(result))
    for s in result.strategies:
        st.markdown(f"**{s}**" + (" (reference)" if s == m.get("reference") else ""))
        per_row = 3  # six to a row cut labels and money values short on a laptop screen
        for i in range(0, len(sup.CARD_KPIS), per_row):
            row = sup.CARD_KPIS[i:i + per_row]
            for col, k in zip(st.columns(per_row), row, strict=False):
                c = sup.card(result, s, k)
                col.metric(c["label"], c["value"], c["delta"], delta_color=c["delta_color"],
                           delta_arrow=c["delta_arrow"], border=True,
                           delta_description=c["description"] if c["delta"] else None)
    _show(figures.tradeoff_frontier, result)
    with st.expander("All KPIs (mean ± 95% CI half-width; differences against the reference)"):
        extras = [k for k in dict.fromkeys(result.summary["kpi"]) if k not in KPI_KEYS
                  and k not in WALL_CLOCK_KPIS]
        _table(result, [*KPI_KEYS, *extras])
    with st.expander("Exact values (mean over replications, as stored)"):
        st.dataframe(result.kpi_table(), width="stretch")


def delinquency(result: ExperimentResult) -> None:
    measure = st.radio("Measure", ["accounts", "balance"], horizontal=True, key="measure")
    _show(figures.delinquency_over_time, result, measure=measure)
    _show(figures.forward_flow, result)
    s = st.selectbox("Roll matrix of", result.strategies, key="roll_strategy")
    _show(figures.roll_matrix, result, s, measure=measure)
    _show(figures.cure_curves, result)
    _table(result, sup.DELINQUENCY_KPIS)


def money(result: ExperimentResult) -> None:
    _table(result, sup.MONEY_KPIS)
    _show(figures.tradeoff_frontier, result, x=("collection_cost", "charge_off_rate"),
          y="cohort_net_value")
    _show(figures.paired_forest, result, kpis=tuple(k for k in (
        "recovery_rate", "net_recovery", "cohort_net_value", "collection_cost",
        "cost_per_collected",
        "charge_off_rate") if k in set(result.summary["kpi"])))
    costs = [c for c in result.daily.columns if c.startswith("cost_")]
    st.markdown(f"**Cost by channel over the window** ({result.meta.get('currency', '')})")
    tot = window_totals(result, costs).rename(columns=lambda c: c.removeprefix("cost_"))
    st.dataframe(tot.round(2), width="stretch")


def customers(result: ExperimentResult) -> None:
    _show(figures.customers, result)
    _table(result, sup.CUSTOMER_KPIS)
    _show(figures.paired_forest, result, kpis=tuple(k for k in (
        "complaints_per_1k", "hardship_complaints_per_1k", "hardship_cure_rate_180",
        "retained_cured", "retained_value") if k in set(result.summary["kpi"])))


def operations(result: ExperimentResult) -> None:
    _show(figures.operations, result)
    blocked = [k for k in dict.fromkeys(result.summary["kpi"]) if k.startswith("blocked_")]
    _table(result, [*sup.OPERATIONS_KPIS, *blocked])
    d = daily_mean(result, ["backlog", "expired"])
    w = d[d["phase"] == "window"].groupby("strategy", sort=False)
    st.markdown("**Call queue over the window** (mean over replications)")
    st.dataframe(pd.DataFrame({"mean end-of-day backlog": w["backlog"].mean(),
                               "expired tasks": w["expired"].sum()}).round(1),
                 width="stretch")


def downloads(result: ExperimentResult) -> None:
    key = st.session_state.get("result_key", "results")
    st.caption("Every table of the comparison, as CSV or Parquet (tidy; the same files "
               "`collectsim compare --out` writes).")
    for name in ExperimentResult.TABLES:
        df = getattr(result, name)
        c1, c2, c3 = st.columns([2, 1, 1])
        c1.markdown(f"**{name}** ({len(df):,} rows)")
        c2.download_button("CSV", data=lambda df=df: sup.csv_bytes(df),
                           file_name=f"{name}.csv", mime="text/csv", key=f"csv.{name}")
        c3.download_button("Parquet", data=lambda df=df: sup.parquet_bytes(df),
                           file_name=f"{name}.parquet", mime="application/octet-stream",
                           key=f"parquet.{name}")
    st.markdown("**Report**")
    report = st.session_state.get("report")
    if report is None or report[0] != key:
        if st.button("Build the HTML report", key="build_report"):
            from analysis.report import write_report

            with st.spinner("Drawing the report's figures ..."), \
                    tempfile.TemporaryDirectory() as d:
                path = write_report(result, Path(d) / "report.html",
                                    title=f"{result.meta.get('scenario')}: strategy comparison")
                st.session_state["report"] = (key, path.read_bytes())
            report = st.session_state["report"]
    if report is not None and report[0] == key:
        st.download_button("HTML report", data=report[1], file_name="report.html",
                           mime="text/html", key="report_html")


def sweep_explorer() -> None:
    st.caption("Point at the results directory of a finished sweep "
               "(`collectsim sweep ... --out DIR`): it holds `kpis.parquet` and `manifest.json`.")
    directory = st.text_input("Sweep results directory", key="sweep_dir").strip()
    if not directory:
        return
    root = Path(directory).expanduser()
    try:
        manifest = SweepStore(root).read_manifest()
        if manifest is None or not (root / "kpis.parquet").exists():
            raise ConfigError(str(root), [("", "no finished sweep here (manifest.json and "
                                               "kpis.parquet are needed)")])
        df = read_results(root, "kpis")
    except ConfigError as e:
        st.error(e.render())
        return
    except OSError as e:
        st.error(f"{root}: cannot read: {e}")
        return
    grid = [g for g in manifest.get("grid", {}) if g in df.columns] or grid_columns(df)
    st.markdown(f"**{manifest.get('name', root.name)}**: {df['run_id'].nunique():,} runs, "
                f"grid {', '.join(grid)}")
    kpis = [k for k in dict.fromkeys(df["kpi"]) if k not in WALL_CLOCK_KPIS]
    c1, c2, c3 = st.columns(3)
    kpi = c1.selectbox("KPI", kpis, format_func=label, key="sweep_kpi",
                       index=kpis.index("cure_rate_30") if "cure_rate_30" in kpis else 0)
    x = c2.selectbox("x", grid, key="sweep_x")
    rest = [g for g in grid if g != x]
    y = c3.selectbox("y (heatmap)", ["(none: lines)", *rest], key="sweep_y")
    y = None if y.startswith("(none") else y
    strategies = list(dict.fromkeys(df["strategy"]))
    chosen = st.multiselect("Strategies", strategies, default=strategies, key="sweep_strategies")
    d, fixed = df, []
    for g in [g for g in rest if g != y]:
        values = sorted(df[g].dropna().unique().tolist())
        v = st.selectbox(f"{g} (held fixed)", values, key=f"sweep_fix.{g}")
        d = d[d[g] == v]
        fixed.append((g, v))
    if not chosen:
        st.info("Pick at least one strategy.")
        return
    try:
        _show(figures.sweep_plot, d, kpi, x, y, strategy=tuple(chosen),
              source=f"{root.resolve()}@{(root / 'kpis.parquet').stat().st_mtime_ns}:{fixed}")
    except ValueError as e:
        st.warning(str(e))


def strategy_viewer() -> None:
    st.caption("Each bundled strategy as a decision table, read top down: an account takes "
               "the first rule it matches.")
    for name in bundled_strategies():
        s = load_strategy(name)
        st.subheader(name)
        st.markdown(f"{s.description}  \nAgents dial {s.call_hours[0]:g}:00–"
                    f"{s.call_hours[1]:g}:00 (the law narrows it further); "
                    f"{'avoids' if s.avoid_holidays else 'does not avoid'} holidays.")
        rows = describe(s)
        if rows:
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        else:
            st.markdown("_No contact at all: statements only._")


# ---------------------------------------------------------------- page


def settings(base: Scenario | None, label_: str) -> tuple[sup.Job | None, str | None]:
    """The Job these widgets describe, or the problem that stops it."""
    if base is None:
        return None, None
    ov, peak, avoid = levers(base)
    picked = choose_strategies()
    try:
        sc = apply_levers(base, ov, peak)
    except ConfigError as e:
        return None, e.render()
    diff = sup.differences(base, sc)
    if picked is None:
        _differences(diff, label_)
        return None, None
    strategies, ref, reps, seed = picked
    changed = sup.with_holiday_policy(strategies, avoid)
    diff = pd.concat([diff, sup.strategy_differences(strategies, changed)], ignore_index=True)
    _differences(diff, label_)
    try:
        for s in changed:
            check_pair(sc, s, source=f"strategy {s.name}")
    except ConfigError as e:
        return None, e.render()
    return sup.Job(sc, changed, reps, seed, ref), None


def _differences(diff: pd.DataFrame, label_: str) -> None:
    title = (f"What differs from {label_}: {len(diff)} parameter{'s' * (len(diff) != 1)}"
             if len(diff) else f"Same as {label_}: no lever moved")
    with st.expander(title, expanded=False):
        st.dataframe(diff, hide_index=True, width="stretch")


def main() -> None:
    st.set_page_config(page_title="collectsim", layout="wide")
    st.title("Collections strategy simulator")
    st.caption("Collection strategies for overdue card instalment plans, compared on the same "
               "synthetic book (common random numbers). Metrics as defined in MODEL.md.")
    base, label_ = choose_scenario()
    job_ready, problems = settings(base, label_)
    run_section(job_ready, problems)

    result: ExperimentResult | None = st.session_state.get("result")
    if result is not None and job_ready is not None and \
            st.session_state.get("result_key") != job_ready.key:
        st.warning("The results below are from earlier settings; press Run to update them.")
    tabs = st.tabs(list(TABS), key="tab", on_change="rerun")
    pages = {"Overview": overview, "Delinquency": delinquency, "Money": money,
             "Customers": customers, "Operations": operations, "Downloads": downloads}
    for tab, name in zip(tabs, TABS, strict=True):
        with tab:
            if not tab.open:  # only the open tab is drawn: figures take time
                continue
            if name == "Sweep explorer":
                sweep_explorer()
            elif name == "Strategy viewer":
                strategy_viewer()
            elif result is None:
                st.info("Run a comparison to see results here.")
            else:
                pages[name](result)


main()
