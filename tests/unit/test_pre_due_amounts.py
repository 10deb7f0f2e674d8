"""A pre-due text names what really falls due on each date (D5, D7): two invoices due on
13 March are 56,000 due that day, not the 40,000 of the first one. In both languages and
both channels; the linter's facts hold exactly the amounts stated, so the draft is clean
and a wrong amount is still refused."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from notifier.domain.calendar import WorkCalendar
from notifier.domain.due_dates import DueOnDate, due_on_dates
from notifier.domain.items import Item
from notifier.domain.lint import lint
from notifier.domain.policy import Channel, Policy
from notifier.domain.position import position
from notifier.drafting.compose import compose, lint_facts, message_context
from notifier.render import MessageContext, Renderer
from notifier.render.formatting import format_day, format_money

TODAY = date(2026, 3, 10)  # a Tuesday; 13 March is 3 days ahead, the end of the window
TONES = ("friendly", "neutral", "firm", "formal")
LOCALES = ("zh-CN", "en")
CHANNELS: tuple[Channel, ...] = ("sms", "email")
RENDERER = Renderer()


NAMES = {"zh-CN": "上海宏达贸易有限公司", "en": "Acme Trading Ltd."}


@dataclass(frozen=True)
class Addressee:
    locale: str
    id: str = "C001"
    kind: str = "business"
    country: str = "CN"
    legal_authorised: bool = False

    @property
    def name(self) -> str:
        return NAMES[self.locale]


def two_on_one_date() -> list[Item]:
    """40,000 and 16,000 both due on 13 March; 30,000 due on 30 March (outside the window)."""
    return [
        Item("INV-1", Decimal("40000.00"), date(2026, 2, 1), date(2026, 3, 13)),
        Item("INV-2", Decimal("16000.00"), date(2026, 2, 3), date(2026, 3, 13)),
        Item("INV-3", Decimal("30000.00"), date(2026, 2, 20), date(2026, 3, 30)),
    ]


def context(
    policy: Policy, items: list[Item], locale: str, tone: str, today: date = TODAY
) -> MessageContext:
    """The context exactly as the planner builds it for a pre-due step."""
    pos = position(items, today, policy.penalty.default_daily_rate)
    return message_context(
        Addressee(locale), pos, step="pre_due", tone=tone, today=today, policy=policy,
        calendar=WorkCalendar(policy.calendar), url="https://pay.example.cn/c/C001",
    )  # fmt: skip


def text_of(policy: Policy, ctx: MessageContext, channel: Channel) -> str:
    composed = compose(ctx, channel, RENDERER, policy)
    assert composed.lint == [], f"{channel}/{ctx.locale}/{ctx.tone}: {composed.lint}"
    if channel == "sms":
        assert composed.segments is not None
        assert composed.segments <= policy.planning.sms_max_segments, composed.body
    return composed.body


def money(amount: str, locale: str) -> str:
    return format_money(Decimal(amount), "CNY", locale)


def test_items_due_on_the_same_date_are_totalled_per_date() -> None:
    pos = position(two_on_one_date(), TODAY, Decimal("0.0005"))
    assert due_on_dates(pos.open_items, 3) == (
        DueOnDate(date(2026, 3, 13), Decimal("56000.00"), "CNY", 2),
    )
    # A wider window takes in the later date too, nearest first.
    assert [(d.due_on, d.amount) for d in due_on_dates(pos.open_items, 30)] == [
        (date(2026, 3, 13), Decimal("56000.00")),
        (date(2026, 3, 30), Decimal("30000.00")),
    ]


def test_nothing_in_the_window_gives_the_nearest_date_alone_and_overdue_items_never() -> None:
    items = [
        Item("OLD", Decimal("5000"), date(2026, 1, 1), date(2026, 3, 1)),  # overdue
        *two_on_one_date(),
    ]
    pos = position(items, date(2026, 3, 2), Decimal("0.0005"))
    assert due_on_dates(pos.open_items, 3) == (
        DueOnDate(date(2026, 3, 13), Decimal("56000.00"), "CNY", 2),
    )


def test_amounts_in_different_currencies_due_on_one_date_are_not_added() -> None:
    items = [
        Item("A", Decimal("100"), date(2026, 2, 1), date(2026, 3, 13), currency="USD"),
        Item("B", Decimal("200"), date(2026, 2, 1), date(2026, 3, 13), currency="CNY"),
    ]
    pos = position(items, TODAY, Decimal("0.0005"))
    assert {(d.currency, d.amount) for d in due_on_dates(pos.open_items, 3)} == {
        ("CNY", Decimal("200")),
        ("USD", Decimal("100")),
    }


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("locale", LOCALES)
def test_pre_due_text_states_the_total_due_that_day_not_one_invoice(
    policy: Policy, locale: str, channel: Channel
) -> None:
    day = format_day(date(2026, 3, 13), locale)
    for tone in TONES:
        ctx = context(policy, two_on_one_date(), locale, tone)
        body = text_of(policy, ctx, channel)
        where = f"{channel}/{locale}/{tone}:\n{body}"
        assert day in body, where
        # The amount stated for 13 March is the 56,000 of both invoices ...
        assert money("56000", locale) in body, where
        # ... and neither invoice's amount alone is given as due (the statement of an
        # e-mail lists the items; the sentence about the date must not).
        sentence = body.split("\n\n")[1] if channel == "email" else body
        assert money("40000", locale) not in sentence, where
        # Nothing outside the window is said to fall due.
        assert format_day(date(2026, 3, 30), locale) not in sentence, where


@pytest.mark.parametrize("locale", LOCALES)
def test_several_dates_the_email_lists_each_and_the_sms_gives_total_and_nearest(
    policy: Policy, locale: str
) -> None:
    items = [
        *two_on_one_date()[:2],
        Item("INV-4", Decimal("30000.00"), date(2026, 2, 20), date(2026, 3, 12)),
    ]
    for tone in TONES:
        ctx = context(policy, items, locale, tone)  # 12 and 13 March both in the window
        email = text_of(policy, ctx, "email").split("\n\n")[1]
        for amount, day in (("30000", date(2026, 3, 12)), ("56000", date(2026, 3, 13))):
            said = re.search(re.escape(money(amount, locale)) + r"[^,;。.]*?"
                             + re.escape(format_day(day, locale)), email)  # fmt: skip
            assert said, f"email/{locale}/{tone}: {amount} on {day} not stated\n{email}"
        sms = text_of(policy, ctx, "sms")
        where = f"sms/{locale}/{tone}:\n{sms}"
        assert money("86000", locale) in sms and money("30000", locale) in sms, where
        assert format_day(date(2026, 3, 12), locale) in sms, where
        assert format_day(date(2026, 3, 13), locale) in sms, where


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("locale", LOCALES)
def test_the_facts_hold_the_per_date_total_and_a_wrong_amount_is_still_refused(
    policy: Policy, locale: str, channel: Channel
) -> None:
    ctx = context(policy, two_on_one_date(), locale, "neutral")
    facts = lint_facts(ctx, channel)
    assert Decimal("56000.00") in facts.amounts
    body = text_of(policy, ctx, channel)
    wrong = body.replace(money("56000", locale), money("46000", locale))
    assert wrong != body
    problems = lint(wrong, facts, policy.lint, segments=1, max_segments=3)
    assert [p.rule for p in problems] == ["wrong_amount"], problems
    assert money("46000", locale).replace("CN", "").lstrip("¥") in problems[0].message
