"""Days sales outstanding and the week-by-week points of the manager's home page; the
legal decisions waiting for a manager (D19). Pure: amounts, days and standings passed in.

- **DSO** at the end of a day = receivables outstanding then / invoiced in the ``days``
  days up to it x ``days`` (the count-back-free "period" method), per currency; None when
  nothing was invoiced in the period (the ratio says nothing then).
- **Week ends**: the Sundays of the last ``weeks`` weeks before ``today``, oldest first,
  then ``today`` itself (the week so far).
- **A legal decision waits** when a customer's days overdue have reached a rung of the
  ladder that only a manager's decision opens (``requires_legal``, D19) and no manager
  has decided: the planner skips that rung until then, so somebody has to look.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from notifier.domain.policy import CadenceStep, TierName

TENTH = Decimal("0.1")


def dso(receivables: Decimal, sales: Decimal, days: int) -> Decimal | None:
    if sales <= 0 or days <= 0:
        return None
    return (receivables / sales * days).quantize(TENTH, rounding=ROUND_HALF_UP)


def dso_by_currency(
    receivables: Mapping[str, Decimal], sales: Mapping[str, Decimal], days: int
) -> dict[str, Decimal | None]:
    """Each currency on its own (never one ratio across currencies)."""
    return {
        c: dso(receivables.get(c, Decimal(0)), sales.get(c, Decimal(0)), days)
        for c in sorted({*receivables, *sales})
    }


def week_ends(today: date, weeks: int) -> list[date]:
    last_sunday = today - timedelta(days=today.weekday() + 1)
    ends = [last_sunday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    return [*ends, today] if today != last_sunday else ends


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def change(values: Sequence[Decimal | None]) -> Decimal | None:
    """The last value minus the one before it; None when either is missing."""
    if len(values) < 2 or values[-1] is None or values[-2] is None:
        return None
    return values[-1] - values[-2]


def legal_step_waiting(
    steps: Sequence[CadenceStep],
    days_overdue: int,
    tier: TierName,
    legal_authorised: bool,
    in_collection: bool,
) -> CadenceStep | None:
    """The first rung needing a manager's decision (D19) that the customer has reached,
    when no manager has decided; else None."""
    if legal_authorised or not in_collection:
        return None
    reached = [  # the final call before it (issue 14) is no legal step of its own
        s for s in steps if s.requires_legal and not s.is_call and s.day_for(tier) <= days_overdue
    ]
    return min(reached, key=lambda s: s.day_for(tier)) if reached else None
