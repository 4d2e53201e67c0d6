"""Scenario and strategy documents: strict pydantic models, loaded from TOML.

Every number a user may change lives here with a default, a unit and a range. The
defaults are MODEL.md's; the bundled scenario files repeat them with comments and sources.
Loading never executes anything from a file: TOML in, frozen models out, or a
:class:`ConfigError` that names the file, the field, what is wrong and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import math
import reprlib
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
STRATEGY_DIR = SCENARIO_DIR / "strategies"

BUCKETS = ("current", "M1", "M2", "M3", "M4", "M5", "M6")
DELINQUENT_BUCKETS = BUCKETS[1:]
CHANNEL_KINDS = ("message", "automated_call", "agent_call", "letter", "third_party_call")
RESPONSE_CLASSES = ("reminder", "conversation", "escalation")
CAUSES = ("unknown", "oversight", "hardship", "terms", "unwilling", "suspected_fraud")
PLAN_TYPES = ("reterm", "deferral", "settlement")
PRIORITIES = ("dpd", "balance", "risk", "expected_recovery")
TONES = {"gentle": 0.6, "normal": 1.0, "firm": 1.6}

Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
NonNeg = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Pos = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Hour = Annotated[float, Field(ge=0.0, le=24.0, allow_inf_nan=False)]
# Upper bounds on everything else: far beyond any real book, and inside what int64 cents,
# float32 state and a day's arithmetic can hold (a principal of 1e300 would overflow the
# ledger; a rate of 1e12 shocks a year would fill memory), so a typo is refused up front.
Factor = Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]  # a multiplier
Conc = Annotated[float, Field(gt=0.0, le=10_000.0, allow_inf_nan=False)]  # Beta a + b
Sigma = Annotated[float, Field(ge=0.0, le=5.0, allow_inf_nan=False)]  # a lognormal sigma
MeanDays = Annotated[float, Field(gt=0.0, le=3650.0, allow_inf_nan=False)]
Minutes = Annotated[float, Field(gt=0.0, le=600.0, allow_inf_nan=False)]
Price = Annotated[float, Field(ge=0.0, le=1e6, allow_inf_nan=False)]  # currency units
Amount = Annotated[float, Field(ge=0.0, le=1e9, allow_inf_nan=False)]  # currency units
DateRange = {"ge": dt.date(1900, 1, 1), "le": dt.date(2200, 12, 31)}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- scenario


class Horizon(Strict):
    start_date: dt.date = Field(dt.date(2025, 1, 1), **DateRange)
    warmup_days: int = Field(180, ge=0, le=3650)
    window_days: int = Field(180, ge=1, le=3650)
    followup_days: int = Field(180, ge=0, le=3650)

    @property
    def days(self) -> int:
        return self.warmup_days + self.window_days + self.followup_days


class Segment(Strict):
    share: Prob
    ability_mean: Prob  # probability of being able to pay an instalment when due
    ability_concentration: Conc = 40.0  # Beta concentration (a + b)
    willingness: Prob  # 0 = never pays voluntarily
    oversight_miss: Prob  # probability of missing a due date by oversight, per cycle
    strategic_miss: Prob = 0.0  # probability of a deliberate miss, per cycle
    contactability_factor: Factor = 1.0  # multiplies the answer probability
    cause: Literal["oversight", "hardship", "unwilling", "suspected_fraud"] = "oversight"
    response: dict[Literal["reminder", "conversation", "escalation"], Factor] = Field(
        default_factory=lambda: {"reminder": 1.0, "conversation": 1.0, "escalation": 1.0}
    )
    plan_acceptance: Prob = 0.3
    promise_keep: Prob = 0.7


def _default_segments() -> dict[str, Segment]:
    return {
        "steady": Segment(share=0.80, ability_mean=0.995, willingness=0.97, oversight_miss=0.01,
                          plan_acceptance=0.1,
                          response={"reminder": 1.0, "conversation": 1.0, "escalation": 0.6}),
        "forgetful": Segment(share=0.08, ability_mean=0.99, willingness=0.95, oversight_miss=0.15,
                             plan_acceptance=0.1,
                             response={"reminder": 3.0, "conversation": 1.5, "escalation": 0.6}),
        "stretched": Segment(share=0.08, ability_mean=0.90, ability_concentration=20,
                             willingness=0.9, oversight_miss=0.02, cause="hardship",
                             response={"reminder": 0.6, "conversation": 1.2, "escalation": 0.5},
                             plan_acceptance=0.25, promise_keep=0.55),
        "unwilling": Segment(share=0.03, ability_mean=0.95, willingness=0.35, oversight_miss=0.02,
                             strategic_miss=0.12, cause="unwilling",
                             contactability_factor=0.7,
                             response={"reminder": 0.2, "conversation": 0.8, "escalation": 2.5},
                             plan_acceptance=0.05, promise_keep=0.4),
        "fraud": Segment(share=0.01, ability_mean=0.9, willingness=0.0, oversight_miss=0.0,
                         strategic_miss=0.5,
                         cause="suspected_fraud", contactability_factor=0.25,
                         response={"reminder": 0.0, "conversation": 0.0, "escalation": 0.0},
                         plan_acceptance=0.0, promise_keep=0.0),
    }


class Population(Strict):
    accounts: int = Field(100_000, ge=1, le=20_000_000)
    reserve_share: float = Field(0.6, ge=0.0, le=5.0)  # joiners drawn up front, per account
    segments: dict[str, Segment] = Field(default_factory=_default_segments, max_length=100)
    misread_terms_share: Prob = 0.02  # of oversight-cause segments
    contactability_mean: Prob = 0.3
    contactability_concentration: Conc = 4.0
    app_user_share: Prob = 0.75
    email_share: Prob = 0.6
    complaint_propensity_sigma: Sigma = 0.8
    attrition_propensity_sigma: Sigma = 0.5
    risk_score_auc: float = Field(0.75, ge=0.5, le=0.99)

    @field_validator("segments")
    @classmethod
    def _shares(cls, v: dict[str, Segment]) -> dict[str, Segment]:
        if not v:
            raise ValueError("at least one segment is needed")
        total = sum(s.share for s in v.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"segment shares sum to {total:.6g}; they must sum to 1")
        return v


class Product(Strict):
    principal_median: Annotated[float, Field(gt=0.0, le=1e7, allow_inf_nan=False)] = 12_000.0
    principal_sigma: Sigma = 0.8  # lognormal sigma
    principal_max: Annotated[float, Field(gt=0.0, le=1e7, allow_inf_nan=False)] = 500_000.0
    terms: list[Annotated[int, Field(ge=1, le=120)]] = Field(
        default_factory=lambda: [3, 6, 12, 24], max_length=120)
    term_shares: list[Prob] = Field(default_factory=lambda: [0.10, 0.20, 0.40, 0.30],
                                    max_length=120)
    monthly_fee_rate: float = Field(0.006, ge=0.0, le=0.1)  # of original principal a month
    late_fee_rate: float = Field(0.05, ge=0.0, le=1.0)  # of the unpaid amount at a missed due
    late_fee_fixed: Price = 0.0  # currency units at a missed due
    penalty_interest_daily: float = Field(0.0005, ge=0.0, le=0.01)  # on overdue, a day
    charge_off_dpd: int = Field(180, ge=30, le=720)
    reborrow_gap_mean_days: MeanDays = 60.0

    @model_validator(mode="after")
    def _terms(self) -> Product:
        if len(self.terms) != len(self.term_shares) or not self.terms:
            raise ValueError("terms and term_shares must be non-empty lists of the same length")
        if not math.isclose(sum(self.term_shares), 1.0, abs_tol=1e-6):
            raise ValueError(f"term_shares sum to {sum(self.term_shares):.6g}; they must sum to 1")
        return self


class Shock(Strict):
    rate_per_year: Annotated[float, Field(ge=0.0, le=50.0, allow_inf_nan=False)]  # per account
    severity_mean: Prob  # share of ability lost
    duration_days_mean: MeanDays


def _default_shocks() -> dict[str, Shock]:
    return {
        "job_loss": Shock(rate_per_year=0.03, severity_mean=0.8, duration_days_mean=120),
        "illness": Shock(rate_per_year=0.02, severity_mean=0.6, duration_days_mean=60),
        "major_expense": Shock(rate_per_year=0.03, severity_mean=0.4, duration_days_mean=30),
    }


class Economy(Strict):
    shocks: dict[str, Shock] = Field(default_factory=_default_shocks, max_length=100)
    shock_multiplier: float = Field(1.0, ge=0.0, le=100.0)
    # shocks that start when m(t) is high also last longer, duration x m(t)^elasticity:
    # unemployment spells lengthen in recessions (BLS: median duration ~doubled 2007-2010)
    duration_elasticity: float = Field(1.0, ge=0.0, le=3.0)
    # Piecewise-linear macro multiplier m(t): [[day, multiplier], ...], days from start.
    macro_path: list[tuple[Annotated[int, Field(ge=0, le=36_500)],
                           Annotated[float, Field(ge=0, le=100)]]] = (
        Field(default_factory=list, max_length=10_000)
    )

    @field_validator("macro_path")
    @classmethod
    def _ascending(cls, v: list[tuple[int, float]]) -> list[tuple[int, float]]:
        days = [d for d, _ in v]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("macro_path days must be strictly increasing")
        return v


class Behaviour(Strict):
    base_hazard: float = Field(0.04, ge=0.0, le=5.0)  # lambda0, payments a day
    ability_exponent: float = Field(4.0, ge=0.0, le=20.0)  # g(a, w) = a^k * w
    decay_days: dict[Literal["reminder", "conversation", "escalation", "payment"], MeanDays] = Field(
        default_factory=lambda: {"reminder": 3.0, "conversation": 7.0, "escalation": 14.0,
                                 "payment": 10.0}
    )
    payment_uplift: Factor = 0.5  # self-excitation after a repayment
    catch_up_exponent: float = Field(1.0, ge=0.0, le=10.0)  # P(full cure) / cycles_behind^k
    partial_share_min: Prob = 0.2
    partial_share_max: Prob = 0.8
    reminder_window_days: int = Field(5, ge=0, le=60)
    reminder_miss_cut: Prob = 0.67  # reminders cut oversight misses by this share
    promise_rate: Prob = 0.4  # promise per right-party conversation at skill 1
    promise_days_max: int = Field(7, ge=1, le=30)
    hardship_acceptance_boost: Factor = 0.5  # plan acceptance x (1 + boost) in hardship
    plan_cooldown_days: int = Field(365, ge=0, le=3650)  # no new plan within this of the last
    settlement_discount: Prob = 0.3
    reterm_months: int = Field(12, ge=1, le=60)
    deferral_months: int = Field(2, ge=1, le=6)
    complaint_alpha: Factor = 0.3  # per contact beyond free_contacts in 7 days
    complaint_free_contacts: int = Field(3, ge=0, le=50)
    complaint_hardship_pressure: Factor = 3.0
    complaint_third_party: Factor = 2.0
    optout_per_message: Prob = 0.002

    @field_validator("decay_days")
    @classmethod
    def _all_decays(cls, v: dict[str, float]) -> dict[str, float]:
        missing = {"reminder", "conversation", "escalation", "payment"} - set(v)
        if missing:
            raise ValueError(f"lacks {sorted(missing)}; give all four of reminder, "
                             "conversation, escalation, payment (days)")
        return v


class Channel(Strict):
    kind: Literal["message", "automated_call", "agent_call", "letter", "third_party_call"]
    cost: Price  # currency units per attempt (agent time is costed by the team, not here)
    reach: Prob = 1.0  # delivery probability (messages, letters)
    requires: Literal["none", "app", "email"] = "none"
    response_class: Literal["reminder", "conversation", "escalation"] = "reminder"
    uplift: Factor = 1.0  # hazard uplift on delivery or conversation
    complaint_base: Prob = 0.0005  # complaint probability per delivered contact


def _default_channels() -> dict[str, Channel]:
    return {
        "sms": Channel(kind="message", cost=0.05, reach=0.95, uplift=1.0, complaint_base=0.0003),
        "app_push": Channel(kind="message", cost=0.005, reach=0.9, requires="app", uplift=0.6,
                            complaint_base=0.0001),
        "email": Channel(kind="message", cost=0.01, reach=0.9, requires="email", uplift=0.4,
                         complaint_base=0.0001),
        "ivr": Channel(kind="automated_call", cost=0.30, uplift=1.5, complaint_base=0.001),
        "call": Channel(kind="agent_call", cost=0.02, response_class="conversation",
                        uplift=2.0, complaint_base=0.002),
        "letter": Channel(kind="letter", cost=5.0, reach=0.9, response_class="escalation",
                          uplift=1.0, complaint_base=0.0003),
        "lawyer_letter": Channel(kind="letter", cost=100.0, reach=0.9,
                                 response_class="escalation", uplift=3.0, complaint_base=0.004),
        "emergency_contact": Channel(kind="third_party_call", cost=0.02,
                                     response_class="escalation", uplift=1.0,
                                     complaint_base=0.005),
    }


class ShiftCfg(Strict):
    start_hour: Hour
    end_hour: Hour
    headcount: int = Field(ge=0, le=100_000)

    @model_validator(mode="after")
    def _order(self) -> ShiftCfg:
        if self.end_hour <= self.start_hour:
            raise ValueError(f"end_hour ({self.end_hour}) must be after start_hour ({self.start_hour})")
        return self


class Team(Strict):
    buckets: list[Literal["M1", "M2", "M3", "M4", "M5", "M6"]]
    shifts: list[ShiftCfg] = Field(max_length=100)
    hourly_cost: Price = 60.0  # loaded cost, currency units an hour
    skill: float = Field(1.0, ge=0.0, le=3.0)  # multiplies promise and plan conversion
    work_days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4, 5, 6])  # 0 = Monday
    productive_share: Prob = 0.85  # share of shift time on the phone (breaks, admin)


def _default_teams() -> dict[str, Team]:
    return {
        "early": Team(buckets=["M1"], shifts=[ShiftCfg(start_hour=9, end_hour=18, headcount=6),
                                              ShiftCfg(start_hour=12, end_hour=21, headcount=4)]),
        "mid": Team(buckets=["M2", "M3"], shifts=[ShiftCfg(start_hour=9, end_hour=18, headcount=6),
                                                  ShiftCfg(start_hour=12, end_hour=21, headcount=3)],
                    hourly_cost=70.0, skill=1.1),
        "late": Team(buckets=["M4", "M5", "M6"],
                     shifts=[ShiftCfg(start_hour=9, end_hour=18, headcount=5)],
                     hourly_cost=80.0, skill=1.2),
    }


def _default_answer_profile() -> list[float]:
    # Relative answer probability by hour of day (local time): low in working hours,
    # higher at lunch and in the evening. Free parameter; multiplies contactability.
    prof = [0.2] * 24
    for h, v in {8: 0.7, 9: 0.8, 10: 0.8, 11: 0.9, 12: 1.2, 13: 1.1, 14: 0.8, 15: 0.8, 16: 0.9,
                 17: 1.1, 18: 1.3, 19: 1.4, 20: 1.3, 21: 1.0, 22: 0.6}.items():
        prof[h] = v
    return prof


class Collectors(Strict):
    teams: dict[str, Team] = Field(default_factory=_default_teams, max_length=100)
    answer_profile: list[Annotated[float, Field(ge=0, le=3)]] = Field(
        default_factory=_default_answer_profile)
    right_party_given_answer: Prob = 0.85
    no_answer_minutes: Minutes = 0.5
    wrong_party_minutes: Minutes = 1.0
    rpc_median_minutes: Minutes = 5.0
    rpc_sigma: Annotated[float, Field(ge=0.0, le=3.0, allow_inf_nan=False)] = 0.5
    after_call_minutes: Annotated[float, Field(ge=0.0, le=600.0, allow_inf_nan=False)] = 1.0
    retry_gap_hours: float = Field(2.0, ge=0.25, le=12)
    task_expiry_days: int = Field(3, ge=1, le=60)

    @field_validator("answer_profile")
    @classmethod
    def _len24(cls, v: list[float]) -> list[float]:
        if len(v) != 24:
            raise ValueError(f"needs 24 values, one per hour of day; got {len(v)}")
        return v

    @model_validator(mode="after")
    def _one_team_per_bucket(self) -> Collectors:
        seen: dict[str, str] = {}
        for name, team in self.teams.items():
            for b in team.buckets:
                if b in seen:
                    raise ValueError(f"bucket {b} is covered by teams {seen[b]!r} and {name!r}; "
                                     "each bucket may have one team")
                seen[b] = name
        return self


class Compliance(Strict):
    profile: Literal["cn_2022", "us_reg_f"] = "cn_2022"
    daily_call_cap: int = Field(3, ge=1, le=20)  # cn_2022: calls per account per day
    third_party_per_week: int = Field(1, ge=0, le=7)  # emergency-contact calls per account
    holidays: list[Annotated[dt.date, Field(**DateRange)]] = Field(default_factory=list,
                                                                   max_length=100_000)
    block_calls_on_holidays: bool = True  # cn_2022 practice: no collection calls on holidays


class Agency(Strict):
    fee_rate: float = Field(0.25, ge=0.0, le=0.6)  # contingency fee on collected
    placement_days: int = Field(90, ge=1, le=720)  # recalled after this
    uplift: Factor = 2.0  # escalation-class hazard uplift while placed


class Legal(Strict):
    fixed_cost: Amount = 1500.0
    court_fee_rate: float = Field(0.025, ge=0.0, le=0.5)  # of the claim
    delay_days_mean: MeanDays = 120.0
    success_prob: Prob = 0.6
    recovered_share: Prob = 0.5  # of the claim, paid at judgment


class Customer(Strict):
    lifetime_value: Amount = 1500.0  # currency units, per retained customer
    attrition_after_cure: Prob = 0.05
    attrition_per_contact: Prob = 0.01  # added per delivered contact during the episode
    complaint_handling_cost: Price = 50.0


class Scenario(Strict):
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    currency: str = Field("CNY", min_length=1, max_length=8)
    horizon: Horizon = Horizon()
    population: Population = Population()
    product: Product = Product()
    economy: Economy = Economy()
    behaviour: Behaviour = Behaviour()
    channels: dict[str, Channel] = Field(default_factory=_default_channels, max_length=1000)
    collectors: Collectors = Collectors()
    compliance: Compliance = Compliance()
    agency: Agency = Agency()
    legal: Legal = Legal()
    customer: Customer = Customer()

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        from .compliance import PROFILES

        law = PROFILES[self.compliance.profile]
        for name, team in self.collectors.teams.items():
            for i, s in enumerate(team.shifts):
                if s.start_hour < law.window_start or s.end_hour > law.window_end:
                    raise ValueError(
                        f"collectors.teams.{name}.shifts[{i}]: shift {s.start_hour:g}-{s.end_hour:g}h "
                        f"is outside the legal contact window of {self.compliance.profile} "
                        f"({law.window_start:g}-{law.window_end:g}h)")
        for seg in self.population.segments.values():
            missing = set(RESPONSE_CLASSES) - set(seg.response)
            if missing:
                raise ValueError(f"population.segments: response lacks {sorted(missing)}")
        return self

    def digest(self) -> str:
        return _digest(self)


# --------------------------------------------------------------------------- strategy


class Action(Strict):
    channel: str
    every_days: int = Field(1, ge=1, le=365)  # repeat every n days while the rule holds
    on_dpd: list[Annotated[int, Field(ge=0, le=720)]] = Field(default_factory=list,
                                                             max_length=1000)
    hour: Hour = 10.0  # for automated channels: when it is sent
    attempts_per_day: int = Field(1, ge=1, le=50)  # for calls
    priority: Literal["dpd", "balance", "risk", "expected_recovery"] = "dpd"
    if_no_contact_days: int = Field(0, ge=0, le=365)  # only if no conversation for n days


class Rule(Strict):
    name: str = ""
    buckets: list[Literal["M1", "M2", "M3", "M4", "M5", "M6"]]
    dpd: tuple[Annotated[int, Field(ge=0, le=10_000)],
               Annotated[int, Field(ge=0, le=10_000)]] | None = None
    risk: tuple[Prob, Prob] = (0.0, 1.0)
    causes: list[Literal["unknown", "oversight", "hardship", "terms", "unwilling",
                         "suspected_fraud"]] = Field(default_factory=lambda: list(CAUSES))
    min_overdue: Amount = 0.0
    min_broken_promises: int = Field(0, ge=0, le=10_000)
    tone: Literal["gentle", "normal", "firm"] = "normal"
    actions: list[Action] = Field(default_factory=list, max_length=100)
    offers: list[Literal["reterm", "deferral", "settlement"]] = Field(default_factory=list)
    place_agency_at_dpd: int | None = Field(None, ge=1, le=720)
    legal_at_dpd: int | None = Field(None, ge=1, le=720)
    legal_min_balance: Amount = 0.0

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if not self.buckets:
            raise ValueError("buckets must name at least one of M1..M6")
        if self.dpd is not None and self.dpd[0] > self.dpd[1]:
            raise ValueError(f"dpd range {list(self.dpd)} is empty; give [low, high] with low <= high")
        if self.risk[0] > self.risk[1]:
            raise ValueError(f"risk range {list(self.risk)} is empty")
        if not self.causes:
            raise ValueError(f"causes must list at least one of {list(CAUSES)}")
        return self


class PreDue(Strict):
    days_before: list[Annotated[int, Field(ge=0, le=28)]] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list, max_length=100)
    hour: Hour = 10.0


class Strategy(Strict):
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    avoid_holidays: bool = False
    call_hours: tuple[Hour, Hour] = (0.0, 24.0)  # when agents dial; the law narrows it further
    pre_due: PreDue = PreDue()
    rules: list[Rule] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _check(self) -> Strategy:
        if self.call_hours[0] >= self.call_hours[1]:
            raise ValueError(f"call_hours {list(self.call_hours)} is empty")
        return self

    def channels_used(self) -> set[str]:
        used = set(self.pre_due.channels)
        for r in self.rules:
            used |= {a.channel for a in r.actions}
        return used

    def digest(self) -> str:
        return _digest(self)


def check_pair(scenario: Scenario, strategy: Strategy, source: str = "") -> None:
    """Raise ConfigError if a strategy asks for what the scenario does not have."""
    problems: list[tuple[str, str]] = []
    for where, ch in _channel_refs(strategy):
        if ch not in scenario.channels:
            close = difflib.get_close_matches(ch, scenario.channels, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            problems.append((where, f"unknown channel {ch!r}; the scenario has "
                                    f"{sorted(scenario.channels)}{hint}"))
    for i, r in enumerate(strategy.rules):
        for j, a in enumerate(r.actions):
            if a.channel not in scenario.channels:
                continue
            kind = scenario.channels[a.channel].kind
            if kind in ("agent_call", "third_party_call"):
                for b in r.buckets:
                    if not any(b in t.buckets for t in scenario.collectors.teams.values()):
                        problems.append((f"rules[{i}].actions[{j}]",
                                         f"asks for {a.channel} in {b} but no collector team "
                                         f"covers {b} in scenario {scenario.name!r}"))
    for j, ch in enumerate(strategy.pre_due.channels):
        if ch in scenario.channels and scenario.channels[ch].kind in ("agent_call",
                                                                      "third_party_call"):
            problems.append((f"pre_due.channels[{j}]", f"{ch} needs a collector; pre-due "
                             "reminders must be automated (message, automated_call, letter)"))
    if problems:
        raise ConfigError(source or f"strategy {strategy.name}", problems)


def _channel_refs(strategy: Strategy) -> Iterable[tuple[str, str]]:
    for j, ch in enumerate(strategy.pre_due.channels):
        yield f"pre_due.channels[{j}]", ch
    for i, r in enumerate(strategy.rules):
        for j, a in enumerate(r.actions):
            yield f"rules[{i}].actions[{j}].channel", a.channel


# --------------------------------------------------------------------------- loading


def _digest(model: BaseModel) -> str:
    blob = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), [("", f"cannot read the file: {e}")]) from None
    return parse_toml(text, str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """TOML text -> a dict, or a ConfigError (also for nesting too deep for the parser)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, [("", f"not valid TOML: {e}")]) from None
    except RecursionError:
        raise ConfigError(source, [("", "not readable: arrays or tables nested too deeply; "
                                        "a scenario or strategy is a few levels deep")]) from None


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "literal[", "tuple[")):
            continue  # pydantic's internal validator names are noise to a user
        else:
            key = str(part)
            if not key or not all(c.isalnum() or c in "_-" for c in key):
                key = json.dumps(key, ensure_ascii=False)  # as TOML would quote it
            out += f".{key}" if out else key
    return out


