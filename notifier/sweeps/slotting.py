"""Choosing the slot a reminder goes out in: the customer's next contact window that
carries the channel (D9-D11), outside quiet hours (C1), within the frequency caps (C2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from notifier.domain.calendar import WorkCalendar
from notifier.domain.caps import within_caps
from notifier.domain.policy import Channel, Policy
from notifier.domain.slots import Slot, slots_between, windows_for
from notifier.store.models import Customer


def slot_for(
    customer: Customer,
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
