"""The planner's next look walks the coming change days and side days once: for random
customers (items issued, due, paid and disputed at random, a promise, steps drafted, live
drafts and calls) at random instants it answers what looking at the overdue messages and
at the side tasks apart answered (the earlier of the two, or earlier still for a side task
a change day brings), with no more standings built, and a side task's coming days are the
ones read off every cadence step; and no day before the next look has anything to do."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.domain.cadence import cycle_key
from notifier.domain.calendar import CalendarNotPublished, WorkCalendar
from notifier.domain.calls import greeting_days, mid_term
from notifier.domain.items import Item, PaymentFact
from notifier.domain.policy import Policy
from notifier.domain.slots import SEARCH_DAYS
from notifier.domain.stages import overdue_counting
from notifier.domain.standing import EarlierReminders, PromiseFact, SlotMemo, Standing, standing_of
from notifier.settings import load_policy
from notifier.sweeps import calls, next_due
from notifier.sweeps.calls import beside
from notifier.sweeps.next_due import (
    LOOK_AHEAD,
    TINY,
    Live,
    change_days,
    local_midnight,
    next_look,
    portfolio_bound,
    would_act,
)
from tests.support import ROOT, CustomerStub

ZONES = ("Asia/Shanghai", "America/New_York", "Europe/London")
DAY0 = date(2026, 3, 2)
TICK = timedelta(minutes=15)


Who = CustomerStub


POLICY = load_policy(ROOT / "config" / "notifier.toml")
CALENDAR = WorkCalendar(POLICY.calendar)
STEPS = tuple(s.name for s in POLICY.cadence.steps) if POLICY.cadence else ()


# -- the two walks as they were, the reference ----------------------------------------------


def old_side_days(s: Standing) -> list[date]:
    cadence = s.policy.cadence
    steps = cadence.steps if cadence is not None else ()
    days: set[date] = set()
    counting = overdue_counting(s.items, s.today)
    for item in s.items:
        for step, tier in ((step, tier) for step in steps for tier in ("A", "B", "C")):
            d = step.day_for(tier)  # every tier's: the tier may change on a coming day
            if step.is_call and step.anchor == "due" and item in counting:
                days.add(item.due_on + timedelta(days=d))
            elif step.anchor == "mid_term" and item in counting:
                days.add(mid_term(item) + timedelta(days=d))
            elif step.anchor == "settled" and (settled := item.settled_on()) is not None:
                days.add(settled + timedelta(days=d))
    days.update(greeting_days(s.policy.greetings, s.today))
    return sorted(d for d in days if d > s.today)


OLD_BUILT: list[datetime] = []  # the instants the reference walks built a standing for


def later(s: Standing, at: datetime, promises: Sequence[PromiseFact],
          reminders: EarlierReminders) -> Standing:  # fmt: skip
    OLD_BUILT.append(at)
    return standing_of(s.customer, s.items, at, s.policy, CALENDAR, promises=promises,
                       reminders=reminders)  # fmt: skip


def old_next_look(s: Standing, live: Collection[Live], promises: Sequence[PromiseFact],
                  reminders: EarlierReminders, slots: SlotMemo) -> datetime | None:  # fmt: skip
    now = s.now
    horizon = timedelta(hours=s.policy.planning.horizon_hours)
    soonest: datetime | None = None
    if would_act(s, live):
        soonest = now + TICK
        channel = s.channel
        if s.due is not None and channel is not None and s.paused_by is None:
            try:
                slot = s.slot(channel, None, slots)
            except CalendarNotPublished:
                slot = None
            else:
                soonest = None if slot is None else max(slot.start - horizon + TINY, now + TINY)
    days = change_days(s.items, promises, s.today, s.policy)
    if s.stage.stage == "settled" and not live and soonest is None:
        issued = [i.issued_on for i in s.items if i.issued_on > s.today]
        days = [d for d in days if d >= min(issued)] if issued else []
    for n, day in enumerate(days):
        at = local_midnight(day, s.customer.timezone)
        if soonest is not None and at >= soonest:
            break
        if n >= LOOK_AHEAD:
            return at
        there = later(s, at, promises, reminders)
        if would_act(there, live) or portfolio_bound(there):
            return at
    return soonest


def old_side_look(s: Standing, call_ends: Sequence[datetime], promises: Sequence[PromiseFact],
                  reminders: EarlierReminders) -> datetime | None:  # fmt: skip
    now = s.now
    horizon = timedelta(hours=s.policy.planning.horizon_hours)
    found: list[datetime] = [max(end, now + TINY) for end in call_ends]
    for task in s.side_tasks:
        channel = s.side_channel(task)
        if channel is None:
            continue
        try:
            slot = s.call_slot() if channel == "call" else s.slot(channel)
        except CalendarNotPublished:
            found.append(now + TICK)
            continue
        found.append(max(slot.start - horizon + TINY, now + TINY) if slot is not None
                     else now + timedelta(days=SEARCH_DAYS))  # fmt: skip
    first = min(found, default=None)
    for n, day in enumerate(old_side_days(s)):
        at = local_midnight(day, s.customer.timezone)
        if first is not None and at >= first:
            break
        if n >= LOOK_AHEAD or later(s, at, promises, reminders).side_tasks:
            return at if first is None else min(first, at)
    return first


# -- random customers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    who: Who
    items: tuple[Item, ...]
    promises: tuple[PromiseFact, ...]
    drafted: tuple[str, ...]
    live: bool
    call_end: int | None  # hours from now
    now: datetime


@st.composite
def cases(draw: st.DrawFn) -> Case:
    tier = draw(st.sampled_from((None, "A", "B", "C")))
    who = Who(timezone=draw(st.sampled_from(ZONES)), tier=tier, tier_hand_set=tier is not None,
              kind=draw(st.sampled_from(("business", "individual"))),
              legal_authorised=draw(st.booleans()),
              phone=draw(st.sampled_from(("+8613900000000", None))),
              email=draw(st.sampled_from(("ap@example.cn", None))),
              sms_opt_out=draw(st.booleans()))  # fmt: skip
    items = []
    for n in range(draw(st.integers(0, 3))):
        issued = DAY0 + timedelta(days=draw(st.integers(-400, 10)))
        due = issued + timedelta(days=draw(st.integers(0, 60)))
        amount = Decimal(draw(st.integers(100, 90_000)))
        payments: tuple[PaymentFact, ...] = ()
        paid = draw(st.sampled_from((0, 0, 40, 100)))
        if paid:
            on = issued + timedelta(days=draw(st.integers(0, 120)))
            payments = (PaymentFact(amount * paid / 100, on),)
        dispute = draw(st.sampled_from((None, None, None, "all", "part")))  # D22
        items.append(Item(f"INV-{n}", amount, issued, due, payments=payments,
                          disputed=dispute is not None,
                          disputed_amount=amount / 2 if dispute == "part" else None))  # fmt: skip
    promises: tuple[PromiseFact, ...] = ()
    if draw(st.booleans()):
        on = DAY0 + timedelta(days=draw(st.integers(-10, 20)))
        status = draw(st.sampled_from(("open", "open", "broken", "kept")))
        promises = (PromiseFact(1, on, status, datetime(2026, 2, 1, tzinfo=UTC)),)
    drafted = tuple(draw(st.lists(st.sampled_from(STEPS), max_size=4, unique=True)))
    now = datetime.combine(DAY0, datetime.min.time(), UTC) + timedelta(
        minutes=draw(st.integers(0, 3 * 24 * 60)))  # fmt: skip
    call_end = draw(st.sampled_from((None, -2, 5, 40)))
    return Case(who, tuple(items), promises, drafted, draw(st.booleans()), call_end, now)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_one_walk_answers_the_earlier_of_the_two_walks_with_no_more_standings(
    case: Case,
) -> None:
    first = standing_of(case.who, case.items, case.now, POLICY, CALENDAR, promises=case.promises)
    cycle = first.cycle or "INV-0@2026-03-01"
    reminders = EarlierReminders({cycle: set(case.drafted)})
    s = standing_of(case.who, case.items, case.now, POLICY, CALENDAR, promises=case.promises,
                    reminders=reminders)  # fmt: skip
    live = [Live(cycle)] if case.live else []
    ends = [] if case.call_end is None else [case.now + timedelta(hours=case.call_end)]
    assert calls._side_days(s) == old_side_days(s)

    OLD_BUILT.clear()
    messages = old_next_look(s, live, case.promises, reminders, {})
    side = old_side_look(s, ends, case.promises, reminders)
    with patch.object(next_due, "standing_of", wraps=standing_of) as built:
        got = next_look(s, live, promises=case.promises, reminders=reminders, calendar=CALENDAR,
                        slots={}, tick=TICK, beside=beside(s, ends, TICK))  # fmt: skip
    answers = [a for a in (messages, side) if a is not None]
    # The one walk also finds a side task a change day brings (a new tier, a pause ended),
    # which the side walk alone does not look at: never later than the two walks.
    first_answer = min(answers, default=None)
    assert got == first_answer or (got is not None and (first_answer is None or got < first_answer))
    if got != first_answer:
        there = standing_of(s.customer, s.items, got, POLICY, CALENDAR, promises=case.promises,
                            reminders=reminders)  # fmt: skip
        assert there.side_tasks
    assert built.call_count <= len(OLD_BUILT)


@st.composite
def open_cases(draw: st.DrawFn) -> Case:
    """Customers owing on several items at once, some disputed, some paid on a day still
    to come, the tier worked out (not set by hand): which item sets the stage, and which
    the tier's delay, changes as days pass."""
    who = Who(timezone=draw(st.sampled_from(ZONES)), tier=None, tier_hand_set=False,
              legal_authorised=draw(st.booleans()))  # fmt: skip
    items = []
    for n in range(draw(st.integers(2, 4))):
        due = DAY0 + timedelta(days=draw(st.integers(-120, 30)))
        issued = due - timedelta(days=draw(st.integers(0, 45)))
        amount = Decimal(draw(st.integers(100, 90_000)))
        payments: tuple[PaymentFact, ...] = ()
        paid = draw(st.sampled_from((0, 0, 50, 100, 100)))
        if paid:
            on = due + timedelta(days=draw(st.integers(-10, 150)))
            payments = (PaymentFact(amount * paid / 100, on),)
        dispute = draw(st.sampled_from((None, None, "all", "part")))
        items.append(Item(f"INV-{n}", amount, issued, due, payments=payments,
                          disputed=dispute is not None,
                          disputed_amount=amount / 2 if dispute == "part" else None))  # fmt: skip
    drafted = tuple(draw(st.lists(st.sampled_from(STEPS), max_size=3, unique=True)))
    now = datetime.combine(DAY0, datetime.min.time(), UTC) + timedelta(
        minutes=draw(st.integers(0, 24 * 60)))  # fmt: skip
    return Case(who, tuple(items), (), drafted, False, None, now)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.one_of(cases(), open_cases()), caught_up=st.booleans())
