"""Issue 14 and D24, pure: which call step is due (the B-tier mid-term call, the day +10
waiver call, the final call before a legal step), the after-payment thanks and feedback
call, holiday greetings by the official calendar, the call windows and caps (C1, C2), the
talking points of every call template, and what each outcome means."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from notifier.domain import calls
from notifier.domain.calendar import WorkCalendar
from notifier.domain.items import Item, PaymentFact
from notifier.domain.policy import CadenceStep, CallCap, Policy
from notifier.domain.position import position
from notifier.domain.standing import EarlierReminders, PromiseFact, standing_of
from notifier.drafting.compose import compose_call, message_context
from notifier.render import Renderer
from notifier.settings import load_policy
from tests.support import ROOT, CustomerStub

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
TONES = ("friendly", "neutral", "firm", "formal")


@dataclass(frozen=True)
class Who(CustomerStub):
    tier: str | None = "B"  # set by hand: the calls of a B customer's cadence
    tier_hand_set: bool = True


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(ROOT / "config" / "notifier.toml")


@pytest.fixture(scope="module")
def calendar(policy: Policy) -> WorkCalendar:
    return WorkCalendar(policy.calendar)


def item(item_id: str, amount: str, issued: date, due: date, *paid: tuple[str, date]) -> Item:
    payments = tuple(PaymentFact(Decimal(a), d) for a, d in paid)
    return Item(item_id, Decimal(amount), issued, due, payments=payments)


def at(day: date, hour: int = 10, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)


def side(
    policy: Policy, calendar: WorkCalendar, who: Who, items: list[Item], now: datetime, **kw: object
) -> list[str]:
    st = standing_of(who, items, now, policy, calendar, **kw)  # type: ignore[arg-type]
    return [t.step for t in st.side_tasks]


# -- the call steps of the cadence --------------------------------------------------------

TERM = [item("INV-1", "20000", date(2026, 3, 1), date(2026, 3, 31))]  # middle: 03-16


def test_a_b_tier_customer_gets_the_mid_term_call_halfway_through_the_credit_term(
    policy: Policy, calendar: WorkCalendar
) -> None:
    assert calls.mid_term(TERM[0]) == date(2026, 3, 16)
    assert side(policy, calendar, Who(), TERM, at(date(2026, 3, 15))) == []
    assert side(policy, calendar, Who(), TERM, at(date(2026, 3, 16))) == ["mid_term_call"]
    assert side(policy, calendar, Who(), TERM, at(date(2026, 3, 30))) == ["mid_term_call"]
    assert side(policy, calendar, Who(tier="A"), TERM, at(date(2026, 3, 16))) == []
    assert side(policy, calendar, Who(tier="C"), TERM, at(date(2026, 3, 16))) == []
    drafted = EarlierReminders({"INV-1@2026-03-31": {"mid_term_call"}})
    assert side(policy, calendar, Who(), TERM, at(date(2026, 3, 17)), reminders=drafted) == []


def test_day_ten_is_a_call_with_the_waiver_offer_made_then_and_not_as_a_late_stand_in(
    policy: Policy, calendar: WorkCalendar
) -> None:
    late = [item("INV-1", "20000", date(2026, 1, 1), date(2026, 2, 1))]
    assert side(policy, calendar, Who(tier="A"), late, at(date(2026, 2, 10))) == []
    assert side(policy, calendar, Who(tier="A"), late, at(date(2026, 2, 11))) == ["offer_call"]
    assert side(policy, calendar, Who(tier="A"), late, at(date(2026, 2, 17))) == ["offer_call"]
    assert side(policy, calendar, Who(tier="A"), late, at(date(2026, 2, 20))) == []  # 19 days
    # the overdue message is still its own ladder: the offer e-mail is due beside the call
    st = standing_of(Who(tier="A"), late, at(date(2026, 2, 11)), policy, calendar)
    assert st.due is not None and st.due.step.name == "offer"


def test_the_final_call_comes_four_days_before_the_lawyers_letter_once_a_manager_decided(
    policy: Policy, calendar: WorkCalendar
) -> None:
    late = [item("INV-1", "20000", date(2026, 1, 1), date(2026, 2, 1))]
    day41 = at(date(2026, 2, 1) + timedelta(days=41))
    assert side(policy, calendar, Who(tier="A"), late, day41) == []
    assert side(policy, calendar, Who(tier="A", legal_authorised=True), late, day41) == [
        "final_call"
    ]
    lawyer = next(s for s in policy.cadence.steps if s.name == "lawyer_letter")  # type: ignore[union-attr]
    final = next(s for s in policy.cadence.steps if s.name == "final_call")  # type: ignore[union-attr]
    assert 3 <= lawyer.day - final.day <= 5  # seed 000: 3-5 days before


def test_a_promise_pauses_the_calls_like_the_messages(
    policy: Policy, calendar: WorkCalendar
) -> None:
    late = [item("INV-1", "20000", date(2026, 1, 1), date(2026, 2, 1))]
    promise = PromiseFact(1, date(2026, 2, 20), "open", at(date(2026, 2, 9)))
    assert (
        side(policy, calendar, Who(tier="A"), late, at(date(2026, 2, 12)), promises=[promise]) == []
    )


def test_a_call_step_lists_call_alone_for_both_kinds() -> None:
    for channels in (
        {"business": ["call", "email"], "individual": ["call"]},
        {"business": ["call"], "individual": ["sms"]},
    ):
        with pytest.raises(ValidationError, match="lists `call` alone"):
            CadenceStep(name="x", day=1, channels=channels)  # type: ignore[arg-type]
    ok = CadenceStep(name="x", day=1, channels={"business": ["call"], "individual": ["call"]})  # type: ignore[arg-type]
    assert ok.is_call


# -- D24: after payment, greetings ---------------------------------------------------------

SETTLED = [item("INV-1", "20000", date(2026, 1, 1), date(2026, 2, 1), ("20000", date(2026, 2, 20)))]
COLLECTED = EarlierReminders({"INV-1@2026-02-01": {"friendly"}})


def test_a_week_after_settling_the_thanks_and_the_feedback_call_are_due_once(
    policy: Policy, calendar: WorkCalendar
) -> None:
    assert side(policy, calendar, Who(), SETTLED, at(date(2026, 2, 26)), reminders=COLLECTED) == []
    due = side(policy, calendar, Who(), SETTLED, at(date(2026, 2, 27)), reminders=COLLECTED)
    assert due == ["thank_you", "feedback_call"]
    st = standing_of(Who(), SETTLED, at(date(2026, 2, 27)), policy, calendar, reminders=COLLECTED)
    assert {t.cycle for t in st.side_tasks} == {"settled@2026-02-20"}
    assert (
        st.side_channel(st.side_tasks[0]) == "email" and st.side_channel(st.side_tasks[1]) == "call"
    )
    done = EarlierReminders(
        {**COLLECTED.drafted, "settled@2026-02-20": {"thank_you", "feedback_call"}}
    )
    assert side(policy, calendar, Who(), SETTLED, at(date(2026, 2, 28)), reminders=done) == []
    # never weeks late, and not for a customer who was never in collection
    assert side(policy, calendar, Who(), SETTLED, at(date(2026, 3, 20)), reminders=COLLECTED) == []
    assert side(policy, calendar, Who(), SETTLED, at(date(2026, 2, 27))) == []


def test_the_holidays_are_dated_by_the_official_calendar() -> None:
    assert dict(calls.holiday_dates("CN", 2026)) == {
        "spring_festival": date(2026, 2, 17),
        "mid_autumn": date(2026, 9, 25),
    }
    assert dict(calls.holiday_dates("CN", 2027))["spring_festival"] == date(2027, 2, 6)


def test_long_standing_customers_get_a_greeting_three_days_before_the_holiday(
    policy: Policy, calendar: WorkCalendar
) -> None:
    old = [item("OLD-1", "5000", date(2024, 6, 1), date(2024, 7, 1), ("5000", date(2024, 7, 1)))]
    assert side(policy, calendar, Who(), old, at(date(2026, 9, 21))) == []
    assert side(policy, calendar, Who(), old, at(date(2026, 9, 22))) == ["greeting_mid_autumn"]
    assert side(policy, calendar, Who(), old, at(date(2026, 9, 24))) == ["greeting_mid_autumn"]
    assert side(policy, calendar, Who(), old, at(date(2026, 9, 25))) == []  # the day itself
    st = standing_of(Who(), old, at(date(2026, 9, 22)), policy, calendar)
    assert st.side_tasks[0].cycle == "holiday@2026-09-25"
    new = [item("NEW-1", "5000", date(2026, 3, 1), date(2026, 4, 1))]
    assert side(policy, calendar, Who(), new, at(date(2026, 9, 22))) == []  # not long-standing


# -- C1, C2: when a call may be made ------------------------------------------------------


def test_business_calls_go_in_the_working_day_afternoon_individuals_in_the_evening(
    policy: Policy, calendar: WorkCalendar
) -> None:
    saturday = at(date(2026, 3, 7), 8)
    slot = calls.call_slot(
        Who(), saturday, saturday + timedelta(days=5), policy=policy, calendar=calendar
    )
    assert slot is not None and slot.window == "calls"
    assert (slot.local_start.date(), slot.local_start.hour, slot.local_end.hour) == (
        date(2026, 3, 9),
        14,
        16,
    )
    evening = calls.call_slot(
        Who(kind="individual"),
        saturday,
        saturday + timedelta(days=5),
        policy=policy,
        calendar=calendar,
    )
    assert evening is not None and evening.local_start.date() == date(2026, 3, 7)
    assert evening.local_start.hour == 19


def test_call_caps_china_three_a_day_us_seven_in_seven_days(policy: Policy) -> None:
    cn, us = policy.caps.calls_for("CN"), policy.caps.calls_for("us")
    assert (cn.per_day, us.per_7_days) == (3, 7)
    t = datetime(2026, 3, 2, 6, tzinfo=UTC)
    two = [t - timedelta(hours=1), t - timedelta(hours=2)]
    assert calls.within_call_caps(t, two, cn)
    assert not calls.within_call_caps(t, [*two, t - timedelta(hours=3)], cn)
    week = [t - timedelta(days=d) for d in range(1, 7)]
    assert calls.within_call_caps(t, week, us)
    assert not calls.within_call_caps(t, [*week, t - timedelta(hours=30)], us)
    assert calls.within_call_caps(t, week * 3, CallCap())  # no cap


def test_a_full_day_of_calls_moves_the_next_one_to_the_next_working_day(
    policy: Policy, calendar: WorkCalendar
) -> None:
    monday = at(date(2026, 3, 9), 8)
    made = [datetime(2026, 3, 9, h, tzinfo=SHANGHAI) for h in (9, 10, 11)]
    slot = calls.call_slot(
        Who(), monday, monday + timedelta(days=5), policy=policy, calendar=calendar, taken=made
    )
    assert slot is not None and slot.local_start.date() == date(2026, 3, 10)


# -- the talking points -------------------------------------------------------------------

ITEMS = [
    item("INV-2026-0101", "30000", date(2026, 1, 1), date(2026, 2, 25)),
    item("INV-2026-0102", "26000", date(2026, 1, 1), date(2026, 2, 25)),
]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("template", ["mid_term", "offer", "final", "feedback"])
@pytest.mark.parametrize("tone", TONES)
def test_every_call_template_renders_in_every_tone_and_passes_the_content_rules(
    policy: Policy, calendar: WorkCalendar, locale: str, template: str, tone: str
) -> None:
    who = Who(locale=locale, legal_authorised=template == "final")
    today = date(2026, 3, 6)
    pos = position(ITEMS, today, policy.penalty.default_daily_rate)
    ctx = message_context(
        who,
        pos,
        step=template,
        tone=tone,
        today=today,
        policy=policy,
        calendar=calendar,
        url="https://pay.example.cn/c/C1",
    )
    composed = compose_call(ctx, Renderer(), policy)
    assert composed.lint == [], composed.body
    assert composed.body.startswith("1.")
    if template != "feedback":
        assert "INV-2026-0101" in composed.body and "INV-2026-0102" in composed.body


def test_the_talking_points_follow_the_articles_order_and_end_with_two_dates(
    policy: Policy, calendar: WorkCalendar
) -> None:
    today = date(2026, 3, 6)  # a Friday: the dates offered are next Monday and Wednesday
    pos = position(ITEMS, today, policy.penalty.default_daily_rate)
    ctx = message_context(
        Who(),
        pos,
        step="offer",
        tone="neutral",
        today=today,
        policy=policy,
        calendar=calendar,
        url="https://pay.example.cn/c/C1",
    )
    body = compose_call(ctx, Renderer(), policy).body
    marks = [
        "问候",
        "账单明细",
        "INV-2026-0101",
        "金额与天数",
        "滞纳金共¥252.00",
        "减免50%",
        "您看是",
    ]
    places = [body.index(m) for m in marks]
    assert places == sorted(places), body
    assert "下周一（2026年3月9日）还是下周三（2026年3月11日）" in body
    en = compose_call(replace(ctx, locale="en"), Renderer(), policy).body
    assert "next Monday (March 9, 2026) or next Wednesday (March 11, 2026)" in en


@pytest.mark.parametrize(
    ("kind", "title", "locale", "greeting"),
    [
        ("individual", "mr", "zh-CN", "1. 问候：李强先生您好，"),
        ("individual", None, "zh-CN", "1. 问候：您好，"),
        ("individual", "ms", "en", "1. Greeting: Hello Ms Smith,"),
        ("business", "mr", "zh-CN", "1. 问候：上海宏达贸易有限公司您好，"),
    ],
)
def test_the_call_greets_a_person_by_name_and_title_never_by_the_bare_name(
    policy: Policy, calendar: WorkCalendar, kind: str, title: str | None, locale: str,
    greeting: str,
) -> None:  # fmt: skip
    today = date(2026, 3, 6)
    name = {"individual": "Jane Smith" if locale == "en" else "李强"}.get(kind, Who.name)
    who = Who(name=name, kind=kind, title=title, locale=locale)
    pos = position(ITEMS, today, policy.penalty.default_daily_rate)
    ctx = message_context(who, pos, step="offer", tone="neutral", today=today, policy=policy,
                          calendar=calendar, url="https://pay.example.cn/c/C1")  # fmt: skip
    assert compose_call(ctx, Renderer(), policy).body.startswith(greeting)


# -- outcomes -----------------------------------------------------------------------------


def test_each_outcome_closes_or_retries_and_names_the_rule_it_feeds(policy: Policy) -> None:
    feeds = {o: calls.rule_of(o).feeds for o in calls.OUTCOMES}
    assert feeds == {
        "reached": "none",
        "no_answer": "retry",
        "wrong_number": "stop_phone",
        "promised": "promise",
        "disputed": "dispute",
        "plan_requested": "plan",
        "in_process": "vague",
        "refused": "none",
    }
    assert not calls.rule_of("no_answer").closes and calls.rule_of("refused").closes
    assert calls.vague_escalates(1, policy) is None
    assert "2 vague answers" in (calls.vague_escalates(2, policy) or "")
    with pytest.raises(ValueError, match="not an outcome"):
        calls.rule_of("hung_up")


def test_the_new_york_customers_call_is_in_its_own_evening(
    policy: Policy, calendar: WorkCalendar
) -> None:
    who = Who(kind="individual", timezone="America/New_York", country="US")
    now = datetime(2026, 3, 9, 12, tzinfo=UTC)
    slot = calls.call_slot(who, now, now + timedelta(days=2), policy=policy, calendar=calendar)
    assert slot is not None and slot.local_start.astimezone(NEW_YORK).hour == 19
