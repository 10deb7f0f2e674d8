"""Plausible input: the one check of a date (or instant) against the policy's window
(``[limits]``), shared by the importer, the CLI's ``--at``, query strings and forms, so
that ``0001-01-01`` or ``9999-12-31`` is refused with a message before any work is done.
"""

from __future__ import annotations

from datetime import date, datetime

from notifier.domain.errors import Refused
from notifier.domain.policy import LimitsPolicy


class OutOfBounds(Refused, ValueError):
    """A value outside the window the policy allows; the message says which window."""


def check_date(value: date, limits: LimitsPolicy) -> date:
    """``value`` itself when it lies inside [earliest_date, latest_date]; else OutOfBounds."""
    day = value.date() if isinstance(value, datetime) else value
    if not limits.earliest_date <= day <= limits.latest_date:
        raise OutOfBounds(
            f"{day.isoformat()} is outside {limits.earliest_date.isoformat()}.."
            f"{limits.latest_date.isoformat()} (policy [limits])"
        )
    return value


def check_instant(value: datetime, limits: LimitsPolicy) -> datetime:
    """The same window for an instant (its calendar day as written)."""
    check_date(value.date(), limits)
    return value
