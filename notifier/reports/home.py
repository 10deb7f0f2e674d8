"""The figures of each role's home page, from the reports and the standing (never worked
out again here):

- **reviewer**: the next slot a draft waits for (the earliest slot start among drafts
  pending approval whose slot has not ended), the drafts to approve by then, and the
  queue's counts: pending, pending with content problems, expiring within 24 h.
- **collector**: the collector's row of the per-collector report (reports/collectors.py):
  promises due today, broken promises, disputes to follow and every other follow-up.
- **manager**: escalated customers and the ``unknown`` sends (from the same report's
  follow-ups and the reminders), the legal decisions waiting (each customer's standing:
  domain/dso.py says when one waits), collected this week against last week (the
  per-collector report's ``collected``, summed per currency), and DSO and overdue by bucket
  at each week's end (reports/dso.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlmodel import Session, col

from notifier.domain.dso import legal_step_waiting, week_start
from notifier.domain.items import local_date
from notifier.domain.lifecycle import Status
from notifier.domain.policy import CadenceStep, Policy
from notifier.domain.standing import standing_of
from notifier.reports.collectors import CollectorRow, FollowUp, Promise, collectors
from notifier.reports.dso import WeekPoint, week_points
from notifier.services.legal import Route, open_tasks
from notifier.store.models import Customer, Reminder
from notifier.store.queries import items_for, iter_customers, portfolio_outstanding

LIST_LIMIT = 20  # a home page lists this many of each kind; its figure links to them all
EXPIRY_WARNING = timedelta(hours=24)


@dataclass(frozen=True)
class DraftLine:
    reminder: Reminder
    customer: Customer


@dataclass(frozen=True)
class ReviewerHome:
    next_slot: datetime | None
    before_next: list[DraftLine]
    before_next_count: int
    pending: int
    with_problems: int
    expiring: int


def _lines(session: Session, reminders: Sequence[Reminder]) -> list[DraftLine]:
    ids = {r.customer_id for r in reminders}
    customers = {
        c.id: c for c in session.scalars(select(Customer).where(col(Customer.id).in_(ids)))
    }
    return [DraftLine(r, customers[r.customer_id]) for r in reminders]


def reviewer_home(session: Session, now: datetime, policy: Policy) -> ReviewerHome:
    pending = col(Reminder.status) == Status.PENDING_APPROVAL.value
    next_slot = session.scalar(
        select(func.min(col(Reminder.slot_start))).where(pending, col(Reminder.slot_end) > now)
    )
    due: list[Reminder] = []
    due_count = 0
    if next_slot is not None:
        by_then = (pending, col(Reminder.slot_end) > now, col(Reminder.slot_start) <= next_slot)
        due = list(
            session.scalars(
                select(Reminder).where(*by_then)
                .order_by(col(Reminder.slot_start), col(Reminder.id)).limit(LIST_LIMIT)
            )
        )  # fmt: skip
        due_count = int(session.scalar(select(func.count()).where(*by_then)) or 0)
    counts = session.execute(select(col(Reminder.lint), col(Reminder.slot_start)).where(pending))
    total = problems = expiring = 0
    cutoff = now + EXPIRY_WARNING - timedelta(hours=policy.planning.expire_after_hours)
    for lint, slot_start in counts:
        total += 1
        problems += 1 if lint else 0
        expiring += 1 if _aware(slot_start) <= cutoff else 0
    return ReviewerHome(
        next_slot=_aware(next_slot) if next_slot is not None else None,
        before_next=_lines(session, due), before_next_count=due_count, pending=total,
        with_problems=problems, expiring=expiring,
    )  # fmt: skip


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CollectorHome:
    collector: str
    day: date
    promises_today: list[Promise]
    broken: list[FollowUp]
    disputes: list[FollowUp]
    follow_ups: list[FollowUp]
    row: CollectorRow | None
    calls_to_make: int = 0  # call tasks on the collector's list (issue 14, /calls)


def _with(follow_ups: Sequence[FollowUp], kind: str) -> list[FollowUp]:
    return [f for f in follow_ups if any(r.kind == kind for r in f.reasons)]


def collector_home(session: Session, collector: str, now: datetime, zone: str) -> CollectorHome:
    """The collector's own customers (``Customer.collector``) on the collector's day."""
    day = local_date(now, zone)
    rows = collectors(session, day, now - timedelta(days=7), now, week_start(day))
    row = next((r for r in rows if r.collector == collector), None)
    follow = row.follow_ups if row is not None else []
    return CollectorHome(
        collector=collector, day=day,
        promises_today=[p for p in (row.promises if row else []) if p.promised_on == day],
        broken=_with(follow, "broken_promise"), disputes=_with(follow, "dispute"),
        follow_ups=list(follow), row=row, calls_to_make=_calls_to_make(session, collector, now),
    )  # fmt: skip


def _calls_to_make(session: Session, collector: str, now: datetime) -> int:
    """The collector's calls still to make whose window starts within a day (issue 14)."""
    found = session.scalar(
        select(func.count()).select_from(Reminder)
        .join(Customer, col(Customer.id) == col(Reminder.customer_id))
        .where(col(Reminder.channel) == "call", col(Reminder.status) == "to_call",
               col(Customer.collector) == collector,
               col(Reminder.slot_start) < now + timedelta(days=1))
    )  # fmt: skip
    return int(found or 0)