def test_no_day_before_the_next_look_brings_anything_to_do_day_by_day(
    case: Case, caught_up: bool
) -> None:
    # The reference owes nothing to change_days: a standing at every local midnight from
    # tomorrow up to the next look (or 200 days on). None may act or lean on the
    # portfolio's total; decisions change only with the local date (next_due's doc).
    # ``caught_up``: every step due today drafted already, as the planner leaves it.
    first = standing_of(case.who, case.items, case.now, POLICY, CALENDAR, promises=case.promises)
    cycle = first.cycle or "INV-0@2026-03-01"
    drafted = set(case.drafted)
    while True:
        reminders = EarlierReminders({cycle: set(drafted)})
        s = standing_of(case.who, case.items, case.now, POLICY, CALENDAR,
                        promises=case.promises, reminders=reminders)  # fmt: skip
        if not caught_up or s.due is None:
            break
        drafted.add(s.due.step.name)
    live = [Live(cycle)] if case.live else []
    if would_act(s, live) or s.side_tasks:
        return  # something to do today: the next look is its slot, not a coming day
    got = next_look(s, live, promises=case.promises, reminders=reminders, calendar=CALENDAR,
                    slots={}, tick=TICK, beside=beside(s, [], TICK))  # fmt: skip
    zone = case.who.timezone
    for n in range(1, 201):
        at = local_midnight(s.today + timedelta(days=n), zone)
        if got is not None and at >= got:
            break
        there = standing_of(case.who, case.items, at, POLICY, CALENDAR, promises=case.promises,
                            reminders=reminders)  # fmt: skip
        assert not would_act(there, live), f"acts on {there.today}, next look {got}"
        assert not portfolio_bound(there), f"portfolio-bound on {there.today}, next look {got}"
        assert not there.side_tasks, f"{there.side_tasks} on {there.today}, next look {got}"


