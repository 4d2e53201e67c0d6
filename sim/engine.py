"""One run: a SimPy environment with the daily portfolio process, timed automated
dispatches, collector teams, and agency and legal pipelines. ``run(...) -> RunResult``.

Time is in days; hour h of day d is ``d + h/24``. The portfolio process wakes at the
start of each day and does the vectorised work for every account at once (shocks,
re-borrowing and joiners, promises, payments, billing, fees, DPD, charge-off), then asks
the strategy for the day's actions: automated contacts are dispatched at their hour by
short-lived processes, call tasks go to the teams' queues. A recorder closes each day.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import simpy
from scipy.special import expit

from . import behaviour as bh
from . import ledger as lg
from .audit import LOG_COLUMNS, Auditor
from .channels import Catalogue
from .collectors import Desk, team_process
from .compliance import KIND_CODES, PROFILES, RULES, Gate
from .config import CAUSES, DELINQUENT_BUCKETS, RESPONSE_CLASSES, Scenario, Strategy, check_pair
from .population import CAUSE_CODES, People, draw_plan, generate, macro_curve
from .rng import Streams
from .strategy import Observed, match, rule_start_dpd, tone_factor

NONE = lg.NONE
AGENT, THIRD = KIND_CODES["agent_call"], KIND_CODES["third_party_call"]
MESSAGE, IVR, LETTER = KIND_CODES["message"], KIND_CODES["automated_call"], KIND_CODES["letter"]
# outcomes in the log
NO_ANSWER, WRONG_PARTY, CONVERSATION, THIRD_PARTY_REACHED, DELIVERED, NOT_DELIVERED = range(6)
# why a cardholder left a slot
EXIT_NONE, EXIT_CHARGED_OFF, EXIT_SETTLED, EXIT_ATTRITION, EXIT_LEGAL = range(5)
# how an episode cured
CURE_NONE, CURE_SELF, CURE_CONTACT, CURE_PLAN = range(4)
REMINDER, CONV, ESCALATION, PAYMENT = range(4)
PRIORITY_CODES = {"dpd": 0, "balance": 1, "risk": 2, "expected_recovery": 3}


@dataclass
class Episodes:
    """Delinquency episodes (entry at DPD 1 to cure, charge-off or exit), growable."""

    cap: int = 1024

    def __post_init__(self) -> None:
        self.n = 0
        self.slot = np.zeros(self.cap, np.int64)
        self.person = np.zeros(self.cap, np.int64)
        self.entry = np.zeros(self.cap, np.int32)
        self.overdue = np.zeros(self.cap, np.int64)
        self.hardship = np.zeros(self.cap, bool)
        self.cure_day = np.full(self.cap, NONE, np.int32)
        self.cure_type = np.zeros(self.cap, np.int8)
        self.end_day = np.full(self.cap, NONE, np.int32)
        self.exit = np.zeros(self.cap, np.int8)
        self.collected = np.zeros(self.cap, np.int64)
        self.contacts = np.zeros(self.cap, np.int32)
        self.complaints = np.zeros(self.cap, np.int32)
        self.leaving = np.zeros(self.cap, bool)
        self.cost = np.zeros(self.cap, np.float64)  # collection cost attributed, cents
        self.charged_off = np.zeros(self.cap, np.int64)  # balance charged off, cents

    def add(self, slot, person, day, overdue, hardship) -> np.ndarray:
        k = len(slot)
        if self.n + k > self.cap:
            new = max(self.cap * 2, self.n + k)
            for name, a in list(vars(self).items()):
                if isinstance(a, np.ndarray):
                    b = np.zeros(new, a.dtype) if name not in ("cure_day", "end_day") else np.full(
                        new, NONE, a.dtype)
                    b[: self.n] = a[: self.n]
                    setattr(self, name, b)
            self.cap = new
        ids = np.arange(self.n, self.n + k)
        self.slot[ids], self.person[ids], self.entry[ids] = slot, person, day
        self.overdue[ids], self.hardship[ids] = overdue, hardship
        self.n += k
        return ids


class Run:
    """All the state of one run, and the handlers the processes call."""

    def __init__(self, scenario: Scenario, strategy: Strategy, seed: int | np.random.SeedSequence,
                 record_contacts: bool = False, check_invariants: bool = False,
                 arms: np.ndarray | None = None, strategies: list[Strategy] | None = None):
        for st in strategies or [strategy]:
            check_pair(scenario, st, source=f"strategy {st.name}")
        self.sc, self.strategy = scenario, strategy
        self.days = scenario.horizon.days
        self.streams = Streams(seed)
        self.people: People = generate(scenario, self.streams)
        self.cal = lg.Calendar(scenario.horizon.start_date, self.days, scenario.compliance.holidays)
        self.cat = Catalogue.from_config(scenario.channels)
        n = scenario.population.accounts
        self.n = n
        self.book = lg.Book(n)
        self.next_joiner = n
        self.record_contacts = record_contacts
        self.check_invariants = check_invariants
        law = PROFILES[scenario.compliance.profile]
        self.law = law
        self.gate = Gate(n, law, scenario.compliance.daily_call_cap,
                         scenario.compliance.third_party_per_week,
                         self.cal.holidays if scenario.compliance.block_calls_on_holidays else set())
        self.auditor = Auditor(self.people.size, law, scenario.compliance.daily_call_cap,
                               scenario.compliance.third_party_per_week, self.cal.holidays,
                               scenario.compliance.block_calls_on_holidays)
        self.macro = macro_curve(scenario.economy, self.days + 1)
        b = scenario.behaviour
        self.decay = np.array([np.exp(-1.0 / b.decay_days[k]) for k in
                               ("reminder", "conversation", "escalation", "payment")],
                              dtype=np.float32)
        segs = list(scenario.population.segments.values())
        self.resp = np.array([[s.response[c] for c in RESPONSE_CLASSES] for s in segs])
        self.seg_accept = np.array([s.plan_acceptance for s in segs])
        self.seg_keep = np.array([s.promise_keep for s in segs])
        self.profile = np.array(scenario.collectors.answer_profile)
        # champion/challenger: strategies[arm[slot]]; a single strategy is one arm
        self.strategies = strategies or [strategy]
        self.arm = arms if arms is not None else np.zeros(n, np.int8)
        self.tones = [tone_factor(s) for s in self.strategies]
        # plan offered in a conversation, by arm and rule (last column: no rule): the first
        # of the rule's offers that applies: settlement (0), reterm (1), deferral (2), or -1
        width = max(len(s.rules) for s in self.strategies) + 1
        self._offer_early = np.full((len(self.strategies), width), -1, np.int8)
        self._offer_late = np.full((len(self.strategies), width), -1, np.int8)
        for a, st in enumerate(self.strategies):
            for i, rule in enumerate(st.rules):
                codes = {"settlement": 0, "reterm": 1, "deferral": 2}
                late = [codes[o] for o in rule.offers]  # in the order the rule lists them
                early = [k for k in late if k != 0]
                self._offer_early[a, i] = early[0] if early else -1
                self._offer_late[a, i] = late[0] if late else -1

        # per-slot state beyond the ledger
        P = self.people.size
        self.shock_active = np.zeros(P, np.int16)
        self.shock_logsum = np.zeros(P, np.float32)
        self._shock_end_order = np.argsort(self.people.shock_end, kind="stable")
        self.stim = np.zeros((4, n), np.float32)
        self.cause = np.zeros(n, np.int8)
        self.broken = np.zeros(n, np.int16)
        self.promise_day = np.full(n, NONE, np.int32)
        self.last_reminder = np.full(n, NONE, np.int32)
        self.miss_recent = np.zeros(n, np.float32)
        self.risk = np.zeros(n, np.float32)
        self.recent = np.zeros((n, 7), np.int16)  # delivered contacts by day % 7
        self.attempts_hist = np.zeros(n, np.int32)
        self.rpc_hist = np.zeros(n, np.int32)
        self.ep = np.full(n, -1, np.int64)
        self.eps = Episodes()
        self.agency_until = np.full(n, NONE, np.int32)
        self.agency_done = np.zeros(n, bool)
        self.legal_day = np.full(n, NONE, np.int32)
        self.legal_claim = np.zeros(n, np.int64)
        self.leaving = np.zeros(n, bool)
        self.complained = np.zeros(n, bool)
        self.last_plan = np.full(n, NONE, np.int32)
        self.rule_today = np.full(n, -1, np.int16)
        self.vacant = np.zeros(n, bool)
        self.exit_code = np.zeros(P, np.int8)
        self.exit_day = np.full(P, NONE, np.int32)
        self.delinquent_in_window = np.zeros(P, bool)
        self.retry_gap = scenario.collectors.retry_gap_hours
        c = scenario.collectors
        self.min_handle = min(c.no_answer_minutes, c.wrong_party_minutes)
        # handle minutes by outcome; a conversation adds its sampled talk time
        self._fixed_minutes = np.array([c.no_answer_minutes,
                                        c.wrong_party_minutes + c.after_call_minutes,
                                        c.after_call_minutes, 2.0 + c.after_call_minutes])
        self._log: list[dict[str, np.ndarray]] = []
        self._today_log: list[dict[str, np.ndarray]] = []
        self._paid_today = np.zeros(n, bool)
        self._planned_today = np.zeros(n, bool)
        self._prev_dpd = np.zeros(n, np.int32)
        self._prev_person = self.book.person.copy()

        # teams: bucket (1..6) -> desk
        self.desks: list[Desk] = []
        self.desk_of_bucket = np.full(7, -1, np.int16)
        for i, (name, team) in enumerate(scenario.collectors.teams.items()):
            buckets = [DELINQUENT_BUCKETS.index(b) + 1 for b in team.buckets]
            self.desks.append(Desk(name, i, team, buckets))
            self.desk_of_bucket[buckets] = i

        self._init_daily()
        self._open_book()

    # ------------------------------------------------------------------ set-up

    def _init_daily(self) -> None:
        D, C = self.days, len(self.cat.names)
        z = lambda: np.zeros(D, np.float64)  # noqa: E731
        self.daily = {k: z() for k in (
            "payments", "collected_delinquent", "lent", "fees", "interest", "charged_off",
            "charged_off_accounts", "waived", "collector_cost", "agency_fees", "legal_cost",
            "complaint_cost", "contacts", "complaints", "call_attempts", "rpc", "promises",
            "promises_due", "promises_kept", "plans_agreed", "agency_placements",
            "legal_actions", "entries", "cures", "capacity_minutes", "used_minutes",
            "backlog", "expired", "balance", "dpd_regressions", "exits", "joiners")}
        self.channel_cost = np.zeros((D, C))
        self.channel_attempts = np.zeros((D, C))
        self.blocked = np.zeros((D, len(RULES)))
        self.bucket_count = np.zeros((D, 7))
        self.bucket_balance = np.zeros((D, 7))
        self.state_count = np.zeros((D, 5))  # idle, closed today, agency, legal, restructured
        self.snapshots: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def _open_book(self) -> None:
        idx = np.arange(self.n)
        self.book.dom[:] = self.people.due_dom[: self.n]
        principal, term = draw_plan(self.sc.product, self.streams, idx, np.zeros(self.n, np.int64),
                                    stream="joiners")
        u = self.streams.uniform("joiners", 0, idx, 99)
        age = np.floor(u * term).astype(np.int64)
        lg.open_plan(self.book, self.cal, idx, 0, principal, term, self.sc.product.monthly_fee_rate,
                     age=age)
        self.book.opening[:] = self.book.lent
        self.book.lent[:] = 0
        self._refresh_risk()

    # ------------------------------------------------------------------ helpers

    def ability(self, idx: np.ndarray) -> np.ndarray:
        p = self.book.person[idx]
        return self.people.ability[p] * np.exp(self.shock_logsum[p])

    def hardship(self, idx: np.ndarray) -> np.ndarray:
        p = self.book.person[idx]
        return (self.shock_active[p] > 0) | (self.people.cause[p] == CAUSE_CODES["hardship"])

    def _segment(self, idx: np.ndarray) -> np.ndarray:
        return self.people.segment[self.book.person[idx]]

    def _refresh_risk(self) -> None:
        p = self.book.person
        self.risk[:] = expit(self.people.score_logit[p] + 0.8 * self.miss_recent)

    def _impulse(self, idx: np.ndarray, chan: int, scale: float | np.ndarray = 1.0) -> None:
        cls = int(self.cat.response[chan])
        seg = self._segment(idx)
        self.stim[cls, idx] += (self.cat.uplift[chan] * self.resp[seg, cls] * scale).astype(
            np.float32)

    # ------------------------------------------------------------------ processes

    def portfolio(self, env: simpy.Environment):
        for day in range(self.days):
            if day > env.now:
                yield env.timeout(day - env.now)
            self.start_of_day(day)
            env.process(self.recorder(env, day))

    def recorder(self, env: simpy.Environment, day: int):
        yield env.timeout(day + 0.999 - env.now)
        self.end_of_day(day)

    def dispatch(self, env: simpy.Environment, day: int, hour: float, chan: int,
                 idx: np.ndarray, tone: np.ndarray, reminder: bool):
        t = day + hour / 24.0
        if t > env.now:
            yield env.timeout(t - env.now)
        self.deliver(day, hour, chan, idx, tone, reminder)

    # ------------------------------------------------------------------ the day

    def start_of_day(self, d: int) -> None:
        bk, sc = self.book, self.sc
        self.gate.new_day(d)
        self.recent[:, d % 7] = 0
        self._paid_today[:] = False
        self._planned_today[:] = False
        self._refill(d)
        self._shocks(d)
        if d > 0 and self.cal.month_of[d] != self.cal.month_of[d - 1]:
            self.miss_recent *= 0.7
            self._refresh_risk()
        self.stim *= self.decay[:, None]
        self._promises(d)
        self._repayments(d)
        self._agency_and_legal(d)
        self._billing(d)
        od = np.flatnonzero(bk.due > 0)
        if len(od):
            before = bk.interest_flow[od].copy()
            lg.accrue_interest(bk, od, sc.product.penalty_interest_daily)
            self.daily["interest"][d] += (bk.interest_flow[od] - before).sum()
        dpd = bk.dpd(d)
        co = np.flatnonzero((dpd > sc.product.charge_off_dpd) & (self.legal_day == NONE)
                            & ~self.vacant)
        if len(co):
            amt = lg.charge_off(bk, co)
            self.daily["charged_off"][d] += amt.sum()
            self.daily["charged_off_accounts"][d] += len(co)
            self._leave(d, co, EXIT_CHARGED_OFF, amt)
            dpd[co] = 0
        self._episodes(d, dpd)
        self.dpd = dpd
        self._strategy(d, dpd)

    def _refill(self, d: int) -> None:
        """Vacated slots take the next joiner; idle cardholders take their next plan."""
        bk = self.book
        v = np.flatnonzero(self.vacant)
        if len(v):
            if self.next_joiner + len(v) > self.people.size:
                raise RuntimeError(
                    f"the reserve of joiners ran out on day {d}: raise "
                    f"population.reserve_share (now {self.sc.population.reserve_share})")
            persons = np.arange(self.next_joiner, self.next_joiner + len(v))
            self.next_joiner += len(v)
            bk.person[v] = persons
            bk.dom[v] = self.people.due_dom[persons]
            bk.plan_no[v] = 0
            for a in (self.stim,):
                a[:, v] = 0
            self.cause[v] = 0
            self.broken[v] = 0
            self.promise_day[v] = NONE
            self.last_reminder[v] = NONE
            self.miss_recent[v] = 0
            self.recent[v] = 0
            self.attempts_hist[v] = 0
            self.rpc_hist[v] = 0
            self.agency_until[v] = NONE
            self.agency_done[v] = False
            self.legal_day[v] = NONE
            self.leaving[v] = False
            self.complained[v] = False
            self.last_plan[v] = NONE
            self.gate.reset_accounts(v)
            self.risk[v] = expit(self.people.score_logit[persons])
            principal, term = draw_plan(self.sc.product, self.streams, persons,
                                        np.zeros(len(v), np.int64), stream="joiners")
            before = bk.lent[v].copy()
            lg.open_plan(bk, self.cal, v, d, principal, term, self.sc.product.monthly_fee_rate)
            self.daily["lent"][d] += (bk.lent[v] - before).sum()
            self.daily["joiners"][d] += len(v)
            self.vacant[v] = False
        r = np.flatnonzero((bk.status == lg.IDLE) & (bk.reborrow_day == d))
        if len(r):
            principal, term = draw_plan(self.sc.product, self.streams, bk.person[r],
                                        bk.plan_no[r].astype(np.int64), stream="reborrow")
            before = bk.lent[r].copy()
            lg.open_plan(bk, self.cal, r, d, principal, term, self.sc.product.monthly_fee_rate)
            self.daily["lent"][d] += (bk.lent[r] - before).sum()

    def _shocks(self, d: int) -> None:
        pp = self.people
        lo, hi = np.searchsorted(pp.shock_start, [d, d + 1])
        if hi > lo:
            who = pp.shock_person[lo:hi]
            np.add.at(self.shock_active, who, 1)
            np.add.at(self.shock_logsum, who, pp.shock_loss[lo:hi])
        ends = pp.shock_end[self._shock_end_order]
        lo, hi = np.searchsorted(ends, [d, d + 1])
        if hi > lo:
            k = self._shock_end_order[lo:hi]
            who = pp.shock_person[k]
            np.add.at(self.shock_active, who, -1)
            np.add.at(self.shock_logsum, who, -pp.shock_loss[k])
            done = who[self.shock_active[who] <= 0]
            self.shock_logsum[done] = 0.0  # no drift from float sums
            self.shock_active[done] = 0

    def _pay(self, d: int, idx: np.ndarray, amount: np.ndarray) -> np.ndarray:
        """Apply payments, booking collections, agency fees and episode recoveries."""
        bk = self.book
        delinquent = (self.dpd_or_zero(idx, d) > 0) | (self.agency_until[idx] != NONE) | (
            self.legal_day[idx] != NONE)
        paid = lg.pay(bk, self.cal, idx, amount)
        self.daily["payments"][d] += paid.sum()
        self.daily["collected_delinquent"][d] += paid[delinquent].sum()
        ep = self.ep[idx]
        has = ep >= 0
        np.add.at(self.eps.collected, ep[has], paid[has])
        at_agency = self.agency_until[idx] != NONE
        if at_agency.any():
            fee = np.floor(paid[at_agency] * self.sc.agency.fee_rate)
            self.daily["agency_fees"][d] += fee.sum()
            self._charge(idx[at_agency], fee)
        self._paid_today[idx] = True
        return paid

    def _charge(self, idx: np.ndarray, cents: np.ndarray | float) -> None:
        """Attribute collection cost to the open episode of each slot (if any)."""
        ep = self.ep[idx]
        has = ep >= 0
        if has.any():
            np.add.at(self.eps.cost, ep[has], np.broadcast_to(cents, (len(idx),))[has])

    def dpd_or_zero(self, idx: np.ndarray, d: int) -> np.ndarray:
        od = self.book.oldest_day[idx]
        return np.where(od == NONE, 0, d - od)

    def _promises(self, d: int) -> None:
        idx = np.flatnonzero(self.promise_day == d)
        if not len(idx):
            return
        self.promise_day[idx] = NONE
        owed = self.book.overdue(idx) > 0
        idx = idx[owed]
        if not len(idx):
            return
        p = self.book.person[idx]
        keep = bh.promise_keep_probability(self.seg_keep[self.people.segment[p]],
                                           self.ability(idx) ** self.sc.behaviour.ability_exponent,
                                           self.people.misread[p])
        kept = self.streams.uniform("promise", d, idx, 1) < keep
        self.daily["promises_due"][d] += len(idx)
        self.daily["promises_kept"][d] += kept.sum()
        k = idx[kept]
        if len(k):
            self._pay(d, k, self.book.overdue(k))
            self.people.misread[self.book.person[k]] = False
        self.broken[idx[~kept]] += 1
        self._cured(d, k, CURE_CONTACT)

    def _repayments(self, d: int) -> None:
        bk = self.book
        idx = np.flatnonzero((bk.due > 0) & ~self._paid_today)
        if not len(idx):
            return
        p = bk.person[idx]
        a = self.ability(idx)
        stim = self.stim[:, idx].sum(axis=0)
        agency = self.agency_until[idx] != NONE
        if agency.any():
            seg = self.people.segment[p[agency]]
            stim[agency] += self.sc.agency.uplift * self.resp[seg, ESCALATION]
        prob = bh.repayment_probability(self.sc.behaviour.base_hazard, a,
                                        self.people.willingness[p], stim,
                                        self.sc.behaviour.ability_exponent)
        pays = self.streams.uniform("repay", d, idx, 0) < prob
        j = idx[pays]
        if not len(j):
            return
        b = self.sc.behaviour
        behind = np.ceil(bk.due[j] / np.maximum(bk.inst[j] + bk.fee_amt[j], 1))
        share = bh.cure_share(a[pays], behind, self.streams.uniform("repay", d, j, 1),
                              self.streams.uniform("repay", d, j, 2), b.partial_share_min,
                              b.partial_share_max, b.catch_up_exponent)
        amount = np.ceil(bk.overdue(j) * share).astype(np.int64)
        self._pay(d, j, amount)
        self.stim[PAYMENT, j] += b.payment_uplift
        cured = j[bk.due[j] == 0]
        contacted = self.eps.contacts[np.maximum(self.ep[cured], 0)] > 0
        self._cured(d, cured[contacted], CURE_CONTACT)
        self._cured(d, cured[~contacted], CURE_SELF)

    def _cured(self, d: int, idx: np.ndarray, how: int) -> None:
        """Episodes of these slots end cured today; the customer may decide to leave."""
        if not len(idx):
            return
        self.agency_until[idx] = NONE
        self.legal_day[idx] = NONE
        self.promise_day[idx] = NONE
        ep = self.ep[idx]
        has = ep >= 0
        idx, ep = idx[has], ep[has]
        if not len(idx):
            return
        self.eps.cure_day[ep] = d
        self.eps.cure_type[ep] = how
        self.eps.end_day[ep] = d
        self.daily["cures"][d] += len(idx)
        c = self.sc.customer
        p = bh.attrition_probability(c.attrition_after_cure, c.attrition_per_contact,
                                     self.eps.contacts[ep],
                                     self.people.attrition_prop[self.book.person[idx]],
                                     self.complained[idx])
        leave = self.streams.uniform("attrition", d, idx) < p
        self.leaving[idx[leave]] = True
        self.eps.leaving[ep] = leave
        self.ep[idx] = -1
        self.complained[idx] = False

    def _agency_and_legal(self, d: int) -> None:
        bk = self.book
        recall = np.flatnonzero((self.agency_until != NONE) & (self.agency_until <= d))
        self.agency_until[recall] = NONE
        j = np.flatnonzero(self.legal_day == d)
        if not len(j):
            return
        lgl = self.sc.legal
        win = self.streams.uniform("legal", d, j, 1) < lgl.success_prob
        w = j[win]
        if len(w):
            amount = np.minimum(np.floor(self.legal_claim[w] * lgl.recovered_share).astype(np.int64),
                                bk.balance(w))
            # a judgment accelerates the plan: the whole balance is due
            self._accelerate(w)
            self._pay(d, w, amount)
        amt = lg.charge_off(bk, j)
        self.daily["charged_off"][d] += amt.sum()
        self.daily["charged_off_accounts"][d] += int(np.count_nonzero(amt > 0))
        self.legal_day[j] = NONE
        self._leave(d, j, EXIT_LEGAL, amt)

    def _accelerate(self, idx: np.ndarray) -> None:
        bk = self.book
        bk.due[idx] += bk.unbilled[idx]
        bk.unbilled[idx] = 0
        bk.n_left[idx] = 0

    def _billing(self, d: int) -> None:
        bk, sc = self.book, self.sc
        idx = np.flatnonzero((bk.next_due_day == d) & (bk.status == lg.ACTIVE) & ~self.vacant)
        if len(idx):
            current = bk.due[idx] == 0
            amount = lg.bill(bk, self.cal, idx)
            self.daily["fees"][d] += bk.fee_amt[idx].sum()
            ci = idx[current]
            p = bk.person[ci]
            reminded = self.last_reminder[ci] >= d - sc.behaviour.reminder_window_days
            prob = bh.due_pay_probability(self.ability(ci), self.people.oversight[p],
                                          self.people.strategic[p], reminded,
                                          sc.behaviour.reminder_miss_cut)
            pays = self.streams.uniform("due", d, ci) < prob
            if pays.any():
                paid = lg.pay(bk, self.cal, ci[pays], amount[current][pays])
                self.daily["payments"][d] += paid.sum()
            missed = np.concatenate([ci[~pays], idx[~current]])
            miss_amt = np.concatenate([amount[current][~pays], amount[~current]])
            if len(missed):
                before = bk.fee_flow[missed].copy()
                lg.mark_missed(bk, self.cal, missed, miss_amt, sc.product.late_fee_rate,
                               round(sc.product.late_fee_fixed * 100))
                self.daily["fees"][d] += (bk.fee_flow[missed] - before).sum()
                self.miss_recent[missed] += 1
        # plans paid off: borrow again after a gap, or leave
        done = np.flatnonzero((bk.status == lg.ACTIVE) & (bk.n_left == 0) & (bk.due == 0)
                              & (bk.fees == 0) & ~self.vacant & (self.legal_day == NONE))
        if len(done):
            leave = self.leaving[done]
            self._leave(d, done[leave], EXIT_ATTRITION)
            stay = done[~leave]
            bk.status[stay] = lg.IDLE
            gap = self.streams.exponential("reborrow", d, bk.person[stay]) * (
                sc.product.reborrow_gap_mean_days)
            bk.reborrow_day[stay] = d + 1 + np.floor(gap).astype(np.int32)

    def _leave(self, d: int, idx: np.ndarray, code: int,
               charged_off: np.ndarray | None = None) -> None:
        if not len(idx):
            return
        p = self.book.person[idx]
        self.exit_code[p] = code
        self.exit_day[p] = d
        ep = self.ep[idx]
        has = ep >= 0
        if charged_off is not None:
            self.eps.charged_off[ep[has]] += charged_off[has]
        self.eps.end_day[ep[has]] = d
        self.eps.exit[ep[has]] = code
        self.ep[idx] = -1
        self.vacant[idx] = True
        self.book.status[idx] = lg.IDLE
        self.book.reborrow_day[idx] = NONE
        self.promise_day[idx] = NONE
        self.agency_until[idx] = NONE
        self.legal_day[idx] = NONE
        self.daily["exits"][d] += len(idx)

    def _episodes(self, d: int, dpd: np.ndarray) -> None:
        h = self.sc.horizon
        new = np.flatnonzero((dpd >= 1) & (self.ep < 0) & ~self.vacant)
        if len(new):
            ids = self.eps.add(new, self.book.person[new], d, self.book.overdue(new),
                               self.hardship(new))
            self.ep[new] = ids
            self.agency_done[new] = False
            if h.warmup_days <= d < h.warmup_days + h.window_days:
                self.daily["entries"][d] += len(new)
        if h.warmup_days <= d < h.warmup_days + h.window_days:
            self.delinquent_in_window[self.book.person[dpd >= 1]] = True

    # ------------------------------------------------------------------ strategy

    def _strategy(self, d: int, dpd: np.ndarray) -> None:
        bk = self.book
        self.rule_today[:] = -1
        holiday = d in self.cal.holidays
        requests: dict[tuple[float, int], list[np.ndarray]] = {}
        tones: dict[tuple[float, int], list[np.ndarray]] = {}
        reminders: set[tuple[float, int]] = set()
        tasks: list[list[np.ndarray]] = [[] for _ in self.desks]

        for arm, st in enumerate(self.strategies):
            in_arm = self.arm == arm if len(self.strategies) > 1 else None
            avoid = st.avoid_holidays and holiday
            # pre-due reminders for current accounts
            if st.pre_due.channels and st.pre_due.days_before:
                until = bk.next_due_day - d
                m = (bk.status == lg.ACTIVE) & (bk.due == 0) & np.isin(until, st.pre_due.days_before)
                m &= ~self.vacant
                if in_arm is not None:
                    m &= in_arm
                idx = np.flatnonzero(m)
                for ch in st.pre_due.channels:
                    c = self.cat.code(ch)
                    if avoid and self.cat.kind[c] == IVR:
                        continue
                    key = (st.pre_due.hour, c)
                    requests.setdefault(key, []).append(idx)
                    tones.setdefault(key, []).append(np.full(len(idx), self.tones[arm][-1]))
                    reminders.add(key)
            if not st.rules:
                continue
            m = (dpd >= 1) & ~self.vacant & (self.agency_until == NONE) & (self.legal_day == NONE)
            if in_arm is not None:
                m &= in_arm
            idx = np.flatnonzero(m)
            if not len(idx):
                continue
            last_conv = self.gate.last_conversation[idx]
            obs = Observed(bucket=lg.bucket_of(dpd[idx]), dpd=dpd[idx], risk=self.risk[idx],
                           cause=self.cause[idx], overdue_cents=bk.overdue(idx),
                           broken_promises=self.broken[idx],
                           days_since_conversation=np.where(last_conv == NONE, 10**6,
                                                            d - last_conv))
            rule = match(st, obs)
            self.rule_today[idx] = rule
            for i, r in enumerate(st.rules):
                sel = rule == i
                if not sel.any():
                    continue
                ri, rd = idx[sel], obs.dpd[sel]
                if r.place_agency_at_dpd is not None:
                    go = (rd >= r.place_agency_at_dpd) & ~self.agency_done[ri]
                    self._place_agency(d, ri[go])
                    keep = ~go
                    ri, rd = ri[keep], rd[keep]
                if r.legal_at_dpd is not None:
                    go = (rd >= r.legal_at_dpd) & (bk.balance(ri) >= round(r.legal_min_balance * 100))
                    self._file_legal(d, ri[go])
                    keep = ~go
                    ri, rd = ri[keep], rd[keep]
                start = rule_start_dpd(r)
                for a in r.actions:
                    c = self.cat.code(a.channel)
                    if a.on_dpd:
                        due = np.isin(rd, a.on_dpd)
                    else:
                        due = (rd - start) % a.every_days == 0
                    if a.if_no_contact_days:
                        lc = self.gate.last_conversation[ri]
                        due &= (lc == NONE) | (d - lc >= a.if_no_contact_days)
                    ai = ri[due]
                    if not len(ai):
                        continue
                    kind = self.cat.kind[c]
                    if kind in (AGENT, THIRD):
                        if avoid:
                            continue
                        ai = ai[self.promise_day[ai] < d]  # promise hold: no calls
                        tasks_for = self.desk_of_bucket[lg.bucket_of(dpd[ai])]
                        prio = self._priority(a.priority, ai, dpd[ai])
                        for k in range(len(self.desks)):
                            sel_k = tasks_for == k
                            if sel_k.any():
                                tasks[k].append(np.stack([
                                    ai[sel_k].astype(np.float64), np.full(sel_k.sum(), c, float),
                                    prio[sel_k], np.full(sel_k.sum(), a.attempts_per_day, float)]))
                    else:
                        if avoid and kind == IVR:
                            continue
                        key = (a.hour, c)
                        requests.setdefault(key, []).append(ai)
                        tones.setdefault(key, []).append(
                            np.full(len(ai), self.tones[arm][i]))

        exp = self.sc.collectors.task_expiry_days
        for k, desk in enumerate(self.desks):
            if tasks[k]:
                t = np.concatenate(tasks[k], axis=1)
                acct, chan = t[0].astype(np.int64), t[1].astype(np.int16)
                key = acct * 1024 + chan
                # one task per (account, channel): the most attempts asked for wins
                order = np.lexsort((-t[3], key))
                _, first = np.unique(key[order], return_index=True)
                keep = order[first]
                desk.enqueue(acct[keep], chan[keep], t[2][keep], t[3][keep].astype(np.int16), exp)
            else:
                desk.enqueue(np.zeros(0, np.int64), np.zeros(0, np.int16), np.zeros(0),
                             np.zeros(0, np.int16), exp)
        for key in sorted(requests):
            hour, c = key
            idx = np.concatenate(requests[key])
            tone = np.concatenate(tones[key])
            idx, first = np.unique(idx, return_index=True)
            self.env.process(self.dispatch(self.env, d, hour, c, idx, tone[first],
                                           key in reminders))

    def _priority(self, how: str, idx: np.ndarray, dpd: np.ndarray) -> np.ndarray:
        if how == "dpd":
            return dpd.astype(np.float64)
        over = self.book.overdue(idx).astype(np.float64)
        if how == "balance":
            return over
        risk = self.risk[idx].astype(np.float64)
        if how == "risk":
            return risk
        # expected recovery per minute: what a bank can estimate from its own history
        p_rpc = (self.rpc_hist[idx] + 1.0) / (self.attempts_hist[idx] + 3.0)
        minutes = 0.6 + p_rpc * 6.0
        return over * (1.0 - risk) * p_rpc / minutes

    def _place_agency(self, d: int, idx: np.ndarray) -> None:
        if not len(idx):
            return
        self.agency_until[idx] = d + self.sc.agency.placement_days
        self.agency_done[idx] = True
        if self._in_window(d):
            self.daily["agency_placements"][d] += len(idx)

    def _file_legal(self, d: int, idx: np.ndarray) -> None:
        if not len(idx):
            return
        lgl = self.sc.legal
        claim = self.book.balance(idx)
        self.legal_claim[idx] = claim
        cost = lgl.fixed_cost * 100 + np.floor(claim * lgl.court_fee_rate)
        self.daily["legal_cost"][d] += cost.sum()
        self._charge(idx, cost)
        # delay ~ Gamma(2, mean/2): the sum of two exponential stages (filing, judgment)
        half = 0.5 * lgl.delay_days_mean
        delay = np.maximum(1, np.round(half * (self.streams.exponential("legal", d, idx, 3)
                                               + self.streams.exponential("legal", d, idx, 4))))
        self.legal_day[idx] = d + delay.astype(np.int32)
        self.promise_day[idx] = NONE
        if self._in_window(d):
            self.daily["legal_actions"][d] += len(idx)

    def _in_window(self, d: int) -> bool:
        h = self.sc.horizon
        return h.warmup_days <= d < h.warmup_days + h.window_days

    # ------------------------------------------------------------------ contacts

    def _log_rows(self, d: int, hour, idx, chan, kind, outcome) -> None:
        n = len(idx)

        def col(v, dtype):
            return np.full(n, v, dtype) if np.ndim(v) == 0 else np.asarray(v, dtype)

        self._today_log.append({
            "day": np.full(n, d, np.int32), "hour": col(hour, np.float64),
            "slot": idx.astype(np.int64), "person": self.book.person[idx],
            "channel": col(chan, np.int16), "kind": col(kind, np.int8),
            "outcome": outcome.astype(np.int8), "disclosed": np.zeros(n, bool)})

    def _contact_delivered(self, d: int, idx: np.ndarray, chan: int | np.ndarray,
                           tone: np.ndarray, third_party: float = 1.0) -> None:
        """Bookkeeping shared by every delivered contact: counts and complaints."""
        self.recent[idx, d % 7] += 1
        ep = self.ep[idx]
        has = ep >= 0
        np.add.at(self.eps.contacts, ep[has], 1)
        if self._in_window(d):
            self.daily["contacts"][d] += len(idx)
        b = self.sc.behaviour
        c0 = self.cat.complaint_base[chan]
        p = bh.complaint_probability(c0, b.complaint_alpha, self.recent[idx].sum(axis=1),
                                     b.complaint_free_contacts, tone, self.hardship(idx),
                                     b.complaint_hardship_pressure, third_party,
                                     self.people.complaint_prop[self.book.person[idx]])
        draw = np.asarray(chan, dtype=np.int64) * 4 + 1000
        comp = self.streams.uniform("complaint", d, idx, draw) < p
        if comp.any():
            ci = idx[comp]
            self.complained[ci] = True
            e = self.ep[ci]
            np.add.at(self.eps.complaints, e[e >= 0], 1)
            self.daily["complaints"][d] += len(ci)
            each = self.sc.customer.complaint_handling_cost * 100
            self.daily["complaint_cost"][d] += len(ci) * each
            self._charge(ci, each)

    def deliver(self, d: int, hour: float, chan: int, idx: np.ndarray, tone: np.ndarray,
                reminder: bool) -> None:
        """An automated channel at its hour: gate, reach, cost, effect, log."""
        live = ~self.vacant[idx]
        idx, tone = idx[live], tone[live]
        kind = int(self.cat.kind[chan])
        req = self.cat.requires[chan]
        if req:
            p = self.book.person[idx]
            has = self.people.app_user[p] if req == 1 else self.people.email[p]
            idx, tone = idx[has], tone[has]
        if not len(idx):
            return
        before = self.gate.blocked.copy()
        ok = self.gate.check(d, hour, idx, kind)
        self._count_blocked(d, before)
        idx, tone = idx[ok], tone[ok]
        if not len(idx):
            return
        self.gate.record(d, idx, kind)
        self.channel_cost[d, chan] += self.cat.cost_cents[chan] * len(idx)
        self._charge(idx, self.cat.cost_cents[chan])
        self.channel_attempts[d, chan] += len(idx)
        u = self.streams.uniform("contact", d, idx, 500 + chan)
        if kind == IVR:
            reach = np.minimum(0.95, self.people.contactability[self.book.person[idx]]
                               * self.profile[int(hour) % 24])
            self.daily["call_attempts"][d] += 0  # IVR attempts are counted by channel
        else:
            reach = self.cat.reach[chan]
        got = u < reach
        outcome = np.where(got, DELIVERED, NOT_DELIVERED)
        self._log_rows(d, hour, idx, chan, kind, outcome)
        di, dt_ = idx[got], tone[got]
        if len(di):
            self._impulse(di, chan)
            if reminder:
                self.last_reminder[di] = d
            self._contact_delivered(d, di, chan, dt_)
            if kind == MESSAGE:
                out = self.streams.uniform("optout", d, di, chan) < self.sc.behaviour.optout_per_message
                if out.any():
                    self.gate.optout[di[out]] = True
                    self.auditor.optouts(d, hour, self.book.person[di[out]])

    def _count_blocked(self, d: int, before: dict[str, int]) -> None:
        for k, rule in enumerate(RULES):
            self.blocked[d, k] += self.gate.blocked[rule] - before[rule]

    # called by the collector teams ------------------------------------------

    def arms_dialling(self, a: float, b: float) -> np.ndarray:
        """Per arm: does its strategy dial in the block [a, b)?"""
        return np.array([s.call_hours[0] <= a and b <= s.call_hours[1] for s in self.strategies])

    def call_gate(self, d: int, hour: float, idx: np.ndarray, chan: np.ndarray,
                  count: bool) -> np.ndarray:
        kinds = self.cat.kind[chan]
        ok = np.zeros(len(idx), bool)
        before = self.gate.blocked.copy()
        for k in (AGENT, THIRD):
            m = kinds == k
            if m.any():
                ok[m] = self.gate.check(d, hour, idx[m], k, count=count)
        if count:
            self._count_blocked(d, before)
        return ok

    def call_outcomes(self, d: int, hour: float, idx: np.ndarray, chan: np.ndarray,
                      made: np.ndarray, desk: Desk) -> tuple[np.ndarray, np.ndarray]:
        """Outcome and handle minutes of each attempt: pure draws, nothing booked."""
        c = self.sc.collectors
        p = self.book.person[idx]
        draw = made.astype(np.int64) * 8
        answer = np.minimum(0.95, self.people.contactability[p] * self.profile[int(hour) % 24])
        u_ans = self.streams.uniform("contact", d, idx, draw)
        u_rp = self.streams.uniform("contact", d, idx, draw + 1)
        third = self.cat.kind[chan] == THIRD
        answered = u_ans < np.where(third, 0.5 * self.profile[int(hour) % 24], answer)
        rpc = answered & (u_rp < c.right_party_given_answer)
        outcome = np.where(~answered, NO_ANSWER,
                           np.where(third, THIRD_PARTY_REACHED,
                                    np.where(rpc, CONVERSATION, WRONG_PARTY)))
        talk = np.exp(np.log(c.rpc_median_minutes)
                      + c.rpc_sigma * self.streams.normal("handle", d, idx, draw))
        outcome = outcome.astype(np.int8)
        minutes = self._fixed_minutes[outcome]
        conv = outcome == CONVERSATION
        minutes[conv] += talk[conv]
        return outcome.astype(np.int8), minutes

    def execute_calls(self, d: int, hours: np.ndarray, idx: np.ndarray, chan: np.ndarray,
                      outcome: np.ndarray, minutes: np.ndarray, desk: Desk) -> None:
        team = desk.cfg
        kinds = self.cat.kind[chan]
        for k in (AGENT, THIRD):
            m = kinds == k
            if m.any():
                conv = (outcome[m] == CONVERSATION) if k == AGENT else None
                self.gate.record(d, idx[m], k, conversation=conv, rpc=conv)
        labour = minutes * team.hourly_cost / 60.0 * 100
        self.daily["collector_cost"][d] += float(labour.sum())
        np.add.at(self.channel_cost[d], chan, self.cat.cost_cents[chan])
        self._charge(idx, labour + self.cat.cost_cents[chan])
        np.add.at(self.channel_attempts[d], chan, 1)
        agent = kinds == AGENT
        self.attempts_hist[idx[agent]] += 1
        self._log_rows(d, hours, idx, chan, kinds, outcome)
        win = self._in_window(d)
        if win:
            self.daily["call_attempts"][d] += int(agent.sum())
        conv = np.flatnonzero(outcome == CONVERSATION)
        if len(conv):
            self._conversations(d, idx[conv], chan[conv], desk, win)
        tp = np.flatnonzero(outcome == THIRD_PARTY_REACHED)
        if len(tp):
            ti = idx[tp]
            for c in np.unique(chan[tp]):
                sel = ti[chan[tp] == c]
                self._impulse(sel, int(c), 0.5)
                self._contact_delivered(d, sel, int(c), self._tone(sel),
                                        third_party=self.sc.behaviour.complaint_third_party)

    def _tone(self, idx: np.ndarray) -> np.ndarray:
        r = self.rule_today[idx]
        out = np.empty(len(idx))
        for arm, tones in enumerate(self.tones):
            m = self.arm[idx] == arm
            out[m] = tones[r[m]]  # r == -1 picks the last entry (gentle)
        return out

    def _conversations(self, d: int, idx: np.ndarray, chan: np.ndarray, desk: Desk,
                       win: bool) -> None:
        """Right-party contact: the cause comes out; a plan or a promise may follow."""
        b, bk = self.sc.behaviour, self.book
        self.rpc_hist[idx] += 1
        if win:
            self.daily["rpc"][d] += len(idx)
        p = bk.person[idx]
        hard = self.hardship(idx)
        cause = np.where(hard, CAUSE_CODES["hardship"],
                         np.where(self.people.misread[p], CAUSE_CODES["terms"], self.people.cause[p]))
        self.cause[idx] = cause
        for c in np.unique(chan):
            sel = chan == c
            self._impulse(idx[sel], int(c), desk.cfg.skill)
        self._contact_delivered(d, idx, chan, self._tone(idx))
        # plan offers, as the account's rule allows
        dpd = self.dpd_or_zero(idx, d)
        arm = self.arm[idx] if len(self.strategies) > 1 else 0
        # the first offer the account's rule allows: settlement only past 90 DPD
        plan_kind = np.where(dpd > 90, self._offer_late[arm, self.rule_today[idx]],
                             self._offer_early[arm, self.rule_today[idx]])
        # re-ageing policy: no second plan within the cool-down (FFIEC: once in 12 months)
        offered = (plan_kind >= 0) & (d - self.last_plan[idx] >= b.plan_cooldown_days)
        accepted = np.zeros(len(idx), bool)
        if offered.any():
            seg = self.people.segment[p]
            acc = bh.plan_acceptance(self.seg_accept[seg], desk.cfg.skill, hard,
                                     b.hardship_acceptance_boost, self.people.willingness[p])
            accepted = offered & (self.streams.uniform("plan", d, idx) < acc)
            self._plans(d, idx[accepted], plan_kind[accepted])
        # a promise to pay, kept or not a few days later
        rest = ~accepted
        ri = idx[rest]
        pr = bh.promise_probability(b.promise_rate, desk.cfg.skill,
                                    self.people.willingness[p[rest]], self.people.misread[p[rest]])
        promise = self.streams.uniform("promise", d, ri, 0) < pr
        pi = ri[promise]
        if len(pi):
            delay = 1 + np.floor(self.streams.uniform("promise", d, pi, 2) * b.promise_days_max)
            self.promise_day[pi] = d + delay.astype(np.int32)
            if win:
                self.daily["promises"][d] += len(pi)

    def _plans(self, d: int, idx: np.ndarray, kind: np.ndarray) -> None:
        if not len(idx):
            return
        bk, b = self.book, self.sc.behaviour
        self.last_plan[idx] = d
        if self._in_window(d):
            self.daily["plans_agreed"][d] += len(idx)
        s = idx[kind == 0]
        if len(s):
            ep = self.ep[s]
            pays, waived = lg.settle(bk, s, b.settlement_discount)
            self._charge(s, waived)
            self.daily["payments"][d] += pays.sum()
            self.daily["collected_delinquent"][d] += pays.sum()
            self.daily["waived"][d] += waived.sum()
            np.add.at(self.eps.collected, ep[ep >= 0], pays[ep >= 0])
            e = ep[ep >= 0]
            self.eps.cure_day[e] = d
            self.eps.cure_type[e] = CURE_PLAN
            self._leave(d, s, EXIT_SETTLED)
        for k, fn, months in ((1, lg.reterm, b.reterm_months), (2, lg.defer, b.deferral_months)):
            j = idx[kind == k]
            if len(j):
                waived = fn(bk, self.cal, j, d, months)
                self.daily["waived"][d] += waived.sum()
                self._charge(j, waived)
                self._planned_today[j] = True
                self._cured(d, j, CURE_PLAN)

    # ------------------------------------------------------------------ end of day

    def end_of_day(self, d: int) -> None:
        bk = self.book
        log = self._flush_log()
        self.auditor.day(d, log)
        if self.record_contacts and len(log["day"]):
            self._log.append(log)
        for desk in self.desks:
            desk.end_of_day()
        if self._in_window(d):
            for desk in self.desks:
                self.daily["capacity_minutes"][d] += desk.capacity_min
                self.daily["used_minutes"][d] += desk.used_min
                self.daily["backlog"][d] += desk.backlog
                self.daily["expired"][d] += desk.expired
        for desk in self.desks:
            desk.capacity_min = desk.used_min = 0.0
            desk.expired = 0
        dpd = bk.dpd(d)
        bucket = lg.bucket_of(dpd)
        live = ~self.vacant
        active = live & (bk.status == lg.ACTIVE)
        bal = bk.balance()
        self.bucket_count[d] = np.bincount(bucket[active], minlength=7)[:7]
        self.bucket_balance[d] = np.bincount(bucket[active], weights=bal[active], minlength=7)[:7]
        self.state_count[d] = (
            np.count_nonzero(live & (bk.status == lg.IDLE)), np.count_nonzero(self.vacant),
            np.count_nonzero(self.agency_until != NONE), np.count_nonzero(self.legal_day != NONE),
            np.count_nonzero(active & (bk.plan_type != lg.ORIGINAL)))
        self.daily["balance"][d] = bal.sum()
        if self.cal.month_end[d]:
            code = np.where(active, bucket, 0).astype(np.int8)
            self.snapshots.append((d, code, bk.person.copy(), bal.copy()))
        if self.check_invariants:
            same = bk.person == self._prev_person
            # a slot closed today (charge-off, settlement) has no DPD left, and that is fine
            back = (same & (dpd < self._prev_dpd) & ~self._paid_today & ~self._planned_today
                    & ~self.vacant)
            self.daily["dpd_regressions"][d] = np.count_nonzero(back)
            self._prev_dpd = dpd
            self._prev_person = bk.person.copy()
            res = bk.residual()
            if res.any():
                raise AssertionError(f"money not conserved on day {d}: "
                                     f"{np.count_nonzero(res)} slots off, total {res.sum()} cents")

    def _flush_log(self) -> dict[str, np.ndarray]:
        if self._today_log:
            log = {k: np.concatenate([r[k] for r in self._today_log]) for k in LOG_COLUMNS}
        else:
            log = {k: np.zeros(0) for k in LOG_COLUMNS}
        self._today_log = []
        return log

    def contact_log(self):
        import pandas as pd

        if not self._log:
            return pd.DataFrame({k: [] for k in LOG_COLUMNS})
        df = pd.DataFrame({k: np.concatenate([r[k] for r in self._log]) for k in LOG_COLUMNS})
        df["channel"] = pd.Categorical.from_codes(df["channel"], self.cat.names)
        return df

    # ------------------------------------------------------------------ go

    def start(self) -> simpy.Environment:
        env = simpy.Environment()
        self.env = env
        env.process(self.portfolio(env))
        for desk in self.desks:
            if desk.blocks:
                env.process(team_process(env, desk, self))
        return env

    def execute(self) -> None:
        self.start().run(until=self.days)


class Simulation:
    """One run driven in steps, for callers that report progress (the app) or stop early.

        sim = Simulation(scenario, strategy, seed=1)
        while not sim.done:
            sim.advance(30)          # days; returns the share of the horizon done
        result = sim.result()
    """

    def __init__(self, scenario: Scenario, strategy: Strategy | list[Strategy],
                 seed: int | np.random.SeedSequence = 0, shares: list[float] | None = None,
                 record_contacts: bool = False, check_invariants: bool = False):
        self._t0 = time.perf_counter()
        self.seed = seed
        strategies = strategy if isinstance(strategy, list) else [strategy]
        arms = None
        if len(strategies) > 1:
            streams = Streams(seed)
            arms = assign_arms(streams, scenario.population.accounts, shares, len(strategies))
        self.run = Run(scenario, strategies[0], seed, record_contacts=record_contacts,
                       check_invariants=check_invariants, arms=arms,
                       strategies=strategies if len(strategies) > 1 else None)
        self.env = self.run.start()

    @property
    def days(self) -> int:
        return self.run.days

    @property
    def day(self) -> int:
        return int(min(self.env.now, self.days))

    @property
    def done(self) -> bool:
        return self.env.now >= self.days

    def advance(self, days: int) -> float:
        self.env.run(until=min(self.days, int(self.env.now) + max(1, int(days))))
        return self.env.now / self.days

    def result(self):
        """Finish the run (if not done) and build its RunResult."""
        from .metrics import build_result

        if not self.done:
            self.env.run(until=self.days)
        return build_result(self.run, wall_seconds=time.perf_counter() - self._t0, seed=self.seed)


def assign_arms(streams: Streams, n: int, shares: list[float] | None, k: int) -> np.ndarray:
    """Champion/challenger: each account (slot) goes to an arm at random, by share."""
    shares = [1.0 / k] * k if shares is None else list(shares)
    if len(shares) != k or any(s < 0 for s in shares) or not np.isclose(sum(shares), 1.0):
        raise ValueError(f"arm shares {shares} must be {k} non-negative numbers summing to 1")
    u = streams.uniform("arms", 0, np.arange(n))
    cum = np.cumsum(shares)
    cum[-1] = 1.0
    return np.searchsorted(cum, u, side="right").clip(0, k - 1).astype(np.int8)


def run(scenario: Scenario, strategy: Strategy, seed: int | np.random.SeedSequence = 0,
        record_contacts: bool = False, check_invariants: bool = False):
    """Simulate one strategy on one scenario; returns a :class:`sim.results.RunResult`."""
    return Simulation(scenario, strategy, seed, record_contacts=record_contacts,
                      check_invariants=check_invariants).result()


def run_arms(scenario: Scenario, strategies: list[Strategy], shares: list[float],
             seed: int | np.random.SeedSequence = 0, record_contacts: bool = False):
    """Champion/challenger inside one operation: accounts are split at random between the
    strategies by ``shares`` and share the same collectors, queues and compliance gate.
    KPIs per arm are in ``result.arms``; ``result.kpis`` is the whole book."""
    names = [s.name for s in strategies]
    if len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"champion/challenger needs two or more distinct strategies, got {names}")
    return Simulation(scenario, list(strategies), seed, shares=shares,
                      record_contacts=record_contacts).result()


__all__ = ["Run", "Simulation", "run", "run_arms", "assign_arms", "CAUSES"]
