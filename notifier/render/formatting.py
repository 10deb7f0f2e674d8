"""Money, dates and rates as a reader of each locale expects them, via Babel.

The outputs are chosen so that the content linter (notifier.domain.lint) reads them back
to the same values:

===========  ======================  ==================  ==============
locale       money (CNY)             date                daily rate
===========  ======================  ==================  ==============
``zh-CN``    ``¥86,000.00``          ``2026年3月2日``     ``0.05%``
``en``       ``CN¥86,000.00``        ``March 2, 2026``   ``0.05%``
===========  ======================  ==================  ==============

Other currencies get Babel's symbol for the locale (``US$``/``$``, ``€``, ``HK$`` ...).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache, lru_cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_percent

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


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """Rounded to the cent half-even, as the linter rounds the amounts it accepts."""
    return _money(Decimal(amount).quantize(CENT, rounding=ROUND_HALF_EVEN), currency, locale)


@lru_cache(maxsize=4096)
def _money(value: Decimal, currency: str, locale: str) -> str:
    """Babel's formatting was most of a message's rendering time; one e-mail prints each
    amount several times (text, HTML, statement), so a small cache answers most calls."""
    return str(format_currency(value, currency, locale=_parsed(locale)))


def format_day(day: date, locale: str) -> str:
    """Always with the year: the linter checks only dates it can read in full."""
    return str(format_date(day, format="long", locale=_parsed(locale)))


def format_day_short(day: date, locale: str) -> str:
    """Without the year (``3月11日``, ``March 11``): only right after a full date of the
    same year, where the reader and the linter take the year from that one."""
    pattern = "M月d日" if babel_locale(locale).startswith("zh") else "MMMM d"
    return str(format_date(day, format=pattern, locale=_parsed(locale)))


def format_rate(rate: Decimal, locale: str) -> str:
    return str(format_percent(Decimal(rate), RATE_PATTERN, locale=_parsed(locale)))