def test_an_invoice_issued_after_today_is_looked_at_again_on_its_pre_due_day() -> None:
    # In New York it is still 1 March when the invoice of 2 March arrives: nothing is
    # open yet, and the first thing to do is its pre-due reminder, days after its issue.
    who = Who(timezone="America/New_York")
    item = Item("INV-0", Decimal(100), date(2026, 3, 2), date(2026, 3, 6))
    now = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    s = standing_of(who, (item,), now, POLICY, CALENDAR)
    assert s.stage.stage == "settled" and not would_act(s, ())
    got = next_look(s, (), promises=(), reminders=EarlierReminders(), calendar=CALENDAR,
                    slots={}, tick=TICK)  # fmt: skip
    pre_due = item.due_on - timedelta(days=POLICY.stages.pre_due_days)
    assert got == local_midnight(pre_due, who.timezone)
    there = standing_of(who, (item,), got, POLICY, CALENDAR)
    assert there.stage.stage == "pre_due" and would_act(there, ())


def caught_up(
    who: Who, items: tuple[Item, ...], now: datetime, policy: Policy = POLICY
) -> Standing:
    """The standing with every step due at ``now`` drafted already (as the planner leaves
    it)."""
    drafted: set[str] = set()
    while True:
        first = standing_of(who, items, now, policy, CALENDAR)
        cycle = first.cycle or "none"
        s = standing_of(who, items, now, policy, CALENDAR,
                        reminders=EarlierReminders({cycle: set(drafted)}))  # fmt: skip
        if s.due is None:
            return s
        drafted.add(s.due.step.name)


