"""What people record about a customer around the messages, and the customer's timeline.

- D21 a promise to pay by a date: reminders pause until that date (the planner and the
  send-time re-check honour every open promise; the customer's live drafts are cancelled
  at once, as the planner would on its next run);
- D22 a dispute on an invoice (all of it or part): the disputed item is paused and routed
  to after-sales, the rest is still collected; a dispute is later resolved;
- D19 the legal-authorised flag, set or cleared by a manager or an admin only;
- D18 the timeline: every event of the customer merged with its payments, promises,
  disputes and reminder edits, newest first, from a handful of set-based SELECTs.

No HTTP here. Callers own the transaction (nothing commits) and pass ``now``. Every change
lands in the append-only event log with who made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.errors import Forbidden, Refused
from notifier.domain.items import cents_to_money, local_date, money_to_cents
from notifier.domain.lifecycle import LIVE, Status
from notifier.domain.policy import LimitsPolicy, Policy
from notifier.services import review
from notifier.store import reminders
from notifier.store.models import (
    Customer,
    Dispute,
    Event,
    Payment,
    PaymentPromise,
    Receivable,
    Reminder,
    ReminderEdit,
    User,
)

# Who may set or clear the legal-authorised flag (D19: legal steps are a manager's call).
LEGAL_DECIDERS = frozenset({"manager", "admin"})
# Who may record a promise beyond promise_max_days (up to promise_manager_max_days).
LONG_PROMISE_ROLES = frozenset({"manager", "admin"})
MAX_TEXT = 2000
MAX_AMOUNT = Decimal("1000000000000")  # far above any real invoice; keeps cents in range
TIMELINE_LIMIT = 500
# Event kinds whose facts a table row carries in full: the timeline shows the row instead.
FOLDED_EVENTS = ("promise_recorded", "dispute_opened", "edited")


class CustomerError(Refused, ValueError):
    """A customer action that cannot be done; the message says what is wrong."""


class NotAllowed(Forbidden, PermissionError):
    """The user's role may not do this."""


