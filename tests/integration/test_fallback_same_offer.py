"""D17 with D23: the SMS after an unread e-mail says what the e-mail said. The e-mail is
drafted as the planner drafts it (message_context + compose, its facts kept on the
reminder), sent, left unread for 25 hours; the fallback sweep's SMS then states the same
amounts, the same pay-by date or dates offered and the same waiver, and no other date or
amount: a pre-due e-mail's "pay by the due date" is not followed by "would 16 or 18 March
suit you?"."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.items import local_date
from notifier.domain.lint import lint
from notifier.domain.policy import Policy
from notifier.domain.position import position
from notifier.drafting.compose import compose, facts_from_json, message_context, payment_url
from notifier.render.formatting import format_day, format_money
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Receivable, Reminder
from notifier.store.queries import items_for
from notifier.sweeps.context import SweepContext
from notifier.sweeps.fallback import fallback
from tests.support import sweep_context

SH = ZoneInfo("Asia/Shanghai")
NAMES = {"zh-CN": "上海星辰贸易有限公司", "en": "Acme Trading Ltd."}
MONEY = re.compile(r"(?:CN)?¥[\d,]+\.\d{2}")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
ZH_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日(?:或(\d{1,2})月(\d{1,2})日)?")
EN_DATE = re.compile(rf"({'|'.join(MONTHS)}) (\d{{1,2}}), (\d{{4}})")
PERCENT = re.compile(r"\d+(?:\.\d+)?%")
STATEMENT = re.compile(r"^(?:账单明细|Statement)$", re.MULTILINE)


def said(text: str) -> tuple[set[str], set[date], set[str]]:
    """The amounts, dates and percentages a text states (the second of two dates offered
    in a zh-CN SMS, "2026年3月9日或3月11日", takes the year of the first)."""
    dates: set[date] = set()
    for y, m, d, m2, d2 in ZH_DATE.findall(text):
        dates.add(date(int(y), int(m), int(d)))
        if m2:
            dates.add(date(int(y), int(m2), int(d2)))
    for mon, d, y in EN_DATE.findall(text):
        dates.add(date(int(y), MONTHS.index(mon) + 1, int(d)))
    return set(MONEY.findall(text)), dates, set(PERCENT.findall(text))


def customer_with(engine: Engine, locale: str, invoices: list[tuple[str, int, date, date]]) -> None:
    """A business customer reachable by e-mail and SMS, with (id, yuan, issued, due)."""
    at = datetime(2026, 1, 1, tzinfo=SH)
    with unit_of_work(engine) as s:
        s.add(Customer(id="C1", name=NAMES[locale], kind="business", locale=locale,
                       phone="+8613912345678", email="ap@xingchen.example",
                       created_at=at, updated_at=at))  # fmt: skip
        s.flush()
        for rid, yuan, issued, due in invoices:
            s.add(Receivable(id=rid, customer_id="C1", amount_cents=yuan * 100, issued_on=issued,
                             due_on=due, created_at=at, updated_at=at))  # fmt: skip


def send_email(engine: Engine, ctx: SweepContext, step: str, tone: str, at: datetime) -> Reminder:
    """The e-mail of ``step`` drafted at ``at`` as the planner drafts it, then sent at once."""
    policy = ctx.policy
    with unit_of_work(engine) as s:
        customer = s.get(Customer, "C1")
        assert customer is not None
        today = local_date(at, customer.timezone)
        pos = position(items_for(s, ["C1"])["C1"], today, policy.penalty.default_daily_rate)
        message = message_context(customer, pos, step=step, tone=tone, today=today,
                                  policy=policy, calendar=ctx.calendar,
                                  url=payment_url(customer, pos, policy))  # fmt: skip
        composed = compose(message, "email", ctx.renderer, policy)
        assert composed.lint == [], composed.lint
        oldest = pos.open_items[0].item
        email = Reminder(customer_id="C1", step=step, cycle=f"{oldest.id}@{oldest.due_on}",
                         channel="email", address="ap@xingchen.example", status="delivered",
                         stage="pre_due" if step == "pre_due" else "m1", tier="B", tone=tone,
                         locale=message.locale, window="morning", slot_start=at,
                         slot_end=at + timedelta(hours=1), subject=composed.subject,
                         body=composed.body, html=composed.html,
                         facts={**composed.facts, "total": str(pos.total_outstanding)},
                         created_at=at, updated_at=at, sent_at=at,
                         provider_id="<m@x>")  # fmt: skip
        s.add(email)
        s.flush()
        s.expunge(email)
        return email


def fallback_sms(engine: Engine, ctx: SweepContext, email: Reminder) -> Reminder:
    assert email.sent_at is not None
    report = fallback(engine, email.sent_at + timedelta(hours=25), ctx)
    assert report.drafted == 1, report.as_dict()
    with unit_of_work(engine) as s:
        [sms] = s.scalars(select(Reminder).where(col(Reminder.fallback_of) == email.id))
        s.expunge(sms)
        return sms


def message_part(email: Reminder) -> str:
    """The e-mail's message, without its statement (which lists every item and date)."""
    return STATEMENT.split(email.body)[0]


