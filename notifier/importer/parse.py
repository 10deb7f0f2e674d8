"""Field parsers for the CSV import: text in, a clean value out, or :class:`FieldError`.

Pure functions, no I/O. Each error message says what is wrong and what would be accepted,
so the person holding the spreadsheet can fix the cell without reading any code. The
formats are the ones CONTRACT.md ("CSV import") promises.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import phonenumbers
from babel.numbers import list_currencies
from email_validator import EmailNotValidError, validate_email

from notifier.domain.bounds import OutOfBounds, check_date
from notifier.domain.ids import BadId, check_id
from notifier.domain.policy import LimitsPolicy

AMOUNT_FORMATS = "86000, 86000.00, 86,000.00 or ¥86,000.00"
DATE_FORMATS = "2026-03-02, 2026/3/2 or 2026年3月2日"
MAX_PENALTY_RATE = Decimal("0.01")
MAX_URL_LENGTH = 500
MAX_AMOUNT = Decimal("1e13")  # far above any invoice, well inside a 64-bit count of cents


class FieldError(ValueError):
    """A cell that cannot be used; the message is shown to the user as is."""


# Thousands separators must group by three, so "8,6000" is refused rather than guessed.
_AMOUNT = re.compile(
    r"(?P<sign>[-−])?\s*(?:[¥￥]\s*)?(?P<sign2>[-−])?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?\s*(?:元)?"
)
_DATE = re.compile(
    r"(?P<y>\d{4})\s*(?:(?P<sep>[-/])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
    r"|年\s*(?P<cm>\d{1,2})\s*月\s*(?P<cd>\d{1,2})\s*日)"
)
_EXCEL_SCIENTIFIC = re.compile(r"\d+(?:\.\d+)?[eE]\+\d+")
_BARE_CN_MOBILE = re.compile(r"1[3-9]\d{9}")


def parse_amount(text: str) -> Decimal:
    """A positive amount with at most two decimals, e.g. ``¥86,000.00`` -> 86000.00."""
    match = _AMOUNT.fullmatch(text.strip())
    if match is None:
        raise FieldError(f"{text!r} is not an amount; write e.g. {AMOUNT_FORMATS}")
    frac = match["frac"] or ""
    if len(frac) > 2:
        raise FieldError(f"{text!r} has {len(frac)} decimal places; at most 2 are allowed")
    amount = Decimal(match["int"].replace(",", "") + ("." + frac if frac else ""))
    if match["sign"] or match["sign2"] or amount == 0:
        raise FieldError(f"{text!r}: the amount must be greater than 0")
    if amount >= MAX_AMOUNT:
        raise FieldError(f"{text!r} is too large for an amount")
    return amount


def parse_date(text: str) -> date:
    """``2026-03-02``, ``2026/3/2`` or ``2026年3月2日``."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise FieldError(f"{text!r} is not a date; write {DATE_FORMATS}")
    month = match["m"] or match["cm"]
    day = match["d"] or match["cd"]
    try:
        return date(int(match["y"]), int(month), int(day))
    except ValueError:
        raise FieldError(f"{text!r} is not a day of the calendar") from None


def parse_day_within(text: str, limits: LimitsPolicy) -> date:
    """A date (:func:`parse_date`) inside the policy's window: ``0001-01-01`` is a typo,
    and would otherwise read as 739,920 days overdue."""
    day = parse_date(text)
    try:
        return check_date(day, limits)
    except OutOfBounds as exc:
        raise FieldError(str(exc)) from None


def parse_paid_on(text: str, limits: LimitsPolicy, today: date) -> date:
    """A payment's date: inside the window, and not after ``today`` (a day of slack for
    the zones ahead of UTC). An ERP exports payments received; one dated in the future is
    a typo (2062 for 2026) that would pass as money not yet in, so it is refused rather
    than warned about: the import is all or nothing and has no place for a warning."""
    day = parse_day_within(text, limits)
    if day > today + timedelta(days=1):
        raise FieldError(
            f"{day.isoformat()} is in the future (today is {today.isoformat()}); "
            "a payment can only be dated on or before the day it was received"
        )
    return day


def parse_id(text: str) -> str:
    """An id that can stand in a link: no ``/ ? # % \\``, whitespace or control characters."""
    try:
        return check_id(text.strip())
    except BadId as exc:
        raise FieldError(str(exc)) from None


def parse_phone(text: str, country: str = "CN") -> str:
    """E.164 (``+8613912345678``). The number is read as dialled in ``country``; a bare
    11-digit Chinese mobile number is Chinese whatever the row's country says."""
    raw = text.strip()
    if _EXCEL_SCIENTIFIC.fullmatch(raw):
        raise FieldError(
            f"{raw!r} is a number in scientific notation (Excel): format the column as text"
        )
    candidates = [country]
    if _BARE_CN_MOBILE.fullmatch(raw) and country != "CN":
        candidates.append("CN")
    for region in candidates:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    raise FieldError(
        f"{raw!r} is not a valid phone number for {country}; "
        "write e.g. 13912345678 or +8613912345678"
    )


