"""D20 through the store: rescheduled invoices give way to their instalments."""

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from notifier.domain.instalments import monthly_schedule
from notifier.services.plans import PlanError, create_plan
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, InstalmentPlan, Payment, Receivable
from notifier.store.queries import items_for
from tests.fakes.postgres import wait_until_blocked_on_a_lock

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def owed(engine: Engine) -> Engine:
    with unit_of_work(engine) as s:
        s.add(Customer(id="C1", name="个人客户", kind="individual", created_at=NOW, updated_at=NOW))
        s.flush()
        for rid, cents in (("R1", 1_200_000), ("R2", 800_000)):
            s.add(Receivable(id=rid, customer_id="C1", amount_cents=cents,
                             issued_on=date(2026, 1, 1), due_on=date(2026, 1, 31),
                             created_at=NOW, updated_at=NOW))  # fmt: skip
    return engine


def test_plan_replaces_the_invoices_by_instalments_paid_by_later_payments(owed: Engine) -> None:
    schedule = monthly_schedule(Decimal("20000"), Decimal("5000"), date(2026, 3, 2))
    with unit_of_work(owed) as s:
        create_plan(s, "C1", ["R1", "R2"], schedule, "manager", NOW)
    with unit_of_work(owed) as s:
        s.add(Payment(id="P1", invoice_id="R2", amount_cents=500_000, paid_on=date(2026, 3, 9),
                      created_at=NOW, updated_at=NOW))  # fmt: skip
    with unit_of_work(owed) as s:
        items = items_for(s, ["C1"])["C1"]
    assert [i.id for i in items] == ["PLAN1/1", "PLAN1/2", "PLAN1/3", "PLAN1/4"]
    assert items[0].outstanding_on(date(2026, 3, 10)) == 0
    assert [i.due_on for i in items][1] == date(2026, 4, 10)


def test_a_plan_must_add_up_to_what_is_owed_and_nothing_is_written_otherwise(
    owed: Engine,
) -> None:
    short = monthly_schedule(Decimal("15000"), Decimal("5000"), date(2026, 3, 2))
    with pytest.raises(PlanError, match="add up to 15000"), unit_of_work(owed) as s:
        create_plan(s, "C1", ["R1", "R2"], short, "manager", NOW)
    with unit_of_work(owed) as s:
        assert [i.id for i in items_for(s, ["C1"])["C1"]] == ["R1", "R2"]


def test_two_plans_made_at_once_over_the_same_invoices_do_not_both_take_them(
    owed: Engine, store: str
) -> None:
    if store != "postgresql":
        pytest.skip("SQLite has no row locks to wait on")
    schedule = monthly_schedule(Decimal("20000"), Decimal("5000"), date(2026, 3, 2))
    second: list[BaseException | None] = []

    def other_manager() -> None:
        try:
            with unit_of_work(owed) as s:
                create_plan(s, "C1", ["R2", "R1"], schedule, "wang", NOW)
            second.append(None)
        except BaseException as exc:  # handed to the test's thread
            second.append(exc)

    with unit_of_work(owed) as first:
        create_plan(first, "C1", ["R1", "R2"], schedule, "li", NOW)
        thread = threading.Thread(target=other_manager)
        thread.start()
        wait_until_blocked_on_a_lock(owed, thread)
    thread.join()
    assert len(second) == 1 and isinstance(second[0], PlanError)
    assert "outside a plan: R1, R2" in str(second[0])
    with unit_of_work(owed) as s:
        plans = s.scalars(select(InstalmentPlan)).all()
        assert [p.created_by for p in plans] == ["li"]
        assert {r.plan_id for r in s.scalars(select(Receivable))} == {plans[0].id}
