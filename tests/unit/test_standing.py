"""A customer's standing at an instant, pure (no database): stage, days, penalty, totals
per currency, disputes, promises, escalation, the due step and the slot, with "today" the
customer's own local date."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from notifier.domain.calendar import WorkCalendar
from notifier.domain.items import Item, PaymentFact
from notifier.domain.policy import Policy
from notifier.domain.position import Totals
from notifier.domain.slots import Slot
from notifier.domain.standing import EarlierReminders, PromiseFact, standing_of
from notifier.settings import load_policy
from notifier.words import words
from tests.support import ROOT, CustomerStub

BEIJING = ZoneInfo("Asia/Shanghai")
# 07:00 in Beijing on Monday 2 March is still Sunday 1 March, 18:00, in New York.
INSTANT = datetime(2026, 3, 2, 7, 0, tzinfo=BEIJING)


Who = CustomerStub


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(ROOT / "config" / "notifier.toml")


@pytest.fixture(scope="module")
def calendar(policy: Policy) -> WorkCalendar:
    return WorkCalendar(policy.calendar)


def invoice(item_id: str, amount: str, due: date, currency: str = "CNY", **kw: object) -> Item:
    return Item(item_id, Decimal(amount), due - timedelta(days=30), due, currency, **kw)  # type: ignore[arg-type]


def test_new_york_and_beijing_customers_at_one_instant_are_on_their_own_days(
    policy: Policy,
) -> None:
    items = [invoice("I1", "8000", date(2026, 2, 24))]
    beijing = standing_of(Who(), items, INSTANT, policy)
    new_york = standing_of(Who(timezone="America/New_York", country="US"), items, INSTANT, policy)
    assert (beijing.today, new_york.today) == (date(2026, 3, 2), date(2026, 3, 1))
    assert (beijing.days_overdue, new_york.days_overdue) == (6, 5)
    assert beijing.penalty == Decimal("24.00")  # 8,000 x 0.05 % x 6 days
    assert new_york.penalty == Decimal("20.00")  # one day less
    assert beijing.stage.stage == new_york.stage.stage == "m1"


def test_a_partial_dispute_sets_aside_only_the_disputed_amount(policy: Policy) -> None:
    """D22: 3,000 disputed of an 8,000 invoice leaves 5,000 collected beside the rest."""
    due = date(2026, 2, 20)  # 10 days overdue in Beijing on 2 March
    items = [
        invoice("BIG", "8000", due, disputed=True, disputed_amount=Decimal("3000")),
        invoice("SMALL", "2000", due + timedelta(days=1)),
    ]
    st = standing_of(Who(), items, datetime(2026, 3, 2, 10, tzinfo=BEIJING), policy)
    lines = {o.item.id: o for o in st.position.open_items}
    assert set(lines) == {"BIG", "SMALL"}
    assert (lines["BIG"].outstanding, lines["BIG"].paused) == (Decimal(5000), Decimal(3000))
    assert lines["BIG"].penalty == Decimal("25.00")  # on the 5,000 only: x 0.05 % x 10
    assert st.position.total_outstanding == Decimal("7000.00")
    assert st.totals == {"CNY": Totals(Decimal(7000), Decimal(7000), Decimal("34.00"),
                                       Decimal(3000))}  # fmt: skip
    assert (st.stage.stage, st.days_overdue, st.stage.oldest_item_id) == ("m1", 10, "BIG")


def test_a_whole_dispute_pauses_the_invoice_and_the_next_one_sets_the_stage(
    policy: Policy,
) -> None:
    items = [
        invoice("OLD", "8000", date(2026, 1, 20), disputed=True),
        invoice("NEW", "1000", date(2026, 2, 27)),
    ]
    st = standing_of(Who(), items, datetime(2026, 3, 2, 10, tzinfo=BEIJING), policy)
    assert [o.item.id for o in st.position.open_items] == ["NEW"]
    assert [(o.item.id, o.paused, o.penalty) for o in st.position.paused_items] == [
        ("OLD", Decimal(8000), Decimal("0.00"))
    ]
    assert (st.stage.oldest_item_id, st.days_overdue) == ("NEW", 3)
    assert st.cycle == "NEW@2026-02-27"
    assert st.totals["CNY"].paused == Decimal(8000)


def test_paying_the_undisputed_part_leaves_nothing_to_collect(policy: Policy) -> None:
    paid = (PaymentFact(Decimal(5000), date(2026, 2, 25)),)
    items = [invoice("BIG", "8000", date(2026, 2, 20), disputed=True,
                     disputed_amount=Decimal(3000), payments=paid)]  # fmt: skip
    st = standing_of(Who(), items, datetime(2026, 3, 2, 10, tzinfo=BEIJING), policy)
    assert st.stage.stage == "settled" and st.position.open_items == ()
    assert [o.paused for o in st.position.paused_items] == [Decimal(3000)]
    assert st.due is None


def test_totals_are_per_currency_never_one_sum(policy: Policy) -> None:
    due = date(2026, 2, 20)
    items = [invoice("C", "1000", due), invoice("U", "200", due, "USD"),
             invoice("G", "300", due + timedelta(days=20), "GBP")]  # fmt: skip
    st = standing_of(Who(), items, datetime(2026, 3, 2, 10, tzinfo=BEIJING), policy)
    assert list(st.totals) == ["CNY", "GBP", "USD"]
    assert st.totals["USD"].outstanding == Decimal(200)
    assert st.totals["GBP"].overdue == Decimal(0)  # not due yet
    assert st.position.currency is None


def test_an_open_promise_pauses_and_a_passed_one_is_broken_while_still_owed(
    policy: Policy,
) -> None:
    due = date(2026, 2, 20)
    items = [invoice("I1", "1000", due)]
    at = datetime(2026, 3, 2, 10, tzinfo=BEIJING)
    recorded = datetime(2026, 2, 21, tzinfo=UTC)
    passed = PromiseFact(1, date(2026, 2, 25), "open", recorded)
    holding = PromiseFact(2, date(2026, 3, 6), "open", recorded + timedelta(days=5),
                          Decimal(1000))  # fmt: skip
    st = standing_of(Who(), items, at, policy, promises=[passed, holding])
    assert st.promises.settled == ((passed, "broken"),)
    assert st.promises.active == holding and st.promises.open == (holding,)
    assert st.paused_by == "promised to pay by 2026-03-06"
    assert st.due is None  # paused: no step is due while a promise holds


def test_two_broken_promises_make_the_step_firmer_and_escalation_due(policy: Policy) -> None:
    items = [invoice("I1", "1000", date(2026, 2, 20))]
    at = datetime(2026, 3, 2, 10, tzinfo=BEIJING)
    recorded = datetime(2026, 2, 21, tzinfo=UTC)
    broken = [PromiseFact(n, date(2026, 2, 22 + n), "broken", recorded) for n in (1, 2)]
    st = standing_of(Who(), items, at, policy, promises=broken)
    assert st.promises.broken == 2
    assert st.escalation.due == "2 broken promises to pay (D21)"
    assert st.due is not None and st.due.firmer_by == 2  # day 10 is "offer", two rungs up
    already = standing_of(Who(escalated_at=recorded, escalation_reason="by hand"), items, at,
                          policy, promises=broken)  # fmt: skip
    assert already.escalation.due is None
    assert (already.escalation.at, already.escalation.reason) == (recorded, "by hand")


def test_due_step_channel_and_tone_follow_the_ladder_and_what_was_drafted(
    policy: Policy,
) -> None:
    items = [invoice("I1", "1000", date(2026, 2, 20))]  # 10 days overdue: the offer step
    at = datetime(2026, 3, 2, 10, tzinfo=BEIJING)
    st = standing_of(Who(), items, at, policy)
    assert st.due is not None and st.due.step.name == "offer"
    assert st.channel in ("sms", "email") and st.tone is not None
    drafted = EarlierReminders(drafted={"I1@2026-02-20": {"offer"}})
    assert standing_of(Who(), items, at, policy, reminders=drafted).due is None
    nothing = standing_of(Who(phone=None, email=None), items, at, policy)
    assert nothing.due is not None and nothing.channel is None


def test_a_standing_after_writing_answers_as_one_built_from_what_was_written(
    policy: Policy, calendar: WorkCalendar
) -> None:
    """The planner's next states carry worked-out parts past its own writes
    (``with_written``): what rests on the items and the date is kept as worked out, the
    tier only while the hand-set tier is the same, and every answer equals a standing
    built afresh from the new data."""
    items = [invoice("I1", "1000", date(2026, 2, 20)), invoice("I2", "500", date(2026, 3, 20))]
    at = datetime(2026, 3, 2, 10, tzinfo=BEIJING)
    recorded = datetime(2026, 2, 21, tzinfo=UTC)
    before = standing_of(Who(), items, at, policy, calendar)
    assert before.due is not None and before.position.totals and before.flags is not None
    escalated = Who(escalated_at=at, escalation_reason="2 broken promises to pay (D21)")
    promises = [PromiseFact(1, date(2026, 2, 25), "broken", recorded)]
    drafted = EarlierReminders(drafted={"I1@2026-02-20": {before.due.step.name}},
                               taken={"sms": [at + timedelta(hours=2)]})  # fmt: skip
    for customer in (escalated, Who(tier="A", tier_hand_set=True)):
        after = before.with_written(customer, promises, drafted)
        kept = ("position", "flags", "tier_facts")
        assert all(getattr(after, n) is getattr(before, n) for n in kept)
        assert (after.tier is before.tier) == (customer is escalated)  # hand-set: anew
        fresh = standing_of(customer, items, at, policy, calendar, promises=promises,
                            reminders=drafted)  # fmt: skip
        assert after.tier == fresh.tier and after.tier_facts == fresh.tier_facts
        assert after.position == fresh.position and after.flags == fresh.flags
        assert (after.due, after.channel, after.tone) == (fresh.due, fresh.channel, fresh.tone)
        assert after.promises == fresh.promises and after.escalation == fresh.escalation
        assert after.side_tasks == fresh.side_tasks


def test_hand_set_tier_wins_and_the_computed_one_is_kept_as_why(policy: Policy) -> None:
    items = [invoice("I1", "1000", date(2026, 2, 20))]
    at = datetime(2026, 3, 2, 10, tzinfo=BEIJING)
    st = standing_of(Who(tier="C", tier_hand_set=True), items, at, policy)
    assert st.tier.tier == "C" and st.tier.hand_set
    assert words("en").why(st.tier.reasons[0]).startswith("set by hand (computed: ")


def test_the_next_slot_per_channel_respects_the_caps(
    policy: Policy, calendar: WorkCalendar
) -> None:
    items = [invoice("I1", "1000", date(2026, 2, 20))]
    at = datetime(2026, 3, 2, 7, tzinfo=BEIJING)  # before the first window of a Monday
    free = standing_of(Who(), items, at, policy, calendar)
    first = free.slot("sms")
    assert first is not None and first.start > at
    busy = standing_of(Who(), items, at, policy, calendar,
                       reminders=EarlierReminders(taken={"sms": [first.start]}))  # fmt: skip
    later = busy.slot("sms")
    assert later is not None and later.start >= first.start + timedelta(days=1)  # 1 SMS a day
    assert busy.slot("email") == free.slot("email")  # the caps are per channel
    assert set(free.next_slots) == {"sms", "email"}
    opted = standing_of(replace(Who(), sms_opt_out=True), items, at, policy, calendar)
    assert set(opted.next_slots) == {"email"}


def test_the_next_call_window_is_the_business_afternoon_and_none_for_a_wrong_number(
    policy: Policy, calendar: WorkCalendar
) -> None:
    items = [invoice("I1", "1000", date(2026, 2, 20))]
    at = datetime(2026, 3, 2, 7, tzinfo=BEIJING)  # a Monday morning
    call = standing_of(Who(), items, at, policy, calendar).next_call
    assert isinstance(call, Slot) and call.local_start.date() == date(2026, 3, 2)
    assert 14 <= call.local_start.hour < 16  # the afternoon call window (14:00-16:00)
    wrong = standing_of(replace(Who(), phone_invalid=True), items, at, policy, calendar)
    assert wrong.next_call is None
