"""A customer's own facts around the messages: the legal-authorised flag and the timeline.

- D19 the legal-authorised flag, set or cleared by a manager or an admin only;
- D18 the timeline: every event of the customer merged with its payments, promises,
  disputes and reminder edits, newest first, from a handful of set-based SELECTs.

Promises (D21) are in ``promises.py``, disputes (D22) in ``disputes.py``; what these
share (errors, bounds of typed input) in ``common.py``. No HTTP here. Callers own the
transaction (nothing commits) and pass ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.items import cents_to_money
from notifier.domain.lifecycle import Status
from notifier.domain.policy import Policy
from notifier.services import review
from notifier.services.common import MAX_TEXT, CustomerError, NotAllowed, customer_of
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

__all__ = ["MAX_TEXT", "CustomerError", "NotAllowed", "LEGAL_DECIDERS", "TimelineEntry",
           "MessageRef", "set_legal_authorised", "timeline"]  # fmt: skip

# Who may set or clear the legal-authorised flag (D19: legal steps are a manager's call).
LEGAL_DECIDERS = frozenset({"manager", "admin"})
TIMELINE_LIMIT = 500
# Event kinds whose facts a table row carries in full: the timeline shows the row instead.
FOLDED_EVENTS = ("promise_recorded", "dispute_opened", "edited", "payment_recorded")


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
    customer = customer_of(session, customer_id)
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
    customer = customer_of(session, customer_id)
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
