"""Issue 14: calls as a channel of the cadence, and D24's after-payment and holiday steps.

Pure: ``now``/``today`` passed in. A call task is a reminder on channel ``call`` that a
collector makes; this module says which call (or after-payment, or greeting) step is due
on a day, when the call may be made (the call windows after quiet hours and the call caps,
C1, C2), and what each outcome a collector records means for the rules (D21, D22).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal, get_args

import holidays

from notifier.domain.cadence import anchored_step, cycle_key, ladder
from notifier.domain.calendar import WorkCalendar
from notifier.domain.items import Item
from notifier.domain.policy import (
    CadenceStep,
    CallCap,
    Channel,
    GreetingPolicy,
    Policy,
    TierName,
)
from notifier.domain.slots import Placed, Slot, slots_between, windows_for

CALL = "call"
Outcome = Literal[
    "reached", "no_answer", "wrong_number", "promised", "disputed", "plan_requested",
    "in_process", "refused",
]  # fmt: skip
OUTCOMES: tuple[str, ...] = get_args(Outcome)
# Outcomes that close the task; no_answer moves it to the next window instead.
CLOSING = frozenset(OUTCOMES) - {"no_answer"}
# Outcomes that are a conversation with the customer (China counts effective calls, C2).
EFFECTIVE = frozenset(OUTCOMES) - {"no_answer", "wrong_number"}
VAGUE = "in_process"  # "正在走流程", no date: a delay signal (D21)

SETTLED_PREFIX = "settled@"  # the cycle of after-payment steps: the day the customer settled
HOLIDAY_PREFIX = "holiday@"  # the cycle of a holiday greeting: the holiday's date
# How long after its day an anchored step is still drafted (never sent weeks late).
ANCHORED_WITHIN_DAYS = 7
# The holidays' names in the official calendar (the holidays package, English names).
HOLIDAY_NAMES: Mapping[str, str] = {
    "spring_festival": "Chinese New Year (Spring Festival)",
    "mid_autumn": "Mid-Autumn Festival",
}
DAY = timedelta(days=1)
WEEK = timedelta(days=7)


def side_cycle(cycle: str) -> bool:
    """A cycle of its own (after payment, a holiday), not an overdue cycle: what makes the
    planner's overdue drafts stale does not touch it."""
    return cycle.startswith((SETTLED_PREFIX, HOLIDAY_PREFIX))


# -- when a call may be made --------------------------------------------------------------


def within_call_caps(candidate: datetime, taken: Sequence[datetime], cap: CallCap) -> bool:
    """C2 for calls: fewer than the cap's calls within a day (and 7 days) of ``candidate``
    on either side, so no rolling window holding it exceeds the cap."""
    for limit, window in ((cap.per_day, DAY), (cap.per_7_days, WEEK)):
        if limit is not None and sum(1 for t in taken if abs(t - candidate) < window) >= limit:
            return False
    return True


def call_slot(
    customer: Placed,
    start: datetime,
    end: datetime,
    *,
    policy: Policy,
    calendar: WorkCalendar,
    taken: Sequence[datetime] = (),
) -> Slot | None:
    """The first call window starting in [start, end) (businesses: the working-day
    afternoon, individuals: the evening; after quiet hours, C1) that the customer's call
    caps allow (C2), given its other calls planned or made at ``taken``."""
    windows = {w.name for w in windows_for(customer.kind, policy.windows) if CALL in w.channels}
    cap = policy.caps.calls_for(customer.country)
    for slot in slots_between(
        start, end, kind=customer.kind, zone=customer.timezone, country=customer.country,
        policy=policy, calendar=calendar,
    ):  # fmt: skip
        if slot.window in windows and within_call_caps(slot.start, taken, cap):
            return slot
    return None


# -- which step is due --------------------------------------------------------------------


@dataclass(frozen=True)
class SideTask:
    """A step due beside the overdue messages: a call of the cadence, an after-payment
    step (D24) or a holiday greeting, in its own cycle."""

    step: str  # the reminder's step name (unique per cycle)
    template: str
    cycle: str
    channels: tuple[Channel, ...]  # in order of preference for this customer
    tone: str | None  # None: the standing's tone
    kind: Literal["call", "after_payment", "greeting"]
    firmer_by: int = 0


