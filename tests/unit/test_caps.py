from datetime import UTC, datetime, timedelta

from notifier.domain.caps import within_caps
from notifier.domain.policy import CapPolicy

T = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
CAPS = CapPolicy()


def test_one_sms_a_day() -> None:
    assert within_caps(T, [], "sms", CAPS)
    assert not within_caps(T, [T - timedelta(hours=23)], "sms", CAPS)
    assert within_caps(T, [T - timedelta(hours=24)], "sms", CAPS)


def test_three_sms_in_seven_days() -> None:
    sent = [T - timedelta(days=d) for d in (2, 4, 6)]
    assert not within_caps(T, sent, "sms", CAPS)
    assert within_caps(T, sent[:2], "sms", CAPS)
    assert within_caps(T, [T - timedelta(days=d) for d in (7, 8, 9)], "sms", CAPS)


def test_a_later_planned_message_counts_too() -> None:
    assert not within_caps(T, [T + timedelta(hours=5)], "email", CAPS)


def test_zero_cap_blocks_the_channel() -> None:
    assert not within_caps(T, [], "email", CapPolicy(email_per_day=0))