@dataclass(frozen=True)
class MessageRef:
    """The message an entry is about, with its status now."""

    id: int
    channel: str
    status: str
    step: str


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a customer.

    ``kind`` is an event kind (``drafted``, ``sent``, ``opened``, ``replied``,
    ``escalated``, ``legal_authorised``, ``promise_broken``, ...) or the kind of the row it
    comes from: ``payment``, ``promise``, ``dispute``, ``edit``. ``date_only`` entries
    (payments) happened on a day, not at an instant: ``at`` is the start of that day in
    the customer's zone and ``details["day"]`` the day.
    """

    at: datetime
    kind: str
    actor: str | None
    details: dict[str, Any] = field(default_factory=dict)
    message: MessageRef | None = None
    date_only: bool = False


def _customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise CustomerError(f"no customer with id {customer_id!r}")
    return customer


def _amount(amount: Decimal | None, what: str) -> int | None:
    """The amount in cents, or a clear error: positive, finite, at most two decimals."""
    if amount is None:
        return None
    if not amount.is_finite():
        raise CustomerError(f"the {what} amount {amount} is not a number")
    if amount <= 0:
        raise CustomerError(f"the {what} amount must be more than 0, not {amount}")
    if amount > MAX_AMOUNT:
        raise CustomerError(f"the {what} amount {amount} is too large")
    if amount != amount.quantize(Decimal("0.01")):
        raise CustomerError(f"the {what} amount {amount} has more than two decimals")
    return money_to_cents(amount)


def _text(value: str | None, what: str, required: bool = False) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise CustomerError(f"the {what} is required")
    if len(text) > MAX_TEXT:
        raise CustomerError(f"the {what} is longer than {MAX_TEXT} characters")
    return text or None


def record_promise(
    session: Session,
    customer_id: str,
    promised_on: date,
    amount: Decimal | None,
    note: str | None,
    by: str,
    now: datetime,
    *,
    role: str | None = None,
    limits: LimitsPolicy | None = None,
) -> PaymentPromise:
    """D21: the customer promised to pay (``amount``, or everything) by ``promised_on``.
    Reminders pause until that day; the planner settles the promise as kept or broken the
    day after. The customer's live drafts are cancelled now: their text asks for a
    payment the customer has just promised.

    A promise pauses collection, so it is bounded: at most ``limits.promise_max_days``
    ahead of the customer's today, or ``promise_manager_max_days`` when ``role`` (the
    recording user's) is a manager's or an admin's. ``limits`` defaults to the policy's
    defaults, so a caller that forgets it still cannot pause collection for ever."""
    customer = _customer(session, customer_id)
    today = local_date(now, customer.timezone)
    if promised_on < today:
        raise CustomerError(
            f"the promised date {promised_on.isoformat()} is in the past "
            f"(it is {today.isoformat()} for the customer)"
        )
    _within_promise_reach(promised_on, today, role, limits or LimitsPolicy())
    cents = _amount(amount, "promised")
    text = _text(note, "note")
    promise = PaymentPromise(customer_id=customer.id, promised_on=promised_on,
                             amount_cents=cents, status="open", note=text, recorded_by=by,
                             recorded_at=now)  # fmt: skip
    session.add(promise)
    session.flush()
    session.add(Event(at=now, kind="promise_recorded", customer_id=customer.id, actor=by,
                      data={"promise_id": promise.id, "promised_on": promised_on.isoformat(),
                            "amount": None if cents is None else str(cents_to_money(cents)),
                            "note": text}))  # fmt: skip
    _cancel_live(session, customer.id, f"promised to pay by {promised_on.isoformat()}", by, now)
    return promise


def _within_promise_reach(
    promised_on: date, today: date, role: str | None, limits: LimitsPolicy
) -> None:
    manager = role in LONG_PROMISE_ROLES
    days = limits.promise_manager_max_days if manager else limits.promise_max_days
    if (promised_on - today).days <= days:
        return
    latest = (today + timedelta(days=days)).isoformat()
    if manager or limits.promise_manager_max_days == days:
        raise CustomerError(
            f"the promised date {promised_on.isoformat()} is more than {days} days ahead; "
            f"the latest a promise may reach is {latest}"
        )
    raise CustomerError(
        f"the promised date {promised_on.isoformat()} is more than {days} days ahead "
        f"(latest {latest}); only a manager may record a promise up to "
        f"{limits.promise_manager_max_days} days ahead"
    )


def _cancel_live(session: Session, customer_id: str, reason: str, by: str, now: datetime) -> None:
    live = session.scalars(
        select(Reminder)
        .where(col(Reminder.customer_id) == customer_id, col(Reminder.status).in_(LIVE))
        .with_for_update()
    ).all()
    for r in live:
        reminders.cancel(session, r, reason, now, by)


def open_dispute(
    session: Session,
    invoice_id: str,
    amount: Decimal | None,
    reason: str,
    by: str,
    now: datetime,
    *,
    customer_id: str | None = None,
) -> Dispute:
    """D22: the customer disputes ``invoice_id`` (``amount`` of it, or all of it). The
    disputed item is paused and goes to after-sales; the rest is still collected.
    ``customer_id``, when given, must be the invoice's customer."""
    # Locked: a dispute opened meanwhile on the same invoice (PostgreSQL) is seen below.
    invoice = session.get(Receivable, invoice_id, with_for_update=True, populate_existing=True)
    if invoice is None:
        raise CustomerError(f"no invoice with id {invoice_id!r}")
    customer = _customer(session, invoice.customer_id)
    if customer_id is not None and customer.id != customer_id:
        raise CustomerError(f"invoice {invoice_id!r} is not an invoice of customer {customer_id!r}")
    cents = _amount(amount, "disputed")
    if cents is not None and cents > invoice.amount_cents:
        raise CustomerError(
            f"the disputed amount {amount} is more than invoice {invoice_id!r} is for "
            f"({cents_to_money(invoice.amount_cents)})"
        )
    text = _text(reason, "reason", required=True)
    assert text is not None
    already = session.scalar(
        select(col(Dispute.id)).where(
            col(Dispute.invoice_id) == invoice_id, col(Dispute.resolved_at).is_(None)
        )
    )
    if already is not None:
        raise CustomerError(f"invoice {invoice_id!r} already has an open dispute (#{already})")
    dispute = Dispute(invoice_id=invoice_id, amount_cents=cents, reason=text, opened_by=by,
                      opened_at=now)  # fmt: skip
    session.add(dispute)
    session.flush()
    session.add(Event(at=now, kind="dispute_opened", customer_id=customer.id, actor=by,
                      data={"dispute_id": dispute.id, "invoice_id": invoice_id,
                            "amount": None if cents is None else str(cents_to_money(cents)),
                            "reason": text}))  # fmt: skip
    return dispute


