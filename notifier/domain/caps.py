"""C2: frequency caps per debtor and channel on rolling windows.

A candidate slot at instant t is allowed when, for every cap (limit k over a window W),
fewer than k other messages on that channel lie within W of t on either side: then no
window of length W that contains t can hold more than k messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from notifier.domain.policy import CapPolicy, Channel

DAY = timedelta(days=1)
WEEK = timedelta(days=7)


def caps_for(channel: Channel, policy: CapPolicy) -> tuple[tuple[int, timedelta], ...]:
    if channel == "sms":
        return ((policy.sms_per_day, DAY), (policy.sms_per_7_days, WEEK))
    return ((policy.email_per_day, DAY), (policy.email_per_7_days, WEEK))


def within_caps(
    candidate: datetime, others: Iterable[datetime], channel: Channel, policy: CapPolicy
) -> bool:
    times = list(others)
    for limit, window in caps_for(channel, policy):
        near = sum(1 for t in times if abs(t - candidate) < window)
        if near >= limit:
            return False
    return True
