"""Money in integer cents, per slot of the book, with every flow booked.

A slot holds one cardholder at a time; its receivable is
``balance = unbilled principal + due (billed, unpaid) + fees (late fees, penalty interest)``
and every change goes through one of the functions below, each of which books a flow,
so that for every slot and for the portfolio, exactly to the cent,

    opening + lent + fees + interest == paid + waived + charged_off + closing.

(MODEL.md writes "instalments billed" where an open book has "lent": billing moves money
from unbilled to due and does not change the balance; new plans add principal.)
Payments pay fees and interest first, then the oldest instalments. DPD is derived from
the month of the oldest unpaid due date, never incremented day by day.

The flows that run on every bill and every payment (``bill_parts``, ``mark_missed``,
``pay``) are loops compiled with numba over the slots they touch: in numpy each was a
dozen gathers and scatters of the same slots, a cache miss each on a large book. The
loops do the same integer arithmetic in the same order, so every cent is the same.
Slots passed to a flow are distinct (each is one bill, one payment).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numba
import numpy as np

from .prefetch import AHEAD, prefetch

NONE = -(10**6)  # "no such day/month"

# slot status
ACTIVE, IDLE = 0, 1
# plan types (0 = the original plan)
ORIGINAL, RETERM, DEFERRAL = 0, 1, 2

BUCKET_EDGES = np.array([0, 30, 60, 90, 120, 150])  # DPD upper bounds of current, M1..M5


class Calendar:
    """Days since the start <-> dates, due dates by month index, holidays, month-ends."""

    def __init__(self, start: dt.date, days: int, holidays: list[dt.date]):
        self.start = start
        self.days = days
        months = days // 28 + 40
        first = dt.date(start.year, start.month, 1)
        self._off = 12  # month index 0 is the start's month; allow 12 months before it
        firsts = []
        y, m = first.year, first.month - self._off
        while m < 1:
            y, m = y - 1, m + 12
        for _ in range(months + self._off):
            firsts.append((dt.date(y, m, 1) - start).days)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        self.month_first = np.array(firsts, dtype=np.int64)
        self.holidays = {(h - start).days for h in holidays if 0 <= (h - start).days < days}
        self.weekday = np.array([(start + dt.timedelta(d)).weekday() for d in range(days + 1)])
        # month index of each day; last day of each month
        day_idx = np.arange(days + 1)
        self.month_of = np.searchsorted(self.month_first, day_idx, side="right") - 1 - self._off
        nxt = np.append(self.month_of[1:], self.month_of[-1] + 1)
        self.month_end = nxt != self.month_of

    def due_day(self, month: np.ndarray, dom: np.ndarray) -> np.ndarray:
        return self.month_first[np.asarray(month) + self._off] + np.asarray(dom, dtype=np.int64) - 1

    def day_of_month(self, day: int) -> int:
        """1..31 for day ``day`` (days since the start; any day, past the horizon too)."""
        m = int(np.searchsorted(self.month_first, day, side="right")) - 1
        return int(day - self.month_first[m]) + 1

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=int(day))


@dataclass
class Book:
    """State of every slot. Money arrays are int64 cents."""

    n: int
    person: np.ndarray = field(init=False)
    status: np.ndarray = field(init=False)
    dom: np.ndarray = field(init=False)
    unbilled: np.ndarray = field(init=False)
    due: np.ndarray = field(init=False)
    fees: np.ndarray = field(init=False)
    inst: np.ndarray = field(init=False)
    fee_amt: np.ndarray = field(init=False)
    n_left: np.ndarray = field(init=False)
    next_due_month: np.ndarray = field(init=False)
    next_due_day: np.ndarray = field(init=False)
    last_due_month: np.ndarray = field(init=False)
    oldest_month: np.ndarray = field(init=False)
    oldest_day: np.ndarray = field(init=False)
    plan_type: np.ndarray = field(init=False)
    plan_no: np.ndarray = field(init=False)
    reborrow_day: np.ndarray = field(init=False)
    # flows, cumulative per slot
    opening: np.ndarray = field(init=False)
    lent: np.ndarray = field(init=False)
    fee_flow: np.ndarray = field(init=False)
    interest_flow: np.ndarray = field(init=False)
    paid: np.ndarray = field(init=False)
    waived: np.ndarray = field(init=False)
    charged_off: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = self.n
        i64 = lambda v=0: np.full(n, v, dtype=np.int64)  # noqa: E731
        i32 = lambda v=0: np.full(n, v, dtype=np.int32)  # noqa: E731
        self.person = np.arange(n, dtype=np.int64)
        self.status = np.zeros(n, dtype=np.int8)
        self.dom = np.ones(n, dtype=np.int8)
        for name in ("unbilled", "due", "fees", "inst", "fee_amt", "opening", "lent", "fee_flow",
                     "interest_flow", "paid", "waived", "charged_off"):
            setattr(self, name, i64())
        self.n_left = i32()
        self.next_due_month = i32()
        self.next_due_day = i32(NONE)
        self.last_due_month = i32(NONE)
        self.oldest_month = i32(NONE)
        self.oldest_day = i32(NONE)
        self.plan_type = np.zeros(n, dtype=np.int8)
        self.plan_no = i32()
        self.reborrow_day = i32(NONE)
        # the book's unbilled principal, kept by the functions below as they move it, so
        # that a day's balance needs no pass over every slot (due and fees are summed over
        # the owing slots by the engine)
        self.unbilled_total = 0

    # ----------------------------------------------------------------- views

    def balance(self, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        return self.unbilled[idx] + self.due[idx] + self.fees[idx]

    def overdue(self, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        return self.due[idx] + self.fees[idx]

    def dpd(self, day: int) -> np.ndarray:
        """Days past the oldest unpaid due date (0 when nothing is overdue)."""
        d = day - self.oldest_day
        return np.where(self.oldest_day == NONE, 0, np.maximum(d, 0)).astype(np.int32)

    def dpd_of(self, day: int, idx: np.ndarray) -> np.ndarray:
        """``dpd(day)[idx]``, for a few slots without touching the whole book."""
        d = day - self.oldest_day[idx]
        return np.where(self.oldest_day[idx] == NONE, 0, np.maximum(d, 0)).astype(np.int32)

    def residual(self) -> np.ndarray:
        """Conservation residual per slot in cents: must be exactly 0 everywhere."""
        lhs = self.opening + self.lent + self.fee_flow + self.interest_flow
        rhs = self.paid + self.waived + self.charged_off + self.balance()
        return lhs - rhs


# bucket by DPD as a table (the searchsorted over BUCKET_EDGES, done once): a binary
# search per account was the most expensive line of a day's recording
_BUCKET_LUT = np.searchsorted(BUCKET_EDGES, np.arange(BUCKET_EDGES[-1] + 2), side="left").astype(
    np.int8)


def bucket_of(dpd: np.ndarray) -> np.ndarray:
    """0 = current, 1..6 = M1..M6 (DPD past 180 is still M6 until charge-off)."""
    return _BUCKET_LUT[np.clip(dpd, 0, len(_BUCKET_LUT) - 1)]


# --------------------------------------------------------------------------- flows


def per_slot(x: np.ndarray | int, n: int) -> np.ndarray:
    """``x`` (one number, or one per slot) as ``n`` contiguous int64s; an array that is
    that already is passed through (numpy's broadcasting costs more than the flows it
    feeds on the few slots of a typical call)."""
    a = np.asarray(x)
    if a.shape == (n,):
        return a if a.dtype == np.int64 and a.flags.c_contiguous else a.astype(np.int64)
    return np.ascontiguousarray(np.broadcast_to(a, (n,)), np.int64)


def open_plan(book: Book, cal: Calendar, idx: np.ndarray, day: int, principal: np.ndarray,
              term: np.ndarray, fee_rate: float, age: np.ndarray | None = None) -> np.ndarray:
    """A new instalment plan on each of the distinct slots ``idx``; ``age`` instalments
    already paid (the starting book). Returns the principal lent per slot (cents)."""
    idx = np.asarray(idx, np.int64)
    term, principal = per_slot(term, len(idx)), per_slot(principal, len(idx))
    age = np.zeros(0, np.int64) if age is None else np.asarray(age, np.int64)
    remaining = np.empty(len(idx), np.int64)
    book.unbilled_total += _open_kernel(
        idx, day, int(cal.month_of[day]), principal, term, age, fee_rate, book.unbilled,
        book.lent, book.inst, book.fee_amt, book.n_left, book.plan_type, book.plan_no,
        book.status, book.reborrow_day, book.next_due_month, book.next_due_day, book.dom,
        cal.month_first, cal._off, remaining)
    return remaining


@numba.njit(cache=True, nogil=True)
def _open_kernel(idx, day, month, principal, term, age, fee_rate, unbilled, lent, inst,
                 fee_amt, n_left, plan_type, plan_no, status, reborrow_day, next_due_month,
                 next_due_day, dom, month_first, off, remaining):  # pragma: no cover - compiled
    """open_plan's arithmetic, slot by slot: the instalment is the ceiling of principal /
    term (the last one takes the remainder), the fee the floor of the float product (as
    numpy), the first due date the next occurrence of the slot's due day after today."""
    total = 0
    for j in range(idx.shape[0]):
        i, pr, t = idx[j], principal[j], term[j]
        ins = -(-pr // t)
        done = min(age[j], t - 1) if age.shape[0] else 0
        rem = max(pr - ins * done, 0)
        remaining[j] = rem
        total += rem
        unbilled[i] += rem
        lent[i] += rem
        inst[i] = ins
        fee_amt[i] = np.int64(np.floor(pr * fee_rate))
        n_left[i] = t - done
        plan_type[i] = ORIGINAL
        plan_no[i] += 1
        status[i] = ACTIVE
        reborrow_day[i] = NONE
        first_due = month_first[month + off] + dom[i] - 1
        nm = month if first_due > day else month + 1
        next_due_month[i] = nm
        next_due_day[i] = month_first[nm + off] + dom[i] - 1
    return total


def bill(book: Book, cal: Calendar, idx: np.ndarray) -> np.ndarray:
    """Bill the instalment due today; returns the amount billed per slot (cents)."""
    return bill_parts(book, cal, idx)[0]


def bill_parts(book: Book, cal: Calendar,
               idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``bill``, also returning the fee and the instalments left per slot. The instalment
    (the whole unbilled rest on the last one) and the monthly fee fall due; the next due
    date moves a month on, or to none after the last instalment."""
    k = len(idx)
    amount, fee, left = np.empty(k, np.int64), np.empty(k, np.int64), np.empty(k, np.int32)
    book.unbilled_total -= _bill_kernel(
        np.asarray(idx, np.int64), book.n_left, book.unbilled, book.inst, book.fee_amt,
        book.due, book.fee_flow, book.next_due_month, book.last_due_month, book.next_due_day,
        book.dom, cal.month_first, cal._off, amount, fee, left)
    return amount, fee, left


@numba.njit(cache=True, nogil=True)
def _bill_kernel(idx, n_left, unbilled, inst, fee_amt, due, fee_flow, next_due_month,
                 last_due_month, next_due_day, dom, month_first, off, amount_out, fee_out,
                 left_out):  # pragma: no cover - compiled
    total = 0
    for j in range(idx.shape[0]):
        a, f, nl = bill_one(idx[j], n_left, unbilled, inst, fee_amt, due, fee_flow,
                            next_due_month, last_due_month, next_due_day, dom, month_first, off)
        total += a
        amount_out[j], fee_out[j], left_out[j] = a + f, f, nl
    return total


# The per-slot helpers below are compiled without numba's reference counting (_nrt=False;
# they allocate nothing): each call passes a dozen arrays, and counting references to each,
# atomically, per slot made the bill kernel ten times slower (3,117 bills: 55 -> 640 us).
# (inline="always" does not help: the inlined body counts them in the caller.)
@numba.njit(cache=True, nogil=True, _nrt=False)
def bill_one(i, n_left, unbilled, inst, fee_amt, due, fee_flow, next_due_month, last_due_month,
             next_due_day, dom, month_first, off):  # pragma: no cover - compiled
    """``bill`` for slot ``i`` (in compiled code): returns (instalment, fee, instalments
    left)."""
    nl, ub = n_left[i], unbilled[i]
    a = ub if nl <= 1 else min(inst[i], ub)
    f = fee_amt[i]
    unbilled[i] = ub - a
    due[i] += a + f
    fee_flow[i] += f
    nl = nl - 1
    n_left[i] = nl
    m = next_due_month[i]
    last_due_month[i] = m
    next_due_month[i] = m + 1
    next_due_day[i] = month_first[m + 1 + off] + dom[i] - 1 if nl > 0 else NONE
    return a, f, nl


def mark_missed(book: Book, cal: Calendar, idx: np.ndarray, cycle_amount: np.ndarray,
                late_rate: float, late_fixed_cents: int) -> np.ndarray:
    """The amount billed today was not paid: late fee, and the oldest due date if new.
    Nothing billed, nothing missed: no late fee and no overdue date for an empty bill.
    Returns the late fee per slot (cents)."""
    fee = np.empty(len(idx), np.int64)
    _missed_kernel(np.asarray(idx, np.int64),
                   per_slot(cycle_amount, len(idx)),
                   float(late_rate), int(late_fixed_cents), book.fees, book.fee_flow,
                   book.oldest_month, book.oldest_day, book.last_due_month, book.dom,
                   cal.month_first, cal._off, fee)
    return fee


@numba.njit(cache=True, nogil=True)
def _missed_kernel(idx, cycle_amount, late_rate, late_fixed, fees, fee_flow, oldest_month,
                   oldest_day, last_due_month, dom, month_first, off,
                   fee_out):  # pragma: no cover - compiled
    for j in range(idx.shape[0]):
        fee_out[j] = miss_one(idx[j], cycle_amount[j], late_rate, late_fixed, fees, fee_flow,
                              oldest_month, oldest_day, last_due_month, dom, month_first, off)


@numba.njit(cache=True, nogil=True, _nrt=False)
def miss_one(i, c, late_rate, late_fixed, fees, fee_flow, oldest_month, oldest_day,
             last_due_month, dom, month_first, off):  # pragma: no cover - compiled
    """``mark_missed`` for slot ``i`` and its bill ``c`` (in compiled code): returns the
    late fee."""
    f = np.int64(np.floor(c * late_rate)) + late_fixed if c > 0 else 0
    fees[i] += f
    fee_flow[i] += f
    if c > 0 and oldest_month[i] == NONE:
        m = last_due_month[i]
        oldest_month[i] = m
        oldest_day[i] = month_first[m + off] + dom[i] - 1
    return f


def accrue_interest(book: Book, idx: np.ndarray, daily_rate: float) -> np.ndarray:
    """Penalty interest on the overdue instalments; returns it per slot (cents)."""
    i = np.floor(book.due[idx] * daily_rate).astype(np.int64)
    book.fees[idx] += i
    book.interest_flow[idx] += i
    return i


def age_owing(book: Book, owing: np.ndarray, day: int,
              daily_rate: float) -> tuple[np.ndarray, np.ndarray, int]:
    """The day's pass over the slots that may owe (``owing``, ascending): drop those that
    owe nothing (no due, no fees, no oldest unpaid date), accrue penalty interest on the
    overdue instalments (``accrue_interest``), and give each remaining slot's DPD
    (``dpd_of``). Returns the slots still owing, their DPD and the interest booked
    (cents), in one compiled pass instead of a dozen gathers of the same slots."""
    owing = np.asarray(owing, np.int64)
    kept, dpd = np.empty(len(owing), np.int64), np.empty(len(owing), np.int32)
    n, interest = _age_owing_kernel(owing, day, daily_rate, book.due, book.fees,
                                    book.interest_flow, book.oldest_day, kept, dpd)
    return kept[:n], dpd[:n], interest


@numba.njit(cache=True, nogil=True)
def _age_owing_kernel(owing, day, rate, due, fees, interest_flow, oldest_day, kept,
                      dpd):  # pragma: no cover - compiled
    n, total, m = 0, 0, owing.shape[0]
    for j in range(m):
        if j + AHEAD < m:
            k = owing[j + AHEAD]
            prefetch(due, k)
            prefetch(fees, k)
            prefetch(oldest_day, k)
            prefetch(interest_flow, k)
        i = owing[j]
        od = oldest_day[i]
        if due[i] <= 0 and fees[i] <= 0 and od == NONE:
            continue
        if due[i] > 0:
            a = np.int64(np.floor(due[i] * rate))  # the float product, floored: as numpy
            fees[i] += a
            interest_flow[i] += a
            total += a
        kept[n] = i
        dpd[n] = 0 if od == NONE else max(day - od, 0)
        n += 1
    return n, total


def bucket_mix(book: Book, owing: np.ndarray, day: int,
               vacant: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Delinquent accounts and balances by bucket M1..M6 (entries 1..6; entry 0 left
    zero) among the active slots of ``owing`` that are not ``vacant`` (every slot past due
    is in ``owing``), and the due plus fees owed over ``owing``, in cents."""
    counts, money = np.zeros(7, np.int64), np.zeros(7, np.int64)
    owed = _bucket_mix_kernel(np.asarray(owing, np.int64), day, book.oldest_day, book.status,
                              vacant, book.unbilled, book.due, book.fees, _BUCKET_LUT,
                              counts, money)
    return counts, money, owed


@numba.njit(cache=True, nogil=True)
def _bucket_mix_kernel(owing, day, oldest_day, status, vacant, unbilled, due, fees, lut, counts,
                       money):  # pragma: no cover - compiled
    owed, m = 0, owing.shape[0]
    top = lut.shape[0] - 1
    for j in range(m):
        if j + AHEAD < m:
            k = owing[j + AHEAD]
            prefetch(due, k)
            prefetch(fees, k)
            prefetch(oldest_day, k)
            prefetch(vacant, k)
            prefetch(status, k)
            prefetch(unbilled, k)
        i = owing[j]
        owed += due[i] + fees[i]
        od = oldest_day[i]
        if od == NONE or vacant[i] or status[i] != ACTIVE:
            continue
        b = lut[min(max(day - od, 0), top)]
        if b > 0:
            counts[b] += 1
            money[b] += unbilled[i] + due[i] + fees[i]
    return owed


@numba.njit(cache=True, nogil=True)
def count_idle_vacant(status, vacant):  # pragma: no cover - compiled
    """(idle slots that are not vacant, vacant slots), in one pass over the book."""
    idle, empty = 0, 0
    for i in range(status.shape[0]):
        if vacant[i]:
            empty += 1
        elif status[i] == IDLE:
            idle += 1
    return idle, empty


def pay(book: Book, cal: Calendar, idx: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Apply payments (capped at what is owed): fees first, then the oldest instalments;
    the oldest unpaid cycle is then found from what is still due. Returns the amounts
    applied (cents)."""
    out = np.empty(len(idx), np.int64)
    _pay_kernel(np.asarray(idx, np.int64),
                per_slot(amount, len(idx)),
                book.due, book.fees, book.paid, book.inst, book.fee_amt, book.last_due_month,
                book.oldest_month, book.oldest_day, book.dom, cal.month_first, cal._off, out)
    return out


@numba.njit(cache=True, nogil=True)
def _pay_kernel(idx, amount, due, fees, paid, inst, fee_amt, last_due_month, oldest_month,
                oldest_day, dom, month_first, off, out):  # pragma: no cover - compiled
    for j in range(idx.shape[0]):
        out[j] = pay_one(idx[j], amount[j], due, fees, paid, inst, fee_amt, last_due_month,
                         oldest_month, oldest_day, dom, month_first, off)


@numba.njit(cache=True, nogil=True, _nrt=False)
def pay_one(i, amount, due, fees, paid, inst, fee_amt, last_due_month, oldest_month,
            oldest_day, dom, month_first, off):  # pragma: no cover - compiled
    """``pay`` for slot ``i`` (in compiled code): returns the amount applied."""
    d, f = due[i], fees[i]
    a = min(amount, d + f)
    to_fees = min(a, f)
    fees[i] = f - to_fees
    rem = d - (a - to_fees)
    due[i] = rem
    paid[i] += a
    if rem <= 0:
        oldest_month[i] = NONE
        oldest_day[i] = NONE
    else:
        # the cycles still unpaid, counted back from the last one billed
        per_cycle = max(inst[i] + fee_amt[i], 1)
        k = -(-rem // per_cycle)
        m = max(last_due_month[i] - k + 1, oldest_month[i])
        oldest_month[i] = m
        oldest_day[i] = month_first[m + off] + dom[i] - 1
    return a


def charge_off(book: Book, idx: np.ndarray) -> np.ndarray:
    amount = book.balance(idx)
    book.charged_off[idx] += amount
    _zero(book, idx)
    return amount


def settle(book: Book, idx: np.ndarray, discount: float) -> tuple[np.ndarray, np.ndarray]:
    """Pay (1 - discount) of the balance now, waive the rest; the account closes."""
    bal = book.balance(idx)
    pays = bal - np.floor(bal * discount).astype(np.int64)
    book.paid[idx] += pays
    book.waived[idx] += bal - pays
    _zero(book, idx)
    return pays, bal - pays


def reterm(book: Book, cal: Calendar, idx: np.ndarray, day: int, months: int) -> np.ndarray:
    """Re-term: overdue instalments go back into the plan, fees are waived, the term grows
    by ``months``; the next instalment falls due next month. Returns the fees waived."""
    return _replan(book, cal, idx, day, months, True)


def defer(book: Book, cal: Calendar, idx: np.ndarray, day: int, months: int) -> np.ndarray:
    """Deferral: overdue instalments go back into the plan, fees are waived, the next due
    date moves ``months`` out. Returns the fees waived."""
    return _replan(book, cal, idx, day, months, False)


def _replan(book: Book, cal: Calendar, idx: np.ndarray, day: int, months: int,
            longer: bool) -> np.ndarray:
    idx = np.asarray(idx, np.int64)
    waived = np.empty(len(idx), np.int64)
    book.unbilled_total += _replan_kernel(
        idx, int(cal.month_of[day]), months, longer, cal.month_first, cal._off, book.unbilled,
        book.due, book.fees, book.waived, book.n_left, book.inst, book.plan_type,
        book.oldest_month, book.oldest_day, book.next_due_month, book.next_due_day, book.dom,
        waived)
    return waived


@numba.njit(cache=True, nogil=True)
def _replan_kernel(idx, month, months, longer, month_first, off, unbilled, due, fees, waived_b,
                   n_left, inst, plan_type, oldest_month, oldest_day, next_due_month,
                   next_due_day, dom, waived):  # pragma: no cover - compiled
    """A re-term (``longer``: the term grows by ``months``, the next due date is next
    month) or a deferral (the next due date ``months`` out) of distinct slots ``idx`` in
    the current ``month``: fees waived (into ``waived``), the due amount back into the
    unbilled principal, the instalment recomputed over the months left, no arrears.
    Returns the principal moved back (for the book's unbilled total)."""
    moved = 0
    for j in range(idx.shape[0]):
        i = idx[j]
        w = fees[i]
        waived[j] = w
        waived_b[i] += w
        fees[i] = 0
        unbilled[i] += due[i]
        moved += due[i]
        due[i] = 0
        if longer:
            n_left[i] += months
        else:
            n_left[i] = max(n_left[i], 1)
        inst[i] = -(-unbilled[i] // max(n_left[i], 1))
        plan_type[i] = RETERM if longer else DEFERRAL
        oldest_month[i] = NONE
        oldest_day[i] = NONE
        n_left[i] = max(n_left[i], 1)
        m = month + (1 if longer else months)
        next_due_month[i] = m
        next_due_day[i] = month_first[m + off] + np.int64(dom[i]) - 1
    return moved


def accelerate(book: Book, idx: np.ndarray) -> None:
    """A judgment accelerates the plan: the whole balance falls due now."""
    book.due[idx] += book.unbilled[idx]
    book.unbilled_total -= int(book.unbilled[idx].sum())
    book.unbilled[idx] = 0
    book.n_left[idx] = 0


def _zero(book: Book, idx: np.ndarray) -> None:
    book.unbilled_total -= int(book.unbilled[idx].sum())
    for a in (book.unbilled, book.due, book.fees, book.n_left):
        a[idx] = 0
    book.oldest_month[idx] = NONE
    book.oldest_day[idx] = NONE
    book.next_due_day[idx] = NONE
