"""Money in integer cents: payment order, DPD from due dates, and exact conservation."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import ledger as lg


def book(n: int = 1) -> tuple[lg.Book, lg.Calendar]:
    cal = lg.Calendar(dt.date(2025, 1, 1), 400, [])
    b = lg.Book(n)
    b.dom[:] = 10
    return b, cal


def test_plan_bills_on_due_dates_and_dpd_counts_from_the_oldest_unpaid():
    b, cal = book()
    i = np.array([0])
    lg.open_plan(b, cal, i, 0, np.array([1_200_000]), np.array([12]), 0.006)
    assert b.next_due_day[0] == 9  # 2025-01-10
    amount = lg.bill(b, cal, i)
    assert amount[0] == 100_000 + 7_200
    lg.mark_missed(b, cal, i, amount, 0.05, 0)
    assert b.fees[0] == 5_360  # 5% of the unpaid cycle
    assert b.dpd(9)[0] == 0 and b.dpd(10)[0] == 1 and b.dpd(40)[0] == 31
    assert lg.bucket_of(b.dpd(np.int64(40)))[0] == 2  # M2
    # second cycle billed and missed: the oldest stays the first
    assert b.next_due_day[0] == 40
    lg.mark_missed(b, cal, i, lg.bill(b, cal, i), 0.05, 0)
    assert b.dpd(45)[0] == 36
    # a payment covering fees and one cycle moves the oldest unpaid to the second cycle
    lg.pay(b, cal, i, np.array([b.fees[0] + 107_200]))
    assert b.fees[0] == 0 and b.due[0] == 107_200
    assert b.dpd(45)[0] == 5
    lg.pay(b, cal, i, np.array([10**9]))  # capped at what is owed
    assert b.due[0] == 0 and b.dpd(45)[0] == 0
    assert (b.residual() == 0).all()


def test_fees_are_paid_before_instalments():
    b, cal = book()
    i = np.array([0])
    lg.open_plan(b, cal, i, 0, np.array([300_000]), np.array([3]), 0.0)
    amt = lg.bill(b, cal, i)
    lg.mark_missed(b, cal, i, amt, 0.05, 3_000)
    fees = b.fees[0]
    lg.pay(b, cal, i, np.array([fees - 1]))
    assert b.fees[0] == 1 and b.due[0] == amt[0]


def test_plans_reset_dpd_and_book_waivers():
    b, cal = book(3)
    i = np.arange(3)
    lg.open_plan(b, cal, i, 0, np.array([600_000] * 3), np.array([6] * 3), 0.006)
    amt = lg.bill(b, cal, i)
    lg.mark_missed(b, cal, i, amt, 0.05, 0)
    lg.accrue_interest(b, i, 0.0005)
    w = lg.reterm(b, cal, np.array([0]), 50, 12)
    assert w[0] > 0 and b.dpd(50)[0] == 0 and b.n_left[0] == 17
    lg.defer(b, cal, np.array([1]), 50, 2)
    assert b.dpd(50)[1] == 0 and b.next_due_day[1] > 50 + 31
    pays, waived = lg.settle(b, np.array([2]), 0.3)
    assert b.balance(np.array([2]))[0] == 0 and waived[0] > 0
    assert (b.residual() == 0).all()


OPS = st.lists(st.tuples(st.sampled_from(["bill", "miss", "pay", "interest", "age", "reterm",
                                          "defer", "settle", "chargeoff", "open"]),
                         st.integers(0, 3), st.integers(1, 5_000_000)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_any_sequence_of_operations_conserves_money_to_the_cent(ops):
    b, cal = book(4)
    lg.open_plan(b, cal, np.arange(4), 0, np.array([1_000_000, 55_555, 3, 99_999_999]),
                 np.array([12, 3, 1, 24]), 0.006)
    day = 1
    for op, k, x in ops:
        i = np.array([k])
        day += 3
        if op == "bill" and b.n_left[k] > 0:  # billed and paid on the due date
            lg.pay(b, cal, i, lg.bill(b, cal, i))
        elif op == "miss" and b.n_left[k] > 0:
            lg.mark_missed(b, cal, i, lg.bill(b, cal, i), 0.05, 3_000)
        elif op == "pay":
            lg.pay(b, cal, i, np.array([x]))
        elif op == "interest":
            lg.accrue_interest(b, i, 0.0005)
        elif op == "age":  # the engine's daily pass over the slots that may owe
            lg.age_owing(b, np.arange(4), day, 0.0005)
        elif op == "reterm":
            lg.reterm(b, cal, i, day, 12)
        elif op == "defer":
            lg.defer(b, cal, i, day, 2)
        elif op == "settle":
            lg.settle(b, i, 0.3)
        elif op == "chargeoff":
            lg.charge_off(b, i)
        elif op == "open":
            lg.open_plan(b, cal, i, day, np.array([x]), np.array([6]), 0.006)
        assert (b.residual() == 0).all()
        assert (b.unbilled >= 0).all() and (b.due >= 0).all() and (b.fees >= 0).all()
        assert (b.dpd(day) >= 0).all()
        # an oldest unpaid due date exists exactly when something is overdue
        assert ((b.oldest_day != lg.NONE) == (b.due > 0)).all()


# ---------------------------------------------------------------- compiled flows
# The numpy definitions the numba loops of sim.ledger replaced, kept here as the spec.

def _ref_bill_parts(book, cal, idx):
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
    book.next_due_day[idx] = np.where(n_left > 0, cal.due_day(m + 1, book.dom[idx]), lg.NONE)
    return amount + fee, fee, n_left


def _ref_mark_missed(book, cal, idx, cycle_amount, late_rate, late_fixed_cents):
    owed = np.asarray(cycle_amount) > 0
    fee = np.where(owed, np.floor(cycle_amount * late_rate).astype(np.int64) + late_fixed_cents, 0)
    book.fees[idx] += fee
    book.fee_flow[idx] += fee
    nidx = idx[(book.oldest_month[idx] == lg.NONE) & owed]
    book.oldest_month[nidx] = book.last_due_month[nidx]
    book.oldest_day[nidx] = cal.due_day(book.last_due_month[nidx], book.dom[nidx])
    return fee


def _ref_pay(book, cal, idx, amount):
    due, fees = book.due[idx], book.fees[idx]
    amount = np.minimum(np.asarray(amount, dtype=np.int64), due + fees)
    to_fees = np.minimum(amount, fees)
    book.fees[idx] = fees - to_fees
    book.due[idx] = due - (amount - to_fees)
    book.paid[idx] += amount
    rem = book.due[idx]
    clear = rem <= 0
    book.oldest_month[idx[clear]] = lg.NONE
    book.oldest_day[idx[clear]] = lg.NONE
    j = idx[~clear]
    per_cycle = np.maximum(book.inst[j] + book.fee_amt[j], 1)
    m = np.maximum(book.last_due_month[j] - (-(-rem[~clear] // per_cycle)) + 1,
                   book.oldest_month[j])
    book.oldest_month[j] = m
    book.oldest_day[j] = cal.due_day(m, book.dom[j])
    return amount


def _ref_replan(book, cal, idx, day, months, longer):
    """reterm (``longer``) and defer, as numpy code."""
    waived = book.fees[idx].copy()
    book.waived[idx] += waived
    book.fees[idx] = 0
    book.unbilled[idx] += book.due[idx]
    book.unbilled_total += int(book.due[idx].sum())
    book.due[idx] = 0
    if longer:
        book.n_left[idx] += months
    else:
        book.n_left[idx] = np.maximum(book.n_left[idx], 1)
    book.inst[idx] = -(-book.unbilled[idx] // np.maximum(book.n_left[idx], 1))
    book.plan_type[idx] = lg.RETERM if longer else lg.DEFERRAL
    book.oldest_month[idx] = lg.NONE
    book.oldest_day[idx] = lg.NONE
    m = np.full(len(idx), cal.month_of[day] + (1 if longer else months))
    book.n_left[idx] = np.maximum(book.n_left[idx], 1)
    book.next_due_month[idx] = m
    book.next_due_day[idx] = cal.due_day(m, book.dom[idx])
    return waived


def _same_books(a: lg.Book, b: lg.Book) -> bool:
    return a.unbilled_total == b.unbilled_total and all(
        np.array_equal(getattr(a, f), getattr(b, f)) for f in vars(a) if f not in ("n",
                                                                                    "unbilled_total"))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 30),
       late=st.sampled_from([0.0, 0.05, 0.333]), fixed=st.sampled_from([0, 1500]))
def test_compiled_flows_equal_their_numpy_definitions(seed, steps, late, fixed):
    """bill_parts, mark_missed, pay, reterm and defer (numba) against the numpy forms they
    replaced, on a random book driven through random bills, misses, payments and plans:
    every field, every cent."""
    rng = np.random.default_rng(seed)
    n = 40
    (a, cal), (b, _) = book(n), book(n)
    for bk in (a, b):
        bk.dom[:] = rng.integers(1, 29, n) if bk is a else a.dom
    idx = np.arange(n)
    principal, term = rng.integers(1, 10**7, n), rng.integers(1, 25, n)
    for bk in (a, b):
        lg.open_plan(bk, cal, idx, 0, principal, term, 0.006, age=None)
    for _ in range(steps):
        who = np.sort(rng.choice(n, rng.integers(0, n + 1), replace=False))
        got, ref = lg.bill_parts(a, cal, who), _ref_bill_parts(b, cal, who)
        assert all(np.array_equal(x, y) for x, y in zip(got, ref, strict=True))
        miss = who[rng.random(len(who)) < 0.5]
        amt = got[0][np.isin(who, miss)]
        assert np.array_equal(lg.mark_missed(a, cal, miss, amt, late, fixed),
                              _ref_mark_missed(b, cal, miss, amt, late, fixed))
        payers = np.sort(rng.choice(n, rng.integers(0, n + 1), replace=False))
        cash = rng.integers(0, 3 * 10**6, len(payers))
        assert np.array_equal(lg.pay(a, cal, payers, cash), _ref_pay(b, cal, payers, cash))
        assert _same_books(a, b)
        plans = np.sort(rng.choice(n, rng.integers(0, 4), replace=False))
        longer, months, day = bool(rng.random() < 0.5), int(rng.integers(1, 13)), int(rng.integers(0, 300))
        fn = lg.reterm if longer else lg.defer
        assert np.array_equal(fn(a, cal, plans, day, months),
                              _ref_replan(b, cal, plans, day, months, longer))
        assert _same_books(a, b)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), day=st.integers(0, 600))
def test_the_compiled_owing_pass_equals_its_numpy_definition(seed, n, day):
    """age_owing against the numpy steps it replaced in the engine: keep the slots with
    due, fees or an oldest unpaid date; accrue_interest on those with due; dpd_of."""
    rng = np.random.default_rng(seed)
    a, cal = book(50)
    a.due[:] = np.where(rng.random(50) < 0.5, rng.integers(1, 10**7, 50), 0)
    a.fees[:] = np.where(rng.random(50) < 0.3, rng.integers(1, 10**5, 50), 0)
    a.oldest_day[:] = np.where(rng.random(50) < 0.5, rng.integers(0, 600, 50), lg.NONE)
    b = copy.deepcopy(a)
    owing = np.sort(rng.choice(50, n, replace=False)).astype(np.int64)
    kept, dpd, interest = lg.age_owing(a, owing, day, 0.0005)
    want = owing[(b.due[owing] > 0) | (b.fees[owing] > 0) | (b.oldest_day[owing] != lg.NONE)]
    od = want[b.due[want] > 0]
    assert interest == int(lg.accrue_interest(b, od, 0.0005).sum())
    assert np.array_equal(kept, want) and np.array_equal(dpd, b.dpd_of(day, want))
    for name in ("fees", "interest_flow", "due", "oldest_day"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 50), day=st.integers(0, 600))
def test_the_bucket_mix_equals_its_whole_book_definition(seed, n, day):
    """bucket_mix over the owing slots against bucket_of and bincount over the same slots
    (the recorder's invariant check), and the due plus fees owed over them."""
    rng = np.random.default_rng(seed)
    a, _ = book(50)
    a.due[:] = np.where(rng.random(50) < 0.6, rng.integers(1, 10**7, 50), 0)
    a.fees[:] = np.where(rng.random(50) < 0.3, rng.integers(1, 10**5, 50), 0)
    a.unbilled[:] = rng.integers(0, 10**7, 50)
    a.oldest_day[:] = np.where(rng.random(50) < 0.6, rng.integers(0, day + 1, 50), lg.NONE)
    a.status[:] = rng.choice([lg.ACTIVE, lg.IDLE], 50, p=[0.8, 0.2])
    vacant = rng.random(50) < 0.1
    owing = np.sort(rng.choice(50, n, replace=False)).astype(np.int64)
    counts, money, owed = lg.bucket_mix(a, owing, day, vacant)
    live = owing[(a.status[owing] == lg.ACTIVE) & ~vacant[owing]]
    bucket = lg.bucket_of(a.dpd_of(day, live))
    want = np.bincount(bucket, minlength=7)[:7]
    want[0] = 0
    assert np.array_equal(counts, want)
    bal = a.unbilled[live] + a.due[live] + a.fees[live]
    want_money = np.bincount(bucket, weights=bal, minlength=7)[:7].astype(np.int64)
    want_money[0] = 0
    assert np.array_equal(money, want_money)
    assert owed == int(a.due[owing].sum() + a.fees[owing].sum())


def _ref_open_plan(book, cal, idx, day, principal, term, fee_rate, age=None):
    """open_plan as it was written in numpy before it was compiled: the definition."""
    term = np.asarray(term, dtype=np.int64)
    principal = np.asarray(principal, dtype=np.int64)
    inst = -(-principal // term)
    paid_already = np.zeros_like(term) if age is None else np.minimum(age, term - 1)
    remaining = np.maximum(principal - inst * paid_already, 0)
    book.unbilled[idx] += remaining
    book.unbilled_total += int(remaining.sum())
    book.lent[idx] += remaining
    book.inst[idx] = inst
    book.fee_amt[idx] = np.floor(principal * fee_rate).astype(np.int64)
    book.n_left[idx] = term - paid_already
    book.plan_type[idx] = lg.ORIGINAL
    book.plan_no[idx] += 1
    book.status[idx] = lg.ACTIVE
    book.reborrow_day[idx] = lg.NONE
    month = cal.month_of[day]
    first_due = cal.due_day(np.full(len(idx), month), book.dom[idx])
    nm = np.where(first_due > day, month, month + 1)
    book.next_due_month[idx] = nm
    book.next_due_day[idx] = cal.due_day(nm, book.dom[idx])
    return remaining


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), day=st.integers(0, 399),
       aged=st.booleans(), fee_rate=st.sampled_from([0.0, 0.006, 0.0133]))
def test_the_compiled_open_plan_equals_its_numpy_definition(seed, n, day, aged, fee_rate):
    """open_plan (numba) against the numpy code it replaced, on a book that already holds
    plans: every field, every cent, the running unbilled total, the first due dates on
    either side of today (due days 1..28 around any day of the month)."""
    rng = np.random.default_rng(seed)
    (a, cal), (b, _) = book(60), book(60)
    a.dom[:] = b.dom[:] = rng.integers(1, 29, 60)
    for bk in (a, b):
        _ref_open_plan(bk, cal, np.arange(60), 0, np.full(60, 10**6), np.full(60, 6), 0.006)
    idx = np.sort(rng.choice(60, n, replace=False)).astype(np.int64)
    principal = rng.integers(1, 10**8, n) * rng.choice([1, 7, 1000], n)
    term = rng.integers(1, 37, n).astype(np.int32)
    age = rng.integers(0, 40, n) if aged else None
    got = lg.open_plan(a, cal, idx, day, principal, term, fee_rate, age=age)
    want = _ref_open_plan(b, cal, idx, day, principal, term, fee_rate, age=age)
    assert np.array_equal(got, want) and _same_books(a, b)
