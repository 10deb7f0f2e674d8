"""D20: rescheduling a customer's open invoices into an instalment plan. From then on the
instalments are the items that fall due and are reminded; payments against the invoices
pay the instalments oldest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.errors import Refused
from notifier.domain.instalments import Instalment
from notifier.domain.items import local_date, money_to_cents
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