def mid_term(item: Item) -> date:
    """The middle of an item's credit term (seed 003: B-tier customers get a call then)."""
    return item.issued_on + timedelta(days=(item.due_on - item.issued_on).days // 2)


def settled_day(items: Sequence[Item], today: date) -> date | None:
    """The day the customer paid everything it owed, when nothing is open on ``today``."""
    if not items or any(i.is_collectable_on(today) for i in items):
        return None
    days = [d for i in items if (d := i.settled_on()) is not None and d <= today]
    return max(days) if days else None


def call_due(
    steps: Sequence[CadenceStep],
    *,
    days_overdue: int,
    oldest: Item | None,
    today: date,
    tier: TierName,
    legal_authorised: bool,
    drafted: Collection[str],
    in_collection: bool,
) -> CadenceStep | None:
    """The call of the cadence due today in the overdue cycle: a call step counted from
    the due date whose day came within the last ``ANCHORED_WITHIN_DAYS`` days (a call is
    made when the articles make it, never as a late stand-in for a later rung: the
    messages carry the firmer steps, D21), or before the due date the mid-term call
    (seed 003)."""
    if in_collection:
        rungs = ladder(steps, tier, calls=True, legal_authorised=legal_authorised)
        reached = rungs.latest_within(days_overdue, ANCHORED_WITHIN_DAYS)
        if reached is not None:
            return None if reached.name in drafted else reached
    if oldest is None or days_overdue > 0:
        return None
    middle = mid_term(oldest)
    room = max((oldest.due_on - middle).days, 1)  # made before the due date, or not at all
    return anchored_step(steps, (today - middle).days, tier, drafted, calls=True,
                         anchor="mid_term", within_days=room)  # fmt: skip


def after_payment_due(
    steps: Sequence[CadenceStep], settled: date, today: date, tier: TierName,
    drafted: Collection[str], *, calls: bool,
) -> CadenceStep | None:  # fmt: skip
    """D24: the after-payment step (thanks, the feedback call) due ``today``."""
    return anchored_step(steps, (today - settled).days, tier, drafted, calls=calls,
                         anchor="settled", within_days=ANCHORED_WITHIN_DAYS)  # fmt: skip


def settled_cycle(settled: date) -> str:
    return f"{SETTLED_PREFIX}{settled.isoformat()}"


def was_collected(items: Sequence[Item], drafted: Mapping[str, Collection[str]]) -> bool:
    """Whether an overdue cycle of these items was reminded (a customer who only ever paid
    on time is not thanked after each invoice)."""
    keys = {cycle_key(i.id, i.due_on) for i in items}
    return any(cycle in keys and steps for cycle, steps in drafted.items())


@lru_cache(maxsize=64)
def holiday_dates(country: str, year: int) -> tuple[tuple[str, date], ...]:
    """The first day of each holiday of :data:`HOLIDAY_NAMES` in ``year`` by the country's
    official calendar (the maintained ``holidays`` package), as (code, date)."""
    try:
        calendar = holidays.country_holidays(country, years=year, language="en_US")
    except NotImplementedError:
        return ()
    found: dict[str, date] = {}
    for day, name in sorted(calendar.items()):
        for code, wanted in HOLIDAY_NAMES.items():
            if code not in found and wanted in str(name).split("; "):
                found[code] = day
    return tuple(sorted(found.items(), key=lambda kv: kv[1]))


def greeting_due(
    today: date, first_invoice: date | None, policy: GreetingPolicy, drafted: Collection[str]
) -> tuple[str, date] | None:
    """D24: the holiday (code, date) a long-standing customer is greeted for today: the
    greeting is drafted ``days_before`` the holiday, up to the day before it."""
    if not policy.holidays or first_invoice is None:
        return None
    if (today - first_invoice).days < policy.min_relationship_days:
        return None
    for year in (today.year, today.year + 1):
        for code, day in holiday_dates(policy.calendar_country, year):
            if code not in policy.holidays:
                continue
            if 0 < (day - today).days <= policy.days_before:
                step = greeting_step(code)
                return None if step in drafted else (code, day)
    return None


def greeting_step(code: str) -> str:
    return f"greeting_{code}"


def greeting_days(policy: GreetingPolicy, today: date) -> tuple[date, ...]:
    """The coming days a greeting becomes due (for the planner's next look): the same for
    every customer on a day, so worked out once a day."""
    return _greeting_days(policy.calendar_country, policy.holidays, policy.days_before, today)


@lru_cache(maxsize=256)
def _greeting_days(
    country: str, codes: tuple[str, ...], days_before: int, today: date
) -> tuple[date, ...]:
    days = []
    for year in (today.year, today.year + 1):
        for code, day in holiday_dates(country, year):
            if code in codes:
                days.append(day - timedelta(days=days_before))
    return tuple(sorted(d for d in days if d > today))


# -- what an outcome means ----------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeRule:
    """What the rules make of an outcome: whether it closes the task, and which service
    it feeds."""

    closes: bool
    effective: bool  # a conversation (China's cap counts effective calls)
    feeds: Literal["promise", "dispute", "plan", "vague", "stop_phone", "retry", "none"]


def rule_of(outcome: str) -> OutcomeRule:
    if outcome not in OUTCOMES:
        raise ValueError(f"{outcome!r} is not an outcome; expected one of {', '.join(OUTCOMES)}")
    feeds: dict[str, OutcomeRule] = {
        "promised": OutcomeRule(True, True, "promise"),
        "disputed": OutcomeRule(True, True, "dispute"),
        "plan_requested": OutcomeRule(True, True, "plan"),
        "in_process": OutcomeRule(True, True, "vague"),
        "wrong_number": OutcomeRule(True, False, "stop_phone"),
        "no_answer": OutcomeRule(False, False, "retry"),
    }
    return feeds.get(outcome, OutcomeRule(True, True, "none"))


def vague_escalates(vague_answers: int, policy: Policy) -> str | None:
    """D21: the reason to escalate after this many vague answers in the cycle, or None."""
    limit = policy.planning.vague_answers_to_escalate
    if vague_answers >= limit:
        return f"{vague_answers} vague answers without a date on calls (D21)"
    return None
