"""The import's field parsers: every format CONTRACT.md promises, and clear refusals."""

from datetime import date
from decimal import Decimal

import pytest

from notifier.domain.policy import LimitsPolicy
from notifier.importer.parse import (
    FieldError,
    parse_amount,
    parse_country,
    parse_currency,
    parse_date,
    parse_day_within,
    parse_email,
    parse_id,
    parse_kind,
    parse_locale,
    parse_paid_on,
    parse_phone,
    parse_rate,
    parse_text,
    parse_tier,
    parse_url,
    parse_zone,
)
from notifier.importer.problems import ImportRejected
from notifier.importer.read import decode


@pytest.mark.parametrize(
    "text",
    ["86000", "86000.00", "86,000.00", "¥86,000.00", "￥86,000.00", "¥ 86,000.00", "86,000.00元",
     " 86000.0 ", "￥86000元"],
)  # fmt: skip
def test_every_contract_amount_format_reads_as_the_same_decimal(text: str) -> None:
    assert parse_amount(text) == Decimal("86000.00")


def test_amount_keeps_cents_exactly() -> None:
    assert parse_amount("1,234,567.89") == Decimal("1234567.89")
    assert parse_amount("0.10") == Decimal("0.10")


@pytest.mark.parametrize("text", ["abc", "86.000,00", "8,6000", "86 000", "$86,000", "1e5", ""])
def test_unreadable_amount_is_refused_naming_the_accepted_formats(text: str) -> None:
    with pytest.raises(FieldError, match=r"86,000\.00 or ¥86,000\.00"):
        parse_amount(text)


def test_amount_with_three_decimals_is_refused() -> None:
    with pytest.raises(FieldError, match="3 decimal places; at most 2"):
        parse_amount("100.005")


@pytest.mark.parametrize("text", ["-100", "-¥100.00", "¥-100", "0", "0.00"])
def test_negative_or_zero_amount_is_refused(text: str) -> None:
    with pytest.raises(FieldError, match="greater than 0"):
        parse_amount(text)


@pytest.mark.parametrize(
    "text", ["2026-03-02", "2026/3/2", "2026/03/02", "2026年3月2日", "2026年03月02日", "2026-3-2"]
)
def test_every_contract_date_format_reads_as_the_same_day(text: str) -> None:
    assert parse_date(text) == date(2026, 3, 2)


@pytest.mark.parametrize("text", ["03/02/2026", "2026.3.2", "2 March 2026", "20260302", "x"])
def test_unreadable_date_is_refused_naming_the_accepted_formats(text: str) -> None:
    with pytest.raises(FieldError, match="2026-03-02, 2026/3/2 or 2026年3月2日"):
        parse_date(text)


@pytest.mark.parametrize("text", ["2026-02-30", "2026/13/1", "2025年2月29日"])
def test_impossible_calendar_day_is_refused(text: str) -> None:
    with pytest.raises(FieldError, match="not a day of the calendar"):
        parse_date(text)


@pytest.mark.parametrize(
    ("text", "country", "e164"),
    [
        ("13912345678", "CN", "+8613912345678"),
        ("139 1234 5678", "CN", "+8613912345678"),
        ("+86 139-1234-5678", "CN", "+8613912345678"),
        ("13912345678", "US", "+8613912345678"),  # a bare Chinese mobile stays Chinese
        ("(212) 555-0143", "US", "+12125550143"),
        ("+1 212-555-0143", "CN", "+12125550143"),
        ("07911 123456", "GB", "+447911123456"),
    ],
)
def test_phone_numbers_become_e164(text: str, country: str, e164: str) -> None:
    assert parse_phone(text, country) == e164


@pytest.mark.parametrize("text", ["12345", "1391234567", "23912345678", "phone", "+86 139"])
def test_invalid_phone_is_refused(text: str) -> None:
    with pytest.raises(FieldError, match="not a valid phone number for CN"):
        parse_phone(text, "CN")


def test_phone_in_excel_scientific_notation_says_to_format_as_text() -> None:
    with pytest.raises(FieldError, match="scientific notation"):
        parse_phone("1.39123E+10", "CN")


