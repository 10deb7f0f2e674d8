"""The manager's week, pure rules (domain/weekly.py): which week, when it is sent, what a
payment recovers, the incentive's rounding, the rate, who had the customer then."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from notifier.domain.items import Item, PaymentFact
from notifier.domain.policy import WeeklyPolicy
from notifier.domain.weekly import (
    Week,
    incentive,
    owner_at,
    recoveries,
    recovery_rate,
    send_slot,
    week_ending_by,
    week_of_slot,
)

MONDAY = date(2026, 3, 9)


def test_the_week_is_the_latest_monday_to_sunday_that_ended_by_the_day() -> None:
    assert week_ending_by(MONDAY) == Week(date(2026, 3, 2), date(2026, 3, 8))
    assert week_ending_by(date(2026, 3, 8)) == Week(date(2026, 3, 2), date(2026, 3, 8))
    assert week_ending_by(date(2026, 3, 7)) == Week(date(2026, 2, 23), date(2026, 3, 1))
    assert week_ending_by(date(2026, 1, 1)) == Week(date(2025, 12, 22), date(2025, 12, 28))


def test_the_send_slot_is_monday_nine_in_the_policy_zone() -> None:
    rules = WeeklyPolicy()
    # 09:00 in Shanghai is 01:00 UTC
    at_nine = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    assert send_slot(at_nine, rules) == at_nine
    assert send_slot(datetime(2026, 3, 11, 12, 0, tzinfo=UTC), rules) == at_nine
    just_before = datetime(2026, 3, 9, 0, 59, tzinfo=UTC)
    assert send_slot(just_before, rules) == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    assert week_of_slot(at_nine, rules) == Week(date(2026, 3, 2), date(2026, 3, 8))
    friday = WeeklyPolicy(send_weekday="friday", send_hour=17, zone="America/New_York")
    slot = send_slot(datetime(2026, 3, 9, 1, 0, tzinfo=UTC), friday)
    assert slot.isoformat() == "2026-03-06T17:00:00-05:00"
    assert week_of_slot(slot, friday) == Week(date(2026, 2, 23), date(2026, 3, 1))


def test_a_payment_recovers_only_what_was_owed_and_only_when_overdue() -> None:
    week = Week(date(2026, 3, 2), date(2026, 3, 8))
    item = Item("I", Decimal("1000.00"), date(2025, 9, 1), date(2025, 11, 1), payments=(
        PaymentFact(Decimal("300.00"), date(2026, 2, 1)),  # before the week
        PaymentFact(Decimal("900.00"), date(2026, 3, 3)),  # 700 was still owed
    ))  # fmt: skip
    early = Item("E", Decimal("50.00"), date(2026, 3, 1), date(2026, 3, 10),
                 payments=(PaymentFact(Decimal("50.00"), date(2026, 3, 4)),))  # fmt: skip
    found = recoveries([item, early], week)
    assert [(r.item_id, r.applied, r.days_overdue, r.recovered, r.past(90)) for r in found] == [
        ("I", Decimal("700.00"), 122, True, True),
        ("E", Decimal("50.00"), -6, False, False),
    ]


def test_ninety_days_overdue_is_not_past_ninety() -> None:
    week = Week(date(2026, 3, 2), date(2026, 3, 8))
    item = Item("I", Decimal("10.00"), date(2025, 9, 1), date(2025, 12, 4),
                payments=(PaymentFact(Decimal("10.00"), date(2026, 3, 4)),))  # fmt: skip
    (r,) = recoveries([item], week)
    assert r.days_overdue == 90 and not r.past(90) and r.past(89)


def test_the_incentive_is_rounded_half_up_to_the_cent() -> None:
    assert incentive(Decimal("1234.56"), Decimal("0.01")) == Decimal("12.35")
    assert incentive(Decimal("1234.50"), Decimal("0.01")) == Decimal("12.35")  # 12.345
    assert incentive(Decimal("0.00"), Decimal("0.01")) == Decimal("0.00")


def test_the_recovery_rate_is_none_when_nothing_was_overdue() -> None:
    assert recovery_rate(Decimal("48000.50"), Decimal("120000.00")) == Decimal("0.4000")
    assert recovery_rate(Decimal("1234.56"), Decimal("4234.56")) == Decimal("0.2915")
    assert recovery_rate(Decimal("2000.00"), Decimal("0.00")) is None


def test_the_owner_at_a_time_is_the_collector_before_the_next_hand_over() -> None:
    escalated = datetime(2026, 3, 5, 4, 0, tzinfo=UTC)
    handed_back = datetime(2026, 3, 7, 4, 0, tzinfo=UTC)
    changes = [(handed_back, "zhang"), (escalated, "li")]  # any order
    assert owner_at(datetime(2026, 3, 4, tzinfo=UTC), "li", changes) == "li"
    assert owner_at(datetime(2026, 3, 6, tzinfo=UTC), "li", changes) == "zhang"
    assert owner_at(datetime(2026, 3, 8, tzinfo=UTC), "li", changes) == "li"
    assert owner_at(datetime(2026, 3, 8, tzinfo=UTC), "wang", []) == "wang"
