"""When a customer next needs the planner, given its data as it is now (issue 12).

The planner's decisions about a customer (draft a step, cancel a stale draft, settle a
promise, escalate) change with the clock in two ways only:

- with the customer's local date: stage, days overdue, the tier's facts, which cadence
  step is reached, whether a promise's date has passed. Each of these is a step function
  of the date whose steps fall on days read off the data (:func:`change_days`: an item's
  issue, due date plus every threshold of the policy while it is unpaid, a payment's date,
  a promise's day after, a look-back window passing a date). Between two such days every
  decision is the same (a test walks every day up to the next look to show it);
- within the day, with the contact slot entering the planning horizon.

What runs beside the overdue messages (calls, after-payment steps, greetings: issue 14,
D24) has days of its own and a soonest instant of its own (a live call's window ending, a
side task's slot entering the horizon): ``sweeps/calls.py`` works them out (:class:`Beside`).

So :func:`next_look` walks the coming change days and side days once, in order, with one
standing per day, and answers the start of the first one on which the planner would act
(or, today, the instant the due step's slot enters the horizon). Answering earlier than
needed is always safe (the planner looks and finds nothing to do); answering later never
happens, which the equivalence test (incremental ticks against full scans) checks.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from notifier.domain.cadence import track
from notifier.domain.calendar import CalendarNotPublished, WorkCalendar
from notifier.domain.items import Item
from notifier.domain.policy import TIERS, Policy
from notifier.domain.stages import overdue_counting
from notifier.domain.standing import (
    CustomerFacts,
    EarlierReminders,
    PromiseFact,
    SlotMemo,
    Standing,
    standing_of,
)
from notifier.domain.tiers import months_before

# How many coming days of each kind (change days, side days) are tried before answering
# "look again on the next one".
LOOK_AHEAD = 6
TINY = timedelta(microseconds=1)
_CHANGE, _SIDE = 1, 2  # what a coming day may change: the overdue messages, side tasks


@dataclass(frozen=True)
class Live:
    """A live draft of the customer (not a fallback): what makes it stale."""

    cycle: str


_OFFSETS: dict[int, tuple[Policy, tuple[timedelta, ...]]] = {}


def _offsets(policy: Policy) -> tuple[timedelta, ...]:
    """Days after an item's due date on which a decision about it may change (kept per
    policy object: policies are not hashable)."""
    known = _OFFSETS.get(id(policy))
    if known is not None and known[0] is policy:
        return known[1]
    if len(_OFFSETS) > 64:
        _OFFSETS.clear()
    stages, tiers = policy.stages, policy.tiers
    days = {-stages.pre_due_days, 1, stages.m1_max + 1, stages.m2_max + 1, stages.m3_max + 1}
    days |= {tiers.a_grace_days + 1, tiers.c_min_delay_days, tiers.high_risk_days_overdue + 1}
    if policy.cadence is not None:  # the message steps (calls and D24's: side days)
        for step in track(policy.cadence.steps, calls=False):
            days |= {step.day_for(t) for t in TIERS}
    offsets = tuple(timedelta(days=d) for d in sorted(days))
    _OFFSETS[id(policy)] = (policy, offsets)
    return offsets


def coming(start: date, offsets: Sequence[timedelta], today: date) -> list[date]:
    """``start`` plus each of the sorted ``offsets`` that falls after ``today``."""
    return [start + k for k in offsets[bisect_right(offsets, today - start) :]]


@lru_cache(maxsize=8192)
def _window_passes(day: date, months: int) -> date:
    """The first date d with ``months_before(d, months) > day``: when ``day`` leaves a
    look-back window of that many months. ``months_before`` never decreases, and on the
    same day of the month ``months`` later it is at most ``day`` (a month-end clamps it
    back), so the answer lies within a few days after that date."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    d = date(year, month + 1, min(day.day, 28)) - timedelta(days=1)
    while months_before(d, months) <= day:
        d += timedelta(days=1)
    return d


def change_days(
    items: Sequence[Item],
    promises: Iterable[PromiseFact],
    today: date,
    policy: Policy,
    counting: Sequence[Item] | None = None,
) -> list[date]:
    """The coming local dates (after ``today``) on which the customer's decisions may change.
    ``counting``: ``overdue_counting(items, today)`` when known (``Standing.counting``)."""
    offsets = _offsets(policy)
    months = policy.tiers.lookback_months
    late_after = policy.tiers.late_after_days
    recent = today - timedelta(days=months * 31 + 7)
    if counting is None:
        counting = overdue_counting(items, today)
    deciding = {id(item) for item in counting}
    days: set[date] = set()
    for item in items:
        days.add(item.issued_on)
        due = item.due_on
        if id(item) in deciding:
            days.update(coming(due, offsets, today))
        days.update(p.paid_on for p in item.payments)
        settled = item.settled_on()
        if settled is not None:
            # D1 counts a paid item's delay while its due date (the longest delay) or its
            # payment (a late payment) is within the look-back: a day each leaves it.
            delay = (settled - due).days
            if delay > 0 and due > recent:
                days.add(_window_passes(due, months))
            if delay > late_after and settled > recent:
                days.add(_window_passes(settled, months))
    if items:
        first = min(i.issued_on for i in items)
        days.add(first + timedelta(days=policy.tiers.a_min_relationship_days))
    days.update(p.promised_on + timedelta(days=1) for p in promises if p.status == "open")
    return sorted(d for d in days if d > today)


