"""The deadline a formal letter gives (issue 15): counted in official working days of the
customer's country (D11), China's makeup workdays and holidays included, from the day
after the letter's date."""

from __future__ import annotations

from datetime import date

import pytest

from notifier.domain.calendar import CalendarNotPublished, WorkCalendar
from notifier.domain.letters import add_working_days
from notifier.domain.policy import CalendarPolicy

CN = WorkCalendar(CalendarPolicy())


def cn(day: date) -> bool:
    return CN.is_working_day("CN", day)


def test_a_friday_letter_giving_one_working_day_is_due_on_the_makeup_saturday() -> None:
    # 2026-02-14 is a Saturday that IS a working day (调休 before the Spring Festival).
    assert add_working_days(date(2026, 2, 13), 1, cn) == date(2026, 2, 14)


def test_the_spring_festival_does_not_count() -> None:
    # 15-23 February 2026 are holidays; the 24th is the first working day after them.
    assert add_working_days(date(2026, 2, 14), 1, cn) == date(2026, 2, 24)
    assert add_working_days(date(2026, 2, 14), 5, cn) == date(2026, 2, 28)  # makeup Saturday


def test_golden_week_and_the_us_calendar_differ() -> None:
    assert add_working_days(date(2026, 9, 30), 1, cn) == date(2026, 10, 8)  # 10-01..07 off
    us = add_working_days(date(2026, 9, 30), 1, lambda d: CN.is_working_day("US", d))
    assert us == date(2026, 10, 1)


def test_a_year_without_a_published_calendar_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarNotPublished):
        add_working_days(date(2031, 12, 20), 10, cn)


def test_at_least_one_working_day() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        add_working_days(date(2026, 3, 2), 0, cn)
