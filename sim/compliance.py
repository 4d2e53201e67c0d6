"""The contact gate: the law as data, and a vectorised check before every contact.

A strategy may ask for anything; the gate decides. Every refusal is counted by rule so
a team can see how much capacity compliance costs. The gate refuses; it never lets a
violation through, and :mod:`sim.audit` re-checks the executed log independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .prefetch import AHEAD, prefetch, prefetch_2d

# Channel kinds, as integer codes in arrays and logs.
KIND_CODES = {"message": 0, "automated_call": 1, "agent_call": 2, "letter": 3,
              "third_party_call": 4}
CALL_KINDS = (1, 2)  # count towards the call caps: IVR and agent calls to the debtor

RULES = ("window", "holiday", "daily_cap", "weekly_cap", "cooloff", "optout", "third_party")


@dataclass(frozen=True)
class Law:
    """One jurisdiction's contact rules."""

    name: str
    window_start: float  # local hour, inclusive
    window_end: float  # local hour, exclusive for the start of an attempt
    daily_cap: int | None  # calls per account per day (None: scenario decides)
    weekly_cap: int | None  # calls per account in 7 consecutive days
    cooloff_days: int  # no call within n days after a telephone conversation (0: none)
    third_party_once: bool  # third parties for location only, at most once
    third_party_needs_no_rpc_days: int  # ... and only after n days without reaching the debtor
    source: str


PROFILES: dict[str, Law] = {
    "cn_2022": Law(
        name="cn_2022", window_start=8.0, window_end=22.0, daily_cap=None, weekly_cap=None,
        cooloff_days=0, third_party_once=False, third_party_needs_no_rpc_days=0,
        source="China Banking Association card-collection guideline (effective 2022-01-01): "
               "08:00-22:00, no call-bombing; third parties never told the debt"),
    "us_reg_f": Law(
        name="us_reg_f", window_start=8.0, window_end=21.0, daily_cap=None, weekly_cap=7,
        cooloff_days=7, third_party_once=True, third_party_needs_no_rpc_days=30,
        source="12 CFR 1006.6(b)(1)(i) 08:00-21:00; 1006.14(b)(2)(i)(A) 7 calls in 7 days; "
               "1006.14(b)(2)(i)(B) 7 days after a conversation; 1006.10 location only"),
}

NEVER = -(10**6)