# How a bad input is quoted in a message: short and bounded however deep or long it is
# (a 5,000-deep list made the plain repr() raise RecursionError).
_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxlist, _SHOW.maxtuple, _SHOW.maxdict = 3, 4, 4, 4
_SHOW.maxstring = _SHOW.maxlong = _SHOW.maxother = 40


def _shown(value: Any) -> str:
    try:
        return _SHOW.repr(value)
    except (RecursionError, ValueError):  # ValueError: int too long for str()
        return f"a {type(value).__name__}"


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    out = []
    for e in err.errors(include_url=False):
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not allowed; check the spelling against the bundled files)"
        elif e["type"] == "missing":
            msg = "required but missing"
        elif "input" in e and e["type"] not in ("model_type", "dict_type") and not (
                e["type"] == "value_error" and isinstance(e["input"], dict)):
            # (a cross-field check's input is the whole table: quoting it is noise)
            shown = _shown(e["input"])
            msg = f"{msg} (got {shown if len(shown) <= 80 else shown[:76] + ' ...'})"
        out.append((_loc(e["loc"]), msg))
    return out


def _validate(model: type[BaseModel], raw: Any, source: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(source, _problems(e)) from None
    except RecursionError:
        raise ConfigError(source, [("", "nested too deeply to read; a scenario or strategy "
                                        "is a few levels of tables and lists")]) from None


def validate_scenario(raw: dict[str, Any], source: str = "<scenario>") -> Scenario:
    return _validate(Scenario, raw, source)


def validate_strategy(raw: dict[str, Any], source: str = "<strategy>") -> Strategy:
    return _validate(Strategy, raw, source)


def resolve_scenario_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.exists() or p.suffix == ".toml" or "/" in str(name_or_path):
        return p
    return SCENARIO_DIR / f"{name_or_path}.toml"


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load and validate a scenario file, then apply ``dotted.path=value`` overrides."""
    p = resolve_scenario_path(path)
    scenario = validate_scenario(_read_toml(p), str(p))
    overrides = list(overrides)
    return apply_overrides(scenario, overrides) if overrides else scenario


def bundled_strategies() -> dict[str, Path]:
    return {p.stem: p for p in sorted(STRATEGY_DIR.glob("*.toml"))}


def load_strategy(name_or_path: str | Path) -> Strategy:
    """A bundled strategy by name (``seed_playbook``) or a TOML file path."""
    p = Path(name_or_path)
    if not p.exists():
        bundled = bundled_strategies()
        if str(name_or_path) in bundled:
            p = bundled[str(name_or_path)]
        else:
            close = difflib.get_close_matches(str(name_or_path), bundled, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(str(name_or_path), [("", f"no such strategy file or bundled "
                                                       f"strategy; bundled: {sorted(bundled)}{hint}")])
    return validate_strategy(_read_toml(p), str(p))


# --------------------------------------------------------------------------- overrides


def valid_paths(model: BaseModel) -> list[str]:
    """Every dotted path a ``--set`` or a sweep grid may name (leaves of the dump).

    A list of tables (a team's ``shifts``) is a value in its own right and also indexed
    by position, so ``collectors.teams.early.shifts.0.headcount`` names one field of the
    first shift; lists of plain values (``product.terms``) are set whole.
    """
    out: list[str] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict) and v:
            for k, sub in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), sub)
            return
        out.append(prefix)
        if isinstance(v, list) and any(isinstance(item, dict) for item in v):
            for i, item in enumerate(v):
                walk(f"{prefix}.{i}", item)

    walk("", model.model_dump(mode="json"))
    return out


def parse_value(text: str) -> Any:
    """A TOML literal (``5000``, ``1.5``, ``true``, ``[1, 2]``, ``"us_reg_f"``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def set_path(raw: dict[str, Any], path: str, value: Any, known: list[str], source: str) -> None:
    """Set one leaf of a dumped scenario; a numeric part indexes a list of tables."""
    parts = path.split(".")
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        key: str | int
        if isinstance(node, list) and part.isdigit() and any(isinstance(x, dict) for x in node):
            if int(part) >= len(node):
                where = ".".join(parts[:i])
                raise ConfigError(source, [(path, f"no such parameter; {where} has {len(node)} "
                                                  f"entries, numbered 0 to {len(node) - 1}")])
            key = int(part)
        elif isinstance(node, dict) and part in node:
            key = part
        else:
            close = difflib.get_close_matches(path, known, n=3, cutoff=0.5)
            hint = f"; nearest valid paths: {', '.join(close)}" if close else ""
            raise ConfigError(source, [(path, f"no such parameter{hint}")])
        if last:
            if isinstance(node[key], dict):
                raise ConfigError(source, [(path, "names a section, not a value; name one of "
                                                  f"its fields, e.g. {path}.{next(iter(node[key]))}")])
            node[key] = value
        else:
            node = node[key]


def apply_overrides(scenario: Scenario, overrides: Iterable[str | tuple[str, Any]],
                    source: str = "--set") -> Scenario:
    """Return a new scenario with overrides applied and the whole validated again."""
    raw = scenario.model_dump(mode="json")
    known = valid_paths(scenario)
    for ov in overrides:
        if isinstance(ov, tuple):
            path, value = ov
        else:
            if "=" not in ov:
                raise ConfigError(source, [(ov, "expected dotted.path=value, e.g. "
                                                "population.accounts=5000")])
            path, text = ov.split("=", 1)
            path, value = path.strip(), parse_value(text.strip())
        set_path(raw, path, value, known, source)
    return validate_scenario(raw, source)
