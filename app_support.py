"""What the Streamlit app needs that is not layout: kept free of Streamlit so tests can
import it, and kept thin: every number comes from ``sim`` or ``analysis``.

- :func:`parse_upload` turns an uploaded scenario file into a validated Scenario (or a
  ConfigError worded like the CLI's), executing nothing from the upload;
- :func:`differences` lists what the app's levers changed against the file;
- :class:`Job` drives a comparison run by run, in chunks of days, so the app can show a
  real progress bar from the script thread and resume after a rerun;
- :class:`ResultStore` keeps finished comparisons as the bytes of
  :meth:`ExperimentResult.save` (no pickles), so the same settings are served again;
- :func:`verdict` and :func:`kpi_frame` say in words and in a table what the results show.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import threading
import tomllib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from analysis.stats import format_diff, format_value
from analysis.style import RC, better, label
from sim.config import (
    SCENARIO_DIR,
    Horizon,
    Scenario,
    Strategy,
    valid_paths,
    validate_scenario,
    validate_strategy,
)
from sim.engine import Simulation
from sim.errors import ConfigError
from sim.experiment import RunSpec, assemble
from sim.results import ExperimentResult, RunResult

# An interactive run must finish while someone waits: a 20,000-account book takes roughly
# a quarter of a minute per strategy over the default 540 days; 200,000 is ten times that.
# Larger books belong to `collectsim compare` or a sweep, which use every core.
MAX_ACCOUNTS = 200_000
DEFAULT_ACCOUNTS = 20_000
MAX_UPLOAD_BYTES = 256 * 1024
MAX_REPLICATIONS = 20

# Where MODEL.md's recession scenario puts its ramp: 1.0 through the warm-up, rising to the
# peak over this many days from the start of the measurement window, then held.
RECESSION_RAMP_DAYS = 180

# The KPI cards of the Overview tab: what a strategy team asks first.
CARD_KPIS = ("cure_rate_30", "roll_m1_m2", "cohort_net_value", "cost_per_collected",
             "charge_off_rate", "complaints_per_1k")
# What the verdict sentence compares; complaints are reported as the price paid.
VERDICT_KPIS = ("cohort_net_value", "cure_rate_30", "roll_m1_m2", "charge_off_rate")
COST_KPI = "complaints_per_1k"

MONEY_KPIS = ("recovery_rate", "collected", "collection_cost", "net_recovery",
              "cost_per_collected", "charge_off_amount", "charge_off_rate",
              "cohort_charged_off", "cohort_net_value", "contact_cost",
              "window_collected", "window_collection_cost")
CUSTOMER_KPIS = ("complaints", "complaints_per_1k", "complaints_per_10k_contacts",
                 "hardship_cohort_size", "other_cohort_size", "hardship_cure_rate_180",
                 "other_cure_rate_180", "hardship_complaints_per_1k", "other_complaints_per_1k",
                 "hardship_charge_off_share", "other_charge_off_share", "retained_cured",
                 "retained_value")
OPERATIONS_KPIS = ("collector_utilisation", "contacts", "call_attempts", "rpc_rate",
                   "ptp_rate", "ptp_kept_rate", "plans_agreed", "agency_placements",
                   "legal_actions", "blocked_attempts", "violations")
DELINQUENCY_KPIS = ("entry_cohort_size", "cure_rate_30", "cure_rate_180", "self_cure_share",
                    "contact_cure_share", "plan_cure_share", "roll_m1_m2", "roll_m2_m3",
                    "roll_m3_m4", "roll_m4_m5", "roll_m5_m6", "roll_m6_co")


# ---------------------------------------------------------------- scenarios and levers


def bundled_scenarios() -> dict[str, Path]:
    """The scenario files shipped with the package, by name."""
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.toml"))}


def parse_upload(name: str, data: bytes) -> Scenario:
    """An uploaded scenario file -> a validated Scenario, or ConfigError.

    TOML is data: nothing in the file is executed, imported or resolved as a path.
    """
    source = Path(name).name or "uploaded scenario"
    if len(data) > MAX_UPLOAD_BYTES:
        raise ConfigError(source, [("", f"the file is {len(data) / 1024:,.0f} KB; uploads are "
                                        f"limited to {MAX_UPLOAD_BYTES // 1024} KB (a scenario "
                                        "file is a few KB)")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(source, [("", f"not UTF-8 text (byte {e.start}: {e.reason}); save "
                                        "the scenario as UTF-8 TOML")]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, [("", f"not valid TOML: {e}")]) from None
    except RecursionError:  # tomllib recurses per level of nesting
        raise ConfigError(source, [("", "not readable: arrays or tables nested too deeply; "
                                        "a scenario is a few levels deep")]) from None
    return validate_scenario(raw, source)


def recession_path(horizon: Horizon, peak: float,
                   ramp_days: int = RECESSION_RAMP_DAYS) -> list[list[float]]:
    """A macro multiplier path: flat 1.0 through the warm-up, a linear ramp to ``peak``
    over ``ramp_days`` from the start of the window, then held to the end.

    With the default horizon and peak 2.0 this is exactly the bundled recession
    scenario's path; on a shorter horizon the ramp is cut where the run ends.
    """
    days, w = horizon.days, horizon.warmup_days
    end = w + ramp_days
    at_end = peak if end <= days else 1.0 + (peak - 1.0) * (days - w) / ramp_days
    points = [(0, 1.0), (w, 1.0), (min(end, days), at_end), (days, at_end)]
    out: list[list[float]] = []
    for d, m in points:
        if out and d <= out[-1][0]:  # the library wants strictly increasing days
            continue
        out.append([d, m])
    return out


def with_holiday_policy(strategies: Sequence[Strategy], avoid: bool | None) -> list[Strategy]:
    """The strategies as written (``None``) or all set to (not) avoid holidays."""
    if avoid is None:
        return list(strategies)
    return [st if st.avoid_holidays == avoid else validate_strategy(
        {**st.model_dump(mode="json"), "avoid_holidays": avoid}, f"strategy {st.name}")
        for st in strategies]


def value_at(dump: Any, path: str) -> Any:
    """The value at a dotted path of a dumped model (numeric parts index lists)."""
    node = dump
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def differences(base: Scenario, changed: Scenario) -> pd.DataFrame:
    """Every parameter whose value differs between the file and the app's scenario."""
    a, b = base.model_dump(mode="json"), changed.model_dump(mode="json")
    rows = []
    for path in valid_paths(base):
        old = value_at(a, path)
        # a list of tables (shifts) also has its indexed leaves listed; show those only
        if isinstance(old, list) and any(isinstance(x, dict) for x in old):
            continue
        try:
            new = value_at(b, path)
        except (KeyError, IndexError):
            new = None
        if old != new:
            rows.append({"parameter": path, "in the file": _show(old), "in the app": _show(new)})
    return pd.DataFrame(rows, columns=["parameter", "in the file", "in the app"])


