from datetime import date
from decimal import Decimal

import pytest

from notifier.domain.instalments import allocate, monthly_schedule, share_schedule
from notifier.domain.items import PaymentFact
from notifier.domain.policy import StagePolicy
from notifier.domain.stages import customer_stage


def test_20000_at_5000_a_month_is_four_instalments_due_by_the_10th() -> None:
    plan = monthly_schedule(Decimal("20000"), Decimal("5000"), date(2026, 3, 2))
    assert [(i.seq, i.amount, i.due_on) for i in plan] == [
        (1, Decimal("5000"), date(2026, 3, 10)),
        (2, Decimal("5000"), date(2026, 4, 10)),
        (3, Decimal("5000"), date(2026, 5, 10)),
        (4, Decimal("5000"), date(2026, 6, 10)),
    ]


def test_a_plan_started_after_the_10th_begins_next_month_and_ends_with_the_remainder() -> None:
    plan = monthly_schedule(Decimal("12000"), Decimal("5000"), date(2026, 11, 20))
    assert [(i.amount, i.due_on) for i in plan] == [
        (Decimal("5000"), date(2026, 12, 10)),
        (Decimal("5000"), date(2027, 1, 10)),
        (Decimal("2000"), date(2027, 2, 10)),
    ]


def test_three_instalments_first_30_percent_add_up_to_the_cent() -> None:
    plan = share_schedule(Decimal("10000.01"), Decimal("0.30"), 3, date(2026, 3, 1))
    assert [i.amount for i in plan] == [Decimal("3000.00"), Decimal("3500.00"), Decimal("3500.01")]
    assert sum(i.amount for i in plan) == Decimal("10000.01")


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError):
        monthly_schedule(Decimal("100"), Decimal("0"), date(2026, 3, 1))
    with pytest.raises(ValueError):
        share_schedule(Decimal("100"), Decimal("1.5"), 3, date(2026, 3, 1))


def test_payments_pay_the_oldest_instalment_first_and_the_next_one_sets_the_stage() -> None:
    plan = monthly_schedule(Decimal("20000"), Decimal("5000"), date(2026, 3, 1))
    paid = [PaymentFact(Decimal("7000"), date(2026, 3, 9))]
    items = allocate("PLAN1", plan, paid, date(2026, 3, 1))
    today = date(2026, 4, 15)
    assert items[0].outstanding_on(today) == 0
    assert items[1].outstanding_on(today) == Decimal("3000")
    stage = customer_stage(items, today, StagePolicy())
    assert (stage.stage, stage.oldest_item_id, stage.days_overdue) == ("m1", "PLAN1/2", 5)
