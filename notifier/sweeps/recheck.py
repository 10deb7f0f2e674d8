"""The re-check at the moment of sending (pretix's "lock the row, re-read it, check, then
send"): is the reminder still owed, still true, still allowed right now? A failed check
either cancels it (the message is no longer right) or defers it to a later slot (the
message is right, the moment is not)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.consent import address_of, opted_out
from notifier.domain.cadence import cycle_key
from notifier.domain.caps import within_caps
from notifier.domain.items import local_date
from notifier.domain.policy import Channel, Policy
from notifier.domain.position import position
from notifier.domain.slots import contact_allowed
from notifier.domain.stages import customer_stage
from notifier.store.models import Customer, PaymentPromise, Reminder
from notifier.store.queries import items_for

SENT = ("sending", "sent", "delivered", "unknown")


@dataclass(frozen=True)
class Verdict:
    action: Literal["send", "cancel", "defer"]
    reason: str = ""
    address: str = ""


def recheck(session: Session, r: Reminder, now: datetime, policy: Policy) -> Verdict:
    customer = session.get(Customer, r.customer_id)
    assert customer is not None
    today = local_date(now, customer.timezone)
    items = items_for(session, [customer.id])[customer.id]
    stage = customer_stage(items, today, policy.stages)
    oldest = next((i for i in items if i.id == stage.oldest_item_id), None)
    if stage.reminder_stage is None or oldest is None:
        return Verdict("cancel", "nothing is owed any more (paid or disputed)")
    if cycle_key(oldest.id, oldest.due_on) != r.cycle:
        return Verdict("cancel", "the items it was about were paid")
    collectable = [i for i in items if not i.disputed]
    total = position(collectable, today, policy.penalty.default_daily_rate).total_outstanding
    stated = r.facts.get("total")
    if stated is not None and str(total) != str(stated):
        return Verdict("cancel", f"the amount owed changed since drafting ({stated} -> {total})")
    promise = session.scalar(
        select(PaymentPromise).where(
            col(PaymentPromise.customer_id) == customer.id,
            col(PaymentPromise.status) == "open",
            col(PaymentPromise.promised_on) >= today,
        )
    )
    if promise is not None:
        return Verdict("cancel", f"promised to pay by {promise.promised_on.isoformat()}")
    why = opted_out(session, customer, r.channel)
    if why:
        return Verdict("cancel", why)
    if not contact_allowed(now, zone=customer.timezone, country=customer.country,
                           quiet_hours=policy.quiet_hours):  # fmt: skip
        return Verdict("defer", "quiet hours in the customer's time zone (C1)")
    channel: Channel = "sms" if r.channel == "sms" else "email"
    recent = session.scalars(
        select(col(Reminder.sent_at)).where(
            col(Reminder.customer_id) == customer.id,
            col(Reminder.channel) == r.channel,
            col(Reminder.status).in_(SENT),
            col(Reminder.id) != r.id,
            col(Reminder.sent_at) > now - timedelta(days=7),
        )
    ).all()
    if not within_caps(now, [t for t in recent if t is not None], channel, policy.caps):
        return Verdict("defer", "frequency cap reached (C2)")
    address = address_of(customer, r.channel)
    assert address is not None
    return Verdict("send", address=address)
