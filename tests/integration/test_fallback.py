"""D17: an e-mail unread after 24 h is followed by one SMS draft, and only then."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Payment, Receivable, Reminder
from notifier.sweeps.context import SweepContext
from notifier.sweeps.fallback import fallback
from tests.support import sweep_context

SH = ZoneInfo("Asia/Shanghai")
SENT = datetime(2026, 3, 2, 9, 5, tzinfo=SH)
LATER = SENT + timedelta(hours=25)


def context(policy: Policy) -> SweepContext:
    return sweep_context(policy)


@pytest.fixture
def email_sent(engine: Engine) -> int:
    with unit_of_work(engine) as s:
        s.add(Customer(id="C1", name="上海星辰贸易有限公司", kind="business",
                       phone="+8613912345678", email="ap@xingchen.example",
                       created_at=SENT, updated_at=SENT))  # fmt: skip
        s.flush()
        s.add(Receivable(id="R1", customer_id="C1", amount_cents=8_600_000,
                         issued_on=date(2026, 1, 20), due_on=date(2026, 2, 20),
                         created_at=SENT, updated_at=SENT))  # fmt: skip
        r = Reminder(customer_id="C1", step="offer", cycle="R1@2026-02-20", channel="email",
                     address="ap@xingchen.example", status="delivered", stage="m1", tier="B",
                     tone="neutral", locale="zh-CN", window="morning", slot_start=SENT,
                     slot_end=SENT + timedelta(hours=1), subject="账单提醒", body="...",
                     created_at=SENT, updated_at=SENT, sent_at=SENT,
                     provider_id="<m@x>")  # fmt: skip
        s.add(r)
        s.flush()
        assert r.id is not None
        return r.id


def sms_of(engine: Engine, email_id: int) -> list[Reminder]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(Reminder).where(col(Reminder.fallback_of) == email_id)))


def test_unread_email_gets_one_sms_draft_in_the_next_sms_slot(
    engine: Engine, policy: Policy, email_sent: int
) -> None:
    ctx = context(policy)
    assert fallback(engine, SENT + timedelta(hours=23), ctx).drafted == 0  # not 24 h yet
    assert fallback(engine, LATER, ctx).drafted == 1
    assert fallback(engine, LATER + timedelta(hours=1), ctx).drafted == 0  # never twice
    [sms] = sms_of(engine, email_sent)
    assert sms.channel == "sms" and sms.status == "pending_approval" and sms.lint == []
    assert sms.slot_start.astimezone(SH) == datetime(2026, 3, 3, 14, 0, tzinfo=SH)
    assert "回复TD退订" in sms.body and "86,000.00" in sms.body


@pytest.mark.parametrize("field", ["read_at", "clicked_at", "replied_at"])
def test_a_read_clicked_or_answered_email_needs_no_fallback(
    engine: Engine, policy: Policy, email_sent: int, field: str
) -> None:
    with unit_of_work(engine) as s:
        r = s.get(Reminder, email_sent)
        assert r is not None
        setattr(r, field, SENT + timedelta(hours=2))
    assert fallback(engine, LATER, context(policy)).drafted == 0


def test_a_payment_since_the_email_needs_no_fallback(
    engine: Engine, policy: Policy, email_sent: int
) -> None:
    with unit_of_work(engine) as s:
        s.add(Payment(id="P1", invoice_id="R1", amount_cents=100_000, paid_on=date(2026, 3, 2),
                      created_at=SENT, updated_at=SENT))  # fmt: skip
    report = fallback(engine, LATER, context(policy))
    assert report.drafted == 0 and report.skipped["paid since the e-mail"] == 1


def test_auto_approve_fallback_policy_approves_a_clean_draft(
    engine: Engine, policy: Policy, email_sent: int
) -> None:
    planning = policy.planning.model_copy(update={"auto_approve_fallback": True})
    auto = policy.model_copy(update={"planning": planning})
    assert fallback(engine, LATER, context(auto)).drafted == 1
    [sms] = sms_of(engine, email_sent)
    assert sms.status == "approved" and sms.decided_by == "policy:auto_approve_fallback"
