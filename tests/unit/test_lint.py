import re
import sys
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.domain.lint import (
    _MONTH_START,
    _PERCENT,
    _URL,
    LintFacts,
    _without_links,
    _without_percents,
    facts_amounts,
    lint,
)
from notifier.domain.policy import LintPolicy

POLICY = LintPolicy()


def facts(channel: str = "sms", locale: str = "zh-CN", legal: bool = False) -> LintFacts:
    return LintFacts(
        amounts=facts_amounts([Decimal("86000"), Decimal("56000"), Decimal("140")]),
        dates=frozenset({date(2026, 3, 1), date(2026, 3, 11), date(2026, 3, 13)}),
        legal_authorised=legal,
        channel=channel,
        locale=locale,
        ignore=("INV-2026-0001", "400-820-0000"),
    )


GOOD_ZH = (
    "王经理您好,贵司3笔账款共计¥86,000.00未结清,其中2笔已到期5天(¥56,000.00),"
    "罚息¥140.00。您看2026年3月11日还是2026年3月13日方便安排付款?"
    "付款:https://pay.example.cn/x/123456 咨询400-820-0000 回复TD退订"
)


def rules(problems: list[object]) -> set[str]:
    return {p.rule for p in problems}  # type: ignore[attr-defined]


def test_a_correct_message_passes() -> None:
    assert lint(GOOD_ZH, facts(), POLICY, segments=2, max_segments=3) == []


def test_an_amount_that_is_not_owed_is_refused() -> None:
    problems = lint(GOOD_ZH.replace("¥86,000.00", "¥96,000.00"), facts(), POLICY)
    assert rules(problems) == {"wrong_amount"}
    assert "96,000.00" in str(problems[0])


def test_amount_in_wan_yuan_is_understood() -> None:
    assert lint(GOOD_ZH + " 合计8.6万元", facts(), POLICY) == []
    assert rules(lint(GOOD_ZH + " 合计9.6万元", facts(), POLICY)) == {"wrong_amount"}


def test_a_date_that_is_not_offered_is_refused() -> None:
    problems = lint(GOOD_ZH.replace("2026年3月13日", "2026年3月20日"), facts(), POLICY)
    assert rules(problems) == {"wrong_date"}
    assert "2026-03-20" in str(problems[0])


def test_english_dates_are_checked_too() -> None:
    text = "Could you pay by 11 March 2026 or March 13, 2026? Reply STOP to opt out"
    assert lint(text, facts(locale="en"), POLICY) == []
    bad = text.replace("11 March 2026", "12 March 2026")
    assert rules(lint(bad, facts(locale="en"), POLICY)) == {"wrong_date"}


def test_legal_threat_refused_unless_customer_is_legal_authorised() -> None:
    text = GOOD_ZH + " 逾期将起诉至法院。"
    problems = lint(text, facts(), POLICY)
    assert rules(problems) == {"legal_threat"}
    assert "起诉" in str(problems[0]) and "法院" in str(problems[0])
    assert lint(text, facts(legal=True), POLICY) == []


def test_english_legal_words_match_whole_words_only() -> None:
    ok = "We issue this statement as a courtesy. Reply STOP to opt out"
    assert lint(ok, facts(locale="en"), POLICY) == []
    bad = "We will sue you in court. Reply STOP to opt out"
    assert rules(lint(bad, facts(locale="en"), POLICY)) == {"legal_threat"}


def test_insults_impersonation_and_third_parties_are_refused_even_for_legal_customers() -> None:
    text = GOOD_ZH + " 你这个老赖,公安已介入,我们会通知你的家人。"
    assert rules(lint(text, facts(legal=True), POLICY)) == {
        "insult",
        "impersonation",
        "third_party",
    }


def test_sms_without_opt_out_line_is_refused() -> None:
    problems = lint(GOOD_ZH.replace("回复TD退订", ""), facts(), POLICY)
    assert rules(problems) == {"opt_out_missing"}


def test_email_needs_no_sms_opt_out_line() -> None:
    body = GOOD_ZH.replace("回复TD退订", "")
    assert lint(body, facts(channel="email"), POLICY, subject="星辰供应链 对账单") == []


def test_subject_must_not_reveal_a_debt() -> None:
    problems = lint("...", facts(channel="email"), POLICY, subject="Your overdue debt")
    assert rules(problems) == {"subject_not_neutral"}


def test_sms_over_its_segment_limit_is_refused() -> None:
    problems = lint(GOOD_ZH, facts(), POLICY, segments=4, max_segments=3)
    assert rules(problems) == {"sms_too_long"}


def test_counts_days_percentages_ids_and_links_are_not_amounts() -> None:
    text = (
        "3 items, 2 are 45 days overdue; 0.05% per day. Invoice INV-2026-0001. "
        "Pay at https://pay.example.com/i/99999.99 or call 400-820-0000. Reply STOP to opt out"
    )
    assert lint(text, facts(locale="en"), POLICY) == []


def test_an_invoice_id_that_looks_like_a_date_is_not_taken_for_one() -> None:
    dated = LintFacts(
        amounts=facts_amounts([Decimal("86000")]), dates=frozenset({date(2026, 3, 11)}),
        legal_authorised=False, channel="email", locale="zh-CN", ignore=("INV-2026-03-01",),
    )  # fmt: skip
    assert lint("发票INV-2026-03-01共¥86,000.00,请于2026年3月11日前付款。", dated, POLICY) == []
    wrong = lint("发票INV-2026-03-01请于2026-03-12前付款。", dated, POLICY)
    assert rules(wrong) == {"wrong_date"}