class Gate:
    """Per-account contact history and the vectorised check of a batch of attempts.

    Attempts in one batch must be for distinct accounts (the engine guarantees it) and
    are checked against the history before the batch; ``record`` then books the ones
    that were executed.
    """

    def __init__(self, n_accounts: int, law: Law, daily_call_cap: int, third_party_per_week: int,
                 holidays: set[int]):
        self.law = law
        self.daily_cap = law.daily_cap if law.daily_cap is not None else daily_call_cap
        if law.name == "us_reg_f":
            self.daily_cap = min(daily_call_cap, 7)
        self.tp_per_week = third_party_per_week
        self.holidays = holidays
        # ring buffers by day % 7: an account's week is one cache line to read. Clearing a
        # day's column clears only the accounts booked that weekday, a week ago (_booked);
        # zeroing the whole column touched every account's line every day.
        self.calls = np.zeros((n_accounts, 7), dtype=np.int16)
        self.tp = np.zeros((n_accounts, 7), dtype=np.int16)
        self._booked: list[list[np.ndarray]] = [[] for _ in range(7)]
        # flat views, indexed account * 7 + day % 7: 1-d fancy indexing is much cheaper
        self._calls_flat = self.calls.reshape(-1)
        self._tp_flat = self.tp.reshape(-1)
        self.tp_total = np.zeros(n_accounts, dtype=np.int16)
        self.last_conversation = np.full(n_accounts, NEVER, dtype=np.int32)
        self.last_rpc_day = np.full(n_accounts, NEVER, dtype=np.int32)
        self.optout = np.zeros(n_accounts, dtype=bool)
        self.counts = np.zeros(len(RULES), np.int64)  # refusals by rule
        self._day = -1

    def new_day(self, day: int) -> None:
        col = day % 7
        if self._booked[col]:
            at = np.concatenate(self._booked[col]) * 7 + col
            self._calls_flat[at] = 0
            self._tp_flat[at] = 0
            self._booked[col] = []
        self._day = day

    def reset_accounts(self, idx: np.ndarray) -> None:
        """A new cardholder takes these slots: their history starts empty."""
        self.calls[idx] = 0
        self.tp[idx] = 0
        self.tp_total[idx] = 0
        self.last_conversation[idx] = NEVER
        self.last_rpc_day[idx] = NEVER
        self.optout[idx] = False

    def _refusals(self, day: int, acct: np.ndarray, kind: int) -> list[tuple[str, np.ndarray]]:
        """The per-account rules for a kind, in the order refusals are attributed."""
        law, out = self.law, []
        if kind == KIND_CODES["message"]:
            out.append(("optout", self.optout[acct]))
        if kind in CALL_KINDS:
            out.append(("daily_cap", self._calls_flat[acct * 7 + day % 7] >= self.daily_cap))
            if law.weekly_cap is not None:
                out.append(("weekly_cap", self.calls[acct].sum(axis=1) >= law.weekly_cap))
            if law.cooloff_days:
                out.append(("cooloff", day - self.last_conversation[acct] < law.cooloff_days))
        if kind == KIND_CODES["third_party_call"]:
            if law.third_party_once:
                bad = (self.tp_total[acct] >= 1) | (
                    day - self.last_rpc_day[acct] < law.third_party_needs_no_rpc_days)
            else:
                bad = self.tp[acct].sum(axis=1) >= self.tp_per_week
            out.append(("third_party", bad))
        return out

    def whole_refusal(self, day: int, hour: float | None, kind: int) -> int:
        """The first rule that refuses every attempt of a kind at ``hour`` (None: hours
        checked per attempt) on ``day``, as its index in RULES: the contact window, or a
        holiday for calls; -1: none."""
        law = self.law
        if (hour is not None and kind != KIND_CODES["letter"]
                and (hour < law.window_start or hour >= law.window_end)):
            return _WINDOW
        if (kind in CALL_KINDS or kind == KIND_CODES["third_party_call"]) and day in self.holidays:
            return _HOLIDAY
        return -1

    def call_limits(self) -> tuple:
        """What ``call_rule`` reads, in its order after the day: the week of calls, the
        daily cap, the weekly cap (-1: none), the cool-off days, the last conversations."""
        law = self.law
        return (self.calls, self.daily_cap, -1 if law.weekly_cap is None else law.weekly_cap,
                law.cooloff_days, self.last_conversation)

    @property
    def blocked(self) -> dict[str, int]:
        """Refusals so far, by rule."""
        return dict(zip(RULES, self.counts.tolist(), strict=True))

    def check(self, day: int, hour: np.ndarray | float, acct: np.ndarray, kind: int,
              count: bool = True) -> np.ndarray:
        """Allowed mask for attempts of one channel kind; refusals counted by rule
        (into ``counts``, in RULES order) when ``count``.

        A refusal is counted against the first rule (in RULES order) that refuses it. The
        engine checks many small batches a day, so whole-batch rules (the window for a
        scalar hour, holidays) are decided once, not broadcast per attempt, and the
        per-account rules of a kind other than third-party calls are one compiled pass.
        """
        n = len(acct)
        law = self.law
        scalar = np.ndim(hour) == 0
        ok = np.empty(n, dtype=bool)
        per_attempt = not scalar and kind != KIND_CODES["letter"]  # the window, into ok
        if per_attempt:
            h = np.asarray(hour, dtype=np.float64)
            np.logical_not((h < law.window_start) | (h >= law.window_end), out=ok)
            if count:
                self.counts[_WINDOW] += n - int(np.count_nonzero(ok))
        whole = self.whole_refusal(day, hour if scalar else None, kind)
        if whole >= 0:
            if count:
                self.counts[whole] += int(np.count_nonzero(ok)) if per_attempt else n
            ok[:] = False
            return ok
        if kind != KIND_CODES["third_party_call"]:
            # the per-account rules in one compiled pass (refused ones by the window left so)
            _per_account_rules(np.asarray(acct, np.int64), day, day % 7,
                               kind == KIND_CODES["message"], kind in CALL_KINDS, self.optout,
                               *self.call_limits(), self.counts if count else _NO_COUNTS,
                               per_attempt, ok)
            return ok
        if not per_attempt:
            ok[:] = True
        rules = self._refusals(day, acct, kind)
        for rule, mask in rules:
            if count:
                self.counts[RULES.index(rule)] += int(np.count_nonzero(ok & mask))
            ok &= ~mask
        return ok

    def call_books(self) -> tuple[np.ndarray, np.ndarray]:
        """What ``record`` hands ``_record_calls`` for calls to the debtor (the week's
        call counts, indexed account * 7 + column, and no running total), for a compiled
        pass that books calls itself; the caller then tells :meth:`booked` which
        accounts were booked."""
        return self._calls_flat, _NO_TOTAL

    def booked(self, day: int, acct: np.ndarray) -> None:
        """Calls to accounts ``acct`` were booked today by a compiled pass: remembered, as
        ``record`` does, so that this weekday's column is cleared for them a week on."""
        self._booked[day % 7].append(acct)

    def record(self, day: int, acct: np.ndarray, kind: int, conversation: np.ndarray | None = None,
               rpc: np.ndarray | None = None) -> None:
        """Book executed attempts (distinct accounts)."""
        if kind in CALL_KINDS or kind == KIND_CODES["third_party_call"]:
            third = kind == KIND_CODES["third_party_call"]
            acct = np.asarray(acct, np.int64)
            _record_calls(acct, day, day % 7, self._tp_flat if third else self._calls_flat,
                          self.tp_total if third else _NO_TOTAL,
                          _NO_MASK if conversation is None else conversation,
                          _NO_MASK if rpc is None else rpc, self.last_conversation,
                          self.last_rpc_day)
            self._booked[day % 7].append(acct)
            return
        if conversation is not None and conversation.any():
            self.last_conversation[acct[conversation]] = day
        if rpc is not None and rpc.any():
            self.last_rpc_day[acct[rpc]] = day