def resolve_dispute(
    session: Session,
    dispute_id: int,
    note: str | None,
    by: str,
    now: datetime,
    *,
    customer_id: str | None = None,
) -> Dispute:
    """D22: after-sales settled the dispute; the item is collected again (or was credited
    by the ERP). ``customer_id``, when given, must be the disputed invoice's customer."""
    dispute = session.get(Dispute, dispute_id, with_for_update=True)
    if dispute is None:
        raise CustomerError(f"no dispute with id {dispute_id}")
    invoice = session.get(Receivable, dispute.invoice_id)
    assert invoice is not None  # a foreign key
    if customer_id is not None and invoice.customer_id != customer_id:
        raise CustomerError(f"dispute #{dispute_id} is not about customer {customer_id!r}")
    if dispute.resolved_at is not None:
        raise CustomerError(f"dispute #{dispute_id} was already resolved")
    text = _text(note, "note")
    dispute.resolved_at = now
    session.add(Event(at=now, kind="dispute_resolved", customer_id=invoice.customer_id, actor=by,
                      data={"dispute_id": dispute.id, "invoice_id": dispute.invoice_id,
                            "note": text}))  # fmt: skip
    return dispute


def set_legal_authorised(
    session: Session,
    customer_id: str,
    value: bool,
    by: User,
    now: datetime,
    *,
    policy: Policy | None = None,
) -> Customer:
    """D19: a manager (or an admin) decides that legal steps may be taken, or takes that
    back. Anyone else: :class:`NotAllowed`. With ``policy``, the customer's pending drafts
    are linted again, since the flag decides whether legal words are allowed (D14): a draft
    that threatens a lawsuit no longer authorised cannot then be approved unedited."""
    if by.role not in LEGAL_DECIDERS:
        raise NotAllowed(f"a {by.role} may not set the legal-authorised flag (manager or admin)")
    customer = _customer(session, customer_id)
    if customer.legal_authorised == value:
        return customer
    customer.legal_authorised = value
    customer.updated_at = now
    session.add(Event(at=now, kind="legal_authorised", customer_id=customer.id, actor=by.name,
                      data={"value": value, "by": by.name, "role": by.role}))  # fmt: skip
    if policy is not None:
        _relint_pending(session, customer.id, policy, now)
    return customer


def _relint_pending(session: Session, customer_id: str, policy: Policy, now: datetime) -> None:
    pending = session.scalars(
        select(Reminder).where(
            col(Reminder.customer_id) == customer_id,
            col(Reminder.status) == Status.PENDING_APPROVAL,
        )
    ).all()
    for r in pending:
        problems, _ = review.check_text(session, r, r.body, r.subject, policy)
        found = [str(p) for p in problems]
        if found != r.lint:
            r.lint, r.updated_at = found, now


