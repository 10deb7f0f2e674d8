"""D20: rescheduling a customer's open invoices into an instalment plan. From then on the
instalments are the items that fall due and are reminded; payments against the invoices
pay the instalments oldest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.errors import Refused
from notifier.domain.instalments import Instalment, monthly_schedule, share_schedule
from notifier.domain.items import Item, cents_to_money, local_date, money_to_cents
from notifier.services.common import UnknownRecord, bounded_text, cancel_live, customer_of
from notifier.store.models import Customer, Event, InstalmentPlan, Receivable
from notifier.store.models import Instalment as InstalmentRow
from notifier.store.queries import items_for


class PlanError(Refused, ValueError):
    """A plan that cannot be made; the message says why."""


def create_plan(
    session: Session,
    customer_id: str,
    invoice_ids: Sequence[str],
    schedule: Sequence[Instalment],
    created_by: str,
    now: datetime,
    note: str | None = None,
) -> InstalmentPlan:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise PlanError(f"no customer with id {customer_id!r}")
    today = local_date(now, customer.timezone)
    # Locked and re-read: a plan made meanwhile by someone else (PostgreSQL) is seen here,
    # not written over; in id order, so two plans over the same invoices never deadlock.
    rows = list(session.scalars(
        select(Receivable).where(col(Receivable.id).in_(invoice_ids))
        .order_by(col(Receivable.id)).with_for_update()
        .execution_options(populate_existing=True)
    ))  # fmt: skip
    missing = sorted(set(invoice_ids) - {r.id for r in rows})
    if missing:
        raise PlanError(f"unknown invoices: {', '.join(missing)}")
    foreign = [r.id for r in rows if r.customer_id != customer_id or r.plan_id is not None]
    if foreign:
        raise PlanError(f"not open invoices of {customer_id} outside a plan: {', '.join(foreign)}")
    items = {i.id: i for i in items_for(session, [customer_id])[customer_id]}
    owed = sum((items[r.id].outstanding_on(today) for r in rows), Decimal(0))
    total = sum((i.amount for i in schedule), Decimal(0))
    if owed <= 0:
        raise PlanError("nothing is owed on these invoices")
    if total != owed:
        raise PlanError(f"the instalments add up to {total}, but {owed} is owed")
    plan = InstalmentPlan(customer_id=customer_id, total_cents=money_to_cents(total),
                          note=note, created_by=created_by, created_at=now)  # fmt: skip
    session.add(plan)
    session.flush()
    assert plan.id is not None
    for inst in schedule:
        cents = money_to_cents(inst.amount)
        row = InstalmentRow(plan_id=plan.id, seq=inst.seq, amount_cents=cents, due_on=inst.due_on)
        session.add(row)
    for r in rows:
        r.plan_id = plan.id
        r.updated_at = now
    session.add(Event(at=now, kind="instalment_plan", customer_id=customer_id, actor=created_by,
                      data={"plan_id": plan.id, "invoices": sorted(invoice_ids),
                            "instalments": [[i.seq, str(i.amount), i.due_on.isoformat()]
                                            for i in schedule]}))  # fmt: skip
    return plan


# -- plans as a person makes them: from a count, shown, cancelled --------------------------

MAX_INSTALMENTS = 36
DEFAULT_DUE_DAY = 10  # seed 000: "before the 10th of each month"
LAST_DUE_DAY = 28  # every month has it


@dataclass(frozen=True)
class InstalmentView:
    seq: int
    amount: Decimal
    due_on: date
    paid: Decimal | None  # None for a cancelled plan (its payments went back to the invoices)
    outstanding: Decimal | None
    status: str  # open | overdue | paid | cancelled

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "amount": str(self.amount), "due_on": self.due_on.isoformat(),
                "paid": None if self.paid is None else str(self.paid),
                "outstanding": None if self.outstanding is None else str(self.outstanding),
                "status": self.status}  # fmt: skip


@dataclass(frozen=True)
class PlanView:
    id: int
    customer_id: str
    currency: str
    total: Decimal
    invoices: tuple[str, ...]
    created_at: datetime
    created_by: str | None
    cancelled_at: datetime | None
    cancelled_by: str | None
    note: str | None
    instalments: tuple[InstalmentView, ...]

    @property
    def status(self) -> str:
        return "cancelled" if self.cancelled_at is not None else "active"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "customer_id": self.customer_id, "status": self.status,
            "currency": self.currency, "total": str(self.total), "invoices": list(self.invoices),
            "created_at": self.created_at.isoformat(), "created_by": self.created_by,
            "cancelled_at": None if self.cancelled_at is None else self.cancelled_at.isoformat(),
            "cancelled_by": self.cancelled_by, "note": self.note,
            "instalments": [i.as_json() for i in self.instalments],
        }  # fmt: skip


def schedule_of(
    total: Decimal,
    count: int,
    today: date,
    *,
    first_percent: Decimal | None = None,
    due_day: int = DEFAULT_DUE_DAY,
) -> list[Instalment]:
    """``count`` monthly instalments of ``total``, due on ``due_day`` of each month from
    this month (the next when that day has passed): equal parts, or the first
    ``first_percent`` % and the rest equal (seed 003: 3 with the first 30 %). Cents go to
    the last instalment, so the amounts add up to ``total`` exactly."""
    if not 1 <= count <= MAX_INSTALMENTS:
        raise PlanError(f"the number of instalments must be 1 to {MAX_INSTALMENTS}, not {count}")
    if not 1 <= due_day <= LAST_DUE_DAY:
        raise PlanError(f"the due day must be 1 to {LAST_DUE_DAY} (every month has it), "
                        f"not {due_day}")  # fmt: skip
    if total <= 0:
        raise PlanError("nothing is owed: there is nothing to pay in instalments")
    if first_percent is not None:
        if not first_percent.is_finite() or not 0 < first_percent < 100:
            raise PlanError(f"the first instalment's percent must be more than 0 and less "
                            f"than 100, not {first_percent}")  # fmt: skip
        if count < 2:
            raise PlanError("a first instalment's percent needs at least 2 instalments")
        share = first_percent / 100
    else:
        share = Decimal(1) / count if count > 1 else Decimal(1)
    if count == 1:
        schedule = monthly_schedule(total, total, today, due_day=due_day)
    else:
        schedule = share_schedule(total, share, count, today, due_day=due_day)
    if any(i.amount <= 0 for i in schedule):
        raise PlanError(f"{total} cannot be split into {count} instalments of at least 0.01")
    return schedule


def plan_for_customer(
    session: Session,
    customer_id: str,
    count: int,
    by: str,
    now: datetime,
    *,
    first_percent: Decimal | None = None,
    due_day: int = DEFAULT_DUE_DAY,
    note: str | None = None,
) -> InstalmentPlan:
    """D20: the customer's open invoices (outside a plan and not disputed) rescheduled into
    ``count`` monthly instalments (:func:`schedule_of`) of what they still owe. Its live
    drafts are cancelled: they ask for the invoices, which no longer fall due."""
    customer = customer_of(session, customer_id)
    today = local_date(now, customer.timezone)
    text = bounded_text(note, "note")
    items = {i.id: i for i in items_for(session, [customer.id])[customer.id]}
    candidates = session.scalars(
        select(Receivable).where(
            col(Receivable.customer_id) == customer.id, col(Receivable.plan_id).is_(None)
        ).order_by(col(Receivable.id))
    ).all()  # fmt: skip
    open_ids = [r.id for r in candidates
                if r.id in items and not items[r.id].disputed
                and items[r.id].outstanding_on(today) > 0]  # fmt: skip
    currencies = {items[i].currency for i in open_ids}
    if not open_ids:
        raise PlanError(f"customer {customer.id!r} owes nothing outside a plan or a dispute")
    if len(currencies) > 1:
        raise PlanError(f"customer {customer.id!r} owes in {', '.join(sorted(currencies))}: "
                        "a plan is in one currency")  # fmt: skip
    owed = sum((items[i].outstanding_on(today) for i in open_ids), Decimal(0))
    schedule = schedule_of(owed, count, today, first_percent=first_percent, due_day=due_day)
    plan = create_plan(session, customer.id, open_ids, schedule, by, now, note=text)
    cancel_live(session, customer.id, f"rescheduled into instalment plan #{plan.id}", by, now)
    return plan


def plans_of(session: Session, customer_id: str, now: datetime) -> list[PlanView]:
    """The customer's plans, newest first, each instalment with what is paid of it."""
    customer = customer_of(session, customer_id)
    today = local_date(now, customer.timezone)
    plans = session.scalars(
        select(InstalmentPlan).where(col(InstalmentPlan.customer_id) == customer.id)
        .order_by(col(InstalmentPlan.id).desc())
    ).all()  # fmt: skip
    if not plans:
        return []
    ids = [p.id for p in plans]
    rows: dict[int, list[InstalmentRow]] = {i: [] for i in ids if i is not None}
    for row in session.scalars(
        select(InstalmentRow).where(col(InstalmentRow.plan_id).in_(ids))
        .order_by(col(InstalmentRow.seq))
    ):  # fmt: skip
        rows[row.plan_id].append(row)
    invoices: dict[int, list[tuple[str, str]]] = {i: [] for i in rows}
    for plan_id, invoice_id, currency in session.execute(
        select(col(Receivable.plan_id), col(Receivable.id), col(Receivable.currency))
        .where(col(Receivable.plan_id).in_(ids)).order_by(col(Receivable.id))
    ):  # fmt: skip
        invoices[plan_id].append((invoice_id, currency))
    cancelled_invoices = _cancelled_invoices(session, customer.id)
    items = {i.id: i for i in items_for(session, [customer.id])[customer.id]}
    views = []
    for plan in plans:
        assert plan.id is not None
        members = invoices.get(plan.id, [])
        listed = tuple(i for i, _ in members) or cancelled_invoices.get(plan.id, ())
        currency = members[0][1] if members else "CNY"
        if not members and listed:
            first = session.get(Receivable, listed[0])
            currency = first.currency if first is not None else currency
        views.append(PlanView(
            plan.id, plan.customer_id, currency, cents_to_money(plan.total_cents), listed,
            plan.created_at, plan.created_by, plan.cancelled_at, plan.cancelled_by, plan.note,
            tuple(_instalment_view(plan, row, items, today) for row in rows[plan.id]),
        ))  # fmt: skip
    return views