def parse_email(text: str) -> str:
    """A syntactically valid address in normalised form (domain lower-cased, IDNA)."""
    try:
        return str(validate_email(text.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise FieldError(f"{text.strip()!r} is not a valid e-mail address: {exc}") from None


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_zone(text: str) -> str:
    """An IANA time zone name such as ``Asia/Shanghai``."""
    zone = text.strip()
    if zone not in _zones():
        raise FieldError(f"{zone!r} is not an IANA time zone; write e.g. Asia/Shanghai")
    return zone


def parse_country(text: str) -> str:
    """An ISO 3166 alpha-2 code of a real country (any case in, upper case out)."""
    code = text.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise FieldError(f"{text.strip()!r} is not an ISO country code; write e.g. CN, US, GB")
    return code


_LOCALES = {"zh-cn": "zh-CN", "zh_cn": "zh-CN", "zh": "zh-CN", "中文": "zh-CN", "en": "en"}
_LOCALES |= {"en-us": "en", "en_us": "en", "en-gb": "en", "en_gb": "en", "英文": "en"}
_LOCALES |= {"english": "en"}


def parse_locale(text: str) -> str:
    """``zh-CN`` or ``en`` (common spellings of both accepted)."""
    locale = _LOCALES.get(text.strip().lower())
    if locale is None:
        raise FieldError(f"{text.strip()!r} is not a supported language; write zh-CN or en")
    return locale


_KINDS = {"business": "business", "individual": "individual", "企业": "business"}
_KINDS |= {"个人": "individual"}


def parse_kind(text: str) -> str:
    kind = _KINDS.get(text.strip().lower())
    if kind is None:
        raise FieldError(f"{text.strip()!r} is not a customer type; write business or individual")
    return kind


_TITLES = {"mr": "mr", "mr.": "mr", "先生": "mr", "ms": "ms", "ms.": "ms", "mrs": "ms"}
_TITLES |= {"mrs.": "ms", "miss": "ms", "女士": "ms"}


def parse_title(text: str) -> str:
    """How a person is addressed (issue 13): ``mr`` (先生, Mr, Mr.) or ``ms`` (女士, Ms, Ms.,
    Mrs, Miss), any case."""
    title = _TITLES.get(text.strip().lower())
    if title is None:
        raise FieldError(
            f"{text.strip()!r} is not a title; write mr (先生, Mr) or ms (女士, Ms, Mrs, Miss),"
            " or leave it empty"
        )
    return title


def parse_tier(text: str) -> str:
    tier = text.strip().upper()
    if tier not in {"A", "B", "C"}:
        raise FieldError(f"{text.strip()!r} is not a tier; write A, B or C (or leave it empty)")
    return tier


_CURRENCY_ALIASES = {"RMB": "CNY", "人民币": "CNY", "元": "CNY"}


def parse_currency(text: str) -> str:
    """An ISO 4217 code such as CNY or USD; RMB and 人民币 mean CNY."""
    raw = text.strip()
    code = _CURRENCY_ALIASES.get(raw.upper(), raw.upper())
    if code not in _currencies():
        raise FieldError(f"{raw!r} is not an ISO currency code; write e.g. CNY, USD, EUR")
    return code


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def parse_rate(text: str) -> Decimal:
    """A daily penalty rate between 0 and 0.01, as a fraction (0.0005) or percent (0.05%)."""
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        rate = Decimal(raw.removesuffix("%").strip())
    except InvalidOperation:
        raise FieldError(f"{raw!r} is not a daily rate; write e.g. 0.0005 or 0.05%") from None
    if not rate.is_finite():
        raise FieldError(f"{raw!r} is not a daily rate; write e.g. 0.0005 or 0.05%")
    if percent:
        rate /= 100
    if not 0 <= rate <= MAX_PENALTY_RATE:
        raise FieldError(f"{raw!r}: the daily rate must be between 0 and 0.01 (1% a day)")
    return rate.normalize() if rate else Decimal(0)


def parse_url(text: str) -> str:
    """An absolute http(s) URL."""
    url = text.strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in url):
        raise FieldError(f"{url!r} is not a web address; write e.g. https://pay.example/inv/1")
    if len(url) > MAX_URL_LENGTH:
        raise FieldError(f"is {len(url)} characters long; at most {MAX_URL_LENGTH} are allowed")
    return url


def parse_text(text: str, max_length: int, *, lines: bool = False) -> str:
    """Text a person reads (a name, a collector, notes): no control characters and no
    invisible formatting (bidi overrides that show a name backwards, zero-width spaces
    that hide words from the content rules); ``lines`` allows line breaks and tabs."""
    value = text.strip()
    if len(value) > max_length:
        raise FieldError(f"is {len(value)} characters long; at most {max_length} are allowed")
    allowed = "\n\r\t" if lines else ""
    for char in value:
        if char not in allowed and unicodedata.category(char) in {"Cc", "Cf", "Cs"}:
            raise FieldError(
                f"contains the invisible or control character U+{ord(char):04X}; "
                "retype the text without it"
            )
    return value
