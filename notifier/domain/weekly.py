"""Seed 003: the manager's week. The rules of the weekly figures, pure (days and instants
are passed in; the report module reads the rows and asks the standing).

Definitions (amounts per currency, never added across currencies):

- **the week**: Monday to Sunday in the policy's zone (``[weekly] zone``). A report "as of"
  a day covers the latest week that ended by the end of that day: as of a Monday, the
  week before; as of a Sunday, the week ending that day.
- **collected**: what the payments dated in the week (``paid_on``) paid of their items,
  capped at what the item still owed (an overpayment is not a recovery).
- **recovered**: of that, what was paid on items already overdue on the payment day
  (days overdue >= 1); paying before or on the due date is collection, not recovery.
- **recovered past N days**: what was paid on items more than ``incentive_after_days``
  (90) days overdue on the payment day; the **incentive** is ``incentive_rate`` (1 %) of
  it, rounded half-up to the cent (seed 003).
- **recovery rate**: recovered / overdue at the start of the week (what the standing
  counted overdue at the end of the day before the week: the disputed parts set aside),
  per currency; None when nothing was overdue. It may pass 100 % when items that fell
  due during the week were recovered in it too.
- **owner at a time**: a payment, a promise or an overdue amount counts for whoever had
  the customer then: its collector, or the manager who took it over (D4). Escalations
  and de-escalations are recorded as events naming the collector before; a collector
  changed by a re-import leaves no record, so the week counts it for the new collector.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from notifier.domain.items import CENT, Item
from notifier.domain.policy import WeeklyPolicy

ZERO = Decimal("0.00")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
RATE_PLACES = Decimal("0.0001")  # 12.34 %


@dataclass(frozen=True)
class Week:
    start: date  # a Monday
    end: date  # the Sunday after it

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def before(self) -> date:
        """The day before the week: what was overdue at its end is the week's start."""
        return self.start - timedelta(days=1)


def week_ending_by(day: date) -> Week:
    """The latest Monday-to-Sunday week that ended by the end of ``day``."""
    end = day - timedelta(days=(day.weekday() + 1) % 7)
    return Week(end - timedelta(days=6), end)


def send_slot(now: datetime, policy: WeeklyPolicy) -> datetime:
    """The latest scheduled send instant (``send_weekday`` at ``send_hour`` in the zone) at
    or before ``now``: the key of that week's e-mail (one per slot)."""
    zone = ZoneInfo(policy.zone)
    local = now.astimezone(zone)
    back = (local.weekday() - WEEKDAYS.index(policy.send_weekday)) % 7
    slot_day = local.date() - timedelta(days=back)
    slot = datetime.combine(slot_day, time(policy.send_hour), tzinfo=zone)
    if slot > local:
        slot = datetime.combine(slot_day - timedelta(days=7), time(policy.send_hour), tzinfo=zone)
    return slot


def week_of_slot(slot: datetime, policy: WeeklyPolicy) -> Week:
    """The week a send slot reports: the latest one complete before the send day."""
    return week_ending_by(slot.astimezone(ZoneInfo(policy.zone)).date() - timedelta(days=1))


@dataclass(frozen=True)
class Recovery:
    """What one payment dated in the week paid of one item."""

    item_id: str
    currency: str
    paid_on: date
    applied: Decimal  # capped at what the item still owed
    days_overdue: int  # on the payment day

    @property
    def recovered(self) -> bool:
        return self.days_overdue > 0

    def past(self, days: int) -> bool:
        return self.days_overdue > days


def recoveries(items: Iterable[Item], week: Week) -> list[Recovery]:
    """Every payment dated in ``week`` on these items, as applied to them."""
    result: list[Recovery] = []
    for item in items:
        paid = ZERO
        for payment in sorted(item.payments, key=lambda p: p.paid_on):
            applied = max(min(payment.amount, item.amount - paid), ZERO)
            paid += payment.amount
            if payment.paid_on in week and applied > 0:
                days = item.days_overdue(payment.paid_on)
                result.append(Recovery(item.id, item.currency, payment.paid_on, applied, days))
    return result


def incentive(recovered_past: Decimal, rate: Decimal) -> Decimal:
    """Seed 003: the bonus on what was recovered past the threshold, to the cent."""
    return (recovered_past * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def recovery_rate(recovered: Decimal, overdue_at_start: Decimal) -> Decimal | None:
    """recovered / overdue at the start of the week (0.1234 is 12.34 %); None when
    nothing was overdue then."""
    if overdue_at_start <= 0:
        return None
    return (recovered / overdue_at_start).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def owner_at(instant: datetime, current: str | None, changes: Sequence[tuple[datetime, str | None]]
             ) -> str | None:  # fmt: skip
    """Who had the customer at ``instant``: the collector before the first hand-over
    (escalation or de-escalation: ``(at, collector before)``, in any order) made after
    it, else whoever has it now."""
    later = [change for change in changes if change[0] > instant]
    if not later:
        return current
    return min(later, key=lambda change: change[0])[1]


def add_money(money: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    if amount:
        money[currency] = money.get(currency, ZERO) + amount
