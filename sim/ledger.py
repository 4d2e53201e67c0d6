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
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

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


def open_plan(book: Book, cal: Calendar, idx: np.ndarray, day: int, principal: np.ndarray,
              term: np.ndarray, fee_rate: float, age: np.ndarray | None = None) -> np.ndarray:
    """A new instalment plan; ``age`` instalments already paid (the starting book).
    Returns the principal lent per slot (cents)."""
    term = np.asarray(term, dtype=np.int64)
    principal = np.asarray(principal, dtype=np.int64)
    inst = -(-principal // term)  # ceil: the last instalment takes the remainder
    paid_already = np.zeros_like(term) if age is None else np.minimum(age, term - 1)
    remaining = np.maximum(principal - inst * paid_already, 0)
    left = term - paid_already
    book.unbilled[idx] += remaining
    book.unbilled_total += int(remaining.sum())
    book.lent[idx] += remaining
    book.inst[idx] = inst
    book.fee_amt[idx] = np.floor(principal * fee_rate).astype(np.int64)
    book.n_left[idx] = left
    book.plan_type[idx] = ORIGINAL
    book.plan_no[idx] += 1
    book.status[idx] = ACTIVE
    book.reborrow_day[idx] = NONE
    month = cal.month_of[day]
    first_due = cal.due_day(np.full(len(idx), month), book.dom[idx])
    # the first due date is the next occurrence of the due day after today
    nm = np.where(first_due > day, month, month + 1)
    book.next_due_month[idx] = nm
    book.next_due_day[idx] = cal.due_day(nm, book.dom[idx])
    return remaining


def bill(book: Book, cal: Calendar, idx: np.ndarray) -> np.ndarray:
    """Bill the instalment due today; returns the amount billed per slot (cents)."""
    return bill_parts(book, cal, idx)[0]


def bill_parts(book: Book, cal: Calendar,
               idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``bill``, also returning the fee and the instalments left per slot: on a large
    book every field read again is another cache miss per slot billed."""
    # each field is read once: a day's bills touch a thirtieth of a large book at random
    n_left, unbilled = book.n_left[idx], book.unbilled[idx]
    amount = np.where(n_left <= 1, unbilled, np.minimum(book.inst[idx], unbilled))
    fee = book.fee_amt[idx]
    book.unbilled[idx] = unbilled - amount
    book.unbilled_total -= int(amount.sum())
    book.due[idx] += amount + fee
    book.fee_flow[idx] += fee
    n_left = n_left - 1
    book.n_left[idx] = n_left
    m = book.next_due_month[idx]
    book.last_due_month[idx] = m
    book.next_due_month[idx] = m + 1
    book.next_due_day[idx] = np.where(n_left > 0, cal.due_day(m + 1, book.dom[idx]), NONE)
    return amount + fee, fee, n_left


def mark_missed(book: Book, cal: Calendar, idx: np.ndarray, cycle_amount: np.ndarray,
                late_rate: float, late_fixed_cents: int) -> np.ndarray:
    """The amount billed today was not paid: late fee, and the oldest due date if new.
    Returns the late fee per slot (cents)."""
    # nothing billed, nothing missed: no late fee and no overdue date for an empty bill
    owed = np.asarray(cycle_amount) > 0
    fee = np.where(owed, np.floor(cycle_amount * late_rate).astype(np.int64) + late_fixed_cents, 0)
    book.fees[idx] += fee
    book.fee_flow[idx] += fee
    new = (book.oldest_month[idx] == NONE) & owed
    nidx = idx[new]
    book.oldest_month[nidx] = book.last_due_month[nidx]
    book.oldest_day[nidx] = cal.due_day(book.last_due_month[nidx], book.dom[nidx])
    return fee


def accrue_interest(book: Book, idx: np.ndarray, daily_rate: float) -> np.ndarray:
    """Penalty interest on the overdue instalments; returns it per slot (cents)."""
    i = np.floor(book.due[idx] * daily_rate).astype(np.int64)
    book.fees[idx] += i
    book.interest_flow[idx] += i
    return i


def pay(book: Book, cal: Calendar, idx: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Apply payments (capped at what is owed): fees first, then the oldest instalments."""
    due, fees = book.due[idx], book.fees[idx]
    amount = np.minimum(np.asarray(amount, dtype=np.int64), due + fees)
    to_fees = np.minimum(amount, fees)
    book.fees[idx] = fees - to_fees
    book.due[idx] = due - (amount - to_fees)
    book.paid[idx] += amount
    _refresh_oldest(book, cal, idx)
    return amount


def _refresh_oldest(book: Book, cal: Calendar, idx: np.ndarray) -> None:
    """After a payment: the oldest unpaid cycle is found from what is still due."""
    rem = book.due[idx]
    clear = rem <= 0
    book.oldest_month[idx[clear]] = NONE
    book.oldest_day[idx[clear]] = NONE
    open_ = ~clear
    if open_.any():
        j = idx[open_]
        per_cycle = np.maximum(book.inst[j] + book.fee_amt[j], 1)
        k = -(-rem[open_] // per_cycle)
        m = np.maximum(book.last_due_month[j] - k + 1, book.oldest_month[j])
        book.oldest_month[j] = m
        book.oldest_day[j] = cal.due_day(m, book.dom[j])


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
    """Re-term: overdue instalments go back into the plan, fees are waived, the term grows."""
    waived = book.fees[idx].copy()
    book.waived[idx] += waived
    book.fees[idx] = 0
    book.unbilled[idx] += book.due[idx]
    book.unbilled_total += int(book.due[idx].sum())
    book.due[idx] = 0
    book.n_left[idx] += months
    book.inst[idx] = -(-book.unbilled[idx] // np.maximum(book.n_left[idx], 1))
    book.plan_type[idx] = RETERM
    _restart_schedule(book, cal, idx, day, 1)
    return waived


def defer(book: Book, cal: Calendar, idx: np.ndarray, day: int, months: int) -> np.ndarray:
    """Deferral: overdue instalments go back into the plan, the next due date moves out."""
    waived = book.fees[idx].copy()
    book.waived[idx] += waived
    book.fees[idx] = 0
    book.unbilled[idx] += book.due[idx]
    book.unbilled_total += int(book.due[idx].sum())
    book.due[idx] = 0
    book.n_left[idx] = np.maximum(book.n_left[idx], 1)
    book.inst[idx] = -(-book.unbilled[idx] // np.maximum(book.n_left[idx], 1))
    book.plan_type[idx] = DEFERRAL
    _restart_schedule(book, cal, idx, day, months)
    return waived


def _restart_schedule(book: Book, cal: Calendar, idx: np.ndarray, day: int, months: int) -> None:
    book.oldest_month[idx] = NONE
    book.oldest_day[idx] = NONE
    m = np.full(len(idx), cal.month_of[day] + months)
    book.n_left[idx] = np.maximum(book.n_left[idx], 1)
    book.next_due_month[idx] = m
    book.next_due_day[idx] = cal.due_day(m, book.dom[idx])


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
