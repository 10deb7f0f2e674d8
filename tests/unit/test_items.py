from datetime import date
from decimal import Decimal

import pytest

from notifier.domain.items import Item, PaymentFact, cents_to_money

TODAY = date(2026, 3, 2)
ISSUED = date(2026, 1, 1)
DUE = date(2026, 2, 1)


@pytest.mark.parametrize(
    ("cents", "money"),
    [(0, "0.00"), (1, "0.01"), (100, "1.00"), (12345, "123.45"), (-5, "-0.05"),
     (10**18, "10000000000000000.00")],
)  # fmt: skip
def test_cents_become_money_with_two_decimals(cents: int, money: str) -> None:
    result = cents_to_money(cents)
    assert result == Decimal(money) and str(result) == money


def test_item_is_open_until_its_payments_cover_the_amount() -> None:
    item = Item("I1", Decimal("100.00"), ISSUED, DUE, payments=(
        PaymentFact(Decimal("60.00"), date(2026, 2, 10)),
        PaymentFact(Decimal("40.00"), date(2026, 2, 20)),
    ))  # fmt: skip
    assert item.is_open(date(2026, 2, 15)) and item.outstanding_on(date(2026, 2, 15)) == 40
    assert not item.is_open(date(2026, 2, 20)) and item.outstanding_on(TODAY) == 0
    assert not item.is_open(date(2025, 12, 31))  # not issued yet


@pytest.mark.parametrize(
    ("paid", "disputed", "aside"),
    [("0", False, None), ("100.00", False, None), ("30.00", False, None),
     ("0", True, None), ("0", True, "40.00"), ("60.00", True, "40.00"),
     ("59.99", True, "40.00"), ("0", True, "0"), ("0", True, "500.00")],
)  # fmt: skip
def test_collectable_part_is_open_exactly_when_the_undisputed_item_is(
    paid: str, disputed: bool, aside: str | None
) -> None:
    payments = (PaymentFact(Decimal(paid), date(2026, 2, 10)),) if paid != "0" else ()
    item = Item("I1", Decimal("100.00"), ISSUED, DUE, payments=payments, disputed=disputed,
                disputed_amount=None if aside is None else Decimal(aside))  # fmt: skip
    for day in (date(2025, 12, 31), date(2026, 2, 9), TODAY):
        assert item.is_collectable_on(day) == item.undisputed().is_open(day)
