"""The import's field parsers: every format CONTRACT.md promises, and clear refusals."""

from datetime import date
from decimal import Decimal

import pytest

from notifier.importer.parse import (
    FieldError,
    parse_amount,
    parse_country,
    parse_currency,
    parse_date,
    parse_email,
    parse_kind,
    parse_locale,
    parse_phone,
    parse_rate,
    parse_tier,
    parse_url,
    parse_zone,
)
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