def assert_says_only_what_the_email_said(
    email: Reminder, sms: Reminder, policy: Policy, legal: bool = False
) -> tuple[set[str], set[str], set[str]]:
    amounts, dates, percents = said(sms.body)
    e_amounts, e_dates, e_percents = said(email.body)
    assert amounts <= e_amounts, f"{amounts - e_amounts} not in the e-mail\n{sms.body}"
    assert dates <= e_dates, f"{dates - e_dates} not in the e-mail\n{sms.body}"
    assert percents <= e_percents, f"{percents - e_percents} not in the e-mail\n{sms.body}"
    # The SMS keeps the e-mail's facts, and its text passes the linter with them.
    assert {k: sms.facts[k] for k in ("amounts", "dates", "as_of")} == {
        k: email.facts[k] for k in ("amounts", "dates", "as_of")
    }
    facts = facts_from_json(email.facts, "sms", legal)
    assert lint(sms.body, facts, policy.lint, segments=sms.segments,
                max_segments=policy.planning.sms_max_segments) == []  # fmt: skip
    assert sms.lint == []
    return amounts, dates, percents


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_pre_due_email_is_followed_by_pay_by_the_due_date_with_the_amount_due_that_day(
    engine: Engine, policy: Policy, locale: str
) -> None:
    customer_with(engine, locale, [
        ("R1", 40_000, date(2026, 2, 1), date(2026, 3, 13)),
        ("R2", 16_000, date(2026, 2, 3), date(2026, 3, 13)),
    ])  # fmt: skip
    ctx = sweep_context(policy)
    email = send_email(engine, ctx, "pre_due", "friendly", datetime(2026, 3, 10, 9, 0, tzinfo=SH))
    sms = fallback_sms(engine, ctx, email)

    amounts, dates, _ = assert_says_only_what_the_email_said(email, sms, policy)
    # The due date, and no dates to choose after it.
    assert dates == {date(2026, 3, 13)} == said(message_part(email))[1], sms.body
    assert format_money(Decimal("56000"), "CNY", locale) in amounts
    assert format_money(Decimal("56000"), "CNY", locale) in message_part(email)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_an_m1_friendly_email_is_followed_by_the_same_two_dates_and_amounts(
    engine: Engine, policy: Policy, locale: str
) -> None:
    customer_with(engine, locale, [("R1", 86_000, date(2026, 1, 20), date(2026, 3, 1))])
    ctx = sweep_context(policy)
    # Day +3 (Wednesday 4 March); the SMS goes out a day later, when the penalty is higher
    # and the planner would offer later dates.
    email = send_email(engine, ctx, "friendly", "friendly", datetime(2026, 3, 4, 9, 0, tzinfo=SH))
    sms = fallback_sms(engine, ctx, email)

    amounts, dates, _ = assert_says_only_what_the_email_said(email, sms, policy)
    _, offered, _ = said(message_part(email))
    assert len(offered) == 2 and dates == offered, (offered, sms.body)
    penalty = format_money(Decimal("86000") * Decimal("0.0005") * 3, "CNY", locale)
    assert penalty in amounts and penalty in message_part(email)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_an_offer_email_is_followed_by_the_same_waiver_by_the_same_date(
    engine: Engine, policy: Policy, locale: str
) -> None:
    customer_with(engine, locale, [("R1", 86_000, date(2026, 1, 20), date(2026, 2, 20))])
    ctx = sweep_context(policy)
    # Day +10 (Monday 2 March): pay by Friday 6 March and 50 % of the 430.00 is waived.
    email = send_email(engine, ctx, "offer", "neutral", datetime(2026, 3, 2, 9, 0, tzinfo=SH))
    sms = fallback_sms(engine, ctx, email)

    amounts, dates, percents = assert_says_only_what_the_email_said(email, sms, policy)
    waived = format_money(Decimal("215.00"), "CNY", locale)
    message = message_part(email)
    assert format_day(date(2026, 3, 6), locale) in message
    assert waived in message and "50%" in message
    assert date(2026, 3, 6) in dates and waived in amounts and "50%" in percents, sms.body


def test_no_fallback_once_the_date_the_email_asked_for_has_passed(
    engine: Engine, policy: Policy
) -> None:
    """A pre-due e-mail on the due date itself, unread: by the next day's SMS slot the
    date it asked for is past, so the SMS would say something the e-mail did not."""
    customer_with(engine, "zh-CN", [("R1", 56_000, date(2026, 2, 1), date(2026, 3, 13))])
    ctx = sweep_context(policy)
    email = send_email(engine, ctx, "pre_due", "friendly", datetime(2026, 3, 13, 9, 0, tzinfo=SH))
    assert email.sent_at is not None
    report = fallback(engine, email.sent_at + timedelta(hours=25), ctx)
    assert report.drafted == 0
    assert report.skipped["the e-mail's pay-by date has passed"] == 1
