"""D8: penalty interest = outstanding principal x daily rate x days overdue.

The principal is the balance of each overdue day, so a partial payment lowers the
penalty from the day it was made: the sum over the days after the due date of
(balance owed at the start of that day) x rate. Shown, never invented: with no payments
this is exactly ``outstanding x rate x days overdue``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from notifier.domain.items import CENT, Item


def rate_for(item: Item, default_rate: Decimal) -> Decimal:
    return item.penalty_rate_daily if item.penalty_rate_daily is not None else default_rate


def penalty_so_far(item: Item, today: date, default_rate: Decimal) -> Decimal:
    """Penalty accrued from the day after ``due_on`` to ``today`` inclusive, to the cent."""
    rate = rate_for(item, default_rate)
    if today <= item.due_on or rate == 0:
        return Decimal("0.00")
    # Balance changes only on payment days: accrue per segment, not per day.
    changes = sorted({p.paid_on for p in item.payments if item.due_on <= p.paid_on < today})
    total = Decimal(0)
    start = item.due_on + timedelta(days=1)  # first overdue day
    for boundary in [*(d + timedelta(days=1) for d in changes), today + timedelta(days=1)]:
        if boundary <= start:
            continue
        balance = item.outstanding_on(start - timedelta(days=1))
        total += balance * rate * (boundary - start).days
        start = boundary
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def describe_rate(rate: Decimal) -> str:
    """``0.0005`` -> ``0.05%``: how the contract rate reads to a person."""
    percent = (rate * 100).normalize()
    return f"{percent:f}%"