_WINDOW, _HOLIDAY = RULES.index("window"), RULES.index("holiday")
_DAILY, _WEEKLY = RULES.index("daily_cap"), RULES.index("weekly_cap")
_COOLOFF, _OPTOUT = RULES.index("cooloff"), RULES.index("optout")
_NO_COUNTS = np.zeros(0, np.int64)


# Without numba's reference counting (it allocates nothing), and not inlined by numba:
# called once an attempt, in a bare loop over 35,615 accounts it took 0.06 ms so (LLVM
# inlines it), 1.54 ms inlined by numba (inline="always"; 1.25 ms with _nrt=False too),
# 3.06 ms as a plain call counting references to its arrays.
@numba.njit(cache=True, nogil=True, _nrt=False)
def call_rule(i, day, col, calls, daily_cap, weekly_cap, cooloff_days,
              last_conversation):  # pragma: no cover - compiled
    """The first rule (its index in RULES) that refuses a call to the debtor of account
    ``i`` today (column ``col`` of the week), or -1: the daily cap, the weekly cap over
    the seven columns (``weekly_cap`` < 0: none), a conversation in the last
    ``cooloff_days`` (0: no cool-off)."""
    if calls[i, col] >= daily_cap:
        return _DAILY
    if weekly_cap >= 0:
        week = 0
        for c in range(7):
            week += calls[i, c]
        if week >= weekly_cap:
            return _WEEKLY
    if cooloff_days > 0 and day - last_conversation[i] < cooloff_days:
        return _COOLOFF
    return -1


@numba.njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: see call_rule
def account_rule(i, day, col, message, call, optout, calls, daily_cap, weekly_cap, cooloff_days,
                 last_conversation):  # pragma: no cover - compiled
    """The first per-account rule (its index in RULES) that refuses a contact of a kind
    with account ``i``, or -1: the opt-out for a message (``message``), ``call_rule``
    for a call to the debtor (``call``), none for a letter (neither)."""
    if message:
        return _OPTOUT if optout[i] else -1
    if call:
        return call_rule(i, day, col, calls, daily_cap, weekly_cap, cooloff_days,
                         last_conversation)
    return -1


@numba.njit(cache=True, nogil=True)
def _per_account_rules(acct, day, col, message, call, optout, calls, daily_cap, weekly_cap,
                       cooloff_days, last_conversation, counts, masked,
                       ok):  # pragma: no cover - compiled
    """``_refusals`` for messages (``message``: the opt-out), calls to the debtor
    (``call``: under the daily cap today (column ``col``), under the weekly cap over the
    seven columns (``weekly_cap`` < 0: none), no conversation in the last
    ``cooloff_days`` (0: no cool-off)) or letters (neither: no rule), in one pass, for
    distinct accounts ``acct``: the verdict into ``ok`` and, unless ``counts`` is empty,
    each refusal counted against its first rule. ``masked``: ``ok`` holds an earlier
    verdict (the window, per attempt), and an attempt refused there is left so."""
    m, has_counts = acct.shape[0], counts.shape[0] > 0
    for j in range(m):
        if j + AHEAD < m:
            if call:
                prefetch_2d(calls, acct[j + AHEAD], 0)
                if cooloff_days > 0:
                    prefetch(last_conversation, acct[j + AHEAD])
            elif message:
                prefetch(optout, acct[j + AHEAD])
        if masked and not ok[j]:
            continue
        rule = account_rule(acct[j], day, col, message, call, optout, calls, daily_cap,
                            weekly_cap, cooloff_days, last_conversation)
        ok[j] = rule < 0
        if rule >= 0 and has_counts:
            counts[rule] += 1


_NO_MASK, _NO_TOTAL = np.zeros(0, bool), np.zeros(0, np.int16)


@numba.njit(cache=True, nogil=True)
def _record_calls(acct, day, col, flat, total, conversation, rpc, last_conversation,
                  last_rpc_day):  # pragma: no cover - compiled
    """``record`` for calls, in one pass: one more in today's column of the week
    (``flat``, indexed account * 7 + column) and in ``total`` (empty: none kept); the
    day of the conversation and of the right-party contact where the masks say so
    (empty: none)."""
    has_total, has_conv, has_rpc = total.shape[0] > 0, conversation.shape[0] > 0, rpc.shape[0] > 0
    m = acct.shape[0]
    for j in range(m):
        # what every call writes; not the conversation days, written for a few (their
        # prefetches made this pass slower: 0.65 -> 0.88 ms for 30,000 calls of 1M)
        if j + AHEAD < m:
            k = acct[j + AHEAD]
            prefetch(flat, k * 7 + col)
            if has_total:
                prefetch(total, k)
        i = acct[j]
        flat[i * 7 + col] += 1
        if has_total:
            total[i] += 1
        if has_conv and conversation[j]:
            last_conversation[i] = day
        if has_rpc and rpc[j]:
            last_rpc_day[i] = day
