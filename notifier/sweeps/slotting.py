"""Choosing the slot a reminder goes out in: the customer's next contact window that
carries the channel (D9-D11), outside quiet hours (C1), within the frequency caps (C2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.calendar import WorkCalendar
from notifier.domain.caps import within_caps
from notifier.domain.policy import Channel, Policy
from notifier.domain.slots import Slot, slots_between, windows_for
from notifier.store.models import Customer, Reminder

RESLOT_DAYS = 30
# Statuses that occupy a place under the frequency caps (C2).
COUNTED = ("pending_approval", "approved", "sending", "sent", "delivered", "unknown")


class Placed(Protocol):
    """Where a customer is, for slotting: a mapped ``Customer`` or a plain row."""

    @property
    def kind(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def country(self) -> str: ...


def slot_for(
    customer: Placed,
    channel: Channel,
    start: datetime,
    end: datetime,
    *,
    policy: Policy,
    calendar: WorkCalendar,
    taken: Sequence[datetime] = (),
) -> Slot | None:
    """The first slot starting in [start, end) whose window carries ``channel`` and that
    the caps allow, given the customer's other messages on that channel at ``taken``."""
    windows = {w.name for w in windows_for(customer.kind, policy.windows) if channel in w.channels}
    for slot in slots_between(
        start, end, kind=customer.kind, zone=customer.timezone, country=customer.country,
        policy=policy, calendar=calendar,
    ):  # fmt: skip
        if slot.window in windows and within_caps(slot.start, taken, channel, policy.caps):
            return slot
    return None


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
