"""The delivery funnel and the per-collector figures over a small portfolio whose every
count is known, on a real migrated SQLite database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from notifier.domain.policy import Policy
from notifier.reports.aging import build_aging
from notifier.reports.collectors import UNASSIGNED, CollectorRow, Reason, collectors
from notifier.reports.funnel import FunnelRow, by_channel, funnel
from notifier.store.db import unit_of_work
from notifier.store.models import (
    Customer,
    Dispute,
    Instalment,
    InstalmentPlan,
    Payment,
    PaymentPromise,
    Receivable,
    Reminder,
)

SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2026, 3, 8, tzinfo=UTC)
DAY = date(2026, 3, 10)
SINCE_DAY = date(2026, 3, 1)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CREATED = datetime(2026, 3, 1, 12, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def customer(s: Session, cid: str, collector: str | None, zone: str = "Asia/Shanghai",
             **extra: Any) -> None:  # fmt: skip
    s.add(Customer(id=cid, name=f"Customer {cid}", kind="business", phone="+8613900000000",
                   email=f"{cid.lower()}@x.example", timezone=zone, collector=collector,
                   created_at=T0, updated_at=T0, **extra))  # fmt: skip


def receivable(s: Session, rid: str, cid: str, yuan: int, issued: date, due: date,
               currency: str = "CNY", plan_id: int | None = None) -> None:  # fmt: skip
    s.add(Receivable(id=rid, customer_id=cid, amount_cents=yuan * 100, currency=currency,
                     issued_on=issued, due_on=due, plan_id=plan_id, created_at=T0,
                     updated_at=T0))  # fmt: skip


def payment(s: Session, pid: str, rid: str, yuan: int, on: date) -> None:
    s.add(Payment(id=pid, invoice_id=rid, amount_cents=yuan * 100, paid_on=on, created_at=T0,
                  updated_at=T0))  # fmt: skip


def reminder(s: Session, n: int, cid: str, stage: str, channel: str, status: str,
             created: datetime = CREATED, **extra: Any) -> None:  # fmt: skip
    values: dict[str, Any] = {"updated_at": created, **extra}
    s.add(Reminder(customer_id=cid, step=f"step{n}", cycle="c", channel=channel,
                   address="x", status=status, stage=stage, tier="B", tone="neutral",
                   locale="zh-CN", window="morning", slot_start=created,
                   slot_end=created + timedelta(hours=1), body=f"reminder {n}",
                   created_at=created, **values))  # fmt: skip


@pytest.fixture
def portfolio(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        customer(s, "CN1", "li")
        customer(s, "CP", "li")
        customer(s, "NY1", "li", zone="America/New_York")
        customer(s, "SH2", "wang")
        customer(s, "W7", "wang")
        customer(s, "D1", "wang", escalated_at=at(3),
                 escalation_reason="2 broken promises to pay (D21)")  # fmt: skip
        customer(s, "PL", "wang")
        customer(s, "U1", None)
        s.flush()
        plan = InstalmentPlan(customer_id="PL", total_cents=1_200_000, created_at=at(1, 2, 0, 2))
        s.add(plan)
        s.flush()
        assert plan.id is not None
        for seq, due in ((1, date(2026, 2, 10)), (2, date(2026, 3, 5)), (3, date(2026, 4, 10))):
            s.add(Instalment(plan_id=plan.id, seq=seq, amount_cents=400_000, due_on=due))
        # li: 2 open items, 15,000 owed, 10,000 overdue
        receivable(s, "R1", "CN1", 10_000, date(2026, 1, 1), date(2026, 2, 1))
        receivable(s, "R2", "CN1", 5_000, date(2026, 2, 15), date(2026, 3, 20))
        receivable(s, "R3", "CP", 3_000, date(2026, 1, 10), date(2026, 2, 10))
        receivable(s, "R4", "NY1", 2_000, date(2026, 1, 1), date(2026, 1, 31), currency="USD")
        receivable(s, "R5", "SH2", 4_000, date(2026, 1, 5), date(2026, 2, 5))
        receivable(s, "R6", "SH2", 1_000, date(2026, 1, 5), date(2026, 1, 20))
        receivable(s, "R7", "W7", 6_000, date(2026, 1, 1), date(2026, 2, 1))
        receivable(s, "R8", "D1", 8_000, date(2025, 11, 1), date(2025, 12, 1))
        receivable(s, "R9", "PL", 12_000, date(2025, 12, 1), date(2026, 1, 1), plan_id=plan.id)
        receivable(s, "R10", "U1", 1_000, date(2026, 3, 1), date(2026, 3, 31))
        receivable(s, "R11", "CN1", 700, date(2026, 3, 11), date(2026, 4, 11))  # issued later
        s.flush()
        payment(s, "P1", "R3", 1_000, date(2026, 3, 3))
        payment(s, "P2", "R4", 500, date(2026, 3, 2))
        payment(s, "P3", "R5", 4_000, date(2026, 3, 10))
        payment(s, "P5", "R6", 1_000, date(2026, 3, 1))
        payment(s, "P6", "R7", 600, date(2026, 3, 9))
        payment(s, "P7", "R9", 5_000, date(2026, 2, 8))  # to the plan: instalment 1 + 1,000
        payment(s, "P8", "R1", 9_999, date(2026, 3, 11))  # after DAY: not counted anywhere
        s.add(Dispute(invoice_id="R8", reason="faulty goods", opened_at=at(2)))
        s.add(Dispute(invoice_id="R1", reason="old", opened_at=at(1, 0, 0, 2),
                      resolved_at=at(2, 0, 0, 2)))  # fmt: skip
        s.add(PaymentPromise(customer_id="W7", promised_on=date(2026, 3, 15),
                             amount_cents=540_000, recorded_at=at(5)))  # fmt: skip
        s.add(PaymentPromise(customer_id="W7", promised_on=date(2026, 3, 5), status="broken",
                             recorded_at=at(2)))  # fmt: skip
        s.add(PaymentPromise(customer_id="CP", promised_on=date(2026, 3, 8), recorded_at=at(4)))
        # broken, but before the period: not a reason to follow up now
        s.add(PaymentPromise(customer_id="CN1", promised_on=date(2026, 1, 15), status="broken",
                             recorded_at=at(10, 0, 0, 1)))  # fmt: skip

        # m1 / sms
        reminder(s, 1, "CN1", "m1", "sms", "pending_approval")
        reminder(s, 2, "CN1", "m1", "sms", "rejected", decided_by="rev")
        reminder(s, 3, "CP", "m1", "sms", "approved", decided_by="rev")  # CP pays, unsent
        reminder(s, 4, "CN1", "m1", "sms", "sent", decided_by="rev", sent_at=at(2, 1))
        reminder(s, 5, "CN1", "m1", "sms", "delivered", decided_by="rev", sent_at=at(2, 1),
                 delivered_at=at(2, 2))  # fmt: skip
        reminder(s, 6, "CP", "m1", "sms", "delivered", decided_by="rev", sent_at=at(2, 6),
                 delivered_at=at(2, 7), replied_at=at(2, 9))  # fmt: skip
        # no delivery receipt, but the link was followed: it arrived, and was read
        reminder(s, 7, "CN1", "m1", "sms", "sent", decided_by="rev", sent_at=at(2, 1),
                 clicked_at=at(2, 3))  # fmt: skip
        reminder(s, 8, "CN1", "m1", "sms", "failed", decided_by="rev", updated_at=at(4))
        reminder(s, 9, "CN1", "m1", "sms", "cancelled", decided_by="rev")
        reminder(s, 10, "CN1", "m1", "sms", "cancelled")
        reminder(s, 11, "CN1", "m1", "sms", "expired", created=SINCE)  # the first instant
        # m1 / email
        reminder(s, 12, "CN1", "m1", "email", "sent", decided_by="rev", sent_at=at(2, 1))
        reminder(s, 13, "CN1", "m1", "email", "sent", decided_by="rev", sent_at=at(2, 1),
                 read_at=at(2, 4))  # fmt: skip
        reminder(s, 14, "CN1", "m1", "email", "failed", decided_by="rev", sent_at=at(2, 1),
                 updated_at=at(5))  # fmt: skip
        reminder(s, 15, "U1", "m1", "email", "unknown", decided_by="rev")
        # m2 / sms: paid within 7 days, counted on the customer's local calendar
        # sent Mar 3, 02:00 UTC = Mar 2, 21:00 in New York; paid Mar 2
        reminder(s, 16, "NY1", "m2", "sms", "delivered", decided_by="rev",
                 sent_at=at(3, 2), delivered_at=at(3, 2, 1))  # fmt: skip
        reminder(s, 17, "SH2", "m2", "sms", "sent", decided_by="rev", sent_at=at(2, 1))
        # sent Mar 1, 17:00 UTC = Mar 2, 01:00 in Shanghai; paid Mar 9, the 7th day after
        reminder(s, 18, "W7", "m2", "sms", "sent", decided_by="policy:auto",
                 sent_at=at(1, 17))  # fmt: skip
        # m3 / email
        reminder(s, 19, "D1", "m3", "email", "sent", decided_by="rev", sent_at=at(1, 13),
                 read_at=at(1, 15), clicked_at=at(1, 15))  # fmt: skip
        # outside the period
        reminder(s, 20, "CN1", "m1", "sms", "sent", created=SINCE - timedelta(seconds=1),
                 sent_at=SINCE - timedelta(seconds=1))  # fmt: skip
        reminder(s, 21, "CN1", "m1", "sms", "pending_approval", created=UNTIL)
        reminder(s, 22, "CN1", "m1", "sms", "failed", created=at(1, 0, 0, 2),
                 updated_at=at(2, 0, 0, 2))  # fmt: skip


def counts(row: FunnelRow) -> tuple[int, ...]:
    return tuple(n for _, n in row.steps())


def test_funnel_counts_every_step_per_stage_and_channel(engine: Engine, portfolio: None) -> None:
    with unit_of_work(engine) as s:
        rows = funnel(s, SINCE, UNTIL)
    got = {(r.stage, r.channel): counts(r) for r in rows}
    #                          drafted approved sent delivered read paid
    assert got == {
        ("m1", "sms"): (11, 7, 4, 3, 2, 1),
        ("m1", "email"): (4, 4, 3, 2, 1, 0),
        ("m2", "sms"): (3, 3, 3, 1, 0, 2),
        ("m3", "email"): (1, 1, 1, 1, 1, 0),
    }
    assert [(r.stage, r.channel) for r in rows] == [
        ("m1", "sms"), ("m1", "email"), ("m2", "sms"), ("m3", "email")
    ]  # fmt: skip
    totals = {r.channel: counts(r) for r in by_channel(rows)}
    assert totals == {"sms": (14, 10, 7, 4, 2, 3), "email": (5, 5, 4, 3, 2, 0)}


def test_paid_within_7_days_uses_the_customers_local_day(engine: Engine) -> None:
    """Sent at 02:00 UTC on Mar 3 = 21:00 on Mar 2 in New York: a payment dated Mar 2 is
    on the day of sending; Mar 9 is the 7th day after, Mar 10 the 8th."""
    with unit_of_work(engine) as s:
        for cid in ("A", "B", "C"):
            customer(s, cid, "li", zone="America/New_York")
            s.flush()
            receivable(s, f"R{cid}", cid, 100, date(2026, 1, 1), date(2026, 2, 1))
        s.flush()
        payment(s, "PA", "RA", 10, date(2026, 3, 2))
        payment(s, "PB", "RB", 10, date(2026, 3, 9))
        payment(s, "PC1", "RC", 10, date(2026, 3, 10))
        payment(s, "PC2", "RC", 10, date(2026, 3, 1))
        for n, cid in enumerate(("A", "B", "C")):
            reminder(s, n, cid, "m1", "sms", "sent", decided_by="rev", sent_at=at(3, 2))
    with unit_of_work(engine) as s:
        [row] = funnel(s, SINCE, UNTIL)
    assert (row.sent, row.paid) == (3, 2)


def test_an_empty_period_has_no_rows(engine: Engine, portfolio: None) -> None:
    with unit_of_work(engine) as s:
        assert funnel(s, at(20), at(27)) == []


def by_name(rows: list[CollectorRow]) -> dict[str, CollectorRow]:
    return {r.collector: r for r in rows}


def test_collector_figures(engine: Engine, portfolio: None) -> None:
    with unit_of_work(engine) as s:
        rows = collectors(s, DAY, SINCE, UNTIL, SINCE_DAY)
    assert [r.collector for r in rows] == ["li", "wang", UNASSIGNED]
    li, wang, none = (by_name(rows)[k] for k in ("li", "wang", UNASSIGNED))
    money = Decimal
    assert (li.customers, li.open_items, li.reminders_sent) == (3, 4, 8)
    assert li.outstanding == {"CNY": money("17000.00"), "USD": money("1500.00")}
    assert li.overdue == {"CNY": money("12000.00"), "USD": money("1500.00")}
    assert li.collected == {"CNY": money("1000.00"), "USD": money("500.00")}
    # wang: W7 5,400 + D1 8,000 (disputed, still owed) + the plan's instalments 2 and 3
    assert (wang.customers, wang.open_items, wang.reminders_sent) == (4, 4, 3)
    assert wang.outstanding == {"CNY": money("20400.00")}
    assert wang.overdue == {"CNY": money("16400.00")}
    assert wang.collected == {"CNY": money("5600.00")}
    assert (none.customers, none.open_items, none.reminders_sent) == (1, 1, 0)
    assert none.outstanding == {"CNY": money("1000.00")} and none.overdue == {}

    assert [(p.customer_id, p.promised_on, p.amount) for p in wang.promises] == [
        ("W7", date(2026, 3, 15), money("5400.00"))
    ]
    assert li.promises == [] and none.promises == []

    def reasons(row: CollectorRow) -> dict[str, tuple[Reason, ...]]:
        return {f.customer_id: f.reasons for f in row.follow_ups}

    assert reasons(li) == {
        "CN1": (Reason("failed", "email", None), Reason("failed", "sms", None)),
        "CP": (Reason("promise_passed", None, date(2026, 3, 8)),),
    }
    assert reasons(wang) == {
        "D1": (Reason("dispute", "R8", None),
               Reason("escalated", "2 broken promises to pay (D21)", None)),
        "W7": (Reason("broken_promise", None, date(2026, 3, 5)),),
    }  # fmt: skip
    assert reasons(none) == {"U1": (Reason("unknown", "email", None),)}


def test_collector_amounts_agree_with_the_aging_report(
    engine: Engine, portfolio: None, policy: Policy
) -> None:
    """The set-based sums match the domain's item-by-item aging (plans included)."""
    with unit_of_work(engine) as s:
        rows = by_name(collectors(s, DAY, SINCE, UNTIL, SINCE_DAY))
        aging = build_aging(s, DAY, policy)
    for name, row in rows.items():
        mine = [a for a in aging if (a.collector or UNASSIGNED) == name and a.bucket != "settled"]
        assert row.open_items == len(mine)
        owed: dict[str, Decimal] = {}
        late: dict[str, Decimal] = {}
        for a in mine:
            owed[a.currency] = owed.get(a.currency, Decimal(0)) + a.outstanding
            if a.days_overdue > 0:
                late[a.currency] = late.get(a.currency, Decimal(0)) + a.outstanding
        assert row.outstanding == owed and row.overdue == late
