"""Seed 003: the manager's week, per collector: what was collected and recovered, the
recovery rate, what was recovered on items overdue more than 90 days and the incentive on
it, promises kept and broken, and the oldest open items. The definitions are in
``domain/weekly.py``; every amount of what is owed comes from the customers' standings
(the one truth: the aging report and the pages ask it too), nothing is aged again here.

Reads the portfolio a batch of customers at a time, as the aging report does: per batch
one query each for the items (``store.queries.items_for``); the week's promises and the
hand-overs (escalation events) are read once for the whole portfolio.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.items import Item, cents_to_money
from notifier.domain.policy import Policy
from notifier.domain.standing import PromiseFact, standing_of
from notifier.domain.weekly import (
    Week,
    add_money,
    incentive,
    owner_at,
    recoveries,
    recovery_rate,
    week_ending_by,
)
from notifier.reports.aging import end_of_day
from notifier.store.models import Customer, Event, PaymentPromise
from notifier.store.queries import items_for, iter_customers

UNASSIGNED = ""  # the key of customers without a collector
HAND_OVERS = ("escalated", "deescalated")  # events naming the collector before ("from")
PROMISE_OUTCOMES = ("kept", "broken", "pending")


@dataclass
class CollectorWeek:
    """One collector's week (or, as ``WeeklyReport.total``, everyone's). Money per
    currency; promises are counted, not summed."""

    collector: str
    collected: dict[str, Decimal] = field(default_factory=dict)
    recovered: dict[str, Decimal] = field(default_factory=dict)
    recovered_past: dict[str, Decimal] = field(default_factory=dict)
    overdue_at_start: dict[str, Decimal] = field(default_factory=dict)
    incentive: dict[str, Decimal] = field(default_factory=dict)
    rate: dict[str, Decimal | None] = field(default_factory=dict)
    payments: int = 0  # payments recovered (on overdue items)
    promises: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROMISE_OUTCOMES, 0))

    @property
    def currencies(self) -> list[str]:
        return sorted({*self.collected, *self.overdue_at_start})

    def finish(self, rate: Decimal | None) -> None:
        """The rates and (with ``rate``) the incentive, once the money is counted; the
        total's incentive is the sum of the collectors' (each rounded), never recomputed."""
        zero = Decimal("0.00")
        for currency in self.currencies:
            self.rate[currency] = recovery_rate(
                self.recovered.get(currency, zero), self.overdue_at_start.get(currency, zero)
            )
            if rate is not None:
                self.incentive[currency] = incentive(self.recovered_past.get(currency, zero),
                                                     rate)  # fmt: skip

    def absorb(self, other: CollectorWeek) -> None:
        names = ("collected", "recovered", "recovered_past", "overdue_at_start", "incentive")
        for name in names:
            mine, theirs = getattr(self, name), getattr(other, name)
            for currency, amount in theirs.items():
                add_money(mine, currency, amount)
        self.payments += other.payments
        for outcome, n in other.promises.items():
            self.promises[outcome] += n


@dataclass(frozen=True)
class OldItem:
    customer_id: str
    customer_name: str
    collector: str
    invoice_id: str
    currency: str
    due_on: date
    days_overdue: int
    outstanding: Decimal  # what is collected: the undisputed part (D22)
    paused: Decimal  # set aside by an open dispute


@dataclass
class WeeklyReport:
    week: Week
    zone: str
    incentive_rate: Decimal
    incentive_after_days: int
    rows: list[CollectorWeek]
    total: CollectorWeek
    oldest: list[OldItem]

    @property
    def currencies(self) -> list[str]:
        return self.total.currencies


def _hand_overs(session: Session, since: datetime) -> dict[str, list[tuple[datetime, str | None]]]:
    """Per customer, the hand-overs after ``since``: (when, the collector before)."""
    changes: dict[str, list[tuple[datetime, str | None]]] = defaultdict(list)
    for cid, at, data in session.execute(
        select(col(Event.customer_id), col(Event.at), col(Event.data)).where(
            col(Event.kind).in_(HAND_OVERS), col(Event.at) > since
        )
    ):
        if cid is not None and isinstance(data, dict) and "from" in data:
            changes[cid].append((at, data["from"]))
    return changes


def _promises(session: Session, week: Week) -> dict[str, list[PromiseFact]]:
    found: dict[str, list[PromiseFact]] = defaultdict(list)
    for p in session.scalars(
        select(PaymentPromise).where(
            col(PaymentPromise.promised_on) >= week.start,
            col(PaymentPromise.promised_on) <= week.end,
            col(PaymentPromise.status) != "withdrawn",
        )
    ):
        amount = None if p.amount_cents is None else cents_to_money(p.amount_cents)
        found[p.customer_id].append(
            PromiseFact(p.id, p.promised_on, p.status, p.recorded_at, amount)
        )
    return found


def _oldest_key(o: OldItem) -> tuple[int, str, str]:
    return (-o.days_overdue, o.customer_id, o.invoice_id)


def build_weekly(session: Session, day: date, policy: Policy) -> WeeklyReport:
    """The week that ended by the end of ``day`` (in ``[weekly] zone``)."""
    rules = policy.weekly
    zone = rules.zone
    week = week_ending_by(day)
    start = end_of_day(week.before, zone)  # overdue then is the week's starting point
    end = end_of_day(week.end, zone)
    judged = end + timedelta(microseconds=1)  # promises dated Sunday are judged on Monday
    changes = _hand_overs(session, start)
    promises = _promises(session, week)
    rows: dict[str, CollectorWeek] = {}
    oldest: list[OldItem] = []
    cutoff: date | None = None  # once the list is full, only items due by then can enter

    def row(collector: str | None) -> CollectorWeek:
        key = collector or UNASSIGNED
        return rows.setdefault(key, CollectorWeek(key))

    for customers in iter_customers(session):
        items = items_for(session, [c.id for c in customers])
        candidates: list[OldItem] = []
        for c in customers:
            mine = items[c.id]
            if not mine and c.id not in promises:
                continue
            handed = changes.get(c.id, ())

            def owner(instant: datetime, c: Customer = c, handed: Any = handed) -> str | None:
                return owner_at(instant, c.collector, handed)

            if mine:
                _count_money(c, mine, week, start, policy, owner, row)
            facts = promises.get(c.id)
            if facts:
                _count_promises(c, mine, facts, judged, policy, owner, row)
            if cutoff is not None and not any(i.due_on <= cutoff for i in mine):
                continue  # nothing as old as the oldest items found so far
            at_end = standing_of(c, mine, end, policy)
            who = owner(end) or UNASSIGNED
            candidates.extend(
                OldItem(c.id, c.name, who, o.item.id, o.item.currency, o.item.due_on,
                        o.days_overdue, o.outstanding, o.paused)
                for o in at_end.position.lines if o.days_overdue > 0
            )  # fmt: skip
        oldest = heapq.nsmallest(rules.oldest_items, oldest + candidates, key=_oldest_key)
        if len(oldest) == rules.oldest_items:
            # an item due after this is fewer days overdue than the last one listed, on
            # any customer's own local date (at most a day ahead of the zone's, D11)
            cutoff = week.end + timedelta(days=1 - oldest[-1].days_overdue)
    total = CollectorWeek("")
    for r in rows.values():
        r.finish(rules.incentive_rate)
        total.absorb(r)
    total.finish(None)
    ordered = sorted(rows.values(), key=lambda r: (r.collector == UNASSIGNED, r.collector))
    return WeeklyReport(week, zone, rules.incentive_rate, rules.incentive_after_days, ordered,
                        total, oldest)  # fmt: skip


Owner = Callable[[datetime], str | None]
RowOf = Callable[[str | None], CollectorWeek]


def _count_money(
    c: Customer, items: list[Item], week: Week, start: datetime, policy: Policy, owner: Owner,
    row: RowOf,
) -> None:  # fmt: skip
    """What was overdue at the start of the week (the standing's totals), and what each
    payment dated in the week paid, for whoever had the customer at the time."""
    at_start = standing_of(c, items, start, policy)
    overdue = {cur: t.overdue for cur, t in at_start.totals.items() if t.overdue}
    if overdue:
        r = row(owner(start))
        for currency, amount in overdue.items():
            add_money(r.overdue_at_start, currency, amount)
    rules = policy.weekly
    for rec in recoveries(items, week):
        r = row(owner(end_of_day(rec.paid_on, rules.zone)))
        add_money(r.collected, rec.currency, rec.applied)
        if rec.recovered:
            r.payments += 1
            add_money(r.recovered, rec.currency, rec.applied)
        if rec.past(rules.incentive_after_days):
            add_money(r.recovered_past, rec.currency, rec.applied)


def _count_promises(
    c: Customer, items: list[Item], facts: list[PromiseFact], judged: datetime, policy: Policy,
    owner: Owner, row: RowOf,
) -> None:  # fmt: skip
    """Kept or broken as recorded by the planner (sweeps/plan.py), else as the standing
    judges an open promise once its date has passed (the planner would record the same);
    still open when the customer's own day had not passed the date yet."""
    settled = {fact.id: status for fact, status in
               standing_of(c, items, judged, policy, promises=facts).promises.settled}  # fmt: skip
    for fact in facts:
        status = settled.get(fact.id, fact.status)
        outcome = status if status in ("kept", "broken") else "pending"
        row(owner(end_of_day(fact.promised_on, policy.weekly.zone))).promises[outcome] += 1
