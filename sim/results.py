"""What a run produces, and how it is written to disk."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

# MODEL.md's KPI keys, in the order tables show them; more may follow these.
KPI_KEYS = (
    "accounts", "entry_cohort_size", "cure_rate_30", "cure_rate_180", "self_cure_share",
    "contact_cure_share", "plan_cure_share", "roll_m1_m2", "roll_m2_m3", "roll_m3_m4",
    "roll_m4_m5", "roll_m5_m6", "roll_m6_co", "recovery_rate", "collected", "collection_cost",
    "net_recovery", "cost_per_collected", "charge_off_amount", "charge_off_rate", "complaints",
    "complaints_per_1k", "contacts", "blocked_attempts", "violations", "collector_utilisation",
    "call_attempts", "rpc_rate", "ptp_rate", "ptp_kept_rate", "plans_agreed",
    "agency_placements", "legal_actions", "retained_cured", "retained_value",
)

# unit of each KPI, for tables: "rate" (fraction, shown as %), "money", "count", "ratio"
KPI_UNITS: dict[str, str] = {
    "accounts": "count", "entry_cohort_size": "count", "recovery_rate": "rate",
    "collected": "money", "collection_cost": "money", "net_recovery": "money",
    "cost_per_collected": "ratio", "charge_off_amount": "money", "charge_off_rate": "rate",
    "complaints": "count", "complaints_per_1k": "per 1k", "contacts": "count",
    "blocked_attempts": "count", "violations": "count", "collector_utilisation": "rate",
    "call_attempts": "count", "plans_agreed": "count", "agency_placements": "count",
    "legal_actions": "count", "retained_cured": "count", "retained_value": "money",
    "contact_cost": "money", "cohort_charged_off": "money", "cohort_net_value": "money", "window_collection_cost": "money", "window_collected": "money", "complaints_per_10k_contacts": "per 10k",
    "hardship_complaints_per_1k": "per 1k", "other_complaints_per_1k": "per 1k",
}


def unit_of(key: str) -> str:
    if key in KPI_UNITS:
        return KPI_UNITS[key]
    if key.startswith(("cure_rate", "roll_", "hardship_cure", "other_cure")) or key.endswith(
            ("_share", "_rate")):
        return "rate"
    return "count"


def format_kpi(value: float | None, kpi: str, currency: str = "") -> str:
    """A KPI value as every table shows it (rates in %, money with thousands separators):
    one function, so the terminal, the report and the app read the same."""
    if value is None or value != value:
        return "n/a"
    unit = unit_of(kpi)
    if unit == "rate":
        return f"{100 * value:.1f}%"
    if unit == "money":
        return f"{value:,.0f} {currency}".strip()
    if unit == "ratio":
        return f"{value:.3f}"
    if unit.startswith("per"):
        return f"{value:.1f}"
    return f"{value:,.0f}"


def clean(value: Any) -> float | None:
    """KPIs are floats or None (undefined), never NaN."""
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) or math.isinf(v) else v


@dataclass
class RunResult:
    kpis: dict[str, float | None]
    daily: pd.DataFrame
    cohorts: pd.DataFrame
    roll_matrix: pd.DataFrame
    cure_curve: pd.DataFrame  # day since entry -> share of the cohort cured, by type
    episodes: pd.DataFrame  # one row per entry-cohort episode (arm, outcome, money)
    meta: dict[str, Any] = field(default_factory=dict)
    contacts: pd.DataFrame | None = None
    arms: dict[str, dict[str, float | None]] | None = None  # champion/challenger KPIs

    def save(self, out: str | Path) -> Path:
        """Write kpis.json, daily.parquet, cohorts.parquet, roll_matrix.parquet (atomically)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "kpis.json", json.dumps(
            {"kpis": self.kpis, "meta": self.meta, "arms": self.arms}, indent=2, default=str))
        for name, df in (("daily", self.daily), ("cohorts", self.cohorts),
                         ("roll_matrix", self.roll_matrix), ("cure_curve", self.cure_curve),
                         ("episodes", self.episodes)):
            atomic_write_parquet(df, out / f"{name}.parquet")
        if self.contacts is not None:
            atomic_write_parquet(self.contacts, out / "contacts.parquet")
        return out


def atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class ExperimentResult:
    """Several strategies x replications: tidy tables, one row per run x KPI in ``runs``."""

    runs: pd.DataFrame  # strategy, replication, kpi, value
    summary: pd.DataFrame  # strategy, kpi, n, mean, sd, ci_low, ci_high
    paired: pd.DataFrame  # strategy, reference, kpi, n, diff, ci_low, ci_high, half-widths
    daily: pd.DataFrame  # daily series, with strategy and replication columns
    cohorts: pd.DataFrame
    roll: pd.DataFrame
    curves: pd.DataFrame  # cure curves: strategy, replication, day, cured, self/contact/plan
    meta: dict[str, Any] = field(default_factory=dict)

    TABLES = ("runs", "summary", "paired", "daily", "cohorts", "roll", "curves")

    @property
    def strategies(self) -> list[str]:
        return list(dict.fromkeys(self.runs["strategy"]))

    def kpi_table(self) -> pd.DataFrame:
        """Mean KPI per strategy (columns) and KPI (rows)."""
        t = self.summary.pivot(index="kpi", columns="strategy", values="mean")
        return t.reindex(columns=self.strategies)

    def kpis(self, strategy: str) -> dict[str, float | None]:
        s = self.summary[self.summary["strategy"] == strategy]
        return {k: clean(v) for k, v in zip(s["kpi"], s["mean"], strict=True)}

    def save(self, out: str | Path) -> Path:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for name in self.TABLES:
            atomic_write_parquet(getattr(self, name), out / f"{name}.parquet")
        atomic_write_text(out / "experiment.json", json.dumps(self.meta, indent=2, default=str))
        return out

    @classmethod
    def load(cls, path: str | Path) -> ExperimentResult:
        path = Path(path)
        tables = {name: pd.read_parquet(path / f"{name}.parquet") for name in cls.TABLES}
        meta = json.loads((path / "experiment.json").read_text(encoding="utf-8"))
        return cls(**tables, meta=meta)
