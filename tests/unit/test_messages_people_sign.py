"""Messages a person would sign (issue 13, item 5): full-width Chinese punctuation, a polite
address, routine Chinese SMS in 2 parts, one word for the penalty, dates, contact lines and
portals by the customer's country, plain English without smileys, instalments named as
instalments, a visible opt-out line with its link in every e-mail, tracked SMS links, no
links to this machine, and a linter that refuses accusations."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

import pytest

from notifier.domain.calendar import WorkCalendar
from notifier.domain.items import Item
from notifier.domain.lint import UNSUBSCRIBE_MARK, LintFacts, lint
from notifier.domain.policy import LintPolicy, Policy
from notifier.domain.position import position
from notifier.drafting.compose import compose, message_context, payment_url
from notifier.render import ItemLine, MessageContext, Renderer, sms_segments
from notifier.settings import ConfigError, Settings
from notifier.tracking import Tracker, first_link, track_email, track_sms
from notifier.wiring import tracker_for
from notifier.words import words
from tests.unit.test_render_golden import STEPS, TONES, _base, _variants

RENDERER = Renderer()
PUBLIC = "https://notifier.example"
TRACKER = Tracker("k" * 40, PUBLIC)
ROUTINE = ("pre_due", "friendly")


def rendered(ctx: MessageContext, policy: Policy) -> list[str]:
    """The SMS and the e-mail (subject, text, HTML) of ``ctx``, each passing the linter."""
    sms, email = compose(ctx, "sms", RENDERER, policy), compose(ctx, "email", RENDERER, policy)
    assert sms.lint == [] and email.lint == [], (ctx.step, ctx.tone, sms.lint, email.lint)
    assert email.subject is not None and email.html is not None
    return [sms.body, email.subject, email.body, email.html]


def every_context(locale: str) -> list[MessageContext]:
    """Every step and tone over the golden positions (not the one with markup in names;
    in English, the person's name in Latin letters: a Chinese one makes the SMS UCS-2)."""
    found = [ctx for step in STEPS for tone in TONES
             for name, ctx in _variants(_base(locale, step, tone)).items()
             if name != "mixed_currencies"]  # fmt: skip
    if locale == "en":
        found = [c if c.is_business else replace(c, customer_name="Wang Xiaoming") for c in found]
    return found


# --- zh-CN -----------------------------------------------------------------------------


def test_chinese_messages_use_full_width_punctuation_in_every_step_tone_and_channel(
    policy: Policy,
) -> None:
    for ctx in every_context("zh-CN"):
        for text in rendered(ctx, policy)[:3]:
            prose = re.sub(r"https?://\S+", " ", text)
            prose = re.sub(r"(?<=\d),(?=\d)", "", prose)  # 86,000.00
            prose = re.sub(r"[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*", "x", prose)  # ids, 0.05
            assert not re.search(r"[,:;?!()]", prose), (ctx.step, ctx.tone, text)


@pytest.mark.parametrize("tone", TONES)
def test_a_person_is_addressed_by_name_and_title_when_known_else_with_a_plain_greeting(
    tone: str, policy: Policy
) -> None:
    base = _variants(_base("zh-CN", "friendly", tone))["single_individual"]
    person = replace(base, customer_name="李强")
    polite = ("尊敬的李强先生：",) if tone in ("firm", "formal") else ("李强先生", "您好！")
    for text in rendered(replace(person, customer_title="mr"), policy)[:3:2]:  # SMS, e-mail
        assert all(p in text for p in polite), text
    ms = rendered(replace(person, customer_name="王芳", customer_title="ms"), policy)
    assert "王芳女士" in ms[0] and "王芳女士" in ms[2]
    for text in rendered(person, policy)[:3:2]:  # no title known: never the bare name
        assert "李强" not in text, text
        assert ("尊敬的客户：" if tone in ("firm", "formal") else "您好！") in text, text
    en = replace(_variants(_base("en", "friendly", tone))["single_individual"],
                 customer_name="Oliver Smith", customer_title="mr")  # fmt: skip
    assert "Mr Smith," in RENDERER.sms(en).body and "Mr Smith," in RENDERER.email(en).text


def test_a_routine_chinese_sms_to_a_customer_with_up_to_two_invoices_takes_two_parts(
    policy: Policy,
) -> None:
    """With the shipped policy's sender name, contact line and portal for China."""
    measured = []
    for step in ROUTINE:
        for tone in TONES:
            v = _variants(_base("zh-CN", step, tone))
            # The positions each step is drafted for: before the due date, and overdue.
            positions = [
                replace(v["pre_due"], items=v["pre_due"].items[:2],
                        total_outstanding=Decimal("56000.00")),
                v["far_pre_due"],
            ] if step == "pre_due" else [
                replace(v["overdue"], items=v["overdue"].items[:2],
                        total_outstanding=Decimal("56000.00")),
                v["single_individual"],
            ]  # fmt: skip
            for ctx in positions:
                ctx = replace(
                    ctx, customer_name="上海星辰贸易有限公司" if ctx.is_business else "王芳",
                    creditor_name=policy.creditor.name_for("zh-CN"),
                    creditor_signature=policy.creditor.signature_for("zh-CN"),
                    creditor_contact=policy.creditor.contact_for("CN"),
                    payment_url=policy.creditor.payment_url_for("CN").format(customer_id="C001"),
                )  # fmt: skip
                sms = RENDERER.sms(ctx)
                measured.append(sms.segments)
                assert sms.segments <= 2, f"{step}/{tone}: {len(sms.body)} characters\n{sms.body}"
    assert max(measured) == 2


def test_chinese_messages_call_the_penalty_by_the_pages_word(policy: Policy) -> None:
    with_penalty = 0
    for ctx in every_context("zh-CN"):
        for text in rendered(ctx, policy):
            assert "罚息" not in text, (ctx.step, ctx.tone, text)
            with_penalty += "滞纳金" in text
    assert with_penalty > 100


@pytest.mark.parametrize("word", ["滞纳金", "罚息"])
def test_the_linter_reads_a_bare_number_after_either_penalty_word_as_an_amount(word: str) -> None:
    facts = LintFacts(amounts=frozenset({Decimal("114.00")}), dates=frozenset(),
                      legal_authorised=False, channel="email", locale="zh-CN")  # fmt: skip
    problems = lint(f"目前{word}1140，请核对。", facts, LintPolicy())
    assert [p.rule for p in problems] == ["wrong_amount"]
    assert lint(f"目前{word}¥114.00，请核对。", facts, LintPolicy()) == []


# --- en ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    id: str
    country: str
    locale: str = "en"
    kind: str = "individual"
    name: str = "Oliver Smith"
    legal_authorised: bool = False


def planned(policy: Policy, customer: Customer, step: str = "friendly") -> MessageContext:
    """The context as the planner builds it: 1 invoice of 12,500 due 22 November 2026."""
    items = [Item("INV-77", Decimal("12500.00"), date(2026, 10, 1), date(2026, 11, 22))]
    today = date(2026, 12, 4)
    pos = position(items, today, policy.penalty.default_daily_rate)
    return message_context(customer, pos, step=step, tone="neutral", today=today,
                           policy=policy, calendar=WorkCalendar(policy.calendar),
                           url=payment_url(customer, pos, policy))  # fmt: skip


def test_a_uk_customer_reads_uk_dates_and_a_us_customer_us_dates(policy: Policy) -> None:
    uk = planned(policy, Customer("C008", "GB"))
    us = planned(policy, Customer("C007", "US", kind="business", name="Acme Supply Inc."))
    uk_text, us_text = rendered(uk, policy), rendered(us, policy)
    assert "22 November 2026" in uk_text[2] and "November 22, 2026" not in uk_text[2]
    assert "November 22, 2026" in us_text[2] and "22 November 2026" not in us_text[2]
    offered = uk.pay_options[0]
    assert f"{offered.day} {offered:%B} {offered.year}" in uk_text[0]  # the SMS too


def test_a_customer_abroad_gets_its_country_contact_and_portal_never_chinas(
    policy: Policy,
) -> None:
    for country in ("GB", "US", "DE"):  # DE: not listed, the policy's defaults
        ctx = planned(policy, Customer("C9", country))
        assert ctx.creditor_contact == policy.creditor.contact_for(country)
        for text in rendered(ctx, policy):
            assert "400-" not in text and ".cn/" not in text, (country, text)
    cn = planned(policy, Customer("C1", "CN", locale="zh-CN", name="王芳"))
    assert cn.creditor_contact == "400-820-0000" and ".cn/" in cn.payment_url


def test_english_messages_carry_no_smileys(policy: Policy) -> None:
    for ctx in every_context("en"):
        for text in rendered(ctx, policy):
            assert not re.search(r"[:;]-?[)D(]|😊|🙂", text), (ctx.step, ctx.tone, text)


def test_english_states_overdue_invoices_in_short_plain_sentences() -> None:
    ctx = _base("en", "friendly", "neutral")
    two = replace(ctx, items=ctx.items[:2], total_outstanding=Decimal("56000.00"))
    text = RENDERER.email(two).text
    assert ("You have 2 invoices past due, CN¥56,000.00 in all. "
            "The oldest, CN¥30,000.00, is 5 days late.") in text  # fmt: skip
    one = RENDERER.sms(_variants(ctx)["single_individual"]).body
    assert "your invoice for CN¥88.80 is 1 day past due." in one
    assert "of them," not in text and "in all, has been" not in text


def test_instalments_are_named_as_instalments_not_as_invoices(policy: Policy) -> None:
    plan = tuple(
        ItemLine(f"PLAN1/{n}", date(2026, 2, 1), date(2026, 2 + n, 10), 24 - 30 * (n - 1),
                 Decimal("1000.00"), Decimal("12.00") if n == 1 else Decimal("0.00"), "CNY")
        for n in (1, 2, 3)
    )  # fmt: skip
    for locale, name in (("zh-CN", "第1期/共3期"), ("en", "Instalment 1 of 3")):
        ctx = replace(_base(locale, "friendly", "neutral"), items=plan,
                      total_outstanding=Decimal("3000.00"), overdue_count=1,
                      total_overdue=Decimal("1000.00"), max_days_overdue=24,
                      total_penalty=Decimal("12.00"))  # fmt: skip
        _, _, text, html = rendered(ctx, policy)
        assert name in text and name in html and "PLAN1" not in text + html
        assert ("第3期/共3期" if locale == "zh-CN" else "Instalment 3 of 3") in text


# --- links -------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_email_carries_a_visible_opt_out_line_with_its_own_unsubscribe_link(
    locale: str, policy: Policy
) -> None:
    line = {"zh-CN": "如不希望再收到此类邮件，可点击退订：",
            "en": "Don't want these e-mails? Unsubscribe here:"}[locale]  # fmt: skip
    for step in STEPS:
        email = RENDERER.email(_base(locale, step, "neutral"))
        assert f"{line}{UNSUBSCRIBE_MARK}" in email.text.replace(": ", ":"), step
        assert f'href="{UNSUBSCRIBE_MARK}"' in email.html, step
        sent = track_email(TRACKER, 42, email.text, email.html)
        link = TRACKER.unsubscribe_url(42)
        assert UNSUBSCRIBE_MARK not in sent.text + str(sent.html)
        assert link in sent.text and f'href="{link}"' in str(sent.html)
        assert sent.headers["List-Unsubscribe"] == f"<{link}>"
        assert TRACKER.verify("unsubscribe", link.rsplit("/", 1)[1]) is not None


