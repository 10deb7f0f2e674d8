"""Formal letters (issue 15): the deadline a letter gives, counted in official working
days, and the letter's kinds. Pure: the working-day test is passed in (the customer's
country's calendar, D11, China's makeup workdays included)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

# The letters the cadence sends on paper, by step, and what each is called on the page.
KINDS = ("formal_notice", "final_notice", "lawyer_letter")
MAX_SEARCH_DAYS = 400  # a deadline further off than this is a calendar without workdays


def add_working_days(start: date, n: int, is_working_day: Callable[[date], bool]) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself is not counted): a letter
    dated on a Friday giving 1 working day is due the next Monday, or a makeup Saturday."""
    if n < 1:
        raise ValueError(f"a deadline needs at least 1 working day, not {n}")
    day, counted = start, 0
    for _ in range(MAX_SEARCH_DAYS):
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
            if counted == n:
                return day
    raise ValueError(f"no {n} working days within {MAX_SEARCH_DAYS} days after {start}")