def would_act(st: Standing, live: Collection[Live]) -> bool:
    """Would the planner write anything for this customer at ``st.now``? (The slot aside:
    a due step with a channel counts; when its slot comes is worked out by the caller.)"""
    cycle = st.cycle
    if live and (cycle is None or st.paused_by is not None or any(r.cycle != cycle for r in live)):
        return True  # a stale draft to cancel
    if st.stage.reminder_stage is None or cycle is None:
        return False
    if st.promises.settled or st.escalation.due is not None:
        return True
    return st.paused_by is None and st.due is not None and st.channel is not None


def portfolio_bound(st: Standing) -> bool:
    """Could D1's share rule (a large share of the whole portfolio, long overdue) decide
    this customer's tier today? Then the tier leans on every other customer's data."""
    if st.customer.tier_hand_set:
        return False
    return st.tier_facts.share_of_receivables is not None  # not None only when it can decide


def with_portfolio(st: Standing, at: datetime | None) -> tuple[datetime | None, bool]:
    """The next look ``at`` of a customer whose tier may lean on the portfolio's total
    (:func:`portfolio_bound`) brought forward to its next local midnight: that total
    changes by the day. With whether it is bound (kept beside the next look)."""
    bound = portfolio_bound(st)
    if bound:
        tomorrow = local_midnight(st.today + timedelta(days=1), st.customer.timezone)
        at = tomorrow if at is None else min(at, tomorrow)
    return at, bound


@dataclass(frozen=True)
class Beside:
    """What runs beside the overdue messages, for :func:`next_look`: the soonest instant
    today's side tasks and live calls need the planner (None: none), and the coming days
    on which a side task may become due."""

    soonest: datetime | None
    days: Sequence[date]


def next_look(
    st: Standing,
    live: Collection[Live],
    *,
    promises: Sequence[PromiseFact],
    reminders: EarlierReminders,
    calendar: WorkCalendar,
    slots: SlotMemo,
    tick: timedelta,
    beside: Beside | None = None,
) -> datetime | None:
    """The earliest instant after ``st.now`` at which planning this customer could do
    anything, given its data (and what the planner just wrote: ``reminders`` with its new
    draft, ``live`` its drafts left live, ``promises`` as settled); None: never, until its
    data changes. ``st`` is the standing at ``st.now`` with those. With ``beside``, the
    side tasks too (else the overdue messages only).

    Each kind of day has its own budget: once ``LOOK_AHEAD`` change days (or side days)
    were tried, the next one is the answer, unprobed. A day of both kinds is probed once."""
    policy, customer = st.policy, st.customer
    soonest = _soonest_today(st, live, slots, tick)
    days = change_days(st.items, promises, st.today, policy, st.counting)
    if st.stage.stage == "settled" and not live and soonest is None:
        # Nothing open: only an item issued later can open a cycle; from its issue day on,
        # every change day counts (its pre-due day comes after it).
        issued = [i.issued_on for i in st.items if i.issued_on > st.today]
        days = [d for d in days if d >= min(issued)] if issued else []
    kinds = dict.fromkeys(days, _CHANGE)
    if beside is not None:
        for d in beside.days:
            kinds[d] = kinds.get(d, 0) | _SIDE
        if beside.soonest is not None and (soonest is None or beside.soonest < soonest):
            soonest = beside.soonest
    changes = sides = 0  # days of each kind tried
    for day in sorted(kinds):
        at = local_midnight(day, customer.timezone)
        if soonest is not None and at >= soonest:
            break
        kind = kinds[day]
        if (kind & _CHANGE and changes >= LOOK_AHEAD) or (kind & _SIDE and sides >= LOOK_AHEAD):
            return at
        later = _standing(customer, st.items, at, policy, calendar, promises, reminders)
        if kind & _CHANGE:
            changes += 1
            if would_act(later, live) or portfolio_bound(later):
                return at  # (a portfolio-bound tier: the total that day is not known yet)
        sides += bool(kind & _SIDE)
        # Any day looked at may bring a side task: a side day by its own anchor, a change
        # day by what it changes (the tier a call step is open to, a promise's pause).
        if beside is not None and later.side_tasks:
            return at
    return soonest


def _soonest_today(
    st: Standing, live: Collection[Live], slots: SlotMemo, tick: timedelta
) -> datetime | None:
    """When the overdue messages need the planner again before the next change day: the
    due step's slot entering the horizon, or the next tick; None when there is nothing to
    do today, or no slot within the search span."""
    if not would_act(st, live):
        return None
    now = st.now
    channel = st.channel
    if st.due is None or channel is None or st.paused_by is not None:
        return now + tick
    try:
        slot = st.slot(channel, None, slots)
    except CalendarNotPublished:
        return now + tick  # look again next tick (a new calendar also marks everyone)
    if slot is None:
        return None
    horizon = timedelta(hours=st.policy.planning.horizon_hours)
    return max(slot.start - horizon + TINY, now + TINY)


def _standing(
    customer: CustomerFacts,
    items: Sequence[Item],
    at: datetime,
    policy: Policy,
    calendar: WorkCalendar,
    promises: Sequence[PromiseFact],
    reminders: EarlierReminders,
) -> Standing:
    # The portfolio's total on a later day is not known yet; it only matters to a tier
    # D1's share rule could decide, and those are looked at every day (portfolio_bound).
    return standing_of(customer, items, at, policy, calendar, promises=promises,
                       reminders=reminders)  # fmt: skip


def local_midnight(day: date, zone: str) -> datetime:
    """The instant ``day`` begins for a customer in ``zone``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