def test_without_a_public_url_messages_carry_the_plain_payment_link_and_a_log_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(_env_file=None)  # NOTIFIER_PUBLIC_URL unset
    tracker = tracker_for(settings)
    ctx = _base("zh-CN", "friendly", "neutral")
    email, sms = RENDERER.email(ctx), RENDERER.sms(ctx)
    with caplog.at_level(logging.WARNING, logger="notifier.tracking"):
        sent = track_email(tracker, 7, email.text, email.html)
        sent_sms = track_sms(tracker, 7, sms.body)
    for text in (sent.text, str(sent.html), sent_sms):
        assert "/t/c/" not in text and "/t/o/" not in text
    assert ctx.payment_url in sent.text and sent_sms == sms.body
    assert f'href="{ctx.payment_url}"' in str(sent.html)
    assert "links_untracked" in caplog.text and "NOTIFIER_PUBLIC_URL" in caplog.text
    # Set, the same messages are tracked: the SMS with a short signed link.
    tracked = tracker_for(Settings(_env_file=None, public_url=PUBLIC))
    assert "/t/c/" in track_email(tracked, 7, email.text, email.html).text
    assert f"{PUBLIC}/t/c/" in track_sms(tracked, 7, sms.body)


def test_a_loopback_public_url_is_refused_in_production() -> None:
    for url in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]/"):
        settings = Settings(_env_file=None, environment="production", public_url=url)
        with pytest.raises(ConfigError, match="NOTIFIER_PUBLIC_URL"):
            tracker_for(settings)
    public = Settings(_env_file=None, environment="production", public_url=PUBLIC)
    assert tracker_for(public).track_links


