from datetime import date, timedelta
from decimal import Decimal

import pytest

from notifier.domain.items import Item, PaymentFact
from notifier.domain.policy import StagePolicy
from notifier.domain.stages import customer_stage, oldest_open, stage_for_days

POLICY = StagePolicy()
TODAY = date(2026, 3, 2)


def item(item_id: str, days_overdue: int, amount: str = "1000", **kw: object) -> Item:
    due = TODAY - timedelta(days=days_overdue)
    return Item(item_id, Decimal(amount), due - timedelta(days=30), due, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("days", "stage"),
    [
        (-4, "current"),
        (-3, "pre_due"),
        (0, "pre_due"),
        (1, "m1"),
        (30, "m1"),
        (31, "m2"),
        (60, "m2"),
        (61, "m3"),
        (90, "m3"),
        (91, "legal"),
        (400, "legal"),
    ],
)
def test_stage_boundaries_follow_days_past_due(days: int, stage: str) -> None:
    assert stage_for_days(days, POLICY) == stage
    assert customer_stage([item("I1", days)], TODAY, POLICY).stage == stage


def test_stage_bounds_come_from_the_policy() -> None:
    tighter = StagePolicy(pre_due_days=5, m1_max=15, m2_max=45, m3_max=75)
    assert stage_for_days(-5, tighter) == "pre_due"
    assert stage_for_days(16, tighter) == "m2"
    assert stage_for_days(76, tighter) == "legal"


def test_policy_refuses_unordered_stage_bounds() -> None:
    with pytest.raises(ValueError, match="m1_max < m2_max < m3_max"):
        StagePolicy(m1_max=60, m2_max=30, m3_max=90)


def test_stage_is_set_by_the_oldest_open_item_not_the_newest() -> None:
    result = customer_stage([item("new", 2), item("old", 45), item("soon", -1)], TODAY, POLICY)
    assert (result.stage, result.days_overdue, result.oldest_item_id) == ("m2", 45, "old")


def test_paid_items_do_not_set_the_stage() -> None:
    paid = item("old", 70, payments=(PaymentFact(Decimal("1000"), TODAY - timedelta(days=1)),))
    result = customer_stage([paid, item("new", 5)], TODAY, POLICY)
    assert (result.stage, result.oldest_item_id) == ("m1", "new")


def test_payment_after_the_day_asked_about_is_ignored_in_a_replay() -> None:
    later = item("old", 70, payments=(PaymentFact(Decimal("1000"), TODAY + timedelta(days=1)),))
    assert customer_stage([later], TODAY, POLICY).stage == "m3"


def test_partially_paid_item_stays_open() -> None:
    partial = item("old", 40, payments=(PaymentFact(Decimal("999.99"), TODAY),))
    assert customer_stage([partial], TODAY, POLICY).stage == "m2"


def test_customer_with_nothing_open_is_settled_and_due_no_reminder() -> None:
    paid = item("a", 10, payments=(PaymentFact(Decimal("1000"), TODAY),))
    result = customer_stage([paid], TODAY, POLICY)
    assert result.stage == "settled"
    assert result.reminder_stage is None


def test_disputed_item_is_paused_and_the_undisputed_one_sets_the_stage() -> None:
    result = customer_stage([item("bad", 50, disputed=True), item("ok", 4)], TODAY, POLICY)
    assert (result.stage, result.oldest_item_id) == ("m1", "ok")


def test_items_due_the_same_day_set_the_stage_by_id() -> None:
    result = customer_stage([item("B", 10), item("A", 10), item("C", 3)], TODAY, POLICY)
    assert result.oldest_item_id == "A"
    assert oldest_open([item("B", 10), item("A", 10)], TODAY) == item("A", 10)
    assert oldest_open([item("paid", 10, payments=(PaymentFact(Decimal("1000"), TODAY),))],
                       TODAY) is None  # fmt: skip
