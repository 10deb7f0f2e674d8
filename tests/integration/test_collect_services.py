"""Instalment plans made from a count (D20), shown and cancelled, and payments flowing in
(issue 14, item 6) through the services, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from notifier.domain.policy import Policy
from notifier.services import payments, plans
from notifier.services.common import UnknownRecord
from notifier.services.plans import PlanError
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.store.models import (
    Customer,
    Event,
    InstalmentPlan,
    Payment,
    Receivable,
    Reminder,
)
from notifier.store.queries import items_for
from tests.fakes.postgres import wait_until_blocked_on_a_lock
from tests.integration.collect_support import planned_portfolio

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # after the drafts of 08:00


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'collect.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def drafted(db: Engine, policy: Policy) -> dict[str, int]:
    """C1 owes 10,000 + 4,000 (C1-2 partly paid), C2 owes 3,000; each has a pending draft."""
    return planned_portfolio(db, policy)


def status_of(engine: Engine, reminder_id: int) -> tuple[str, str | None]:
    with unit_of_work(engine) as s:
        r = s.get(Reminder, reminder_id)
        assert r is not None
        return r.status, r.reason


def customers_of(engine: Engine, ids: list[int]) -> set[str]:
    with unit_of_work(engine) as s:
        return set(s.scalars(select(col(Reminder.customer_id)).where(col(Reminder.id).in_(ids))))


def test_four_monthly_instalments_before_the_10th_add_up_to_what_is_owed(
    drafted: dict[str, int], db: Engine
) -> None:
    with unit_of_work(db) as s:
        plan = plans.plan_for_customer(s, "C1", 4, "li", NOW)
        assert plan.id is not None
        plan_id = plan.id
    with unit_of_work(db) as s:
        [view] = plans.plans_of(s, "C1", NOW)
        items = items_for(s, ["C1"])["C1"]
    assert view.total == Decimal("14000.00") and view.status == "active"
    assert [i.amount for i in view.instalments] == [Decimal("3500.00")] * 4
    assert sum(i.amount for i in view.instalments) == view.total
    assert [i.due_on for i in view.instalments] == [
        date(2026, 3, 10),
        date(2026, 4, 10),
        date(2026, 5, 10),
        date(2026, 6, 10),
    ]
    assert [i.id for i in items] == [f"PLAN{plan_id}/{n}" for n in (1, 2, 3, 4)]
    assert set(view.invoices) == {"C1-1", "C1-2"}
    # The draft asked for the invoices, which no longer fall due: cancelled with the reason.
    assert status_of(db, drafted["C1"]) == (
        "cancelled",
        f"rescheduled into instalment plan #{plan_id}",
    )
    assert status_of(db, drafted["C2"])[0] == "pending_approval"


def test_20000_owed_becomes_5000_a_month_due_before_the_10th(db: Engine) -> None:
    """Seed 000's case through the service: --count 4 --day 10 on a customer owing 20,000."""
    with unit_of_work(db) as s:
        s.add(Customer(id="K1", name="个人客户", kind="individual", created_at=NOW, updated_at=NOW))
        s.flush()
        for rid, cents in (("K1-1", 1_200_000), ("K1-2", 800_000)):
            s.add(
                Receivable(
                    id=rid,
                    customer_id="K1",
                    amount_cents=cents,
                    issued_on=date(2026, 1, 1),
                    due_on=date(2026, 1, 31),
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    with unit_of_work(db) as s:
        plans.plan_for_customer(s, "K1", 4, "li", NOW, due_day=10)
    with unit_of_work(db) as s:
        [view] = plans.plans_of(s, "K1", NOW)
    assert [(i.amount, i.due_on) for i in view.instalments] == [
        (Decimal("5000.00"), date(2026, 3, 10)),
        (Decimal("5000.00"), date(2026, 4, 10)),
        (Decimal("5000.00"), date(2026, 5, 10)),
        (Decimal("5000.00"), date(2026, 6, 10)),
    ]
    assert sum(i.amount for i in view.instalments) == view.total == Decimal("20000.00")


def test_the_articles_plans_20000_in_5000s_and_three_with_30_percent_first() -> None:
    four = plans.schedule_of(Decimal("20000"), 4, date(2026, 3, 2), due_day=10)
    assert [(i.amount, i.due_on) for i in four] == [
        (Decimal("5000"), date(2026, 3, 10)),
        (Decimal("5000"), date(2026, 4, 10)),
        (Decimal("5000"), date(2026, 5, 10)),
        (Decimal("5000"), date(2026, 6, 10)),
    ]
    three = plans.schedule_of(Decimal("20000"), 3, date(2026, 3, 15), first_percent=Decimal(30))
    assert [i.amount for i in three] == [Decimal("6000.00"), Decimal("7000.00"), Decimal("7000.00")]
    assert [i.due_on for i in three] == [date(2026, 4, 10), date(2026, 5, 10), date(2026, 6, 10)]
    odd = plans.schedule_of(Decimal("10000.00"), 3, date(2026, 3, 2))
    assert [i.amount for i in odd] == [Decimal("3333.33"), Decimal("3333.33"), Decimal("3333.34")]
    assert sum(i.amount for i in odd) == Decimal("10000.00")


@pytest.mark.parametrize(
    ("count", "percent", "day", "says"),
    [
        (0, None, 10, "must be 1 to 36"),
        (37, None, 10, "must be 1 to 36"),
        (3, None, 31, "due day must be 1 to 28"),
        (3, Decimal(100), 10, "less than 100"),
        (1, Decimal(30), 10, "at least 2 instalments"),
    ],
)
def test_a_plan_outside_its_bounds_is_refused_with_the_reason(
    count: int, percent: Decimal | None, day: int, says: str
) -> None:
    with pytest.raises(PlanError, match=says):
        plans.schedule_of(
            Decimal("20000"), count, date(2026, 3, 2), first_percent=percent, due_day=day
        )


def test_cancelling_a_plan_lets_its_invoices_fall_due_again_and_keeps_it_as_evidence(
    drafted: dict[str, int], db: Engine
) -> None:
    with unit_of_work(db) as s:
        plan = plans.plan_for_customer(s, "C2", 3, "li", NOW, first_percent=Decimal(30))
        plan_id = plan.id or 0
    with unit_of_work(db) as s:
        plans.cancel_plan(s, plan_id, "zhao", NOW, note="客户要求一次付清")
    with unit_of_work(db) as s:
        [view] = plans.plans_of(s, "C2", NOW)
        assert [i.id for i in items_for(s, ["C2"])["C2"]] == ["C2-1"]
        kinds = list(s.scalars(select(col(Event.kind)).where(col(Event.customer_id) == "C2")))
        stored = s.get(InstalmentPlan, plan_id)
        assert stored is not None and stored.cancelled_by == "zhao"
    assert view.status == "cancelled" and view.invoices == ("C2-1",)
    assert {i.status for i in view.instalments} == {"cancelled"}
    assert [i.amount for i in view.instalments] == [
        Decimal("900.00"),
        Decimal("1050.00"),
        Decimal("1050.00"),
    ]
    assert "instalment_plan" in kinds and "instalment_plan_cancelled" in kinds
    with pytest.raises(PlanError, match="already cancelled"), unit_of_work(db) as s:
        plans.cancel_plan(s, plan_id, "zhao", NOW)
    with pytest.raises(UnknownRecord, match="no instalment plan"), unit_of_work(db) as s:
        plans.cancel_plan(s, 999, "zhao", NOW)


def test_a_partial_payment_cancels_the_draft_that_names_the_old_total(
    drafted: dict[str, int], db: Engine, policy: Policy
) -> None:
    paid = payments.PaymentIn("API-1", "C1-1", Decimal("2000.00"), date(2026, 3, 2))
    with unit_of_work(db) as s:
        answer = payments.record_payment(s, paid, "erp", NOW, policy)
    # Every live message of C1 (the written one, and its call task where the policy has
    # one) named 14,000.00; C2's are untouched.
    assert answer["status"] == "recorded" and drafted["C1"] in answer["cancelled"]
    assert customers_of(db, answer["cancelled"]) == {"C1"}
    assert answer["outstanding"] == {"CNY": "12000.00"}
    status, reason = status_of(db, drafted["C1"])
    assert status == "cancelled" and reason is not None
    assert "the amount owed changed (payment API-1): 14000.00 -> 12000.00" in reason
    assert status_of(db, drafted["C2"])[0] == "pending_approval"
    # The same payment again changes nothing; the same id with other facts is refused.
    with unit_of_work(db) as s:
        again = payments.record_payment(s, paid, "erp", NOW, policy)
    assert again["status"] == "unchanged" and again["cancelled"] == []
    other = payments.PaymentIn("API-1", "C1-1", Decimal("2500.00"), date(2026, 3, 2))
    with pytest.raises(payments.PaymentConflict, match="recorded already"), unit_of_work(db) as s:
        payments.record_payment(s, other, "erp", NOW, policy)
    with unit_of_work(db) as s:
        assert (
            s.scalars(select(Payment).where(col(Payment.id) == "API-1")).one().amount_cents
            == 200_000
        )


def test_a_customer_that_settled_has_its_pending_drafts_cancelled(
    drafted: dict[str, int], db: Engine, policy: Policy
) -> None:
    paid = payments.PaymentIn("API-2", "C2-1", Decimal("3000.00"), date(2026, 3, 2))
    with unit_of_work(db) as s:
        answer = payments.record_payment(s, paid, "erp", NOW, policy)
    assert answer["outstanding"] == {"CNY": "0.00"}
    status, reason = status_of(db, drafted["C2"])
    assert (status, reason) == ("cancelled", "nothing is owed any more (payment API-2)")


def test_an_unknown_invoice_is_not_found_and_nothing_is_written(
    drafted: dict[str, int], db: Engine, policy: Policy
) -> None:
    paid = payments.PaymentIn("API-3", "NOPE", Decimal("1.00"), date(2026, 3, 2))
    with pytest.raises(UnknownRecord, match="no invoice with id 'NOPE'"), unit_of_work(db) as s:
        payments.record_payment(s, paid, "erp", NOW, policy)


def test_read_payment_names_every_bad_field(policy: Policy) -> None:
    with pytest.raises(payments.PaymentRefused) as caught:
        payments.read_payment(
            {
                "payment_id": "P/1",
                "invoice_id": "",
                "amount": "-5",
                "paid_on": "2099-01-01",
                "extra": 1,
            },
            policy,
            NOW,
        )
    named = [d["loc"][1] for d in caught.value.detail()]
    assert named == ["payment_id", "invoice_id", "amount", "paid_on", "extra"]
    ok = payments.read_payment(
        {"payment_id": "P1", "invoice_id": "C1-1", "amount": 5000.5, "paid_on": "2026/3/2"},
        policy,
        NOW,
    )
    assert ok == payments.PaymentIn("P1", "C1-1", Decimal("5000.5"), date(2026, 3, 2))


def test_one_idempotency_key_answers_once_and_refuses_another_body(
    drafted: dict[str, int], db: Engine
) -> None:
    calls: list[int] = []

    def work() -> tuple[int, dict[str, object]]:
        calls.append(1)
        return 201, {"n": len(calls)}

    body = {"payment_id": "X", "amount": "1"}
    with unit_of_work(db) as s:
        assert payments.once(s, "k-1", "payments", "erp", body, NOW, work) == (201, {"n": 1}, False)
    with unit_of_work(db) as s:
        same = payments.once(
            s, "k-1", "payments", "erp", {"amount": "1", "payment_id": "X"}, NOW, work
        )
    assert same == (201, {"n": 1}, True) and len(calls) == 1
    with pytest.raises(payments.KeyReused, match="another request"), unit_of_work(db) as s:
        payments.once(s, "k-1", "payments", "erp", {"payment_id": "Y"}, NOW, work)
    assert len(calls) == 1


def test_two_requests_racing_with_one_key_do_the_work_once(
    drafted: dict[str, int], db: Engine, policy: Policy
) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite serialises its writers: there is no race to wait on")
    paid = payments.PaymentIn("RACE-1", "C1-1", Decimal("100.00"), date(2026, 3, 2))
    body = {"payment_id": "RACE-1", "invoice_id": "C1-1", "amount": "100", "paid_on": "2026-03-02"}
    second: list[BaseException | None] = []

    def work_in(session: Session) -> Callable[[], tuple[int, dict[str, Any]]]:
        return lambda: (201, payments.record_payment(session, paid, "erp", NOW, policy))

    def retry() -> None:
        try:
            with unit_of_work(db) as s:
                payments.once(s, "race", "payments", "erp", body, NOW, work_in(s))
            second.append(None)
        except BaseException as exc:  # handed to the test's thread
            second.append(exc)

    with unit_of_work(db) as first:
        payments.once(first, "race", "payments", "erp", body, NOW, work_in(first))
        thread = threading.Thread(target=retry)
        thread.start()
        wait_until_blocked_on_a_lock(db, thread)
    thread.join(timeout=30)
    assert len(second) == 1 and isinstance(second[0], payments.KeyReused)
    with unit_of_work(db) as s:  # asked again, the key answers what the first one did
        code, answer, replayed = payments.once(s, "race", "payments", "erp", body, NOW, work_in(s))
    assert (code, answer["status"], replayed) == (201, "recorded", True)
    with unit_of_work(db) as s:
        assert (
            s.scalars(select(Payment).where(col(Payment.id) == "RACE-1")).one().amount_cents
            == 10_000
        )