def test_numbers_that_are_part_of_a_name_or_an_id_are_not_amounts() -> None:
    zh = GOOD_ZH.replace("王经理您好", "客户1000您好,1000号仓库")
    assert lint(zh, facts(), POLICY) == []
    en = (
        "Dear C1000 (Room 1000, order #2024, No. 3000, INV-7000): you owe ¥86,000.00. "
        "Could you pay by 11 March 2026? Reply STOP to opt out"
    )
    assert lint(en, facts(locale="en"), POLICY) == []


def test_counts_of_days_above_999_are_not_amounts() -> None:
    text = GOOD_ZH.replace("已到期5天", "已到期1200天")
    assert lint(text, facts(), POLICY) == []
    assert lint("1200 days overdue. Reply STOP to opt out", facts(locale="en"), POLICY) == []


@pytest.mark.parametrize(
    "wrong",
    [
        "客户1000欠款¥96,000.00",  # beside a currency sign, after a name
        "客户1000共计9600",  # after a money word, without a sign
        "客户1000金额为9600",
        "您有9600未结清",  # a bare four-digit number that names nothing: as before
        "C1000 owes 9600 yuan",  # with a unit
        "Room 1000: Total 9600",  # after a money word
        "RMB9600",
    ],
)
def test_an_amount_beside_a_name_is_still_checked(wrong: str) -> None:
    problems = lint(GOOD_ZH + wrong, facts(), POLICY)
    assert rules(problems) == {"wrong_amount"}
    assert "9600" in str(problems[0]) or "96,000.00" in str(problems[0])


@pytest.mark.parametrize(
    "hidden",
    [
        "我们将起\u200b诉",
        "我们将起 诉",
        "我们将征-信上报",
        "ＬＡＷＳＵＩＴ will follow",
        "a law\u00adsuit",
    ],
)
def test_a_forbidden_word_spelled_to_slip_past_is_still_refused(hidden: str) -> None:
    assert "legal_threat" in rules(lint(hidden, facts("email"), POLICY))


def test_characters_a_reader_cannot_see_are_refused_by_name() -> None:
    problems = lint("请按时付款\u200b\u202e，谢谢", facts("email"), POLICY)
    hidden = [p for p in problems if p.rule == "invisible_characters"]
    assert hidden and "U+200B" in hidden[0].message and "U+202E" in hidden[0].message


def test_chinese_words_side_by_side_across_a_comma_are_not_joined() -> None:
    # 方法，院子: the comma keeps 法 and 院 apart, so no 法院 is read.
    assert lint("方法，院子", facts("email"), POLICY) == []


@pytest.mark.parametrize(
    "written",
    [
        "1 May 2026",  # the shortest day and month: the year 5 characters after the start
        "20 September, 2026",
        "20 Sept. 2026",
        "May 1 2026",
        "September 20, 2026",
        "sept. 20, 2026",  # the longest reach with the dot: 13 characters before the year
        "DEC 31 2026",
        "\u017fep 20, 2026",  # a long s reads as "s" (re.I)
    ],
)
def test_every_english_date_form_is_found_wherever_its_year_falls(written: str) -> None:
    # Each form is checked: not one of the customer's dates, so it is refused, also after
    # digits that could start a day ("123 March 2026" holds 23 March 2026).
    for text in (f"Pay by {written}. Reply STOP to opt out", f"Ref 123{written} STOP"):
        problems = [p for p in lint(text, facts(locale="en"), POLICY) if p.rule == "wrong_date"]
        assert len(problems) == 1, text


def test_a_day_run_into_digits_before_it_is_still_read_as_the_date() -> None:
    problems = lint("Ref 123 March 2026. Reply STOP to opt out", facts(locale="en"), POLICY)
    assert [str(p) for p in problems if p.rule == "wrong_date"] == [
        "wrong_date: 2026-03-23 is none of this customer's dates"
    ]


def test_a_number_too_long_to_be_an_amount_is_refused_as_one() -> None:
    # More digits than a decimal holds to the cent: no amount owed, and no crash (a
    # reviewer's edit with a pasted reference number got a server error).
    long = "1234567890123456789012345678901234567890"
    problems = lint(f"您尚欠{long}元 回复TD退订", facts(), POLICY)
    assert [p.rule for p in problems] == ["wrong_amount"]
    assert long in problems[0].message


_PIECES = list("0123456789. %％hHtTpPsSwW:/x\n") + ["٣", "\u3000", "\u00a0", "ſ", "İ", "https://"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
def test_links_and_percentages_are_set_aside_as_the_regex_scan_would(text: str) -> None:
    # What the amount rule sets aside before it reads numbers: the same as scanning the
    # whole text, though only the places a link or a percentage can start are tried.
    lowered = text.lower()
    whole = _URL.sub(" ", text) if "http" in lowered or "www." in lowered else text
    assert _without_links(text, lowered) == whole
    assert _without_percents(text) == _PERCENT.sub(" ", text)


def test_a_month_name_is_looked_for_wherever_the_date_forms_could_start_one() -> None:
    # Without a month start the English date forms are not tried: its first letters must
    # be every character re.I reads as the first letter of a month.
    fold = re.compile("[adfjmnos]", re.IGNORECASE)
    firsts = {chr(c) for c in range(sys.maxunicode + 1) if fold.fullmatch(chr(c))}
    pattern = _MONTH_START.pattern
    assert set(pattern[1 : pattern.index("]")]) == firsts
