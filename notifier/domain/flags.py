"""D25: the blacklist and the "suspend new orders" flag (seed 003).

- Blacklist: 3 or more overdue episodes (items that went past due), or one item unpaid for
  more than a year past its due date.
- Suspend new orders: in each of the last 3 consecutive calendar months (this one
  included) 2 or more items were overdue, and something is still overdue: the flag holds
  "until the old debts are settled".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from notifier.domain.items import Item
from notifier.domain.policy import FlagPolicy
from notifier.domain.reasons import Why
from notifier.domain.tiers import months_before


@dataclass(frozen=True)
class Flags:
    """Each flag is on when it has a reason (D25); the reasons are worded by
    notifier.words (Words.why)."""

    blacklist_why: tuple[Why, ...]
    suspend_why: tuple[Why, ...]

    @property
    def blacklisted(self) -> bool:
        return bool(self.blacklist_why)

    @property
    def suspend_new_orders(self) -> bool:
        return bool(self.suspend_why)

    @property
    def reasons(self) -> tuple[Why, ...]:
        return self.blacklist_why + self.suspend_why


def _overdue_span(item: Item, today: date) -> tuple[date, date] | None:
    """First and last day the item was overdue, as of ``today``; None if it never was."""
    first = item.due_on + timedelta(days=1)
    settled = item.settled_on()
    last = settled - timedelta(days=1) if settled is not None and settled <= today else today
    return (first, last) if first <= last else None


def flags(items: Iterable[Item], today: date, policy: FlagPolicy) -> Flags:
    items = [i for i in items if i.issued_on <= today]
    spans = [(i, s) for i in items if (s := _overdue_span(i, today)) is not None]
    blacklist_why: list[Why] = []

    episodes = len(spans)
    if episodes >= policy.blacklist_overdue_episodes:
        blacklist_why.append(
            Why.of("episodes", n=episodes, least=policy.blacklist_overdue_episodes)
        )
    stale = [
        i.id
        for i in items
        if i.is_open(today) and i.days_overdue(today) > policy.blacklist_unpaid_days
    ]
    if stale:
        blacklist_why.append(
            Why.of("unpaid", days=policy.blacklist_unpaid_days, items=", ".join(stale))
        )

    still_overdue = any(i.is_open(today) and i.days_overdue(today) > 0 for i in items)
    months = []
    for back in range(policy.suspend_consecutive_months):
        start = months_before(today.replace(day=1), back)
        end = min(months_before(today.replace(day=1), back - 1) - timedelta(days=1), today)
        months.append(sum(1 for _, (a, b) in spans if a <= end and b >= start))
    suspend = still_overdue and all(n >= policy.suspend_overdue_items for n in months)
    suspend_why = (Why.of(
        "suspend", n=policy.suspend_overdue_items, months=policy.suspend_consecutive_months,
        counts=", ".join(map(str, reversed(months))),
    ),) if suspend else ()  # fmt: skip
    return Flags(tuple(blacklist_why), suspend_why)
