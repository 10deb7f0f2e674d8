"""When a date leaves a look-back window: the planner's shortcut gives the same day as
stepping one day at a time, for every date over twelve years and several window lengths
(month ends, leap days and year ends included)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from notifier.domain.tiers import months_before
from notifier.sweeps.next_due import _window_passes


def _first_day_outside(day: date, months: int) -> date:
    d = day
    while months_before(d, months) <= day:
        d += timedelta(days=1)
    return d


@pytest.mark.parametrize("months", [1, 2, 6, 11, 12, 13, 24])
def test_a_date_leaves_the_window_on_the_day_a_daily_walk_finds(months: int) -> None:
    day, mismatches = date(2019, 1, 1), []
    while day < date(2031, 1, 1):
        if _window_passes(day, months) != _first_day_outside(day, months):
            mismatches.append(day)
        day += timedelta(days=1)
    assert mismatches == []


def test_the_last_day_of_february_leaves_a_twelve_month_window_a_year_on() -> None:
    assert _window_passes(date(2024, 2, 29), 12) == date(2025, 3, 1)
    assert months_before(date(2025, 2, 28), 12) <= date(2024, 2, 29)
