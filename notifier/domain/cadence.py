"""D6, D21: which rung of the escalation ladder is due, on which channel, and the concrete
dates a message offers."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from notifier.domain.policy import CadenceStep, Channel, Kind, TierName


def cycle_key(oldest_item_id: str, due_on: date) -> str:
    """An overdue cycle is named by the item that opened it: when that item is paid and a
    later one becomes the oldest, a new cycle starts and its ladder starts again."""
    return f"{oldest_item_id}@{due_on.isoformat()}"


def track(steps: Sequence[CadenceStep], *, calls: bool, anchor: str = "due") -> list[CadenceStep]:
    """One ladder of the cadence (issue 14): the message steps or the call steps, counted
    from ``anchor``. Calls run beside the messages, so neither replaces the other."""
    return [s for s in steps if s.is_call == calls and s.anchor == anchor]


def eligible_steps(
    steps: Sequence[CadenceStep], tier: TierName, legal_authorised: bool, *, calls: bool = False
) -> list[CadenceStep]:
    """The ladder for this customer (the messages, or with ``calls`` the calls), counted
    from the oldest due date, in day order; legal steps only once a manager decided."""
    usable = [
        s
        for s in track(steps, calls=calls)
        if (legal_authorised or not s.requires_legal) and (not s.tiers or tier in s.tiers)
    ]
    return sorted(usable, key=lambda s: s.day_for(tier))


@dataclass(frozen=True)
class DueStep:
    step: CadenceStep
    firmer_by: int  # rungs added for broken promises (D21)


def due_step(
    steps: Sequence[CadenceStep],
    days_overdue: int,
    tier: TierName,
    legal_authorised: bool,
    drafted: Collection[str],
    broken_promises: int = 0,
    *,
    calls: bool = False,
) -> DueStep | None:
    """The latest step whose day has come, moved one rung up per broken promise; None when
    no step is due yet or that step was already drafted in this cycle.

    Earlier rungs that were missed (the customer was paused, or imported late) are not
    sent as a backlog: the customer hears the message that fits today. A pre-due step
    (day <= 0) is over once the due date has passed: its text speaks of a coming date.
    """
    ladder = eligible_steps(steps, tier, legal_authorised, calls=calls)
    reached = [i for i, s in enumerate(ladder) if s.day_for(tier) <= days_overdue]
    if not reached:
        return None
    if days_overdue > 0 and ladder[reached[-1]].day_for(tier) <= 0:
        return None
    index = min(reached[-1] + broken_promises, len(ladder) - 1)
    step = ladder[index]
    if step.name in drafted:
        return None
    return DueStep(step, index - reached[-1])


def choose_channel(
    preferences: Sequence[Channel],
    *,
    sms_ok: bool,
    email_ok: bool,
    letter_ok: bool = False,
    call_ok: bool = False,
) -> Channel | None:
    """The first preferred channel the customer can receive (address known, not opted out)."""
    usable = {"sms": sms_ok, "email": email_ok, "letter": letter_ok, "call": call_ok}
    return next((c for c in preferences if usable[c]), None)


def anchored_step(
    steps: Sequence[CadenceStep],
    days_since: int,
    tier: TierName,
    drafted: Collection[str],
    *,
    calls: bool,
    anchor: str,
    within_days: int,
) -> CadenceStep | None:
    """The step of an anchored track (``mid_term``, ``settled``) due ``days_since`` days
    after its anchor: the latest one reached within ``within_days`` of its day, not yet
    drafted for this anchor (a step missed by longer is not sent late)."""
    ladder = sorted(
        (s for s in track(steps, calls=calls, anchor=anchor) if not s.tiers or tier in s.tiers),
        key=lambda s: s.day_for(tier),
    )
    reached = [s for s in ladder if 0 <= days_since - s.day_for(tier) < within_days]
    if not reached or reached[-1].name in drafted:
        return None
    return reached[-1]


def channel_preferences(step: CadenceStep, kind: Kind) -> tuple[Channel, ...]:
    return step.channels[kind]


def pay_options(
    today: date, is_working_day: Callable[[date], bool], *, earliest_in_days: int = 3
) -> tuple[date, date]:
    """Two concrete dates to choose from (seed 003: "next Wednesday or Friday?"): the first
    working day at least ``earliest_in_days`` ahead, and the second working day after it."""
    first = today + timedelta(days=earliest_in_days)
    while not is_working_day(first):
        first += timedelta(days=1)
    second = first + timedelta(days=1)
    count = 0
    while True:
        if is_working_day(second):
            count += 1
            if count == 2:
                return first, second
        second += timedelta(days=1)


def offer_pay_by(today: date, is_working_day: Callable[[date], bool]) -> date:
    """D6 +10 "pay this week": the last working day of this week, or of next week when this
    week has fewer than two working days left."""
    end_of_week = today + timedelta(days=4 - today.weekday()) if today.weekday() <= 4 else today
    candidates = [today + timedelta(days=d) for d in range(1, (end_of_week - today).days + 1)]
    working = [d for d in candidates if is_working_day(d)]
    if len(working) >= 2:
        return working[-1]
    day = end_of_week + timedelta(days=7)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day