def test_email_is_validated_and_its_domain_normalised() -> None:
    assert parse_email(" Finance@XingChen.Example ") == "Finance@xingchen.example"


@pytest.mark.parametrize("text", ["finance", "a@b@c.example", "x@", "@xingchen.example"])
def test_invalid_email_is_refused(text: str) -> None:
    with pytest.raises(FieldError, match="not a valid e-mail address"):
        parse_email(text)


def test_iana_zone_is_accepted_and_anything_else_refused() -> None:
    assert parse_zone("America/New_York") == "America/New_York"
    for bad in ("Beijing", "GMT+8", "asia/shanghai", "../etc/passwd"):
        with pytest.raises(FieldError, match="not an IANA time zone"):
            parse_zone(bad)


def test_country_must_be_a_real_iso_code() -> None:
    assert parse_country("us") == "US"
    for bad in ("UK", "XX", "CHN", "中国"):
        with pytest.raises(FieldError, match="not an ISO country code"):
            parse_country(bad)


def test_customer_kind_accepts_english_and_chinese() -> None:
    assert [parse_kind(t) for t in ("business", "Individual", "企业", "个人")] == [
        "business", "individual", "business", "individual"
    ]  # fmt: skip
    with pytest.raises(FieldError, match="business or individual"):
        parse_kind("company")


def test_locale_is_zh_cn_or_en() -> None:
    assert [parse_locale(t) for t in ("zh-CN", "zh_cn", "en", "en-US")] == [
        "zh-CN", "zh-CN", "en", "en"
    ]  # fmt: skip
    with pytest.raises(FieldError, match="zh-CN or en"):
        parse_locale("fr")


def test_tier_is_a_b_or_c() -> None:
    assert parse_tier("a") == "A"
    with pytest.raises(FieldError, match="A, B or C"):
        parse_tier("D")


def test_currency_is_an_iso_code_and_rmb_means_cny() -> None:
    assert parse_currency("usd") == "USD"
    assert parse_currency("RMB") == "CNY"
    with pytest.raises(FieldError, match="not an ISO currency code"):
        parse_currency("YUAN")


def test_penalty_rate_accepts_fraction_or_percent_up_to_one_percent_a_day() -> None:
    assert parse_rate("0.0005") == Decimal("0.0005")
    assert parse_rate("0.05%") == Decimal("0.0005")
    for bad in ("0.02", "-0.0001", "5%", "abc", "NaN"):
        with pytest.raises(FieldError):
            parse_rate(bad)


def test_payment_url_must_be_http_or_https() -> None:
    assert parse_url("https://pay.example/inv/1") == "https://pay.example/inv/1"
    for bad in ("pay.example/inv/1", "ftp://pay.example/x", "javascript:alert(1)", "https://"):
        with pytest.raises(FieldError, match="not a web address"):
            parse_url(bad)
    with pytest.raises(FieldError, match="at most 500"):
        parse_url("https://pay.example/" + "x" * 500)


def test_encoding_is_detected_utf8_bom_then_gbk() -> None:
    text = "客户编号,客户名称\n"
    assert decode(text.encode("utf-8")) == (text, "utf-8")
    assert decode(b"\xef\xbb\xbf" + text.encode("utf-8")) == (text, "utf-8-sig")
    assert decode(text.encode("gbk")) == (text, "gb18030")


UTF8_ROWS = "customer_id,name,kind\nC1,上海星辰贸易有限公司,business\nC2,杭州云帆科技,business\n"
GBK_ROWS = "客户编号,客户名称,类型\nC1,上海星辰贸易有限公司,企业\nC2,杭州云帆科技,企业\n"


def test_a_utf8_file_with_one_gbk_row_is_refused_at_that_row_and_column() -> None:
    raw = UTF8_ROWS.encode("utf-8") + "C3,成都天府餐饮,business\n".encode("gbk")
    with pytest.raises(ImportRejected) as info:
        decode(raw)
    assert [str(p) for p in info.value.problems] == [
        "row 4, column name: is not UTF-8 (the rest of the file is); "
        "save the whole file in one encoding (CSV UTF-8)"
    ]


