"""The portfolio the tests of the collector's actions share: two_customer_portfolio's data
(C1 owes 10,000 + 4,000, C1-2 partly paid; C2 owes 3,000), planned at 08:00 on Monday
2 March 2026, with the planner's written message (and call task, where the policy has one)
of each customer."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Payment, Receivable, Reminder
from notifier.sweeps.plan import plan
from tests.support import PORTFOLIO_PLANNED, sweep_context

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def planned_portfolio(engine: Engine, policy: Policy) -> dict[str, int]:
    """The pending written message (sms or email) of each customer, by customer id."""
    with unit_of_work(engine) as s:
        s.add_all(
            Customer(
                id=cid,
                name=f"客户{cid}",
                kind="business",
                phone="+8613912345678",
                email=f"{cid.lower()}@x.example",
                collector="li",
                created_at=T0,
                updated_at=T0,
            )
            for cid in ("C1", "C2")
        )
        s.flush()
        s.add_all(
            Receivable(
                id=rid,
                customer_id=rid[:2],
                amount_cents=cents,
                issued_on=issued,
                due_on=due,
                created_at=T0,
                updated_at=T0,
            )
            for rid, cents, issued, due in (
                ("C1-1", 1_000_000, date(2026, 1, 1), date(2026, 1, 30)),
                ("C1-2", 500_000, date(2026, 1, 5), date(2026, 2, 5)),
                ("C2-1", 300_000, date(2026, 1, 1), date(2026, 1, 30)),
            )
        )
        s.flush()
        s.add(
            Payment(
                id="P1",
                invoice_id="C1-2",
                amount_cents=100_000,
                paid_on=date(2026, 2, 10),
                created_at=T0,
                updated_at=T0,
            )
        )
    plan(engine, PORTFOLIO_PLANNED, sweep_context(policy), force=True)
    with unit_of_work(engine) as s:
        written = {
            r.customer_id: r.id or 0
            for r in s.scalars(
                select(Reminder).where(
                    col(Reminder.channel).in_(("sms", "email")),
                    col(Reminder.status) == "pending_approval",
                )
            )
        }
    assert sorted(written) == ["C1", "C2"], written
    return written