@dataclass(frozen=True)
class LegalWaiting:
    customer: Customer
    days_overdue: int
    step: CadenceStep


@dataclass(frozen=True)
class ManagerHome:
    day: date
    escalated: list[FollowUp]
    unknown: list[DraftLine]
    unknown_count: int
    legal: list[LegalWaiting]
    this_week: dict[str, Decimal]
    last_week: dict[str, Decimal]
    week: tuple[date, date, date]  # this week's Monday, last week's Monday and Sunday
    points: list[WeekPoint] = field(default_factory=list)
    # D19, issue 15: "prepare lawsuit" tasks after the lawyer's letter (services/legal.py)
    lawsuit_tasks: list[Route] = field(default_factory=list)


def _collected(rows: Sequence[CollectorRow]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for r in rows:
        for currency, amount in r.collected.items():
            total[currency] = total.get(currency, Decimal("0.00")) + amount
    return dict(sorted(total.items()))


def legal_waiting(session: Session, now: datetime, policy: Policy) -> list[LegalWaiting]:
    """Every customer whose ladder has reached a rung only a manager's decision opens,
    longest overdue first: one standing per customer, a batch of customers at a time."""
    cadence = policy.cadence
    if cadence is None or not any(s.requires_legal for s in cadence.steps):
        return []
    found: list[LegalWaiting] = []
    portfolio: dict[date, Decimal] = {}

    def owed(day: date) -> Decimal:
        if day not in portfolio:
            portfolio[day] = portfolio_outstanding(session, day)
        return portfolio[day]

    for customers in iter_customers(session):
        waiting = [c for c in customers if not c.legal_authorised]
        items = items_for(session, [c.id for c in waiting])
        for c in waiting:
            st = standing_of(c, items.get(c.id, []), now, policy, portfolio=owed)
            if st.stage.reminder_stage is None:
                continue
            step = legal_step_waiting(cadence.steps, st.days_overdue, st.tier.tier,
                                      c.legal_authorised, True)  # fmt: skip
            if step is not None:
                found.append(LegalWaiting(c, st.days_overdue, step))
    found.sort(key=lambda w: (-w.days_overdue, w.customer.id))
    return found


def manager_home(
    session: Session, now: datetime, policy: Policy, zone: str, weeks: int = 6
) -> ManagerHome:
    day = local_date(now, zone)
    monday = week_start(day)
    last_monday, last_sunday = monday - timedelta(days=7), monday - timedelta(days=1)
    rows = collectors(session, day, now - timedelta(days=7), now, monday)
    before = collectors(session, last_sunday, now - timedelta(days=14), now, last_monday)
    unknown_where = col(Reminder.status) == Status.UNKNOWN.value
    unknown = list(
        session.scalars(
            select(Reminder).where(unknown_where)
            .order_by(col(Reminder.updated_at).desc(), col(Reminder.id)).limit(LIST_LIMIT)
        )
    )  # fmt: skip
    escalated = [f for r in rows for f in _with(r.follow_ups, "escalated")]
    return ManagerHome(
        day=day,
        escalated=sorted(escalated, key=lambda f: f.customer_id),
        unknown=_lines(session, unknown),
        unknown_count=int(session.scalar(select(func.count()).where(unknown_where)) or 0),
        legal=legal_waiting(session, now, policy),
        this_week=_collected(rows), last_week=_collected(before),
        week=(monday, last_monday, last_sunday),
        points=week_points(session, day, policy, zone, weeks),
        lawsuit_tasks=open_tasks(session, now, policy, LIST_LIMIT),
    )  # fmt: skip
