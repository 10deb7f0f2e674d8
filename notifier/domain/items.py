"""Receivables as the domain sees them: an amount, a due date and the payments against it.

Everything is evaluated *as of* a day, so a replay of the past (``--at``) ignores payments
that had not happened yet. Money is Decimal in the item's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from notifier.domain.once import once

CENT = Decimal("0.01")


def cents_to_money(cents: int) -> Decimal:
    """Whole cents as money with two decimals (``12345`` -> ``123.45``, ``0`` -> ``0.00``):
    moving the decimal point is exact for any amount the store can hold."""
    return Decimal(cents).scaleb(-2)


def money_to_cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def local_date(now: datetime, zone: str) -> date:
    """The calendar day it is for the customer at instant ``now`` (D11)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(zone)).date()


@dataclass(frozen=True)
class PaymentFact:
    amount: Decimal
    paid_on: date


@dataclass(frozen=True)
class Item:
    id: str
    amount: Decimal
    issued_on: date
    due_on: date
    currency: str = "CNY"
    payments: tuple[PaymentFact, ...] = ()
    penalty_rate_daily: Decimal | None = None
    disputed: bool = False  # an open dispute (D22)
    disputed_amount: Decimal | None = None  # the part it sets aside; None: the whole item
    payment_url: str | None = None

    def paid_by(self, day: date) -> Decimal:
        if not self.payments:  # most items: asked on every day the planner looks at
            return Decimal(0)
        return sum((p.amount for p in self.payments if p.paid_on <= day), Decimal(0))

    def outstanding_on(self, day: date) -> Decimal:
        """Principal still owed at the end of ``day``; never negative."""
        return max(self.amount - self.paid_by(day), Decimal(0))

    def is_open(self, day: date) -> bool:
        """Issued by ``day`` and something still owed at its end."""
        return self.issued_on <= day and self.amount > self.paid_by(day)

    def is_collectable_on(self, day: date) -> bool:
        """Whether the part still collected is open on ``day``: what
        ``self.undisputed().is_open(day)`` says, without building that item (D22)."""
        if self.issued_on > day:
            return False
        owed = self.amount - self.set_aside if self.disputed else self.amount
        return owed > (self.paid_by(day) if self.payments else 0)

    @property
    def set_aside(self) -> Decimal:
        """D22: the part of the amount an open dispute pauses (all of it without an amount)."""
        if not self.disputed:
            return Decimal(0)
        if self.disputed_amount is None:
            return self.amount
        return min(self.disputed_amount, self.amount)

    def undisputed(self) -> Item:
        """The part still collected (D22): the amount less what a dispute sets aside.
        Payments count against this part first: a customer who pays what it does not
        dispute owes nothing more until the dispute is resolved."""
        aside = self.set_aside
        if not aside:
            return self
        return replace(self, amount=self.amount - aside, disputed=False, disputed_amount=None)

    def settled_on(self) -> date | None:
        """The day the payments first covered the whole amount, if they have."""
        return self._settled_on

    @once
    def _settled_on(self) -> date | None:
        # Worked out once per item: the planner asks it of every item on every change
        # day it looks at (an item is immutable; ``replace`` makes a new one).
        paid = Decimal(0)
        for payment in sorted(self.payments, key=lambda p: p.paid_on):
            paid += payment.amount
            if paid >= self.amount:
                return payment.paid_on
        return None

    def days_overdue(self, day: date) -> int:
        """Days past the due date on ``day``: negative before it, 0 on it."""
        return (day - self.due_on).days

    def delay_days(self, day: date) -> int:
        """How late this item was (settled) or is (still open) as of ``day``; 0 if not late."""
        settled = self.settled_on()
        end = settled if settled is not None and settled <= day else day
        return max((end - self.due_on).days, 0)
