"""D6, D21: which rung of the escalation ladder is due, on which channel, and the concrete
dates a message offers."""

from __future__ import annotations

from bisect import bisect_right
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
    return list(ladder(steps, tier, calls=calls, legal_authorised=legal_authorised).steps)


@dataclass(frozen=True)
class Ladder:
    """One track's steps for a tier, in day order, with each step's day for that tier."""

    steps: tuple[CadenceStep, ...]
    days: tuple[int, ...]  # non-decreasing

    def latest_reached(self, days_since: int) -> int | None:
        """The index of the last step whose day has come ``days_since`` days after the
        anchor, or None when none has."""
        index = bisect_right(self.days, days_since) - 1
        return index if index >= 0 else None

    def latest_within(self, days_since: int, within_days: int) -> CadenceStep | None:
        """The last step reached within ``within_days`` of its day (older ones are over)."""
        index = self.latest_reached(days_since)
        if index is None or days_since - self.days[index] >= within_days:
            return None
        return self.steps[index]


_LadderKey = tuple[TierName, bool, str, bool]
# Ladders per steps tuple, kept by identity (the steps are frozen; a policy's tuple lives
# as long as the policy), the way ``sweeps.next_due`` keeps its offsets per policy.
_LADDERS: dict[int, tuple[Sequence[CadenceStep], dict[_LadderKey, Ladder]]] = {}


def ladder(
    steps: Sequence[CadenceStep],
    tier: TierName,
    *,
    calls: bool,
    anchor: str = "due",
    legal_authorised: bool = True,
) -> Ladder:
    """The steps of one track (:func:`track`) open to this tier, legal steps only when
    ``legal_authorised``, sorted by their day for the tier. Worked out once per tuple of
    steps and arguments: the planner asks for it for every customer it looks at."""
    key = (tier, calls, anchor, legal_authorised)
    if not isinstance(steps, tuple):  # a list may change between calls: not kept
        return _build_ladder(steps, *key)
    known = _LADDERS.get(id(steps))
    if known is None or known[0] is not steps:
        if len(_LADDERS) > 64:
            _LADDERS.clear()
        known = (steps, {})
        _LADDERS[id(steps)] = known
    found = known[1].get(key)
    if found is None:
        found = known[1][key] = _build_ladder(steps, *key)
    return found


def _build_ladder(
    steps: Sequence[CadenceStep], tier: TierName, calls: bool, anchor: str, legal: bool
) -> Ladder:
    usable = [
        s
        for s in track(steps, calls=calls, anchor=anchor)
        if (legal or not s.requires_legal) and (not s.tiers or tier in s.tiers)
    ]
    usable.sort(key=lambda s: s.day_for(tier))
    return Ladder(tuple(usable), tuple(s.day_for(tier) for s in usable))


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
    rungs = ladder(steps, tier, calls=calls, legal_authorised=legal_authorised)
    reached = rungs.latest_reached(days_overdue)
    if reached is None:
        return None
    if days_overdue > 0 and rungs.days[reached] <= 0:
        return None
    index = min(reached + broken_promises, len(rungs.steps) - 1)
    step = rungs.steps[index]
    if step.name in drafted:
        return None
    return DueStep(step, index - reached)


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
    step = ladder(steps, tier, calls=calls, anchor=anchor).latest_within(days_since, within_days)
    if step is None or step.name in drafted:
        return None
    return step


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