def timeline(
    session: Session, customer_id: str, limit: int = TIMELINE_LIMIT
) -> list[TimelineEntry]:
    """Everything that happened to the customer, newest first, at most ``limit`` entries:
    its events (D18), the payments of its invoices, its promises, disputes and the edits of
    its reminders. Seven SELECTs whatever the number of entries."""
    customer = _customer(session, customer_id)
    events = session.scalars(
        select(Event)
        .where(col(Event.customer_id) == customer.id, col(Event.kind).not_in(FOLDED_EVENTS))
        .order_by(col(Event.at).desc(), col(Event.id).desc())
        .limit(limit)
    ).all()
    edits = session.scalars(
        select(ReminderEdit)
        .join(Reminder, col(Reminder.id) == col(ReminderEdit.reminder_id))
        .where(col(Reminder.customer_id) == customer.id)
        .order_by(col(ReminderEdit.edited_at).desc())
        .limit(limit)
    ).all()
    message_ids = {ref for e in events if (ref := _reminder_id(e.data)) is not None}
    message_ids.update(edit.reminder_id for edit in edits)
    messages = _messages(session, sorted(message_ids))

    entries = [
        TimelineEntry(e.at, e.kind, e.actor, dict(e.data), messages.get(_reminder_id(e.data) or 0))
        for e in events
    ]
    entries += [
        TimelineEntry(
            edit.edited_at, "edit", edit.edited_by,
            {"reminder_id": edit.reminder_id, "subject_before": edit.subject_before,
             "subject_after": edit.subject_after, "body_before": edit.body_before,
             "body_after": edit.body_after},
            messages.get(edit.reminder_id),
        )
        for edit in edits
    ]  # fmt: skip
    entries += _payments(session, customer, limit)
    entries += [
        TimelineEntry(
            p.recorded_at, "promise", p.recorded_by,
            {"promise_id": p.id, "promised_on": p.promised_on, "amount": _money(p.amount_cents),
             "status": p.status, "note": p.note},
        )
        for p in session.scalars(
            select(PaymentPromise)
            .where(col(PaymentPromise.customer_id) == customer.id)
            .order_by(col(PaymentPromise.recorded_at).desc())
            .limit(limit)
        )
    ]  # fmt: skip
    entries += [
        TimelineEntry(
            d.opened_at, "dispute", d.opened_by,
            {"dispute_id": d.id, "invoice_id": d.invoice_id, "amount": _money(d.amount_cents),
             "currency": currency, "reason": d.reason, "resolved_at": d.resolved_at},
        )
        for d, currency in session.execute(
            select(Dispute, col(Receivable.currency))
            .join(Receivable, col(Receivable.id) == col(Dispute.invoice_id))
            .where(col(Receivable.customer_id) == customer.id)
            .order_by(col(Dispute.opened_at).desc())
            .limit(limit)
        ).all()
    ]  # fmt: skip
    entries.sort(key=lambda e: e.at, reverse=True)  # stable: ties keep the order above
    return entries[:limit]


def _payments(session: Session, customer: Customer, limit: int) -> list[TimelineEntry]:
    """Payments happen on a day: placed at the start of that day in the customer's zone."""
    zone = ZoneInfo(customer.timezone)
    return [
        TimelineEntry(
            datetime.combine(p.paid_on, time(), zone), "payment", None,
            {"payment_id": p.id, "invoice_id": p.invoice_id,
             "amount": cents_to_money(p.amount_cents), "currency": currency, "day": p.paid_on},
            date_only=True,
        )
        for p, currency in session.execute(
            select(Payment, col(Receivable.currency))
            .join(Receivable, col(Receivable.id) == col(Payment.invoice_id))
            .where(col(Receivable.customer_id) == customer.id)
            .order_by(col(Payment.paid_on).desc())
            .limit(limit)
        ).all()
    ]  # fmt: skip


def _reminder_id(data: dict[str, Any]) -> int | None:
    value = data.get("reminder_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _money(cents: int | None) -> Decimal | None:
    return None if cents is None else cents_to_money(cents)


def _messages(session: Session, ids: Sequence[int]) -> dict[int, MessageRef]:
    if not ids:
        return {}
    rows = session.execute(
        select(col(Reminder.id), col(Reminder.channel), col(Reminder.status), col(Reminder.step))
        .where(col(Reminder.id).in_(ids))
    ).all()  # fmt: skip
    return {int(i): MessageRef(int(i), str(ch), str(st), str(sp)) for i, ch, st, sp in rows}
