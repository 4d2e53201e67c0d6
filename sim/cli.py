"""`collectsim`: the command line over the library (typer + rich).

Bad input never shows a traceback: a :class:`ConfigError` is printed as
``file: field: problem`` lines on stderr and the exit code is 2.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
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
from .results import ExperimentResult, unit_of

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compare collection strategies on a simulated card instalment book.")
out = Console()
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
            err.print(f"[bold red]error[/]: {e.render()}", highlight=False, markup=True,
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
    return [load_strategy(n) for n in items]


def fmt(value: float | None, key: str, currency: str = "") -> str:
    if value is None or value != value:
        return "n/a"
    unit = unit_of(key)
    if unit == "rate":
        return f"{100 * value:.1f}%"
    if unit == "money":
        return f"{value:,.0f} {currency}".strip()
    if unit == "ratio":
        return f"{value:.3f}"
    if unit.startswith("per"):
        return f"{value:.1f}"
    return f"{value:,.0f}"


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


def progress_bar() -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("runs"), TimeElapsedColumn(),
                    TextColumn("left"), TimeRemainingColumn(), console=err,
                    disable=not err.is_terminal and os.environ.get("COLLECTSIM_PROGRESS") != "1")


def make_executor(workers: int) -> ProcessPoolExecutor | None:
    """A process pool, or None for in-process runs. Never touches global start methods."""
    if workers <= 1:
        return None
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override a scenario parameter: dotted.path=value (repeatable).")]
SeedOpt = Annotated[int, typer.Option(help="Root seed; replication r uses child r.")]
AccountsOpt = Annotated[int | None, typer.Option(help="Shortcut for --set population.accounts=N.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Also write results to this directory.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print {strategy: {kpi: value}} as JSON.")]


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
            as_json: JsonOpt = False) -> None:
    """Run several strategies on the same scenario with common random numbers."""
    sc = _scenario(scenario, set_, accounts)
    _compare(sc, _strategies(strategies), replications, seed, reference, workers, out_dir,
             as_json)


def _compare(sc: Scenario, strategies: list[Strategy], replications: int, seed: int,
             reference: str | None, workers: int, out_dir: Path | None, as_json: bool) -> None:
    from .config import check_pair
    from .experiment import compare as run_compare

    for st in strategies:
        check_pair(sc, st, source=f"strategy {st.name}")
    if reference is not None and reference not in [s.name for s in strategies]:
        raise ConfigError("--reference", [("", f"{reference!r} is not among the strategies "
                                               f"{[s.name for s in strategies]}")])
    n = len(strategies) * replications
    with progress_bar() as bar:
        task = bar.add_task("simulating", total=n)
        executor = make_executor(workers)
        try:
            result = run_compare(sc, strategies, replications, seed, reference, executor,
                                 on_done=lambda spec, res: bar.advance(task))
        finally:
            if executor is not None:
                executor.shutdown()
    if out_dir is not None:
        result.save(out_dir)
    if as_json:
        payload = {s: result.kpis(s) for s in result.strategies}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    out.print(kpi_table(result))
    if replications > 1 and len(strategies) > 1:
        print_paired(result)
    print_plausibility(result)
    if out_dir is not None:
        out.print(f"\nresults written to {out_dir}/")


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
            err.print(f"[bold red]error[/]: {e.render()}", highlight=False, soft_wrap=True)
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
