"""Per-collector progress (D4, D21, D22, D26): each collector's customers, what they owe,
what came in, how many reminders went out, and the queue status of their customers:
"promised (date)" or "follow up (reason)".

Figures, as of ``day`` (amounts per currency; money is never added across currencies):

- **customers**: customers whose ``collector`` is this one (an escalated customer is the
  manager's who took it over, D4, and its escalation is shown as a follow-up reason).
- **open items / outstanding**: items issued by ``day`` with something left to pay at the
  end of ``day``. A receivable rescheduled into an instalment plan (D20) is counted as its
  plan's instalments, paid oldest first by the payments on the plan's receivables since
  the plan began, as the aging report does.
- **overdue**: the outstanding part of items whose due date is before ``day``.
- **collected**: payments on the collector's customers' invoices with ``paid_on`` in
  ``[since_day, day]``.
- **reminders sent**: reminders with ``sent_at`` in ``[since, until)``.
- **promised**: open promises to pay dated ``day`` or later: "promised (date)".
- **follow up**, one entry per customer with every reason that applies:
  ``broken_promise`` (a promise dated in ``[since_day, day]`` that was broken),
  ``promise_passed`` (still open, but its date is before ``day``: the planner has not
  judged it yet), ``dispute`` (an open dispute, D22; detail: the invoice),
  ``escalated`` (D21; detail: the reason), ``failed`` (a delivery failed in the period;
  detail: the channel), ``unknown`` (a send interrupted mid-way, waiting for a person
  whenever it happened; detail: the channel).

Set-based: a handful of GROUP BY queries and one UNION ALL for the follow-up reasons,
whatever the number of customers or reminders.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlmodel import Session, col

from notifier.domain.items import cents_to_money
from notifier.store.models import (
    Customer,
    Dispute,
    Instalment,
    InstalmentPlan,
    Payment,
    PaymentPromise,
    Receivable,
    Reminder,
)

UNASSIGNED = ""  # the key of customers without a collector
REASONS = ("broken_promise", "promise_passed", "dispute", "escalated", "failed", "unknown")


@dataclass(frozen=True)
class Promise:
    customer_id: str
    customer_name: str
    promised_on: date
    amount: Decimal | None
    currency: str


@dataclass(frozen=True)
class Reason:
    kind: str  # one of REASONS
    detail: str | None
    on: date | None


@dataclass(frozen=True)
class FollowUp:
    customer_id: str
    customer_name: str
    reasons: tuple[Reason, ...]


@dataclass
class CollectorRow:
    collector: str  # UNASSIGNED for customers without one
    customers: int = 0
    open_items: int = 0
    outstanding: dict[str, Decimal] = field(default_factory=dict)  # per currency
    overdue: dict[str, Decimal] = field(default_factory=dict)
    collected: dict[str, Decimal] = field(default_factory=dict)
    reminders_sent: int = 0
    promises: list[Promise] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)


def _add(money: dict[str, Decimal], currency: str, cents: Any) -> None:
    if cents:
        money[currency] = money.get(currency, Decimal("0.00")) + cents_to_money(int(cents))


def _who(collector: str | None) -> str:
    return collector or UNASSIGNED


def collectors(
    session: Session, day: date, since: datetime, until: datetime, since_day: date
) -> list[CollectorRow]:
    """Every collector that has customers, by name (customers without one last)."""
    rows: dict[str, CollectorRow] = {}

    def row(collector: str | None) -> CollectorRow:
        key = _who(collector)
        return rows.setdefault(key, CollectorRow(key))

    for collector, n in session.execute(
        select(col(Customer.collector), func.count()).group_by(col(Customer.collector))
    ):
        row(collector).customers += int(n)
    for collector, currency, items, owed, overdue in _item_figures(session, day):
        r = row(collector)
        r.open_items += int(items or 0)
        _add(r.outstanding, currency, owed)
        _add(r.overdue, currency, overdue)
    for collector, currency, cents in session.execute(
        select(col(Customer.collector), col(Receivable.currency), func.sum(Payment.amount_cents))
        .select_from(Payment)
        .join(Receivable, col(Receivable.id) == col(Payment.invoice_id))
        .join(Customer, col(Customer.id) == col(Receivable.customer_id))
        .where(col(Payment.paid_on) >= since_day, col(Payment.paid_on) <= day)
        .group_by(col(Customer.collector), col(Receivable.currency))
    ):
        _add(row(collector).collected, currency, cents)
    for collector, n in session.execute(
        select(col(Customer.collector), func.count())
        .select_from(Reminder)
        .join(Customer, col(Customer.id) == col(Reminder.customer_id))
        .where(col(Reminder.sent_at) >= since, col(Reminder.sent_at) < until)
        .group_by(col(Customer.collector))
    ):
        row(collector).reminders_sent += int(n)
    for collector, promise in _open_promises(session, day):
        row(collector).promises.append(promise)
    for collector, follow_up in _follow_ups(session, day, since, since_day):
        row(collector).follow_ups.append(follow_up)
    return sorted(rows.values(), key=lambda r: (r.collector == UNASSIGNED, r.collector))


def _item_figures(session: Session, day: date) -> list[Any]:
    """(collector, currency, open items, outstanding cents, overdue cents): invoices not
    in a plan, plus the instalments of plans, in one UNION ALL grouped by collector."""
    paid = (
        select(col(Payment.invoice_id), func.sum(col(Payment.amount_cents)).label("cents"))
        .where(col(Payment.paid_on) <= day)
        .group_by(col(Payment.invoice_id))
        .subquery()
    )
    balance = col(Receivable.amount_cents) - func.coalesce(paid.c.cents, 0)
    invoices: Select[Any, Any, Any, Any] = (
        select(
            col(Customer.collector).label("collector"),
            col(Receivable.currency).label("currency"),
            balance.label("owed"),
            col(Receivable.due_on).label("due_on"),
        )
        .select_from(Receivable)
        .join(Customer, col(Customer.id) == col(Receivable.customer_id))
        .outerjoin(paid, paid.c.invoice_id == col(Receivable.id))
        .where(col(Receivable.issued_on) <= day, col(Receivable.plan_id).is_(None))
    )
    # D20: a plan's payments are those on its receivables since the plan began; they pay
    # the instalments oldest first, so an instalment's share is what is left of them after
    # the instalments before it (a running sum).
    plan_start = func.date(col(InstalmentPlan.created_at), type_=Date)
    plan_paid = (
        select(col(Receivable.plan_id).label("plan_id"),
               func.sum(col(Payment.amount_cents)).label("cents"))
        .select_from(Payment)
        .join(Receivable, col(Receivable.id) == col(Payment.invoice_id))
        .join(InstalmentPlan, col(InstalmentPlan.id) == col(Receivable.plan_id))
        .where(col(Payment.paid_on) >= plan_start, col(Payment.paid_on) <= day)
        .group_by(col(Receivable.plan_id))
        .subquery()
    )  # fmt: skip
    plan_currency = (
        select(col(Receivable.plan_id).label("plan_id"),
               func.min(col(Receivable.currency)).label("currency"))
        .where(col(Receivable.plan_id).is_not(None))
        .group_by(col(Receivable.plan_id))
        .subquery()
    )  # fmt: skip
    before = func.sum(col(Instalment.amount_cents)).over(
        partition_by=col(Instalment.plan_id),
        order_by=col(Instalment.seq),
        rows=(None, 0),
    ) - col(Instalment.amount_cents)
    schedule = select(
        col(Instalment.plan_id).label("plan_id"),
        col(Instalment.amount_cents).label("amount"),
        col(Instalment.due_on).label("due_on"),
        before.label("before"),
    ).subquery()
    got = func.coalesce(plan_paid.c.cents, 0)
    unpaid = case(
        (got >= schedule.c.before + schedule.c.amount, 0),
        (got <= schedule.c.before, schedule.c.amount),
        else_=schedule.c.before + schedule.c.amount - got,
    )
    instalments = (
        select(
            col(Customer.collector).label("collector"),
            func.coalesce(plan_currency.c.currency, "CNY").label("currency"),
            unpaid.label("owed"),
            schedule.c.due_on.label("due_on"),
        )
        .select_from(schedule)
        .join(InstalmentPlan, col(InstalmentPlan.id) == schedule.c.plan_id)
        .join(Customer, col(Customer.id) == col(InstalmentPlan.customer_id))
        .outerjoin(plan_paid, plan_paid.c.plan_id == schedule.c.plan_id)
        .outerjoin(plan_currency, plan_currency.c.plan_id == schedule.c.plan_id)
        .where(plan_start <= day)
    )
    items = union_all(invoices, instalments).subquery()
    is_open = items.c.owed > 0
    return list(
        session.execute(
            select(
                items.c.collector,
                items.c.currency,
                func.sum(case((is_open, 1), else_=0)),
                func.sum(case((is_open, items.c.owed), else_=0)),
                func.sum(case((and_(is_open, items.c.due_on < day), items.c.owed), else_=0)),
            ).group_by(items.c.collector, items.c.currency)
        ).all()
    )


def _currency_of_customer() -> Any:
    return (
        select(func.min(col(Receivable.currency)))
        .where(col(Receivable.customer_id) == col(Customer.id))
        .correlate(Customer)
        .scalar_subquery()
    )


def _open_promises(session: Session, day: date) -> list[tuple[str | None, Promise]]:
    query = (
        select(
            col(Customer.collector), col(Customer.id), col(Customer.name),
            col(PaymentPromise.promised_on), col(PaymentPromise.amount_cents),
            _currency_of_customer(),
        )
        .join(Customer, col(Customer.id) == col(PaymentPromise.customer_id))
        .where(col(PaymentPromise.status) == "open", col(PaymentPromise.promised_on) >= day)
        .order_by(col(PaymentPromise.promised_on), col(Customer.id))
    )  # fmt: skip
    return [
        (collector, Promise(cid, name, on, None if cents is None else cents_to_money(cents),
                            currency or "CNY"))
        for collector, cid, name, on, cents, currency in session.execute(query)
    ]  # fmt: skip


def _follow_ups(
    session: Session, day: date, since: datetime, since_day: date
) -> list[tuple[str | None, FollowUp]]:
    """Every reason to follow a customer up, one UNION ALL; grouped per customer."""
    who = (col(Customer.collector), col(Customer.id), col(Customer.name))
    no_detail = cast(null(), String)
    no_day = cast(null(), Date)
    promises = (
        select(
            *who,
            case(
                (col(PaymentPromise.status) == "broken", "broken_promise"),
                else_="promise_passed",
            ).label("kind"),
            no_detail.label("detail"),
            col(PaymentPromise.promised_on).label("on"),
        )
        .join(Customer, col(Customer.id) == col(PaymentPromise.customer_id))
        .where(
            or_(
                and_(
                    col(PaymentPromise.status) == "broken",
                    col(PaymentPromise.promised_on) >= since_day,
                    col(PaymentPromise.promised_on) <= day,
                ),
                and_(col(PaymentPromise.status) == "open", col(PaymentPromise.promised_on) < day),
            )
        )
    )
    disputes = (
        select(*who, literal("dispute", String), cast(col(Dispute.invoice_id), String), no_day)
        .select_from(Dispute)
        .join(Receivable, col(Receivable.id) == col(Dispute.invoice_id))
        .join(Customer, col(Customer.id) == col(Receivable.customer_id))
        .where(col(Dispute.resolved_at).is_(None))
    )
    escalated = select(
        *who,
        literal("escalated", String),
        cast(col(Customer.escalation_reason), String),
        no_day,
    ).where(col(Customer.escalated_at).is_not(None))
    deliveries = (
        select(*who, cast(col(Reminder.status), String), cast(col(Reminder.channel), String),
               no_day)
        .select_from(Reminder)
        .join(Customer, col(Customer.id) == col(Reminder.customer_id))
        .where(
            or_(
                col(Reminder.status) == "unknown",
                and_(col(Reminder.status) == "failed", col(Reminder.updated_at) >= since),
            )
        )
        .distinct()
    )  # fmt: skip
    reasons: dict[tuple[str | None, str, str], list[Reason]] = defaultdict(list)
    for collector, cid, name, kind, detail, on in session.execute(
        union_all(promises, disputes, escalated, deliveries)
    ):
        found = reasons[(collector, cid, name)]
        reason = Reason(str(kind), detail, on)
        if reason not in found:
            found.append(reason)
    order = {kind: i for i, kind in enumerate(REASONS)}

    def rank(r: Reason) -> tuple[int, date, str]:
        return order.get(r.kind, len(order)), r.on or date.min, r.detail or ""

    return [
        (collector, FollowUp(cid, name, tuple(sorted(found, key=rank))))
        for (collector, cid, name), found in sorted(reasons.items(), key=lambda kv: kv[0][1])
    ]
