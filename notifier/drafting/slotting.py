"""Choosing the slot a reminder goes out in: the customer's next contact window that
carries the channel (D9-D11), outside quiet hours (C1), within the frequency caps (C2)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.calendar import WorkCalendar
from notifier.domain.lifecycle import COUNTED  # statuses under the frequency caps (C2)
from notifier.domain.policy import Channel, Policy
from notifier.domain.slots import Placed, Slot, slot_for
from notifier.store.models import Customer, Reminder

RESLOT_DAYS = 30
__all__ = ("COUNTED", "RESLOT_DAYS", "Placed", "reslot", "slot_for")  # slot_for: domain/slots.py


def reslot(
    session: Session, r: Reminder, now: datetime, policy: Policy, calendar: WorkCalendar
) -> Slot | None:
    """Move ``r`` to the customer's next slot for its channel after ``now`` that the caps
    allow (D12: deferred, never sent late, never dropped). None when none fits within
    ``RESLOT_DAYS``; the reminder is then left as it was."""
    customer = session.get(Customer, r.customer_id)
    assert customer is not None
    channel: Channel = "sms" if r.channel == "sms" else "email"
    taken = session.scalars(
        select(col(Reminder.slot_start)).where(
            col(Reminder.customer_id) == r.customer_id,
            col(Reminder.channel) == r.channel,
            col(Reminder.status).in_(COUNTED),
            col(Reminder.id) != r.id,
        )
    ).all()
    slot = slot_for(customer, channel, now, now + timedelta(days=RESLOT_DAYS), policy=policy,
                    calendar=calendar, taken=taken)  # fmt: skip
    if slot is not None:
        r.slot_start, r.slot_end, r.window = slot.start, slot.end, slot.window
        r.next_attempt_at = None
    return slot
