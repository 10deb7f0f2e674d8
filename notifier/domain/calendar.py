"""D11: official working days per country, from the maintained ``holidays`` package.

China publishes its working-day calendar year by year (调休: holidays moved onto weekdays
and weekends made into working days, e.g. Saturday 2026-02-28 is a workday, 2026-10-01..07
are holidays). For such countries (``[calendar] published_yearly``) a year the package
carries no notice for is refused with :class:`CalendarNotPublished`, never guessed from
the rule-based holidays alone. Other countries' calendars are rule-based and always known.
"""

from __future__ import annotations

import sys
from datetime import date
from functools import lru_cache
from importlib.metadata import version

import holidays

from notifier.domain.policy import CalendarPolicy


class CalendarNotPublished(LookupError):
    """The working days of this country and year are not known; nothing is guessed."""

    def __init__(self, country: str, year: int, why: str) -> None:
        self.country = country
        self.year = year
        super().__init__(f"no official working-day calendar for {country} {year}: {why}")


@lru_cache(maxsize=256)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    try:
        return holidays.country_holidays(country, years=year)
    except NotImplementedError as exc:
        raise CalendarNotPublished(
            country, year, "the holidays package has no calendar for this country"
        ) from exc


@lru_cache(maxsize=64)
def published_years(country: str) -> frozenset[int]:
    """Years for which the package carries the country's yearly notice (its special,
    one-off days off and makeup workdays); empty when it has none."""
    cls = type(_holidays(country, 2000))
    module = sys.modules[cls.__module__]
    years: set[int] = set()
    for value in vars(module).values():
        if isinstance(value, type) and value.__name__.endswith("StaticHolidays"):
            years.update(getattr(value, "special_public_holidays", {}))
    return frozenset(years)


class WorkCalendar:
    """Answers "is this an official working day in that country?" for the slot rules."""

    def __init__(self, policy: CalendarPolicy) -> None:
        self._yearly = {c.upper() for c in policy.published_yearly}

    def check_published(self, country: str, year: int) -> None:
        country = country.upper()
        if country in self._yearly and year not in published_years(country):
            known = sorted(published_years(country))
            last = f"the newest year it has is {known[-1]}" if known else "it has none"
            raise CalendarNotPublished(
                country,
                year,
                f"the yearly notice is not in holidays {version('holidays')} ({last}); "
                "upgrade the holidays package once the government publishes it",
            )

    def is_working_day(self, country: str, day: date) -> bool:
        country = country.upper()
        self.check_published(country, day.year)
        calendar = _holidays(country, day.year)
        return bool(calendar.is_working_day(day))

    def day_off_name(self, country: str, day: date) -> str | None:
        """Why ``day`` is not a working day: the holiday's name, "weekend", or None."""
        if self.is_working_day(country, day):
            return None
        name = _holidays(country.upper(), day.year).get(day)
        return str(name) if name else "weekend"
