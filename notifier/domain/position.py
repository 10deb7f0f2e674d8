"""D7: what a customer owes on a day, summarised over all its open items.

D22: what an open dispute sets aside is paused, not collected: an item's ``outstanding``
and ``penalty`` count its undisputed part only, and ``paused`` holds the rest still owed.
A wholly disputed item is not an open item (nothing of it is asked for); it is listed in
``paused_items``. Amounts are added per currency, never across currencies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from notifier.domain.items import Item
from notifier.domain.penalty import penalty_so_far

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class OpenItem:
    item: Item
    outstanding: Decimal  # the undisputed part still owed
    days_overdue: int
    penalty: Decimal  # on the undisputed part
    paused: Decimal = ZERO  # owed but set aside by an open dispute (D22)


@dataclass(frozen=True)
class Totals:
    """One currency's sums."""

    outstanding: Decimal = ZERO
    overdue: Decimal = ZERO
    penalty: Decimal = ZERO
    paused: Decimal = ZERO


@dataclass(frozen=True)
class Position:
    open_items: tuple[OpenItem, ...]  # oldest due first; something of each is collected
    currency: str | None  # None when the open items are in several currencies
    paused_items: tuple[OpenItem, ...] = ()  # wholly disputed items still owed

    @property
    def total_outstanding(self) -> Decimal:
        return sum((o.outstanding for o in self.open_items), ZERO)

    @property
    def overdue_items(self) -> tuple[OpenItem, ...]:
        return tuple(o for o in self.open_items if o.days_overdue > 0)

    @property
    def total_overdue(self) -> Decimal:
        return sum((o.outstanding for o in self.overdue_items), ZERO)

    @property
    def total_penalty(self) -> Decimal:
        return sum((o.penalty for o in self.open_items), ZERO)

    @property
    def max_days_overdue(self) -> int:
        return max((o.days_overdue for o in self.open_items), default=0)

    @property
    def lines(self) -> tuple[OpenItem, ...]:
        """Every item still owed, collected or paused, oldest due first."""
        return tuple(sorted((*self.open_items, *self.paused_items), key=_order))

    @property
    def totals(self) -> dict[str, Totals]:
        """Per currency, in currency order."""
        sums: dict[str, Totals] = {}
        for o in self.lines:
            t = sums.get(o.item.currency, Totals())
            sums[o.item.currency] = Totals(
                t.outstanding + o.outstanding,
                t.overdue + (o.outstanding if o.days_overdue > 0 else ZERO),
                t.penalty + o.penalty,
                t.paused + o.paused,
            )
        return dict(sorted(sums.items()))


def _order(o: OpenItem) -> tuple[date, str]:
    return (o.item.due_on, o.item.id)


def open_item(item: Item, today: date, default_rate: Decimal) -> OpenItem | None:
    """The item as owed on ``today``, its disputed part set aside; None when nothing of it
    is owed (not issued yet, or paid)."""
    if item.issued_on > today:
        return None
    owed = item.outstanding_on(today)
    if owed <= 0:
        return None
    collected = item.undisputed()
    outstanding = collected.outstanding_on(today) if collected is not item else owed
    return OpenItem(
        item=item,
        outstanding=outstanding,
        days_overdue=item.days_overdue(today),
        penalty=penalty_so_far(collected, today, default_rate) if outstanding else ZERO,
        paused=owed - outstanding,
    )


def position(items: Iterable[Item], today: date, default_rate: Decimal) -> Position:
    owed = [o for i in items if (o := open_item(i, today, default_rate)) is not None]
    owed.sort(key=_order)
    open_items = tuple(o for o in owed if o.outstanding > 0)
    currencies = {o.item.currency for o in open_items}
    currency = currencies.pop() if len(currencies) == 1 else None
    return Position(open_items, currency, tuple(o for o in owed if o.outstanding <= 0))
