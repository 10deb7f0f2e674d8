"""The planning sweep replayed hour by hour over a mixed portfolio (issue: planning sweeps).

Real SQLite, real templates, real calendar: drafts only in the right windows (makeup
Saturday yes, Sunday and National Day no for businesses), one draft per customer and step,
none for paid customers, amounts aggregated per customer, legal wording only for flagged
customers, and re-runs create nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from notifier.domain.policy import Policy
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, Payment, PaymentPromise, Receivable, Reminder
from notifier.sweeps.context import SweepContext
from notifier.sweeps.plan import plan
from tests.support import sweep_context

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def customer(s: Session, cid: str, kind: str = "business", **kw: object) -> None:
    fields: dict[str, object] = {
        "name": f"客户{cid}", "phone": "+8613912345678", "email": f"{cid.lower()}@x.example",
        "created_at": T0, "updated_at": T0, **kw,
    }  # fmt: skip
    s.add(Customer(id=cid, kind=kind, **fields))  # type: ignore[arg-type]


def invoice(s: Session, rid: str, cid: str, yuan: int, due: date, **kw: object) -> None:
    s.add(
        Receivable(id=rid, customer_id=cid, amount_cents=yuan * 100, issued_on=due - timedelta(30),
                   due_on=due, created_at=T0, updated_at=T0, **kw)  # type: ignore[arg-type]
    )  # fmt: skip


def paid(s: Session, pid: str, rid: str, yuan: int, on: date) -> None:
    s.add(Payment(id=pid, invoice_id=rid, amount_cents=yuan * 100, paid_on=on, created_at=T0,
                  updated_at=T0))  # fmt: skip


@pytest.fixture
def ctx(policy: Policy) -> SweepContext:
    return sweep_context(policy)


def hours(
    start: datetime, end: datetime, step: timedelta = timedelta(hours=1)
) -> Iterator[datetime]:
    while start <= end:
        yield start
        start += step


def replay(engine: Engine, ctx: SweepContext, first: datetime, last: datetime) -> None:
    for now in hours(first, last):
        plan(engine, now, ctx)


def drafts(engine: Engine) -> list[Reminder]:
    """The drafts, not the call tasks beside them (issue 14: tests/integration/test_calls_flow)."""
    with unit_of_work(engine) as s:
        query = select(Reminder).where(col(Reminder.channel) != "call")
        return list(s.scalars(query.order_by(col(Reminder.id))))


def by_customer(rows: list[Reminder]) -> dict[str, list[Reminder]]:
    result: dict[str, list[Reminder]] = {}
    for r in rows:
        result.setdefault(r.customer_id, []).append(r)
    return result


@pytest.fixture
def spring(engine: Engine) -> Engine:
    """Customers whose steps fall due around the makeup Saturday 2026-02-28."""
    with unit_of_work(engine) as s:
        # D7: three invoices, two of them overdue since 02-22: one friendly reminder.
        customer(s, "AGG")
        customer(s, "SAT")  # friendly step (day +3) falls on Saturday 02-28, a workday
        customer(s, "SUN")  # friendly step falls on Sunday 03-01: waits for Monday
        customer(s, "PAID")
        customer(s, "EVE", kind="individual")  # any day, 19:00-20:00
        customer(s, "LEGAL", legal_authorised=True)
        customer(s, "NOLEGAL")
        customer(s, "PROMISED")
        s.flush()
        invoice(s, "AGG-1", "AGG", 30_000, date(2026, 2, 24))
        invoice(s, "AGG-2", "AGG", 26_000, date(2026, 2, 24))
        invoice(s, "AGG-3", "AGG", 30_000, date(2026, 3, 20))
        invoice(s, "SAT-1", "SAT", 12_000, date(2026, 2, 25))
        invoice(s, "SUN-1", "SUN", 9_000, date(2026, 2, 26))
        invoice(s, "PAID-1", "PAID", 5_000, date(2026, 2, 20))
        invoice(s, "EVE-1", "EVE", 3_000, date(2026, 2, 26))
        invoice(s, "LEGAL-1", "LEGAL", 40_000, date(2026, 1, 13))
        invoice(s, "NOLEGAL-1", "NOLEGAL", 40_000, date(2026, 1, 13))
        invoice(s, "PROMISED-1", "PROMISED", 7_000, date(2026, 2, 20))
        s.flush()
        paid(s, "P1", "PAID-1", 5_000, date(2026, 2, 19))
        s.add(PaymentPromise(customer_id="PROMISED", promised_on=date(2026, 3, 10),
                             recorded_at=T0))  # fmt: skip
    return engine


def local_day(r: Reminder) -> date:
    return r.slot_start.astimezone(SHANGHAI).date()


def test_replay_feb_27_to_mar_3_drafts_only_in_the_right_windows(
    spring: Engine, ctx: SweepContext
) -> None:
    first = datetime(2026, 2, 27, 0, 0, tzinfo=SHANGHAI)
    replay(spring, ctx, first, datetime(2026, 3, 3, 23, 0, tzinfo=SHANGHAI))
    rows = drafts(spring)
    found = by_customer(rows)

    sat = [r for r in found["SAT"] if r.step == "friendly"]
    assert [local_day(r) for r in sat] == [date(2026, 2, 28)]  # makeup Saturday: yes
    assert sat[0].slot_start.astimezone(SHANGHAI).hour == 14 and sat[0].channel == "sms"

    sun = [r for r in found["SUN"] if r.step == "friendly"]
    assert [local_day(r) for r in sun] == [date(2026, 3, 2)]  # Sunday: no, Monday instead

    for r in rows:  # no business slot ever on Sunday 03-01
        if r.customer_id != "EVE":
            assert local_day(r) != date(2026, 3, 1), r
            assert r.slot_start.astimezone(SHANGHAI).hour in (9, 14)
    eve = found["EVE"]
    assert eve and all(r.slot_start.astimezone(SHANGHAI).hour == 19 for r in eve)

    assert "PAID" not in found and "PROMISED" not in found
    pairs = Counter((r.customer_id, r.step) for r in rows)
    assert max(pairs.values()) == 1  # one draft per customer and step
    assert all(r.status == "pending_approval" and r.lint == [] for r in rows)


def test_one_reminder_covers_all_open_items_with_the_right_totals(
    spring: Engine, ctx: SweepContext
) -> None:
    replay(spring, ctx, datetime(2026, 2, 27, 0, 0, tzinfo=SHANGHAI),
           datetime(2026, 2, 27, 23, 0, tzinfo=SHANGHAI))  # fmt: skip
    [agg] = by_customer(drafts(spring))["AGG"]
    assert agg.step == "friendly"  # day +3 of the oldest item
    assert agg.facts["total"] == "86000.00"
    assert "86,000" in agg.body


def test_legal_wording_only_for_legal_authorised_customers(
    spring: Engine, ctx: SweepContext
) -> None:
    replay(spring, ctx, datetime(2026, 3, 2, 0, 0, tzinfo=SHANGHAI),
           datetime(2026, 3, 3, 0, 0, tzinfo=SHANGHAI))  # fmt: skip
    found = by_customer(drafts(spring))
    [legal] = found["LEGAL"]
    [plain] = found["NOLEGAL"]
    assert legal.step == "lawyer_letter" and legal.tone == "formal"
    assert plain.step == "instalment_offer"
    words = ctx.policy.lint.legal_words
    assert any(w in (legal.subject or "") + legal.body for w in words)
    for r in drafts(spring):
        if r.customer_id != "LEGAL":
            text = ((r.subject or "") + r.body).lower()
            assert not [w for w in words if w.isascii() is False and w in text], r.body


def test_rerunning_the_same_days_creates_nothing(spring: Engine, ctx: SweepContext) -> None:
    first = datetime(2026, 2, 27, 0, 0, tzinfo=SHANGHAI)
    last = datetime(2026, 3, 3, 23, 0, tzinfo=SHANGHAI)
    replay(spring, ctx, first, last)
    before = [(r.id, r.customer_id, r.step, r.slot_start) for r in drafts(spring)]
    for now in hours(first, last, timedelta(hours=6)):
        report = plan(spring, now, ctx, force=True)
        assert report.drafted == 0
    assert [(r.id, r.customer_id, r.step, r.slot_start) for r in drafts(spring)] == before
    with unit_of_work(spring) as s:
        drafted_events = s.scalars(select(Event).where(col(Event.kind) == "drafted")).all()
    drafted_events = [e for e in drafted_events if e.data.get("channel") != "call"]
    assert len(drafted_events) == len(before)


def test_a_second_process_in_the_same_tick_does_not_run_the_sweep(
    spring: Engine, ctx: SweepContext
) -> None:
    now = datetime(2026, 2, 27, 10, 0, tzinfo=SHANGHAI)
    assert plan(spring, now, ctx).ran
    assert not plan(spring, now + timedelta(minutes=5), ctx).ran


def test_payment_before_sending_cancels_the_draft_with_the_reason(
    spring: Engine, ctx: SweepContext
) -> None:
    plan(spring, datetime(2026, 2, 28, 0, 0, tzinfo=SHANGHAI), ctx)
    [sat] = by_customer(drafts(spring))["SAT"]
    with unit_of_work(spring) as s:
        paid(s, "P-SAT", "SAT-1", 12_000, date(2026, 2, 28))
    plan(spring, datetime(2026, 2, 28, 1, 0, tzinfo=SHANGHAI), ctx)
    [after] = by_customer(drafts(spring))["SAT"]
    assert after.id == sat.id and after.status == "cancelled"
    assert after.reason and "paid" in after.reason


@pytest.fixture
def golden_week(engine: Engine) -> Engine:
    with unit_of_work(engine) as s:
        customer(s, "BIZ")  # friendly step due on 10-01 (National Day)
        customer(s, "IND", kind="individual")
        s.flush()
        invoice(s, "BIZ-1", "BIZ", 20_000, date(2026, 9, 28))
        invoice(s, "IND-1", "IND", 2_000, date(2026, 9, 28))
    return engine


def test_replay_sep_30_to_oct_8_waits_for_the_first_working_day(
    golden_week: Engine, ctx: SweepContext
) -> None:
    replay(golden_week, ctx, datetime(2026, 9, 30, 0, 0, tzinfo=SHANGHAI),
           datetime(2026, 10, 7, 23, 0, tzinfo=SHANGHAI))  # fmt: skip
    found = by_customer(drafts(golden_week))
    [biz] = found["BIZ"]  # day +3 fell on National Day: no slot until the first workday
    assert biz.step == "friendly"
    assert biz.slot_start.astimezone(SHANGHAI) == datetime(2026, 10, 8, 14, 0, tzinfo=SHANGHAI)
    [ind] = found["IND"]  # individuals: any day, 19:00
    assert ind.slot_start.astimezone(SHANGHAI) == datetime(2026, 10, 1, 19, 0, tzinfo=SHANGHAI)


def test_a_newer_step_supersedes_the_unsent_older_one(
    golden_week: Engine, ctx: SweepContext
) -> None:
    replay(golden_week, ctx, datetime(2026, 9, 30, 0, 0, tzinfo=SHANGHAI),
           datetime(2026, 10, 8, 23, 0, tzinfo=SHANGHAI))  # fmt: skip
    friendly, offer = by_customer(drafts(golden_week))["BIZ"]
    assert offer.step == "offer" and offer.status == "pending_approval"  # day +10 on 10-08
    assert friendly.status == "cancelled" and friendly.reason == "superseded by the offer step"
