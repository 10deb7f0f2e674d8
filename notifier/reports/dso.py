"""DSO and overdue by aging bucket at the end of each of the last weeks (the manager's home
page), per currency.

Each point is the aging report (reports/aging.py: every customer's standing, each on its
own local date) taken at the end of that day in the viewer's zone: receivables are what it
counts outstanding (the disputed parts included: they are still owed), overdue by bucket
its open buckets past the due date. Sales are the receivables issued in the ``DSO_DAYS``
days up to the point. domain/dso.py holds the formula.

A past point only changes when past data changes (a late import, a payment dated back), so
points are kept in memory keyed by the instant and a fingerprint of the data (counts and
sums of receivables, payments, disputes and plans: a few aggregate SELECTs); the home page
then recomputes only today's point.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from notifier.domain.aging import NOT_DUE, SETTLED, bucket_order
from notifier.domain.dso import dso_by_currency, week_ends
from notifier.domain.items import cents_to_money
from notifier.domain.policy import Policy
from notifier.reports.aging import build_aging, end_of_day
from notifier.store.models import Dispute, InstalmentPlan, Payment, Receivable

DSO_DAYS = 90
CACHE_SIZE = 128


@dataclass(frozen=True)
class WeekPoint:
    day: date
    receivables: dict[str, Decimal]  # per currency
    sales: dict[str, Decimal]
    dso: dict[str, Decimal | None]
    overdue: dict[str, dict[str, Decimal]]  # currency -> bucket -> outstanding


_cache: OrderedDict[tuple[Any, ...], WeekPoint] = OrderedDict()
_lock = threading.Lock()


def _fingerprint(session: Session) -> tuple[Any, ...]:
    receivables = session.execute(
        select(
            func.count(), func.sum(col(Receivable.amount_cents)), func.max(Receivable.updated_at)
        )
    ).one()
    payments = session.execute(
        select(func.count(), func.sum(col(Payment.amount_cents)), func.max(Payment.updated_at))
    ).one()
    disputes = session.execute(
        select(func.count(), func.count(col(Dispute.resolved_at)), func.sum(Dispute.amount_cents))
    ).one()
    plans = session.scalar(select(func.count()).select_from(InstalmentPlan))
    return (*receivables, *payments, *disputes, plans)


def _sales(session: Session, day: date, days: int) -> dict[str, Decimal]:
    rows = session.execute(
        select(col(Receivable.currency), func.sum(col(Receivable.amount_cents)))
        .where(col(Receivable.issued_on) > day - timedelta(days=days),
               col(Receivable.issued_on) <= day)
        .group_by(col(Receivable.currency))
    )  # fmt: skip
    return {str(c): cents_to_money(int(n)) for c, n in rows if n}


def point_at(
    session: Session, day: date, instant: datetime, policy: Policy, zone: str
) -> WeekPoint:
    rows = build_aging(session, instant, policy, zone=zone)
    buckets = [b for b in bucket_order(policy.aging) if b not in (NOT_DUE, SETTLED)]
    receivables: dict[str, Decimal] = {}
    overdue: dict[str, dict[str, Decimal]] = {}
    for r in rows:
        if r.bucket == SETTLED or r.issued_on > (r.as_of or day):
            continue
        receivables[r.currency] = receivables.get(r.currency, Decimal("0.00")) + r.outstanding
        if r.bucket in buckets:
            mine = overdue.setdefault(r.currency, {b: Decimal("0.00") for b in buckets})
            mine[r.bucket] += r.outstanding
    sales = _sales(session, day, DSO_DAYS)
    return WeekPoint(day, dict(sorted(receivables.items())), sales,
                     dso_by_currency(receivables, sales, DSO_DAYS), overdue)  # fmt: skip


def week_points(
    session: Session, today: date, policy: Policy, zone: str, weeks: int
) -> list[WeekPoint]:
    """The last ``weeks`` Sundays and today, oldest first; past points from the cache."""
    data = _fingerprint(session)
    points = []
    for day in week_ends(today, weeks):
        instant = end_of_day(day, zone)
        if day == today:
            points.append(point_at(session, day, instant, policy, zone))
            continue
        key = (id(policy), zone, day, data)
        with _lock:
            cached = _cache.get(key)
        if cached is None:
            cached = point_at(session, day, instant, policy, zone)
            with _lock:
                _cache[key] = cached
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
        points.append(cached)
    return points
