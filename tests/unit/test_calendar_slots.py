"""D9-D11 and C1: working days, contact slots in the customer's zone, quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifier.domain.calendar import CalendarNotPublished, WorkCalendar
from notifier.domain.policy import AllowedHours, Policy, QuietHoursPolicy, Window, WindowPolicy
from notifier.domain.slots import contact_allowed, next_slot, slots_between, slots_on

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def calendar(policy: Policy) -> WorkCalendar:
    return WorkCalendar(policy.calendar)


def local(day: date, hh: int, mm: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=zone)


def business_slots(day: date, policy: Policy, calendar: WorkCalendar) -> list[tuple[str, str]]:
    found = slots_on(day, kind="business", zone="Asia/Shanghai", country="CN", policy=policy,
                     calendar=calendar)  # fmt: skip
    return [(s.window, s.local_start.strftime("%H:%M")) for s in found]


def test_makeup_saturday_2026_02_28_is_a_working_day_with_both_business_slots(
    policy: Policy, calendar: WorkCalendar
) -> None:
    assert calendar.is_working_day("CN", date(2026, 2, 28))
    assert business_slots(date(2026, 2, 28), policy, calendar) == [
        ("morning", "09:00"),
        ("afternoon", "14:00"),
        ("calls", "14:00"),  # issue 14: calls 14:00-16:00
    ]


def test_sunday_2026_03_01_has_no_business_slot(policy: Policy, calendar: WorkCalendar) -> None:
    assert not calendar.is_working_day("CN", date(2026, 3, 1))
    assert business_slots(date(2026, 3, 1), policy, calendar) == []
    assert calendar.day_off_name("CN", date(2026, 3, 1)) == "weekend"


def test_national_day_2026_10_01_has_no_business_slot(
    policy: Policy, calendar: WorkCalendar
) -> None:
    assert business_slots(date(2026, 10, 1), policy, calendar) == []
    assert calendar.day_off_name("CN", date(2026, 10, 1)) == "National Day"


def test_golden_week_pushes_the_next_business_slot_to_october_8(
    policy: Policy, calendar: WorkCalendar
) -> None:
    slot = next_slot(local(date(2026, 9, 30), 16), kind="business", zone="Asia/Shanghai",
                     country="CN", policy=policy, calendar=calendar)  # fmt: skip
    assert slot is not None
    assert slot.local_start == local(date(2026, 10, 8), 9)
    assert slot.start == datetime(2026, 10, 8, 1, 0, tzinfo=UTC)


def test_individuals_are_contacted_19_to_20_any_day_even_on_holidays(
    policy: Policy, calendar: WorkCalendar
) -> None:
    for day in (date(2026, 3, 1), date(2026, 10, 1)):
        [slot] = slots_on(day, kind="individual", zone="Asia/Shanghai", country="CN",
                          policy=policy, calendar=calendar)  # fmt: skip
        assert (slot.local_start, slot.local_end) == (local(day, 19), local(day, 20))


def test_next_slot_inside_an_open_window_is_that_window(
    policy: Policy, calendar: WorkCalendar
) -> None:
    at = local(date(2026, 3, 2), 9, 30)
    slot = next_slot(at, kind="business", zone="Asia/Shanghai", country="CN", policy=policy,
                     calendar=calendar)  # fmt: skip
    assert slot is not None and slot.is_open(at)
    assert slot.window == "morning"


def test_next_slot_after_the_last_window_of_friday_is_monday_morning(
    policy: Policy, calendar: WorkCalendar
) -> None:
    slot = next_slot(local(date(2026, 3, 6), 16), kind="business", zone="Asia/Shanghai",
                     country="CN", policy=policy, calendar=calendar)  # fmt: skip
    assert slot is not None and slot.local_start == local(date(2026, 3, 9), 9)  # calls end 16:00


def test_next_slot_can_be_limited_to_the_windows_of_a_channel(
    policy: Policy, calendar: WorkCalendar
) -> None:
    slot = next_slot(local(date(2026, 3, 2), 8), kind="business", zone="Asia/Shanghai",
                     country="CN", policy=policy, calendar=calendar,
                     window_names=frozenset({"afternoon"}))  # fmt: skip
    assert slot is not None and slot.local_start == local(date(2026, 3, 2), 14)


def test_slots_between_takes_slots_starting_in_the_half_open_interval(
    policy: Policy, calendar: WorkCalendar
) -> None:
    start = local(date(2026, 3, 2), 9)
    found = list(slots_between(start, start + timedelta(hours=5), kind="business",
                               zone="Asia/Shanghai", country="CN", policy=policy,
                               calendar=calendar))  # fmt: skip
    assert [s.local_start for s in found] == [local(date(2026, 3, 2), 9)]


def test_evening_slot_in_new_york_keeps_local_time_across_the_march_dst_change(
    policy: Policy, calendar: WorkCalendar
) -> None:
    start = local(date(2026, 3, 7), 0, zone=NEW_YORK)
    found = list(slots_between(start, start + timedelta(days=3), kind="individual",
                               zone="America/New_York", country="US", policy=policy,
                               calendar=calendar))  # fmt: skip
    assert [s.local_start.hour for s in found] == [19, 19, 19]
    # EST (UTC-5) on the 7th, EDT (UTC-4) from the 8th: the UTC hour moves, not the local.
    assert [s.start.hour for s in found] == [0, 23, 23]
    assert [s.end - s.start for s in found] == [timedelta(hours=1)] * 3


def test_us_business_slots_skip_independence_day_observed(
    policy: Policy, calendar: WorkCalendar
) -> None:
    # 2026-07-04 is a Saturday; the federal holiday is observed on Friday 2026-07-03.
    day = date(2026, 7, 3)
    assert slots_on(day, kind="business", zone="America/New_York", country="US",
                    policy=policy, calendar=calendar) == []  # fmt: skip


def test_a_year_without_a_published_chinese_calendar_is_reported_not_guessed(
    policy: Policy, calendar: WorkCalendar
) -> None:
    with pytest.raises(CalendarNotPublished, match="CN 2099"):
        calendar.is_working_day("CN", date(2099, 3, 2))
    with pytest.raises(CalendarNotPublished):
        next_slot(local(date(2099, 3, 2), 8), kind="business", zone="Asia/Shanghai",
                  country="CN", policy=policy, calendar=calendar)  # fmt: skip


def test_individual_slots_need_no_working_day_calendar(
    policy: Policy, calendar: WorkCalendar
) -> None:
    slot = next_slot(local(date(2099, 3, 2), 8), kind="individual", zone="Asia/Shanghai",
                     country="CN", policy=policy, calendar=calendar)  # fmt: skip
    assert slot is not None and slot.local_start == local(date(2099, 3, 2), 19)


QUIET = QuietHoursPolicy(
    default=AllowedHours(start=time(8), end=time(21)),
    countries={"CN": AllowedHours(start=time(8), end=time(22))},
)


@pytest.mark.parametrize(
    ("hh", "mm", "country", "zone", "allowed"),
    [
        (7, 59, "CN", SHANGHAI, False),
        (8, 0, "CN", SHANGHAI, True),
        (21, 30, "CN", SHANGHAI, True),
        (22, 0, "CN", SHANGHAI, False),
        (20, 59, "US", NEW_YORK, True),
        (21, 0, "US", NEW_YORK, False),
        (7, 30, "US", NEW_YORK, False),
    ],
)
def test_quiet_hours_are_judged_in_the_debtors_local_time(
    hh: int, mm: int, country: str, zone: ZoneInfo, allowed: bool
) -> None:
    at = local(date(2026, 3, 2), hh, mm, zone=zone).astimezone(UTC)
    assert contact_allowed(at, zone=zone.key, country=country, quiet_hours=QUIET) is allowed


def test_quiet_hours_clip_a_window_that_reaches_into_them(
    policy: Policy, calendar: WorkCalendar
) -> None:
    late = Window(name="late", start=time(20, 30), end=time(22, 30), days="any")
    early = Window(name="early", start=time(6), end=time(7, 30), days="any")
    windows = WindowPolicy(business=policy.windows.business, individual=(early, late))
    strict = policy.model_copy(update={"windows": windows, "quiet_hours": QUIET})
    us = slots_on(date(2026, 3, 2), kind="individual", zone="America/New_York", country="US",
                  policy=strict, calendar=calendar)  # fmt: skip
    assert [(s.local_start.time(), s.local_end.time()) for s in us] == [(time(20, 30), time(21))]
    cn = slots_on(date(2026, 3, 2), kind="individual", zone="Asia/Shanghai", country="CN",
                  policy=strict, calendar=calendar)  # fmt: skip
    assert [(s.local_start.time(), s.local_end.time()) for s in cn] == [(time(20, 30), time(22))]
