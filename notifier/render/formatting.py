"""Money, dates and rates as a reader of each locale expects them, via Babel.

The outputs are chosen so that the content linter (notifier.domain.lint) reads them back
to the same values:

===========  ======================  ==================  ==============
locale       money (CNY)             date                daily rate
===========  ======================  ==================  ==============
``zh-CN``    ``¥86,000.00``          ``2026年3月2日``     ``0.05%``
``en``       ``CN¥86,000.00``        ``March 2, 2026``   ``0.05%``
``en-GB``    ``CN¥86,000.00``        ``2 March 2026``    ``0.05%``
===========  ======================  ==================  ==============

``en-GB`` is English for a customer in the United Kingdom (``MessageContext.format_locale``).

Other currencies get Babel's symbol for the locale (``US$``/``$``, ``€``, ``HK$`` ...).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache, lru_cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import (
    format_currency,
    format_percent,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
)

CENT = Decimal("0.01")
BABEL_LOCALES = {"zh-CN": "zh_CN", "en": "en"}
RATE_PATTERN = "#,##0.####%"  # 0.0005 -> 0.05%, 0.00035 -> 0.035%


def babel_locale(locale: str) -> str:
    return BABEL_LOCALES.get(locale, locale.replace("-", "_"))


@cache
def _parsed(locale: str) -> Locale:
    """Parsed once: given a string, Babel searches its locale list on every call (more
    than half of the planning sweep's time before this cache)."""
    return Locale.parse(babel_locale(locale))


def country_name(code: str, locale: str) -> str:
    """``CN`` -> 中国 / China: Babel's territory name; a code Babel does not know as it is."""
    return str(_parsed(locale).territories.get(code.upper(), code))


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """Rounded to the cent half-even, as the linter rounds the amounts it accepts."""
    value = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return money_format(currency, locale).format(value)


@lru_cache(maxsize=256)
def money_format(currency: str, locale: str) -> MoneyFormat:
    """Built once per (currency, locale): Babel's pattern work is done here, not per amount
    (127,409 Babel calls for 12,021 drafts before, issue 12)."""
    return MoneyFormat(currency, locale)


class MoneyFormat:
    """Babel's ``format_currency`` for one currency and locale, without its per-call cost.

    Babel's output for a non-negative amount is a fixed prefix and suffix around the
    amount rounded half-even to the currency's digits, grouped by thousands. The prefix,
    suffix, separators and digits are taken from Babel once, and the result is checked
    against Babel on probe amounts: a currency or locale whose output is not of that shape
    (other grouping, a sign, ...) is formatted by Babel itself, as are negative amounts.
    """

    PROBES = ("0.00", "0.01", "0.10", "0.50", "1.00", "9.99", "12.34", "100.00", "999.99",
              "1000.00", "1234.50", "12345.67", "99999.99", "123456.78", "1000000.00",
              "1234567.89", "12345678901.25", "0.005", "2.5", "3.5", "1234.565")  # fmt: skip

    def __init__(self, currency: str, locale: str) -> None:
        self.currency = currency
        self.locale = _parsed(locale)
        self.digits = get_currency_precision(currency)
        self.quantum = Decimal(1).scaleb(-self.digits)
        self.fast = False  # until the probes below agree with Babel
        self.prefix = self.suffix = ""
        probe = self._babel(Decimal("1234567.89"))
        self.translate = str.maketrans(
            {",": get_group_symbol(self.locale), ".": get_decimal_symbol(self.locale)}
        )
        number = self._plain(Decimal("1234567.89"))
        if probe.count(number) == 1:
            self.prefix, self.suffix = probe.split(number)
            self.fast = all(self.format(Decimal(p)) == self._babel(Decimal(p)) for p in self.PROBES)

    def format(self, value: Decimal) -> str:
        if not self.fast or value.is_signed() or not value.is_finite():
            return self._babel(value)
        return f"{self.prefix}{self._plain(value)}{self.suffix}"

    def _plain(self, value: Decimal) -> str:
        rounded = value.quantize(self.quantum, rounding=ROUND_HALF_EVEN)
        return f"{rounded:,f}".translate(self.translate)

    def _babel(self, value: Decimal) -> str:
        return str(format_currency(value, self.currency, locale=self.locale))


@lru_cache(maxsize=4096)
def format_day(day: date, locale: str) -> str:
    """Always with the year: the linter checks only dates it can read in full. Cached: a
    sweep prints the same few hundred dates (due dates, the dates offered) again and again."""
    return str(format_date(day, format="long", locale=_parsed(locale)))


@lru_cache(maxsize=4096)
def format_day_short(day: date, locale: str) -> str:
    """Without the year (``3月11日``, ``March 11``): only right after a full date of the
    same year, where the reader and the linter take the year from that one (``11 March`` in
    en-GB)."""
    name = babel_locale(locale)
    pattern = "M月d日" if name.startswith("zh") else "d MMMM" if name == "en_GB" else "MMMM d"
    return str(format_date(day, format=pattern, locale=_parsed(locale)))


@lru_cache(maxsize=1024)
def format_rate(rate: Decimal, locale: str) -> str:
    return str(format_percent(Decimal(rate), RATE_PATTERN, locale=_parsed(locale)))