def strategy_differences(before: Sequence[Strategy], after: Sequence[Strategy]) -> pd.DataFrame:
    """Rows like :func:`differences` for the strategies' holiday setting."""
    rows = [{"parameter": f"strategy {a.name}: avoid_holidays", "in the file": _show(a.avoid_holidays),
             "in the app": _show(b.avoid_holidays)}
            for a, b in zip(before, after, strict=True) if a.avoid_holidays != b.avoid_holidays]
    return pd.DataFrame(rows, columns=["parameter", "in the file", "in the app"])


def _show(v: Any) -> str:
    # one text column: Arrow cannot hold a column that mixes numbers, lists and strings
    return json.dumps(v) if isinstance(v, list | dict | bool) or v is None else str(v)


# ---------------------------------------------------------------- running a comparison


def settings_key(scenario: Scenario, strategies: Sequence[Strategy], replications: int,
                 seed: int, reference: str) -> str:
    """What makes two comparisons the same: digests, replications, seed, reference."""
    blob = json.dumps({"scenario": scenario.digest(),
                       "strategies": [s.digest() for s in strategies],
                       "replications": replications, "seed": seed, "reference": reference},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


@dataclass
class Job:
    """A comparison driven one chunk of days at a time from the caller's thread.

    The specs are exactly those :func:`sim.experiment.compare` builds (replication r of
    every strategy on seed child r: common random numbers), and the result is built by
    the same :func:`sim.experiment.assemble`, so the numbers equal ``compare``'s. State
    lives here rather than in a loop, so an interrupted script (a Streamlit rerun)
    carries on where it stopped.
    """

    scenario: Scenario
    strategies: list[Strategy]
    replications: int
    seed: int
    reference: str
    key: str = ""
    specs: list[RunSpec] = field(init=False)
    results: list[RunResult] = field(init=False, default_factory=list)
    current: Simulation | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.specs = [RunSpec(self.scenario, st, self.seed, r)
                      for r in range(self.replications) for st in self.strategies]
        if not self.key:
            self.key = settings_key(self.scenario, self.strategies, self.replications,
                                    self.seed, self.reference)

    @property
    def total(self) -> int:
        return len(self.specs)

    @property
    def done(self) -> bool:
        return len(self.results) == self.total

    @property
    def fraction(self) -> float:
        part = self.current.day / self.current.days if self.current is not None else 0.0
        return (len(self.results) + part) / self.total

    def describe_position(self) -> str:
        if self.done:
            return f"{self.total} of {self.total} runs done"
        spec = self.specs[len(self.results)]
        day = self.current.day if self.current is not None else 0
        return (f"run {len(self.results) + 1} of {self.total}: {spec.strategy.name}, "
                f"replication {spec.replication + 1}, day {day} of "
                f"{self.scenario.horizon.days}")

    def step(self, days: int) -> float:
        """Advance the current run by ``days`` (starting the next one when needed)."""
        if self.done:
            return 1.0
        spec = self.specs[len(self.results)]
        if self.current is None:
            self.current = Simulation(spec.scenario, spec.strategy, spec.seed_sequence())
        self.current.advance(days)
        if self.current.done:
            res = self.current.result()
            # the same tags sim.experiment.execute puts on a run
            res.meta["replication"] = spec.replication
            res.meta["root_seed"] = spec.seed
            self.results.append(res)
            self.current = None
        return self.fraction

    def result(self) -> ExperimentResult:
        if not self.done:
            raise RuntimeError("the comparison has not finished")
        return assemble(self.scenario, self.specs, self.results, self.reference)


class LRU:
    """A small thread-safe least-recently-used map: one serves every session of a server."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, key: Any) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class ResultStore:
    """Finished comparisons by settings key, as the files ExperimentResult.save writes.

    Bytes rather than live objects: nothing is pickled, an entry cannot be mutated by a
    session that holds it, and its size is known.
    """

    def __init__(self, max_entries: int = 16):
        self._lru = LRU(max_entries)

    def __contains__(self, key: str) -> bool:
        return key in self._lru

    def __len__(self) -> int:
        return len(self._lru)

    def put(self, key: str, result: ExperimentResult) -> None:
        with tempfile.TemporaryDirectory() as d:
            result.save(d)
            files = {p.name: p.read_bytes() for p in Path(d).iterdir() if p.is_file()}
        self._lru.put(key, files)

    def get(self, key: str) -> ExperimentResult | None:
        files: dict[str, bytes] | None = self._lru.get(key)
        if files is None:
            return None
        with tempfile.TemporaryDirectory() as d:
            for name, data in files.items():
                (Path(d) / name).write_bytes(data)
            return ExperimentResult.load(d)

    def clear(self) -> None:
        self._lru.clear()


def png_bytes(fig: Figure, dpi: int = int(RC["savefig.dpi"])) -> bytes:
    """A figure as PNG, drawn once: the app keeps the bytes, since drawing a figure takes
    far longer than showing it again on every rerun of the script."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


# ---------------------------------------------------------------- reading results


def _paired_row(result: ExperimentResult, strategy: str, kpi: str) -> pd.Series | None:
    p = result.paired
    if p.empty:
        return None
    hit = p[(p["strategy"] == strategy) & (p["kpi"] == kpi)]
    return None if hit.empty else hit.iloc[0]


def diff_interval(low: float | None, high: float | None, kpi: str) -> str:
    """The CI of a difference, signed and in the difference's unit (rates in pp)."""
    if low is None or high is None or low != low or high != high:
        return ""
    return f"[{format_diff(low, kpi)}, {format_diff(high, kpi)}]"


def _ci_text(row: pd.Series | None, kpi: str) -> str:
    if row is None:
        return ""
    ci = diff_interval(row["ci_low"], row["ci_high"], kpi)
    return f"95% CI {ci}" if ci else ""


def _signed(text: str) -> str:
    # analysis writes a typographic minus; st.metric reads the arrow from an ASCII "-"
    return "-" + text[1:] if text.startswith("−") else text


def card(result: ExperimentResult, strategy: str, kpi: str) -> dict[str, Any]:
    """One KPI card: value, difference against the reference, its CI, delta colouring."""
    cur = result.meta.get("currency", "")
    ref = result.meta.get("reference")
    value = result.kpis(strategy).get(kpi)
    out: dict[str, Any] = {"label": label(kpi), "value": format_value(value, kpi, cur),
                           "delta": None, "delta_color": "off", "delta_arrow": "auto",
                           "description": None}
    if strategy == ref:
        out["description"] = "the reference"
        return out
    row = _paired_row(result, strategy, kpi)
    if row is None or row["diff"] != row["diff"]:
        return out
    out["delta"] = _signed(format_diff(row["diff"], kpi))
    direction = better(kpi)
    shown_zero = not any(ch in "123456789" for ch in out["delta"])  # "+0.0 pp" is no change
    out["delta_color"] = "off" if shown_zero else {
        "higher": "normal", "lower": "inverse"}.get(direction or "", "off")
    out["delta_arrow"] = "off" if shown_zero else "auto"
    ci = _ci_text(row, kpi)
    reps = int(result.meta.get("replications", 1))
    out["description"] = (f"vs {ref}, {ci}" if ci else
                          f"vs {ref}; one replication, no CI" if reps < 2 else f"vs {ref}")
    return out


def kpi_frame(result: ExperimentResult, keys: Iterable[str]) -> pd.DataFrame:
    """A readable table: one row per KPI, each strategy's mean (± CI half-width with two
    or more replications), and each challenger's paired difference with its 95% CI."""
    cur = result.meta.get("currency", "")
    ref = result.meta.get("reference")
    summ = result.summary.set_index(["strategy", "kpi"])
    present = set(result.summary["kpi"])
    rows = []
    for k in keys:
        if k not in present:
            continue
        row: dict[str, str] = {"KPI": label(k)}
        for s in result.strategies:
            r = summ.loc[(s, k)]
            cell = format_value(r["mean"], k, cur)
            if r["ci_high"] == r["ci_high"]:
                half = (r["ci_high"] - r["ci_low"]) / 2
                cell += " ± " + format_value(half, k)
            row[s] = cell
        for s in result.strategies:
            if s == ref:
                continue
            p = _paired_row(result, s, k)
            if p is not None:
                text = format_diff(p["diff"], k)
                ci = diff_interval(p["ci_low"], p["ci_high"], k)
                row[f"{s} − {ref}"] = f"{text} {ci}".strip()
        rows.append(row)
    return pd.DataFrame(rows)


def verdict(result: ExperimentResult, kpis: Sequence[str] = VERDICT_KPIS,
            cost_kpi: str = COST_KPI) -> str:
    """Which strategy wins on what, against the reference, and what it costs in complaints.

    "Wins" means the best mean on a KPI with a good direction. With two or more
    replications a win whose paired 95% CI includes zero is called indistinguishable.
    """
    ref = result.meta.get("reference") or result.strategies[0]
    cur = result.meta.get("currency", "")
    reps = int(result.meta.get("replications", 1))
    if len(result.strategies) < 2:
        return (f"Only {ref} was run: pick a second strategy to compare against it.")
    table = result.kpi_table()
    winners: dict[str, list[str]] = {}
    for k in kpis:
        direction = better(k)
        if k not in table.index or direction is None:
            continue
        col = table.loc[k].astype(float).dropna()
        if col.nunique() < 2:
            continue  # all equal (or one value): nobody wins on it
        top = col.max() if direction == "higher" else col.min()
        tied = [str(s) for s in col.index[col == top]]
        # a tie with the reference is no win for a challenger
        best = ref if ref in tied else tied[0]
        winners.setdefault(best, []).append(k)
    if not winners:
        return (f"No strategy differs from {ref} on {_join([_lower(label(k)) for k in kpis])}"
                " in these runs.")
    sentences = []
    for s, ks in winners.items():
        parts = []
        for k in ks:
            value = format_value(result.kpis(s).get(k), k, cur)
            if s == ref:
                parts.append(f"{_lower(label(k))} ({value})")
                continue
            row = _paired_row(result, s, k)
            text = f"{_lower(label(k))} ({value}; {format_diff(row['diff'], k)} against {ref}"
            if reps >= 2 and row is not None:
                text += f", {_ci_text(row, k)}"
                if row["ci_low"] <= 0 <= row["ci_high"]:
                    text += ", not distinguishable from zero"
            parts.append(text + ")")
        claim = _join(parts)
        if s == ref:
            sentences.append(f"The reference **{ref}** stays best on {claim}: no challenger "
                             "beats it there.")
            continue
        cost = _paired_row(result, s, cost_kpi)
        own = format_value(result.kpis(s).get(cost_kpi), cost_kpi)
        if cost is None or cost["diff"] != cost["diff"]:
            price = f"with {own} complaints per 1,000 delinquent accounts"
        elif cost["diff"] > 0:
            price = (f"at a cost of {format_diff(cost['diff'], cost_kpi)} complaints per 1,000 "
                     f"delinquent accounts ({own} against "
                     f"{format_value(result.kpis(ref).get(cost_kpi), cost_kpi)})")
        else:
            price = (f"with no extra complaints ({own} per 1,000 delinquent accounts, "
                     f"{format_diff(cost['diff'], cost_kpi)} against {ref})")
        sentences.append(f"**{s}** wins on {claim}, {price}.")
    if reps < 2:
        sentences.append("One replication: the differences carry no confidence interval; "
                         "raise replications to see which ones are real.")
    return " ".join(sentences)


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8")


def parquet_bytes(df: pd.DataFrame) -> bytes:
    return df.to_parquet(index=False)