def test_an_sms_payment_link_is_tracked_with_a_short_signed_token() -> None:
    body = RENDERER.sms(_base("zh-CN", "friendly", "neutral")).body
    last_day = date(2026, 6, 4)
    sent = track_sms(TRACKER, 123456, body, last_day)
    link = first_link(sent)
    assert link is not None and link.startswith(f"{PUBLIC}/t/c/")
    token = link.rsplit("/", 1)[1]
    assert len(token) <= 17 and sent.count("http") == 1 and sent.endswith("回复TD退订")
    found = TRACKER.verify("click", token)
    assert found is not None and (found.reminder_id, found.expires_on) == (123456, last_day)
    assert found.target is None  # the redirect goes to the stored SMS's own link
    assert TRACKER.verify("click", token.replace(token[0], "z", 1)) is None
    assert Tracker("z" * 40, PUBLIC).verify("click", token) is None


# --- the linter --------------------------------------------------------------------------

ACCUSATIONS = [
    "你们到底什么时候付钱?",
    "你们到底什么时候付钱？",
    "为什么还不付款",
    "别再一拖再拖了",
    "Why haven't you paid?",
    "Why haven’t you paid yet",
    "When are you going to pay?",
    "No more excuses.",
]


@pytest.mark.parametrize("phrase", ACCUSATIONS)
def test_the_linter_refuses_accusing_words_a_reviewer_might_type(phrase: str) -> None:
    facts = LintFacts(amounts=frozenset(), dates=frozenset(), legal_authorised=True,
                      channel="email", locale="zh-CN")  # fmt: skip
    problems = lint(f"您好！{phrase}请联系我们。", facts, LintPolicy())
    assert [p.rule for p in problems] == ["accusation"], problems
    zh, en = words("zh-CN").lint(problems[0]), words("en").lint(problems[0])
    assert zh.startswith("含有指责或轻蔑的措辞") and en.startswith("Accusing or talking down")


