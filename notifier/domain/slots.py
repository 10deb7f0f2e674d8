"""D9-D11, C1: when a customer may be contacted, in the customer's own time zone.

A *window* is a daily span of local time from the policy (business: 09:00 and 14:00 on
official working days; individuals: 19:00-20:00 any day). A *slot* is one window on one
day, as an interval of UTC instants. Quiet hours (C1) are a hard limit on top: a window is
clipped to the country's allowed hours, and a window wholly outside them yields no slot.

DST: a wall-clock time in a spring-forward gap is read with the offset before the change
(02:30 becomes 03:30, as the clock reads after it); one in a fall-back overlap takes its
first occurrence. Slots are
computed from local wall-clock times each day, so 19:00 stays 19:00 local across a change.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from notifier.domain.calendar import WorkCalendar
from notifier.domain.caps import within_caps
from notifier.domain.policy import (
    AllowedHours,
    Channel,
    Policy,
    QuietHoursPolicy,
    Window,
    WindowPolicy,
)

SEARCH_DAYS = 60  # how far ahead `next_slot` looks (a Golden Week is 8 days off)


@dataclass(frozen=True)
class Slot:
    window: str
    start: datetime  # UTC
    end: datetime  # UTC
    zone: str

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.zone))

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(ZoneInfo(self.zone))

    def is_open(self, now: datetime) -> bool:
        return self.start <= now < self.end


def windows_for(kind: str, policy: WindowPolicy) -> tuple[Window, ...]:
    """The windows of a customer kind; anything but ``business`` is an individual."""
    return policy.business if kind == "business" else policy.individual


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at wall-clock ``at`` in ``zone`` as a UTC instant, DST-safe (see module doc)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)  # fold=0, PEP 495


def _clip(window: Window, allowed: AllowedHours) -> tuple[time, time] | None:
    start = max(window.start, allowed.start)
    end = min(window.end, allowed.end)
    return (start, end) if start < end else None


def slots_on(
    day: date, *, kind: str, zone: str, country: str, policy: Policy, calendar: WorkCalendar
) -> list[Slot]:
    """The customer's slots on local calendar day ``day``, in time order."""
    tz = ZoneInfo(zone)
    allowed = policy.quiet_hours.for_country(country)
    slots = []
    for window in windows_for(kind, policy.windows):
        if window.days == "working" and not calendar.is_working_day(country, day):
            continue
        span = _clip(window, allowed)
        if span is None:
            continue
        start, end = local_instant(day, span[0], tz), local_instant(day, span[1], tz)
        if start < end:
            slots.append(Slot(window.name, start, end, zone))
    return slots


def slots_between(
    start: datetime,
    end: datetime,
    *,
    kind: str,
    zone: str,
    country: str,
    policy: Policy,
    calendar: WorkCalendar,
) -> Iterator[Slot]:
    """Every slot whose start lies in ``[start, end)``, in time order."""
    tz = ZoneInfo(zone)
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        for slot in slots_on(day, kind=kind, zone=zone, country=country, policy=policy,
                             calendar=calendar):  # fmt: skip
            if start <= slot.start < end:
                yield slot
        day += timedelta(days=1)


def next_slot(
    at: datetime,
    *,
    kind: str,
    zone: str,
    country: str,
    policy: Policy,
    calendar: WorkCalendar,
    window_names: frozenset[str] | None = None,
) -> Slot | None:
    """The first slot not yet over at ``at`` (the open one when ``at`` is inside a slot),
    optionally only of the named windows; None when none lies within ``SEARCH_DAYS``."""
    tz = ZoneInfo(zone)
    day = at.astimezone(tz).date()
    for _ in range(SEARCH_DAYS + 1):
        for slot in slots_on(day, kind=kind, zone=zone, country=country, policy=policy,
                             calendar=calendar):  # fmt: skip
            if slot.end > at and (window_names is None or slot.window in window_names):
                return slot
        day += timedelta(days=1)
    return None


def contact_allowed(
    at: datetime, *, zone: str, country: str, quiet_hours: QuietHoursPolicy
) -> bool:
    """C1: may this debtor be contacted at instant ``at``, by its local time of day?"""
    allowed = quiet_hours.for_country(country)
    local = at.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
    return allowed.start <= local < allowed.end


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
    the caps allow (C2), given the customer's other messages on that channel at ``taken``."""
    windows = {w.name for w in windows_for(customer.kind, policy.windows) if channel in w.channels}
    for slot in slots_between(
        start, end, kind=customer.kind, zone=customer.timezone, country=customer.country,
        policy=policy, calendar=calendar,
    ):  # fmt: skip
        if slot.window in windows and within_caps(slot.start, taken, channel, policy.caps):
            return slot
    return None
