"""Portfolios built straight in the database, in bulk (one multi-row INSERT per table), for
the tests that run many workers or kill them.

- :func:`approved_backlog`: ``n`` customers, each owing one invoice a few days overdue and
  holding one *approved* reminder whose slot is open at ``now`` (the real clock: the
  workers run on it). Every customer lives in a time zone where ``now`` is early
  afternoon, well inside the allowed contact hours (C1), so the re-check at the moment of
  sending passes: still owed, same cycle, same total (``facts.total``), no promise, no
  opt-out, within the caps. Each reminder carries its customer id as a marker in the text
  and goes to an address of its own, so a test can count what arrived, and how often.
- :func:`overdue_customers`: customers and their overdue invoices only, for the planner.
- :func:`reminders_by_id`, :func:`events_by_reminder`, :func:`still_to_send`: what became
  of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, func, insert, select
from sqlmodel import col

from notifier.domain.cadence import cycle_key
from notifier.domain.items import Item, cents_to_money, local_date
from notifier.domain.policy import Policy
from notifier.domain.position import position
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, Receivable, Reminder

OVERDUE_DAYS = 5  # the "friendly" step (day 3) is due, the next one (day 10) is not
SLOT_BEFORE = timedelta(minutes=30)  # the slot opened this long before ``now``
SLOT_AFTER = timedelta(hours=3)  # ... and stays open this long after it


@dataclass(frozen=True)
class Planted:
    reminder_id: int
    customer_id: str  # also the marker in the text
    channel: Literal["sms", "email"]
    address: str


def afternoon_zone(now: datetime) -> str:
    """A fixed-offset zone (``Etc/GMT...``) where ``now`` falls between 12:00 and 15:00, so
    the contact hours (08:00-21:00 or 22:00) stay open for the whole test."""
    hour = now.astimezone(UTC).hour
    for offset in range(-12, 15):  # the zones Etc/GMT+12 (UTC-12) to Etc/GMT-14 (UTC+14)
        if 12 <= (hour + offset) % 24 < 15:
            return "Etc/GMT" + (f"{-offset:+d}" if offset else "")
    raise AssertionError("every hour of the day is early afternoon somewhere")


def sms_address(number: int) -> str:
    return f"+86139{number:08d}"


def email_address(prefix: str, number: int) -> str:
    return f"ar-{prefix.lower()}{number}@w{number % 17}.example"


def overdue_customers(
    engine: Engine, n: int, now: datetime, *, prefix: str, kind: str = "individual"
) -> list[str]:
    """``n`` customers (ids ``{prefix}000001`` ...) in an afternoon zone, each owing one
    invoice ``OVERDUE_DAYS`` past due at ``now``; their ids."""
    zone = afternoon_zone(now)
    today = local_date(now, zone)
    created = now - timedelta(days=400)
    customers: list[dict[str, Any]] = []
    receivables: list[dict[str, Any]] = []
    for number in range(1, n + 1):
        cid = f"{prefix}{number:06d}"
        customers.append(
            {"id": cid, "name": "测试客户", "kind": kind, "phone": sms_address(number),
             "email": email_address(prefix, number), "timezone": zone, "locale": "zh-CN",
             "country": "CN", "tier": None, "tier_hand_set": False, "collector": None,
             "notes": None, "legal_authorised": False, "sms_opt_out": False,
             "email_opt_out": False, "phone_invalid": False, "escalated_at": None,
             "escalation_reason": None, "created_at": created, "updated_at": created}
        )  # fmt: skip
        due = today - timedelta(days=OVERDUE_DAYS)
        receivables.append(
            {"id": f"INV-{cid}", "customer_id": cid, "amount_cents": _cents(number),
             "currency": "CNY", "issued_on": due - timedelta(days=30), "due_on": due,
             "penalty_rate_daily": None, "payment_url": None, "plan_id": None,
             "created_at": created, "updated_at": created}
        )  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Customer.__table__), customers)  # type: ignore[attr-defined]
        connection.execute(insert(Receivable.__table__), receivables)  # type: ignore[attr-defined]
    return [c["id"] for c in customers]


def _cents(number: int) -> int:
    return (1_000 + number % 9_000) * 100


def approved_backlog(
    engine: Engine,
    n: int,
    now: datetime,
    policy: Policy,
    *,
    prefix: str = "W",
    channels: tuple[Literal["sms", "email"], ...] = ("sms", "email"),
) -> list[Planted]:
    """``n`` approved reminders open at ``now``, channels taken in turn from ``channels``."""
    ids = overdue_customers(engine, n, now, prefix=prefix)
    zone = afternoon_zone(now)
    today = local_date(now, zone)
    due = today - timedelta(days=OVERDUE_DAYS)
    rate = policy.penalty.default_daily_rate
    rows: list[dict[str, Any]] = []
    planted: dict[str, tuple[Literal["sms", "email"], str]] = {}
    for number, cid in enumerate(ids, 1):
        channel = channels[(number - 1) % len(channels)]
        item = Item(id=f"INV-{cid}", amount=cents_to_money(_cents(number)),
                    issued_on=due - timedelta(days=30), due_on=due)  # fmt: skip
        total = position([item], today, rate).total_outstanding
        address = sms_address(number) if channel == "sms" else email_address(prefix, number)
        planted[cid] = (channel, address)
        rows.append(_reminder(cid, channel, address, item, str(total), now))
    with engine.begin() as connection:
        connection.execute(insert(Reminder.__table__), rows)  # type: ignore[attr-defined]
        found = connection.execute(
            select(col(Reminder.id), col(Reminder.customer_id)).where(
                col(Reminder.customer_id).in_(ids)
            )
        ).all()
    return sorted(
        (Planted(rid, cid, *planted[cid]) for rid, cid in found), key=lambda p: p.reminder_id
    )


def _reminder(
    cid: str, channel: str, address: str, item: Item, total: str, now: datetime
) -> dict[str, Any]:
    due: date = item.due_on
    if channel == "sms":
        subject, body = None, f"【星辰供应链】您有一笔账款已逾期，请尽快付款。编号 {cid} 回复TD退订"
    else:
        subject = f"付款提醒 {cid}"
        body = f"您好，发票 {item.id} 已于 {due.isoformat()} 到期，请尽快付款。编号 {cid}"
    return {
        "customer_id": cid, "step": "friendly", "cycle": cycle_key(item.id, due),
        "channel": channel, "address": address, "status": "approved", "stage": "m1",
        "tier": "B", "tone": "neutral", "locale": "zh-CN", "window": "test",
        "slot_start": now - SLOT_BEFORE, "slot_end": now + SLOT_AFTER, "subject": subject,
        "body": body, "html": None, "segments": 1 if channel == "sms" else None,
        "facts": {"total": total}, "lint": [], "fallback_of": None,
        "created_at": now - SLOT_BEFORE, "updated_at": now - SLOT_BEFORE,
        "decided_by": "tester", "decided_at": now - SLOT_BEFORE, "reason": None,
        "version": 2, "claimed_by": None, "claimed_until": None, "attempts": 0,
        "next_attempt_at": None, "provider_id": None, "sent_at": None, "delivered_at": None,
        "read_at": None, "clicked_at": None, "replied_at": None,
    }  # fmt: skip


def reminders_by_id(engine: Engine) -> dict[int, Reminder]:
    with unit_of_work(engine) as session:
        return {r.id or 0: r for r in session.scalars(select(Reminder))}


def events_by_reminder(engine: Engine, kind: str) -> dict[int, list[Event]]:
    """The ``kind`` events (sent, unknown, send_error ...) of each reminder, oldest first."""
    found: dict[int, list[Event]] = defaultdict(list)
    with unit_of_work(engine) as session:
        for e in session.scalars(
            select(Event).where(col(Event.kind) == kind).order_by(col(Event.id))
        ):
            found[int(e.data["reminder_id"])].append(e)
    return dict(found)


def still_to_send(engine: Engine) -> int:
    """Reminders approved (due, retrying) or being sent right now."""
    with unit_of_work(engine) as session:
        count = session.scalar(
            select(func.count())
            .select_from(Reminder)
            .where(col(Reminder.status).in_(("approved", "sending")))
        )
    return int(count or 0)