@pytest.mark.parametrize("phrase", ["老赖", "骗子", "deadbeat"])
def test_the_linter_refuses_contempt_as_insulting(phrase: str) -> None:
    facts = LintFacts(amounts=frozenset(), dates=frozenset(), legal_authorised=True,
                      channel="email", locale="zh-CN")  # fmt: skip
    assert [p.rule for p in lint(f"你就是{phrase}", facts, LintPolicy())] == ["insult"]


def test_the_shipped_messages_pass_the_accusation_check(policy: Policy) -> None:
    for locale in ("zh-CN", "en"):
        for ctx in every_context(locale):
            rendered(ctx, policy)  # asserts no lint problem of any rule


def test_an_edit_that_drops_the_emails_opt_out_line_is_refused(policy: Policy) -> None:
    """The stored facts of a drafted e-mail ask for the opt-out line's link mark, so a
    reviewer's edit without it fails the content check (review.edit lints with them)."""
    from notifier.drafting.compose import facts_from_json, lint_facts

    ctx = _base("zh-CN", "friendly", "neutral")
    drafted = compose(ctx, "email", RENDERER, policy)
    facts = facts_from_json(drafted.facts, "email", legal_authorised=False)
    assert facts.opt_out_link and lint(drafted.body, facts, policy.lint) == []
    cut = drafted.body.split("\n\n如不希望")[0]
    problems = lint(cut, facts, policy.lint)
    assert [p.rule for p in problems] == ["unsubscribe_missing"]
    assert words("zh-CN").lint(problems[0]).startswith("邮件必须保留退订说明")
    assert not lint_facts(ctx, "sms").opt_out_link  # an SMS keeps its own line (回复TD退订)


def test_a_tracked_sms_link_never_costs_an_extra_part(caplog: pytest.LogCaptureFixture) -> None:
    """Routine zh SMS of 2 parts: with room to spare the link is tracked; at the edge of
    the second part it goes out as approved (the link plain) rather than in 3 parts."""
    v = _variants(_base("zh-CN", "friendly", "neutral"))
    person = RENDERER.sms(replace(v["single_individual"], creditor_signature="星辰供应链")).body
    edge = RENDERER.sms(replace(v["overdue"], items=v["overdue"].items[:2],
                                total_outstanding=Decimal("56000.00"),
                                creditor_signature="星辰供应链")).body  # fmt: skip
    assert sms_segments(person)[0] == sms_segments(edge)[0] == 2 and len(edge) >= 130
    tracker = Tracker("k" * 40, "https://xc.example")
    tracked = track_sms(tracker, 8, person)
    assert "https://xc.example/t/c/" in tracked and sms_segments(tracked)[0] == 2
    with caplog.at_level(logging.INFO, logger="notifier.tracking"):
        assert track_sms(tracker, 8, edge) == edge
    assert "sms_link_untracked reminder=8" in caplog.text