def _instalment_view(
    plan: InstalmentPlan, row: InstalmentRow, items: dict[str, Item], today: date
) -> InstalmentView:
    amount = cents_to_money(row.amount_cents)
    item = items.get(f"PLAN{plan.id}/{row.seq}")
    if plan.cancelled_at is not None or item is None:
        return InstalmentView(row.seq, amount, row.due_on, None, None, "cancelled")
    outstanding = item.outstanding_on(today)
    if outstanding == 0:
        status = "paid"
    elif row.due_on < today:
        status = "overdue"
    else:
        status = "open"
    return InstalmentView(row.seq, amount, row.due_on, amount - outstanding, outstanding, status)


def _cancelled_invoices(session: Session, customer_id: str) -> dict[int, tuple[str, ...]]:
    """The invoices each cancelled plan held, as its creation event recorded them."""
    result: dict[int, tuple[str, ...]] = {}
    for data in session.scalars(
        select(col(Event.data)).where(
            col(Event.customer_id) == customer_id, col(Event.kind) == "instalment_plan"
        )
    ):
        plan_id = data.get("plan_id")
        if isinstance(plan_id, int):
            result[plan_id] = tuple(str(i) for i in data.get("invoices", ()))
    return result


def cancel_plan(
    session: Session,
    plan_id: int,
    by: str,
    now: datetime,
    *,
    note: str | None = None,
    customer_id: str | None = None,
) -> InstalmentPlan:
    """The plan ends: its invoices fall due again as they were (less what was paid), and
    its rows stay as evidence. ``customer_id``, when given, must be the plan's customer.
    The customer's live drafts are cancelled: they ask for instalments."""
    plan = session.get(InstalmentPlan, plan_id, with_for_update=True, populate_existing=True)
    if plan is None:
        raise UnknownRecord(f"no instalment plan with id {plan_id}")
    if customer_id is not None and plan.customer_id != customer_id:
        raise PlanError(f"instalment plan #{plan_id} is not a plan of customer {customer_id!r}")
    if plan.cancelled_at is not None:
        raise PlanError(f"instalment plan #{plan_id} was already cancelled "
                        f"({plan.cancelled_at.isoformat()})")  # fmt: skip
    text = bounded_text(note, "note")
    members = session.scalars(
        select(Receivable).where(col(Receivable.plan_id) == plan_id)
        .order_by(col(Receivable.id)).with_for_update()
    ).all()  # fmt: skip
    for r in members:
        r.plan_id = None
        r.updated_at = now
    plan.cancelled_at, plan.cancelled_by = now, by
    session.add(Event(at=now, kind="instalment_plan_cancelled", customer_id=plan.customer_id,
                      actor=by, data={"plan_id": plan_id, "invoices": [r.id for r in members],
                                      "note": text}))  # fmt: skip
    cancel_live(session, plan.customer_id, f"instalment plan #{plan_id} was cancelled", by, now)
    session.flush()
    return plan
