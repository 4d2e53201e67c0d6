"""`collectsim`: the command line over the library (typer + rich).

Bad input never shows a traceback: a :class:`ConfigError` is printed as
``file: field: problem`` lines on stderr and the exit code is 2.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape  # messages quote TOML such as [grid]: not markup
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .config import (
    Scenario,
    Strategy,
    _read_toml,
    apply_overrides,
    bundled_strategies,
    load_scenario,
    load_strategy,
    validate_scenario,
    validate_strategy,
)
from .errors import ConfigError
from .results import ExperimentResult, format_kpi, unit_of

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compare collection strategies on a simulated card instalment book.")
# piped or logged output (make run in CI) gets a wide table instead of truncated columns
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

HEADLINE = (
    "entry_cohort_size", "cure_rate_30", "cure_rate_180", "self_cure_share",
    "contact_cure_share", "plan_cure_share", "roll_m1_m2", "roll_m2_m3", "roll_m3_m4",
    "roll_m6_co", "recovery_rate", "collected", "collection_cost", "net_recovery",
    "cost_per_collected", "cohort_charged_off", "cohort_net_value", "charge_off_rate",
    "complaints_per_1k", "hardship_complaints_per_1k", "contacts", "call_attempts", "rpc_rate",
    "ptp_rate", "ptp_kept_rate", "plans_agreed", "agency_placements", "legal_actions",
    "collector_utilisation", "blocked_attempts", "violations", "retained_cured",
    "retained_value",
)

# (KPI, label, low, high): MODEL.md's public bands for the default scenario + seed_playbook
PLAUSIBILITY = (
    ("cure_rate_30", "M1 cure within 30 days", 0.70, 0.85),
    ("roll_m1_m2", "M1 -> M2 roll rate", 0.15, 0.30),
    ("charge_off_rate", "annualised charge-off rate", 0.01, 0.05),
)


def user_errors(fn: Callable) -> Callable:
    """Print ConfigError as a message and exit 2; never a traceback for bad input."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as e:
            err.print(f"[bold red]error[/]: {escape(e.render())}", highlight=False, markup=True,
                      soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def _scenario(path: str, sets: list[str] | None, accounts: int | None) -> Scenario:
    overrides = list(sets or [])
    if accounts is not None:
        overrides.append(f"population.accounts={accounts}")
    return load_scenario(path, overrides)


def _strategies(names: str) -> list[Strategy]:
    items = [n.strip() for n in names.split(",") if n.strip()]
    if not items:
        raise ConfigError("--strategies", [("", "name at least one strategy, e.g. "
                                                 "--strategies no_action,seed_playbook")])
    if items == ["all"]:
        items = list(bundled_strategies())
    loaded = [load_strategy(n) for n in items]
    # results are keyed by strategy name: two of one name would be mixed up
    seen: dict[str, str] = {}
    for item, st in zip(items, loaded, strict=True):
        if st.name in seen:
            raise ConfigError("--strategies", [("", f"{seen[st.name]} and {item} are both named "
                                                    f"{st.name!r}; each strategy in a comparison "
                                                    "needs a name of its own")])
        seen[st.name] = item
    return loaded


def fmt(value: float | None, key: str, currency: str = "") -> str:
    return format_kpi(value, key, currency)


def kpi_table(result: ExperimentResult, keys: tuple[str, ...] = HEADLINE) -> Table:
    cur = result.meta.get("currency", "")
    reps = result.meta.get("replications", 1)
    title = (f"{result.meta.get('scenario')}: {result.meta.get('accounts'):,} accounts, "
             f"{reps} replication{'s' if reps > 1 else ''}, seed {result.meta.get('seed')}")
    if reps > 1:
        title += " (mean ± 95% CI half-width)"
    t = Table(title=title, title_justify="left")
    t.add_column("KPI")
    t.add_column("unit", style="dim")
    for s in result.strategies:
        t.add_column(s, justify="right")
    summ = result.summary.set_index(["strategy", "kpi"])
    for key in keys:
        if not (summ.index.get_level_values("kpi") == key).any():
            continue
        unit = unit_of(key)
        row = [key, {"rate": "%", "money": cur}.get(unit, unit if unit != "count" else "")]
        for s in result.strategies:
            r = summ.loc[(s, key)]
            cell = fmt(r["mean"], key, "")
            if reps > 1 and r["ci_high"] == r["ci_high"]:
                half = (r["ci_high"] - r["ci_low"]) / 2
                cell += " ± " + fmt(half, key, "").rstrip("%") + ("%" if unit == "rate" else "")
            row.append(cell)
        t.add_row(*row)
    return t


def print_plausibility(result: ExperimentResult, strategy: str = "seed_playbook") -> None:
    if strategy not in result.strategies:
        return
    k = result.kpis(strategy)
    out.print(f"\n[bold]Plausibility[/] ({strategy} on {result.meta.get('scenario')} against "
              "MODEL.md's public bands):")
    for key, label, lo, hi in PLAUSIBILITY:
        v = k.get(key)
        inside = v is not None and lo <= v <= hi
        mark = "[green]inside[/]" if inside else "[yellow]outside[/]"
        out.print(f"  {label:30s} {fmt(v, key):>8s}   band {100 * lo:.0f}-{100 * hi:.0f}%   {mark}")


def progress_bar(failed: bool = False) -> Progress:
    """Runs done of total, elapsed, time left; with ``failed``, a count of failed runs
    (tasks then need a ``failed`` field)."""
    extra = [TextColumn("[red]{task.fields[failed]} failed")] if failed else []
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("runs"), *extra, TimeElapsedColumn(),
                    TextColumn("left"), TimeRemainingColumn(), console=err,
                    disable=not err.is_terminal and os.environ.get("COLLECTSIM_PROGRESS") != "1")


SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override a scenario parameter: dotted.path=value (repeatable).")]
SeedOpt = Annotated[int, typer.Option(help="Root seed; replication r uses child r.")]
AccountsOpt = Annotated[int | None, typer.Option(help="Shortcut for --set population.accounts=N.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Also write results to this directory.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print {strategy: {kpi: value}} as JSON.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    help="Run on a Dask cluster: the scheduler's address, tcp://HOST:PORT.")]
ReportOpt = Annotated[Path | None, typer.Option(
    "--report", help="Also write a self-contained HTML report (figures inline) to this file.")]


@app.command()
@user_errors
def run(scenario: Annotated[str, typer.Argument(help="Scenario file or bundled name.")],
        strategy: Annotated[str, typer.Option(help="Strategy file or bundled name.")] = "seed_playbook",
        seed: SeedOpt = 0, accounts: AccountsOpt = None, set_: SetOpt = None,
        out_dir: OutOpt = None, as_json: JsonOpt = False) -> None:
    """Simulate one strategy on one scenario."""
    sc = _scenario(scenario, set_, accounts)
    _compare(sc, [load_strategy(strategy)], 1, seed, None, 1, out_dir, as_json)


@app.command()
@user_errors
def compare(scenario: Annotated[str, typer.Argument(help="Scenario file or bundled name.")],
            strategies: Annotated[str, typer.Option(
                help="Comma-separated strategy names or files, or 'all'.")] = "all",
            replications: Annotated[int, typer.Option(min=1, max=10_000)] = 1,
            seed: SeedOpt = 0, reference: Annotated[str | None, typer.Option(
                help="Strategy the paired differences are taken against.")] = None,
            workers: Annotated[int, typer.Option(min=1, help="Processes to run on.")] = 1,
            accounts: AccountsOpt = None, set_: SetOpt = None, out_dir: OutOpt = None,
            as_json: JsonOpt = False,
            precision: Annotated[float | None, typer.Option(
                help="Keep adding replications until every paired 95% half-width of "
                     "--precision-kpi is at most this (percentage points for rates, else "
                     "the KPI's units); --replications is then the first batch.")] = None,
            precision_kpi: Annotated[str, typer.Option(
                help="KPI that --precision watches.")] = "cure_rate_30",
            max_replications: Annotated[int, typer.Option(
                min=2, help="Stop here even if --precision is not reached.")] = 50,
            scheduler: SchedulerOpt = None, report: ReportOpt = None) -> None:
    """Run several strategies on the same scenario with common random numbers."""
    sc = _scenario(scenario, set_, accounts)
    if report is not None:
        _check_report_path(report)  # before the runs, not after minutes of simulation
    _compare(sc, _strategies(strategies), replications, seed, reference, workers, out_dir,
             as_json, precision=precision, precision_kpi=precision_kpi,
             max_replications=max_replications, scheduler=scheduler, report=report)


def _compare(sc: Scenario, strategies: list[Strategy], replications: int, seed: int,
             reference: str | None, workers: int, out_dir: Path | None, as_json: bool,
             precision: float | None = None, precision_kpi: str = "cure_rate_30",
             max_replications: int = 50, scheduler: str | None = None,
             report: Path | None = None) -> None:
    from .config import check_pair
    from .experiment import compare as run_compare
    from .experiment import compare_until, open_executor

    for st in strategies:
        check_pair(sc, st, source=f"strategy {st.name}")
    if reference is not None and reference not in [s.name for s in strategies]:
        raise ConfigError("--reference", [("", f"{reference!r} is not among the strategies "
                                               f"{[s.name for s in strategies]}")])
    if scheduler is not None and workers > 1:
        raise ConfigError("--scheduler", [("", "give --workers or --scheduler, not both")])
    if precision is not None:
        target = _precision_target(precision, precision_kpi, replications, max_replications)
        replications = max(3, replications)  # the first batch: a t interval needs a few
    n = len(strategies) * replications
    if scheduler is None:  # a cluster's memory is its own business
        from .engine import check_memory

        check_memory(sc, concurrent=1 if workers <= 1 else min(workers, n)
                     if precision is None else workers)
    with progress_bar() as bar:
        task = bar.add_task("simulating", total=n)
        with open_executor(None if scheduler else workers, scheduler) as executor:
            if precision is None:
                result = run_compare(sc, strategies, replications, seed, reference, executor,
                                     on_done=lambda spec, res: bar.advance(task))
            else:
                result = compare_until(
                    sc, strategies, target, precision_kpi, max_replications, replications,
                    seed, reference, executor, on_done=lambda spec, res: bar.advance(task),
                    on_batch=lambda r: bar.update(task, total=r * len(strategies)))
    replications = int(result.meta["replications"])
    if out_dir is not None:
        result.save(out_dir)
    if report is not None:
        _write_report(result, report)
    if as_json:
        payload = {s: result.kpis(s) for s in result.strategies}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        if precision is not None:
            err.print(stopping_note(result), highlight=False)
        return
    out.print(kpi_table(result))
    if replications > 1 and len(strategies) > 1:
        print_paired(result)
    if precision is not None:
        out.print("\n" + stopping_note(result), highlight=False)
    print_plausibility(result)
    if out_dir is not None:
        out.print(f"\nresults written to {out_dir}/")


def _precision_target(precision: float, kpi: str, replications: int, max_reps: int) -> float:
    """--precision in the KPI's own units (a rate's points become a fraction)."""
    from .results import KPI_KEYS, KPI_UNITS

    known = sorted(set(KPI_KEYS) | set(KPI_UNITS))
    if kpi not in known:
        close = difflib.get_close_matches(kpi, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError("--precision-kpi", [("", f"unknown KPI {kpi!r}{hint}")])
    if not precision > 0:
        raise ConfigError("--precision", [("", f"must be a positive half-width, got {precision}")])
    if max_reps < max(3, replications):
        raise ConfigError("--max-replications", [("", f"{max_reps} is below the first batch of "
                                                      f"{max(3, replications)} replications")])
    return precision / 100 if unit_of(kpi) == "rate" else precision


def stopping_note(result: ExperimentResult) -> str:
    """Which criterion ended a --precision comparison, in the user's units."""
    from .experiment import STOP_PRECISION

    m = result.meta
    kpi, rate = m["precision_kpi"], unit_of(m["precision_kpi"]) == "rate"
    scale, unit = (100, " points") if rate else (1, "")
    widths = {s: h for s, h in m["half_widths"].items()}
    finite = {s: h for s, h in widths.items() if h is not None}
    widest = max(finite, key=finite.get) if finite else None
    wide = (f"widest {finite[widest] * scale:.3g}{unit} ({widest})" if widest
            else "no interval could be computed")
    goal = f"every 95% half-width of {kpi} <= {m['precision'] * scale:.3g}{unit}"
    n = m["replications"]
    if m["stopped"] == STOP_PRECISION:
        return f"stopped after {n} replications: precision reached ({goal}; {wide})"
    return (f"stopped after {n} replications: max replications reached before {goal} "
            f"({wide})")


def print_paired(result: ExperimentResult, keys: tuple[str, ...] = (
        "cure_rate_30", "roll_m1_m2", "recovery_rate", "net_recovery", "charge_off_rate",
        "complaints_per_1k")) -> None:
    p = result.paired
    t = Table(title=f"Paired differences against {result.meta['reference']} (95% CI); "
                    "the last column is the half-width without common random numbers",
              title_justify="left")
    for c in ("strategy", "KPI", "difference", "95% CI", "paired ±", "unpaired ±"):
        t.add_column(c, justify="right" if c not in ("strategy", "KPI") else "left")
    for _, r in p[p["kpi"].isin(keys)].iterrows():
        k = r["kpi"]
        t.add_row(r["strategy"], k, fmt(r["diff"], k), f"[{fmt(r['ci_low'], k)}, "
                  f"{fmt(r['ci_high'], k)}]", fmt(r["paired_half_width"], k),
                  fmt(r["unpaired_half_width"], k))
    out.print(t)


MAX_SWEEP_RUNS = 10_000  # above this a sweep needs --yes: a typo in a grid can cost a night


@app.command()
@user_errors
def sweep(file: Annotated[str, typer.Argument(help="Sweep file (TOML) or bundled sweep name.")],
          out_dir: Annotated[Path, typer.Option(
              "--out", help="Results directory; run the same command again to resume.")],
          workers: Annotated[int | None, typer.Option(
              min=1, help="Local processes (default: one per core).")] = None,
          scheduler: SchedulerOpt = None, set_: SetOpt = None,
          yes: Annotated[bool, typer.Option(
              "--yes", help=f"Allow a sweep of more than {MAX_SWEEP_RUNS:,} runs.")] = False,
          ) -> None:
    """Run a grid of scenario parameters x strategies x replications (resumable)."""
    from .sweep import parse_sweep, plan_sweep, run_sweep

    if workers is not None and scheduler is not None:
        raise ConfigError("--scheduler", [("", "give --workers or --scheduler, not both")])
    sf = parse_sweep(file)
    if sf.n_runs > MAX_SWEEP_RUNS and not yes:
        raise ConfigError(sf.source, [("", f"{sf.n_runs:,} runs ({sf.n_points:,} grid points x "
                                           f"{len(sf.strategies)} strategies x "
                                           f"{sf.replications} replications); more than "
                                           f"{MAX_SWEEP_RUNS:,} needs --yes")])
    plan = plan_sweep(sf, set_ or [])
    sc = plan.base
    if scheduler is None:  # before any work: one run per worker at once, the largest first
        from .engine import check_memory
        from .experiment import available_cores

        points = list({id(r.spec.scenario): r.spec.scenario for r in plan.runs}.values())
        check_memory(points, concurrent=min(workers or available_cores(), len(plan.runs)))
    where = f"Dask scheduler {scheduler}" if scheduler else (
        f"{workers} worker{'s' if workers != 1 else ''}" if workers else "one worker per core")
    out.print(f"sweep {sf.name}: {sf.n_points} grid points x {len(sf.strategies)} strategies x "
              f"{sf.replications} replications = {len(plan.runs)} runs of {sc.name} "
              f"({sc.population.accounts:,} accounts, {sc.horizon.days} days) on {where}",
              highlight=False)
    with progress_bar(failed=True) as bar:
        task: list[Any] = []

        def progress(st: Any) -> None:
            if not task:  # runs finished earlier count as done but not towards the speed
                task.append(bar.add_task("sweeping", total=st.total,
                                         completed=st.done + st.failed, failed=st.failed))
            else:
                bar.update(task[0], completed=st.done + st.failed, failed=st.failed)

        df = run_sweep(plan, out_dir, workers=workers, scheduler=scheduler, progress=progress)
    print_sweep(df, list(sf.grid), sf.show, sc.currency)
    failed: dict[str, str] = df.attrs["failed"]
    ran, skipped = df.attrs["ran"], df.attrs["skipped"]
    out.print(f"\n{ran} runs done now, {skipped} skipped (finished earlier), {len(failed)} "
              f"failed; results in {out_dir}/: kpis.parquet (one row per run x KPI), "
              "daily.parquet, runs.parquet, manifest.json", highlight=False)
    if failed:
        for run_id, line in list(failed.items())[:10]:
            err.print(f"[red]failed[/] {run_id}: {line}", highlight=False)
        err.print(f"details in {out_dir}/runs/<run_id>.failed.json; run the same command "
                  "again to retry the failed runs", highlight=False)
        raise typer.Exit(1)


def short_names(paths: list[str]) -> list[str]:
    """The shortest dotted suffixes that still tell the paths apart (table headers)."""
    for k in range(1, max((p.count(".") + 1 for p in paths), default=1) + 1):
        names = [".".join(p.split(".")[-k:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return list(paths)


def print_sweep(df: Any, grid: list[str], kpis: tuple[str, ...], currency: str = "",
                max_rows: int = 60) -> None:
    """Mean ± 95% half-width of a few KPIs per grid point and strategy."""
    from .sweep import summary

    if df.empty:
        return
    kpis = tuple(k for k in kpis if (df["kpi"] == k).any())
    s = summary(df, grid, kpis)
    short = short_names(grid)
    t = Table(title=f"mean over replications (± 95% CI half-width); money in {currency}",
              title_justify="left",
              caption="; ".join(f"{n} = {p}" for n, p in zip(short, grid, strict=True)
                                if n != p) or None, caption_justify="left")
    for c in [*short, "strategy"]:
        t.add_column(c)
    for k in kpis:
        t.add_column(k, justify="right")
    for _, r in s.head(max_rows).iterrows():
        cells = [str(r[c]) for c in [*grid, "strategy"]]
        for k in kpis:
            cell = fmt(r[k], k)
            half = r[f"{k}_half_width"]
            if half == half:  # not NaN: more than one replication
                cell += " ± " + fmt(half, k).rstrip("%") + ("%" if unit_of(k) == "rate" else "")
            cells.append(cell)
        t.add_row(*cells)
    out.print(t)
    if len(s) > max_rows:
        out.print(f"... {len(s) - max_rows} more rows in kpis.parquet", highlight=False)


@app.command()
@user_errors
def report(results_dir: Annotated[Path, typer.Argument(
               help="Directory written by `collectsim compare --out`.")],
           output: Annotated[Path, typer.Option(
               "-o", "--output", help="HTML file to write.")] = Path("report.html"),
           title: Annotated[str | None, typer.Option(help="Report title.")] = None) -> None:
    """Write a self-contained HTML report (KPI table, figures, guide) from saved results."""
    _check_report_path(output)
    _write_report(_load_results(results_dir), output, title)


def _load_results(path: Path) -> ExperimentResult:
    """An ExperimentResult from a results directory, or a ConfigError saying what is wrong."""
    src = str(path)
    if not path.is_dir():
        raise ConfigError(src, [("", "no such results directory; write one with "
                                     "`collectsim compare ... --out DIR`")])
    missing = [f"{t}.parquet" for t in ExperimentResult.TABLES
               if not (path / f"{t}.parquet").is_file()]
    if not (path / "experiment.json").is_file():
        missing.append("experiment.json")
    if missing:
        raise ConfigError(src, [("", f"not a compare results directory: missing "
                                     f"{', '.join(missing)} (written by `collectsim compare "
                                     "--out DIR`; an older collectsim may not write all of "
                                     "them: re-run compare)")])
    try:
        return ExperimentResult.load(path)
    except (OSError, ValueError, TypeError, KeyError) as e:
        # pyarrow's and json's errors are ValueError/OSError subclasses: a damaged file
        raise ConfigError(src, [("", f"cannot read the results: {e}")]) from None


def _check_report_path(path: Path) -> None:
    if path.is_dir():
        raise ConfigError(str(path), [("", "is a directory; give the report's file name, "
                                           "e.g. report.html")])


def _write_report(result: ExperimentResult, path: Path, title: str | None = None) -> None:
    # plotting is imported here only: `import sim` and the other commands stay light
    from analysis.report import write_report

    try:
        written = write_report(result, path, title)
    except OSError as e:
        raise ConfigError(str(path), [("", f"cannot write the report: {e.strerror or e}")]) \
            from None
    err.print(f"report written to {written}", highlight=False)


@app.command()
@user_errors
def validate(files: Annotated[list[Path], typer.Argument(help="Scenario or strategy files.")],
             set_: SetOpt = None) -> None:
    """Check scenario and strategy files; print every problem found."""
    problems: list[ConfigError] = []
    for f in files:
        try:
            raw = _read_toml(f)
            if "rules" in raw or "pre_due" in raw or f.parent.name == "strategies":
                st = validate_strategy(raw, str(f))
                out.print(f"[green]ok[/] {f}: strategy {st.name!r}, {len(st.rules)} rules")
            else:
                sc = validate_scenario(raw, str(f))
                if set_:
                    sc = apply_overrides(sc, set_)
                out.print(f"[green]ok[/] {f}: scenario {sc.name!r}, "
                          f"{sc.population.accounts:,} accounts, {sc.compliance.profile}")
        except ConfigError as e:
            problems.append(e)
    if problems:
        for e in problems:
            err.print(f"[bold red]error[/]: {escape(e.render())}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)


@app.command("strategies")
@user_errors
def list_strategies(show: Annotated[str | None, typer.Option(
        help="Show one strategy's rules as a table.")] = None) -> None:
    """List the bundled strategies, or show one's rules."""
    from .strategy import describe

    if show:
        st = load_strategy(show)
        t = Table(title=f"{st.name}: {st.description}", title_justify="left")
        for c in ("when", "actions", "offers", "tone"):
            t.add_column(c)
        for row in describe(st):
            t.add_row(row["when"], row["actions"], row["offers"], row["tone"])
        out.print(t)
        return
    t = Table(title="Bundled strategies", title_justify="left")
    t.add_column("name")
    t.add_column("description")
    for name, path in bundled_strategies().items():
        t.add_row(name, load_strategy(path).description)
    out.print(t)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