def test_a_gbk_file_with_one_utf8_row_is_refused_at_that_row_and_column() -> None:
    raw = GBK_ROWS.encode("gbk") + "C3,成都天府餐饮,企业\n".encode()
    with pytest.raises(ImportRejected) as info:
        decode(raw)
    [problem] = info.value.problems
    assert (problem.row, problem.column) == (4, "客户名称")
    assert "is UTF-8 (the rest of the file is GBK)" in problem.message


def test_row_numbers_of_a_mixed_file_count_records_not_lines() -> None:
    raw = (
        'customer_id,name,kind,notes\nC1,王芳,individual,"两行\n备注"\n'.encode()
        + "C2,李娜,individual,\n".encode("gbk")
    )
    with pytest.raises(ImportRejected) as info:
        decode(raw)
    assert [(p.row, p.column) for p in info.value.problems] == [(3, "name")]


def test_a_gbk_file_whose_short_cells_happen_to_be_valid_utf8_still_reads_as_gbk() -> None:
    # 元 in GBK (D4 AA) is also UTF-8 for 'Ԫ'; 毛 (C3 AB) for 'ë'.
    text = "付款编号,单据编号,金额,付款日期\nP1,I1,50000元,2026/1/15\nP2,I2,100元,2026/1/16\n"
    assert decode(text.encode("gbk")) == (text, "gb18030")
    names = "客户编号,客户名称,类型\nC1,毛,个人\nC2,王芳,个人\n"
    assert decode(names.encode("gbk")) == (names, "gb18030")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("C/1", "'/' (slash)"),
        ("C?1", "'?' (question mark)"),
        ("C#1", "'#' (hash)"),
        ("C%2F", "'%' (percent sign)"),
        ("C\\1", "'\\\\' (backslash)"),
        ("C 1", "whitespace (U+0020)"),
        ("C\u00a01", "whitespace (U+00A0)"),
        ("C\x071", "control character U+0007"),
        ("C\u202e1", "control character U+202E"),
        ("..", "dots only"),
        ("C" * 65, "at most 64"),
    ],
)
def test_an_id_a_link_cannot_carry_is_refused_naming_the_character(text: str, named: str) -> None:
    with pytest.raises(FieldError) as info:
        parse_id(text)
    assert named in str(info.value)


def test_ids_from_erp_exports_are_accepted() -> None:
    for text in ("C001", "INV-2026-0101", "PAY_7.1", "客户-001", "A+B=C", "X" * 64):
        assert parse_id(text) == text


def test_a_date_outside_the_policy_window_is_refused() -> None:
    limits = LimitsPolicy()
    assert parse_day_within("2026/3/2", limits) == date(2026, 3, 2)
    assert parse_day_within("2000-01-01", limits) == date(2000, 1, 1)
    for text in ("0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31"):
        with pytest.raises(FieldError, match=r"is outside 2000-01-01\.\.2100-12-31"):
            parse_day_within(text, limits)


def test_a_payment_dated_after_the_import_day_is_refused() -> None:
    limits, today = LimitsPolicy(), date(2026, 3, 2)
    assert parse_paid_on("2026-03-03", limits, today) == date(2026, 3, 3)  # a zone ahead
    with pytest.raises(FieldError, match="is in the future"):
        parse_paid_on("2026-03-04", limits, today)


@pytest.mark.parametrize("text", ["张\u202e伟", "Acme\u200b Inc.", "李\x00强", "Oliver\tSmith"])
def test_a_name_with_an_invisible_or_control_character_is_refused_naming_it(text: str) -> None:
    with pytest.raises(FieldError, match=r"invisible or control character U\+"):
        parse_text(text, 200)


def test_notes_may_have_several_lines_but_no_invisible_formatting() -> None:
    assert parse_text("付款慢\n\t常说在走流程", 1000, lines=True) == "付款慢\n\t常说在走流程"
    with pytest.raises(FieldError, match="U\\+202E"):
        parse_text("note \u202e", 1000, lines=True)