def first_look(s: Standing) -> datetime | None:
    return next_look(s, (), promises=(), reminders=s.reminders, calendar=CALENDAR, slots={},
                     tick=TICK)  # fmt: skip


def test_an_older_disputed_invoice_still_counts_for_the_tier_it_can_make_c() -> None:
    # D22 sets the disputed invoice aside from collection, not from D1's delay: on 6 March
    # it is 60 days overdue and the customer becomes C. With a pre-due stage of 5 days,
    # C's pre-due reminder (5 days before) is then due for the other invoice at once, a
    # day before B's (3 days before).
    policy = POLICY.model_copy(
        update={"stages": POLICY.stages.model_copy(update={"pre_due_days": 5})}
    )
    who = Who(timezone="Asia/Shanghai")
    disputed = Item("INV-1", Decimal(500), date(2025, 12, 1), date(2026, 1, 5), disputed=True)
    owed = Item("INV-2", Decimal(800), date(2026, 2, 1), date(2026, 3, 10))
    s = caught_up(who, (disputed, owed), datetime(2026, 3, 2, 2, 0, tzinfo=UTC), policy)
    assert s.tier.tier == "B" and s.stage.oldest_item_id == "INV-2"
    got = first_look(s)
    assert got == local_midnight(date(2026, 3, 6), who.timezone)
    there = standing_of(who, s.items, got, policy, CALENDAR, reminders=s.reminders)
    assert there.tier.tier == "C" and there.due is not None and there.due.step.name == "pre_due"


def test_once_the_oldest_invoice_is_paid_on_a_later_day_the_next_one_sets_the_days() -> None:
    # Paid in full on 10 March (a payment dated ahead): from then on the invoice due on
    # 20 March sets the stage, and its pre-due day (17 March) is the next thing to do.
    who = Who(timezone="Asia/Shanghai")
    paid_later = Item("INV-1", Decimal(500), date(2026, 1, 20), date(2026, 2, 20),
                      payments=(PaymentFact(Decimal(500), date(2026, 3, 10)),))  # fmt: skip
    next_one = Item("INV-2", Decimal(800), date(2026, 2, 18), date(2026, 3, 20))
    s = caught_up(who, (paid_later, next_one), datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    assert s.stage.oldest_item_id == "INV-1"
    got = first_look(s)
    pre_due = local_midnight(date(2026, 3, 17), who.timezone)
    assert got is not None and got <= pre_due
    there = standing_of(who, s.items, pre_due, POLICY, CALENDAR, reminders=s.reminders)
    assert there.stage.oldest_item_id == "INV-2" and would_act(there, ())


def test_a_customer_who_paid_everything_is_looked_at_again_when_thanks_are_due() -> None:
    # D24: a week after the last invoice was paid (in two parts, the second on 1 March),
    # the thanks and the feedback call of a cycle that was reminded.
    who = Who(timezone="Asia/Shanghai")
    paid = Item("INV-1", Decimal(500), date(2026, 1, 10), date(2026, 2, 10),
                payments=(PaymentFact(Decimal(200), date(2026, 2, 20)),
                          PaymentFact(Decimal(300), date(2026, 3, 1))))  # fmt: skip
    reminded = EarlierReminders({cycle_key("INV-1", date(2026, 2, 10)): {"friendly"}})
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    s = standing_of(who, (paid,), now, POLICY, CALENDAR, reminders=reminded)
    assert s.stage.stage == "settled" and not s.side_tasks
    got = next_look(s, (), promises=(), reminders=reminded, calendar=CALENDAR, slots={},
                    tick=TICK, beside=beside(s, [], TICK))  # fmt: skip
    thanks = local_midnight(date(2026, 3, 8), who.timezone)
    assert got is not None and got <= thanks
    there = standing_of(who, (paid,), thanks, POLICY, CALENDAR, reminders=reminded)
    assert {t.kind for t in there.side_tasks} == {"after_payment", "call"}
