"""D5, D7: what falls due on each coming date, for a text about coming due dates.

A pre-due reminder names the total that falls due each day (two invoices due on 13 March:
56,000, not the 40,000 of the first one). Pure: the caller passes the open items.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from notifier.domain.position import OpenItem


class Owed(Protocol):
    """An open item as :func:`due_on_dates` reads it: a message's ``ItemLine`` (a
    position's ``OpenItem`` is read through its item)."""

    @property
    def due_on(self) -> date: ...
    @property
    def currency(self) -> str: ...
    @property
    def outstanding(self) -> Decimal: ...
    @property
    def days_overdue(self) -> int: ...  # negative before the due date, 0 on it


@dataclass(frozen=True)
class DueOnDate:
    """The open items due on one date, in one currency, totalled."""

    due_on: date
    amount: Decimal
    currency: str
    count: int  # how many items fall due that day


def due_on_dates(open_items: Iterable[Owed | OpenItem], within_days: int) -> tuple[DueOnDate, ...]:
    """The open items not yet past their due date, totalled per due date and currency,
    nearest date first: every date at most ``within_days`` ahead (the pre-due window), or
    the nearest date alone when none is that close."""
    totals: dict[tuple[date, str], tuple[Decimal, int, bool]] = {}
    for o in open_items:
        if o.days_overdue > 0:
            continue
        key = (
            (o.item.due_on, o.item.currency) if isinstance(o, OpenItem) else (o.due_on, o.currency)
        )
        amount, count, _ = totals.get(key, (Decimal("0.00"), 0, False))
        totals[key] = (amount + o.outstanding, count + 1, -o.days_overdue <= within_days)
    groups = sorted(totals.items())
    soon = tuple(DueOnDate(d, a, c, n) for (d, c), (a, n, near) in groups if near)
    if soon or not groups:
        return soon
    nearest = groups[0][0][0]
    return tuple(DueOnDate(d, a, c, n) for (d, c), (a, n, _) in groups if d == nearest)
