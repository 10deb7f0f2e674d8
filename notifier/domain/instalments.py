"""D20: payment plans. A debt rescheduled into instalments is collected instalment by
instalment, each reminded like an invoice: 20,000 owed at 5,000 a month gives 4
instalments due by the 10th of each month (seed 000); seed 003's alternative is 3
instalments with the first one 30 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from notifier.domain.items import CENT, Item, PaymentFact


@dataclass(frozen=True)
class Instalment:
    seq: int
    amount: Decimal
    due_on: date


def _month_day(start: date, months_ahead: int, day: int) -> date:
    year, month = divmod(start.year * 12 + start.month - 1 + months_ahead, 12)
    return date(year, month + 1, min(day, 28))


def monthly_schedule(
    total: Decimal, per_month: Decimal, first_due: date, *, due_day: int = 10
) -> list[Instalment]:
    """Equal monthly instalments of ``per_month`` (the last one the remainder), due on
    ``due_day`` of each month from ``first_due``'s month (or the next, if that day passed)."""
    if total <= 0 or per_month <= 0:
        raise ValueError("the total and the monthly amount must be positive")
    offset = 0 if first_due.day <= due_day else 1
    result, left, seq = [], total, 0
    while left > 0:
        amount = min(per_month, left)
        result.append(Instalment(seq + 1, amount, _month_day(first_due, offset + seq, due_day)))
        left -= amount
        seq += 1
    return result


def share_schedule(
    total: Decimal, first_share: Decimal, count: int, first_due: date, *, due_day: int = 10
) -> list[Instalment]:
    """``count`` monthly instalments, the first ``first_share`` of the total and the rest
    split evenly (seed 003: 3 instalments, the first 30 %); cents go to the last one."""
    if count < 2 or not 0 < first_share < 1:
        raise ValueError("need at least 2 instalments and a first share between 0 and 1")
    first = (total * first_share).quantize(CENT, rounding=ROUND_DOWN)
    rest = ((total - first) / (count - 1)).quantize(CENT, rounding=ROUND_DOWN)
    amounts = [first] + [rest] * (count - 2) + [total - first - rest * (count - 2)]
    offset = 0 if first_due.day <= due_day else 1
    return [
        Instalment(i + 1, amount, _month_day(first_due, offset + i, due_day))
        for i, amount in enumerate(amounts)
    ]


def allocate(
    plan_key: str,
    instalments: Sequence[Instalment],
    payments: Sequence[PaymentFact],
    issued_on: date,
    currency: str = "CNY",
) -> list[Item]:
    """The instalments as items, with the plan's payments applied oldest instalment first,
    so each instalment is open, paid or overdue exactly as a person would count it."""
    queue = sorted(payments, key=lambda p: p.paid_on)
    items: list[Item] = []
    left_of_payment: list[tuple[Decimal, date]] = [(p.amount, p.paid_on) for p in queue]
    for inst in sorted(instalments, key=lambda i: i.seq):
        need = inst.amount
        applied: list[PaymentFact] = []
        while need > 0 and left_of_payment:
            amount, paid_on = left_of_payment[0]
            take = min(amount, need)
            applied.append(PaymentFact(take, paid_on))
            need -= take
            if take == amount:
                left_of_payment.pop(0)
            else:
                left_of_payment[0] = (amount - take, paid_on)
        items.append(
            Item(
                id=f"{plan_key}/{inst.seq}",
                amount=inst.amount,
                issued_on=issued_on,
                due_on=inst.due_on,
                currency=currency,
                payments=tuple(applied),
            )
        )
    return items
