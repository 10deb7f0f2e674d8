"""D7: what a customer owes on a day, summarised over all its open items."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from notifier.domain.items import Item
from notifier.domain.penalty import penalty_so_far


@dataclass(frozen=True)
class OpenItem:
    item: Item
    outstanding: Decimal
    days_overdue: int
    penalty: Decimal


@dataclass(frozen=True)
class Position:
    open_items: tuple[OpenItem, ...]  # oldest due first
    currency: str | None  # None when the open items are in several currencies

    @property
    def total_outstanding(self) -> Decimal:
        return sum((o.outstanding for o in self.open_items), Decimal("0.00"))

    @property
    def overdue_items(self) -> tuple[OpenItem, ...]:
        return tuple(o for o in self.open_items if o.days_overdue > 0)

    @property
    def total_overdue(self) -> Decimal:
        return sum((o.outstanding for o in self.overdue_items), Decimal("0.00"))

    @property
    def total_penalty(self) -> Decimal:
        return sum((o.penalty for o in self.open_items), Decimal("0.00"))

    @property
    def max_days_overdue(self) -> int:
        return max((o.days_overdue for o in self.open_items), default=0)


def position(items: Iterable[Item], today: date, default_rate: Decimal) -> Position:
    open_items = sorted(
        (
            OpenItem(
                item=i,
                outstanding=i.outstanding_on(today),
                days_overdue=i.days_overdue(today),
                penalty=penalty_so_far(i, today, default_rate),
            )
            for i in items
            if i.is_open(today)
        ),
        key=lambda o: (o.item.due_on, o.item.id),
    )
    currencies = {o.item.currency for o in open_items}
    currency = currencies.pop() if len(currencies) == 1 else None
    return Position(tuple(open_items), currency)
