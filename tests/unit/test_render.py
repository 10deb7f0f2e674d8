"""Rendering: every step x locale x tone x channel renders, says the facts, and passes the
content linter; HTML is escaped; missing templates and unknown variables fail clearly."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from notifier.domain.lint import LintFacts, LintProblem, lint
from notifier.domain.policy import Channel, Policy
from notifier.render import (
    ItemLine,
    MessageContext,
    Renderer,
    RenderError,
    TemplateMissing,
)
from notifier.render.formatting import format_day, format_day_short, format_money, format_rate

STEPS = (
    "pre_due", "friendly", "offer", "formal_notice", "instalment_offer", "lawyer_letter",
    "consequences", "final_notice", "fallback", "thank_you",
)  # fmt: skip
LOCALES = ("zh-CN", "en")
TONES = ("friendly", "neutral", "firm", "formal")
CHANNELS: tuple[Channel, ...] = ("sms", "email")
OPT_OUT = {"zh-CN": "回复TD退订", "en": "Reply STOP to opt out"}
LEGAL_WORDS = (
    "律师", "法律程序", "法律途径", "诉讼", "lawyer", "legal action", "legal proceedings",
)  # fmt: skip
URL = "https://pay.example.cn/c/C001"
CUSTOMER = {"zh-CN": "上海宏达贸易有限公司", "en": "Acme Trading Ltd."}
CREDITOR = {"zh-CN": "星辰供应链有限公司", "en": "Xingchen Supply Chain Co., Ltd."}

RENDERER = Renderer()


def make_ctx(
    locale: str = "zh-CN", step: str = "friendly", tone: str = "friendly", **changes: Any
) -> MessageContext:
    """3 open invoices, 2 of them overdue (5 and 3 days), penalty at 0.05 % a day; the
    dates are what compose would offer on Friday 2026-03-06."""
    items = (
        ItemLine("INV-2026-0001", date(2026, 1, 5), date(2026, 3, 1), 5,
                 Decimal("30000.00"), Decimal("75.00"), "CNY"),
        ItemLine("INV-2026-0002", date(2026, 1, 20), date(2026, 3, 3), 3,
                 Decimal("26000.00"), Decimal("39.00"), "CNY"),
        ItemLine("INV-2026-0003", date(2026, 2, 10), date(2026, 3, 12), -6,
                 Decimal("30000.00"), Decimal("0.00"), "CNY"),
    )  # fmt: skip
    ctx = MessageContext(
        locale=locale,
        tone=tone,
        step=step,
        customer_name=CUSTOMER.get(locale, CUSTOMER["en"]),
        customer_kind="business",
        creditor_name=CREDITOR.get(locale, CREDITOR["en"]),
        creditor_contact="400-820-0000",
        items=items,
        currency="CNY",
        total_outstanding=Decimal("86000.00"),
        overdue_count=2,
        total_overdue=Decimal("56000.00"),
        max_days_overdue=5,
        total_penalty=Decimal("114.00"),
        penalty_rate_daily=Decimal("0.0005"),
        payment_url=URL,
        pay_options=(date(2026, 3, 9), date(2026, 3, 11)),
        legal_authorised=False,
        offer_waiver_percent=50,
        offer_pay_by=date(2026, 3, 13),
        final_days=5,
    )
    return replace(ctx, **changes)


def pre_due_ctx(locale: str, tone: str) -> MessageContext:
    """Three days before the first due date: nothing overdue, no penalty yet."""
    items = tuple(
        replace(i, days_overdue=-3 - n * 5, penalty=Decimal("0.00"))
        for n, i in enumerate(make_ctx().items)
    )
    return make_ctx(
        locale, "pre_due", tone, items=items, overdue_count=0, total_overdue=Decimal("0.00"),
        max_days_overdue=-3, total_penalty=Decimal("0.00"),
    )  # fmt: skip


def facts_for(ctx: MessageContext, channel: Channel) -> LintFacts:
    # compose imports the calendar module; imported here so a broken sibling module fails
    # only the tests that need it.
    from notifier.drafting.compose import lint_facts

    return lint_facts(ctx, channel)


def lint_rendering(ctx: MessageContext, channel: Channel, policy: Policy) -> list[LintProblem]:
    """The linter exactly as compose.compose calls it."""
    facts = facts_for(ctx, channel)
    if channel == "sms":
        sms = RENDERER.sms(ctx)
        return lint(sms.body, facts, policy.lint, segments=sms.segments,
                    max_segments=policy.planning.sms_max_segments)  # fmt: skip
    email = RENDERER.email(ctx)
    return lint(email.text, facts, policy.lint, subject=email.subject)


def assert_tidy(text: str) -> None:
    assert text == text.strip()
    assert "\n\n\n" not in text
    assert all(line == line.rstrip() for line in text.splitlines())


@pytest.mark.parametrize("legal", [False, True], ids=["unflagged", "legal"])
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("step", STEPS)
def test_every_step_renders_in_every_tone_and_channel_and_passes_the_linter(
    step: str, locale: str, legal: bool, policy: Policy
) -> None:
    total = format_money(Decimal("86000"), "CNY", locale)
    for tone in TONES:
        ctx = make_ctx(locale, step, tone, legal_authorised=legal)
        where = f"{step}/{locale}/{tone}/legal={legal}"

        sms = RENDERER.sms(ctx)
        assert ctx.customer_name in sms.body, where
        assert sms.body.endswith(OPT_OUT[locale]), where
        assert sms.segments <= 3, f"{where}: {sms.segments} segments\n{sms.body}"
        assert "\n\n" not in sms.body
        assert_tidy(sms.body)

        email = RENDERER.email(ctx)
        assert email.subject and "\n" not in email.subject, where
        assert ctx.customer_name in email.text and ctx.customer_name in email.html, where
        assert email.html.startswith("<!DOCTYPE html>")
        assert_tidy(email.text)
        assert_tidy(email.html)

        if step != "thank_you":
            for body in (sms.body, email.text, email.html):
                assert total in body, f"{where}: no total {total}"
                assert URL in body, f"{where}: no payment link"
            # D7 / D15: the e-mail lists every invoice with its due date.
            for item in ctx.items:
                assert item.invoice_id in email.text and item.invoice_id in email.html
                assert format_day(item.due_on, locale) in email.html

        for channel in CHANNELS:
            problems = lint_rendering(ctx, channel, policy)
            assert problems == [], f"{where}/{channel}: {[str(p) for p in problems]}"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("step", [s for s in STEPS if s not in ("fallback", "thank_you")])
def test_a_fallback_sms_is_the_sms_of_the_step_it_follows_and_fits_the_limit(
    step: str, locale: str, policy: Policy
) -> None:
    """D17: the SMS after an unread e-mail repeats that step's SMS (its offer and pay-by
    rule), points to the e-mail, and stays within the segment limit and the linter."""
    for tone in TONES:
        for legal in (False, True):
            base = pre_due_ctx(locale, tone) if step == "pre_due" else make_ctx(locale, step, tone)
            ctx = replace(base, legal_authorised=legal)
            own = RENDERER.sms(ctx).body
            if step == "friendly" and locale == "zh-CN":
                # The routine zh SMS leaves the penalty to the e-mail (2 parts); the SMS
                # after that e-mail repeats it, as the e-mail stated it.
                fee = format_money(ctx.total_penalty, "CNY", locale)
                own = own.replace("天。", f"天，滞纳金已计{fee}。", 1)
            follow = replace(ctx, step="fallback", follows=step)
            body = RENDERER.sms(follow).body
            where = f"{step}/{locale}/{tone}/legal={legal}:\n{body}"
            pointer = (
                "详见日前的账单邮件。" if locale == "zh-CN" else " Details in our recent e-mail."
            )
            first_line, rest = own.split("\n", 1)
            assert body == f"{first_line}{pointer}\n{rest}", where
            assert lint_rendering(follow, "sms", policy) == [], where


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("tone", TONES)
def test_pre_due_reminder_names_the_coming_due_date_and_passes_the_linter(
    locale: str, tone: str, policy: Policy
) -> None:
    ctx = pre_due_ctx(locale, tone)
    due = format_day(date(2026, 3, 1), locale)
    amount = format_money(Decimal("30000"), "CNY", locale)
    sms, email = RENDERER.sms(ctx), RENDERER.email(ctx)
    for body in (sms.body, email.text):
        assert due in body and amount in body
    assert sms.segments <= 3
    for channel in CHANNELS:
        assert lint_rendering(ctx, channel, policy) == []


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("step", ["lawyer_letter", "final_notice", "consequences", "formal_notice"])
def test_legal_wording_appears_only_for_legal_authorised_customers(step: str, locale: str) -> None:
    for tone in TONES:
        plain = make_ctx(locale, step, tone)
        flagged = make_ctx(locale, step, tone, legal_authorised=True)
        for text in (RENDERER.sms(plain).body, RENDERER.email(plain).text):
            assert not any(w in text.lower() for w in LEGAL_WORDS), text
        for text in (RENDERER.sms(flagged).body, RENDERER.email(flagged).text):
            assert any(w in text.lower() for w in LEGAL_WORDS), text


@pytest.mark.parametrize("locale", LOCALES)
def test_html_escapes_the_customer_name_and_the_text_keeps_it(locale: str) -> None:
    name = "<script>alert(1)</script>"
    email = RENDERER.email(make_ctx(locale, "offer", "neutral", customer_name=name))
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert name in email.text


def test_html_escapes_invoice_ids_and_the_link_attribute() -> None:
    ctx = make_ctx("en", "friendly", "neutral", payment_url='https://pay.example.cn/c/1?a=1&b="x"')
    ctx = replace(ctx, items=(replace(ctx.items[0], invoice_id="<b>INV-1</b>"), *ctx.items[1:]))
    html = RENDERER.email(ctx).html
    assert "&lt;b&gt;INV-1&lt;/b&gt;" in html and "<b>INV-1</b>" not in html
    assert 'href="https://pay.example.cn/c/1?a=1&amp;b=&#34;x&#34;"' in html


@pytest.mark.parametrize("locale", LOCALES)
def test_html_escapes_values_inside_the_step_wording(locale: str) -> None:
    # The pre-due wording names the coming invoice: text from a step's macros is escaped too.
    ctx = pre_due_ctx(locale, "neutral")
    ctx = replace(ctx, items=(replace(ctx.items[0], invoice_id="<i>X</i>"), *ctx.items[1:]))
    assert ctx.next_due is not None and ctx.next_due.invoice_id == "<i>X</i>"
    email = RENDERER.email(ctx)
    assert "<i>X</i>" not in email.html and "&lt;i&gt;X&lt;/i&gt;" in email.html
    assert "&amp;lt;" not in email.html  # escaped once, not twice
    assert "<i>X</i>" in email.text


def test_a_link_that_is_not_http_gets_no_button() -> None:
    html = RENDERER.email(make_ctx("en", payment_url="javascript:alert(1)")).html
    assert 'href="javascript:' not in html


@pytest.mark.parametrize("locale", LOCALES)
def test_email_carries_item_table_penalty_rule_and_pay_button(locale: str) -> None:
    ctx = make_ctx(locale, "friendly", "neutral")
    email = RENDERER.email(ctx)
    assert email.html.count("<tr>") >= 1 + len(ctx.items) + 1  # header, items, total
    assert f'<a href="{URL}"' in email.html
    rate = format_rate(Decimal("0.0005"), locale)
    rule = "未付本金 × 每日" if locale == "zh-CN" else "outstanding principal × daily rate"
    for body in (email.text, email.html):
        assert rule in body and rate in body
    # no external resources: nothing to fetch, no scripts
    assert "<img" not in email.html and "<link" not in email.html and "<script" not in email.html


@pytest.mark.parametrize("locale", LOCALES)
def test_subjects_are_neutral(locale: str, policy: Policy) -> None:
    for step in STEPS:
        subject = RENDERER.email(make_ctx(locale, step, "formal", legal_authorised=True)).subject
        lowered = subject.lower()
        assert not any(w.lower() in lowered for w in policy.lint.subject_words), subject
        assert not any(w in lowered for w in LEGAL_WORDS), subject
        assert make_ctx(locale).creditor_name in subject


@pytest.mark.parametrize("locale", LOCALES)
def test_offer_states_the_waiver_and_the_pay_by_date(locale: str) -> None:
    ctx = make_ctx(locale, "offer", "friendly")
    waived = format_money(Decimal("57.00"), "CNY", locale)
    by = format_day(date(2026, 3, 13), locale)
    for body in (RENDERER.sms(ctx).body, RENDERER.email(ctx).text):
        assert "50%" in body and waived in body and by in body


@pytest.mark.parametrize("locale", LOCALES)
def test_offer_does_not_offer_dates_before_the_deadline_as_an_alternative(locale: str) -> None:
    # pay_options after the deadline: offered as a later alternative at full penalty.
    late = make_ctx(locale, "offer", "neutral", offer_pay_by=date(2026, 3, 6))
    text = RENDERER.email(late).text
    assert format_day(date(2026, 3, 9), locale) in text
    # straddling the deadline: no date choice that would contradict it.
    mixed = make_ctx(locale, "offer", "neutral", offer_pay_by=date(2026, 3, 10))
    assert format_day(date(2026, 3, 11), locale) not in RENDERER.email(mixed).text


@pytest.mark.parametrize("locale", LOCALES)
def test_instalment_offer_splits_thirty_percent_then_two_equal_parts(locale: str) -> None:
    ctx = make_ctx(locale, "instalment_offer", "neutral")
    assert ctx.instalment_first == Decimal("25800.0000")
    assert ctx.instalment_rest == Decimal("30100.0000")
    for body in (RENDERER.sms(ctx).body, RENDERER.email(ctx).text):
        assert format_money(Decimal("25800"), "CNY", locale) in body
        assert format_money(Decimal("30100"), "CNY", locale) in body


def test_derived_amounts_are_among_the_facts_the_linter_accepts() -> None:
    ctx = make_ctx(total_penalty=Decimal("114.35"), total_outstanding=Decimal("86000.01"))
    facts = facts_for(ctx, "email")
    for value in (ctx.waived_penalty, ctx.penalty_after_waiver, ctx.total_with_penalty,
                  ctx.overdue_with_penalty, ctx.instalment_first, ctx.instalment_rest):  # fmt: skip
        assert value.quantize(Decimal("0.01")) in facts.amounts


def test_thank_you_has_no_amounts_and_no_payment_link() -> None:
    for locale in LOCALES:
        ctx = make_ctx(locale, "thank_you", "friendly")
        sms, email = RENDERER.sms(ctx), RENDERER.email(ctx)
        for body in (sms.body, email.text):
            assert URL not in body and "86,000" not in body
        assert "<th" not in email.html  # no statement table


def test_friendly_sms_in_chinese_may_smile_and_english_stays_gsm7() -> None:
    zh = RENDERER.sms(make_ctx("zh-CN", "friendly", "friendly"))
    assert "😊" in zh.body and zh.encoding == "UCS-2"
    for step in STEPS:
        for tone in TONES:
            en = RENDERER.sms(make_ctx("en", step, tone))
            assert en.encoding == "GSM-7", f"{step}/{tone}: {en.body}"


def test_individual_customers_are_addressed_as_you_not_your_company() -> None:
    ctx = make_ctx("zh-CN", "friendly", "neutral", customer_kind="individual", customer_name="张伟",
                   customer_title="mr")  # fmt: skip
    body = RENDERER.sms(ctx).body
    assert "张伟先生您好！" in body and "您有3笔账单" in body and "贵司" not in body


# --- formatting ---------------------------------------------------------------------------


def test_money_per_locale() -> None:
    assert format_money(Decimal("86000"), "CNY", "zh-CN") == "¥86,000.00"
    assert format_money(Decimal("86000"), "CNY", "en") == "CN¥86,000.00"
    assert format_money(Decimal("1234.5"), "USD", "en") == "$1,234.50"
    assert format_money(Decimal("0.125"), "CNY", "zh-CN") == "¥0.12"  # half-even, as lint


def test_dates_per_locale() -> None:
    assert format_day(date(2026, 3, 2), "zh-CN") == "2026年3月2日"
    assert format_day(date(2026, 3, 2), "en") == "March 2, 2026"


def test_short_dates_per_locale() -> None:
    assert format_day_short(date(2026, 3, 11), "zh-CN") == "3月11日"
    assert format_day_short(date(2026, 3, 11), "en") == "March 11"


def test_chinese_sms_drops_the_year_of_the_second_date_only_within_the_same_year() -> None:
    same = RENDERER.sms(make_ctx("zh-CN", "friendly", "neutral")).body
    assert "2026年3月9日或3月11日" in same
    across = make_ctx("zh-CN", "friendly", "neutral",
                      pay_options=(date(2026, 12, 31), date(2027, 1, 4)))  # fmt: skip
    assert "2026年12月31日或2027年1月4日" in RENDERER.sms(across).body


def test_daily_rate_as_percent() -> None:
    assert format_rate(Decimal("0.0005"), "zh-CN") == "0.05%"
    assert format_rate(Decimal("0.0005"), "en") == "0.05%"
    assert format_rate(Decimal("0.00035"), "en") == "0.035%"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_linter_reads_formatted_amounts_and_dates_back(locale: str, policy: Policy) -> None:
    facts = LintFacts(
        amounts=frozenset({Decimal("86000.00")}),
        dates=frozenset({date(2026, 3, 2)}),
        legal_authorised=False,
        channel="email",
        locale=locale,
    )
    money = format_money(Decimal("86000"), "CNY", locale)
    day = format_day(date(2026, 3, 2), locale)
    rate = format_rate(Decimal("0.0005"), locale)
    assert lint(f"{money} / {day} / {rate}", facts, policy.lint) == []
    wrong_money = format_money(Decimal("96000"), "CNY", locale)
    wrong_day = format_day(date(2026, 3, 3), locale)
    rules = {p.rule for p in lint(f"{wrong_money} / {wrong_day}", facts, policy.lint)}
    assert rules == {"wrong_amount", "wrong_date"}


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
def test_missing_step_template_names_step_locale_and_channel(channel: str) -> None:
    ctx = make_ctx("en", "no_such_step")
    render = RENDERER.sms if channel == "sms" else RENDERER.email
    with pytest.raises(TemplateMissing) as err:
        render(ctx)
    message = str(err.value)
    assert "no_such_step" in message and "'en'" in message and channel in message


def test_missing_locale_is_a_missing_template() -> None:
    with pytest.raises(TemplateMissing, match="'fr'"):
        RENDERER.sms(make_ctx("fr"))


def test_unknown_tone_is_refused() -> None:
    with pytest.raises(RenderError, match="unknown tone 'angry'"):
        RENDERER.sms(make_ctx(tone="angry"))


def test_a_template_using_an_unknown_variable_fails(tmp_path: Path) -> None:
    (tmp_path / "sms" / "en").mkdir(parents=True)
    (tmp_path / "sms" / "en" / "friendly.txt.j2").write_text("Hello {{ customer_nickname }}")
    with pytest.raises(RenderError, match="customer_nickname") as err:
        Renderer(tmp_path).sms(make_ctx("en"))
    assert isinstance(err.value.__cause__, UndefinedError)


def test_renderer_tidies_whitespace(tmp_path: Path) -> None:
    (tmp_path / "sms" / "en").mkdir(parents=True)
    (tmp_path / "sms" / "en" / "friendly.txt.j2").write_text(
        "\n  Hello {{ customer_name }}   \n\n\n\nPay: {{ payment_url }}  \nReply STOP to opt out\n"
    )
    sms = Renderer(tmp_path).sms(make_ctx("en"))
    assert sms.body == f"Hello Acme Trading Ltd.\nPay: {URL}\nReply STOP to opt out"
    assert (sms.segments, sms.encoding) == (1, "GSM-7")


def test_default_templates_directory_is_the_repository_one() -> None:
    assert Renderer().templates_dir == Path(__file__).resolve().parents[2] / "templates"


def test_every_configured_cadence_step_has_templates(policy: Policy) -> None:
    assert policy.cadence is not None
    for step in policy.cadence.steps:
        if step.is_call:  # talking points, not a message: tests/unit/test_calls.py
            continue
        for locale in LOCALES:
            ctx = make_ctx(locale, step.template_name, step.tone or "neutral")
            assert RENDERER.sms(ctx).body and RENDERER.email(ctx).text


def test_what_the_lint_ignores_is_longest_first_in_one_order_whatever_the_items_order() -> None:
    # The stored facts are the same bytes on every run (ties of length by their text), and
    # an id inside a longer one is taken out after it.
    ctx = make_ctx()
    ids = ("INV-2026-0002", "INV-2026-0001", "INV-2026-00011")
    lines = tuple(replace(line, invoice_id=i) for line, i in zip(ctx.items, ids, strict=True))
    one = facts_for(replace(ctx, items=lines), "sms").ignore
    other = facts_for(replace(ctx, items=lines[::-1]), "sms").ignore
    assert one == other == ("INV-2026-00011", "INV-2026-0001", "INV-2026-0002", "400-820-0000")
