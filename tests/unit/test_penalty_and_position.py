from datetime import date
from decimal import Decimal

from notifier.domain.items import Item, PaymentFact, cents_to_money, local_date, money_to_cents
from notifier.domain.penalty import describe_rate, penalty_so_far
from notifier.domain.position import position

RATE = Decimal("0.0005")


def test_penalty_is_outstanding_times_rate_times_days_overdue() -> None:
    invoice = Item("I1", Decimal("86000.00"), date(2026, 1, 1), date(2026, 2, 1))
    # 2026-02-01 due, 2026-02-06 is 5 days overdue: 86000 x 0.0005 x 5 = 215.00
    assert penalty_so_far(invoice, date(2026, 2, 6), RATE) == Decimal("215.00")


def test_no_penalty_on_or_before_the_due_date() -> None:
    invoice = Item("I1", Decimal("1000"), date(2026, 1, 1), date(2026, 2, 1))
    assert penalty_so_far(invoice, date(2026, 2, 1), RATE) == Decimal("0.00")
    assert penalty_so_far(invoice, date(2026, 1, 20), RATE) == Decimal("0.00")


def test_partial_payment_lowers_the_penalty_from_the_day_after_it() -> None:
    invoice = Item(
        "I1",
        Decimal("10000"),
        date(2026, 1, 1),
        date(2026, 2, 1),
        payments=(PaymentFact(Decimal("4000"), date(2026, 2, 5)),),
    )
    # days 2/2..2/5 on 10000 (4 days), 2/6..2/11 on 6000 (6 days): 20 + 18 = 38.00
    assert penalty_so_far(invoice, date(2026, 2, 11), RATE) == Decimal("38.00")


def test_receivable_rate_overrides_the_default() -> None:
    invoice = Item(
        "I1",
        Decimal("1000"),
        date(2026, 1, 1),
        date(2026, 2, 1),
        penalty_rate_daily=Decimal("0.001"),
    )
    assert penalty_so_far(invoice, date(2026, 2, 11), RATE) == Decimal("10.00")


def test_settled_item_stops_accruing() -> None:
    invoice = Item(
        "I1",
        Decimal("1000"),
        date(2026, 1, 1),
        date(2026, 2, 1),
        payments=(PaymentFact(Decimal("1000"), date(2026, 2, 3)),),
    )
    assert penalty_so_far(invoice, date(2026, 3, 1), RATE) == Decimal("1.00")


def test_rate_reads_as_a_percentage() -> None:
    assert describe_rate(Decimal("0.0005")) == "0.05%"


def test_cents_round_trip() -> None:
    assert cents_to_money(8600000) == Decimal("86000.00")
    assert money_to_cents(Decimal("86000.005")) == 8600001


def test_local_date_is_the_customers_day() -> None:
    from datetime import UTC, datetime

    instant = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
    assert local_date(instant, "Asia/Shanghai") == date(2026, 3, 2)
    assert local_date(instant, "America/New_York") == date(2026, 3, 1)


def test_position_aggregates_all_open_items_like_the_seed_example() -> None:
    # seed 003: 3 invoices totalling 86,000 unpaid, 2 of them 5 days overdue, 0.05 %/day
    today = date(2026, 3, 6)
    items = [
        Item("A", Decimal("30000"), date(2026, 2, 1), date(2026, 3, 1)),
        Item("B", Decimal("26000"), date(2026, 2, 1), date(2026, 3, 1)),
        Item("C", Decimal("30000"), date(2026, 2, 20), date(2026, 3, 20)),
        Item(
            "paid",
            Decimal("500"),
            date(2026, 1, 1),
            date(2026, 2, 1),
            payments=(PaymentFact(Decimal("500"), date(2026, 2, 1)),),
        ),
    ]
    pos = position(items, today, RATE)
    assert len(pos.open_items) == 3
    assert pos.total_outstanding == Decimal("86000.00")
    assert len(pos.overdue_items) == 2
    assert pos.max_days_overdue == 5
    assert pos.total_overdue == Decimal("56000.00")
    assert pos.total_penalty == Decimal("140.00")  # 56000 x 0.0005 x 5
    assert pos.currency == "CNY"
    assert [o.item.id for o in pos.open_items] == ["A", "B", "C"]
