"""The fallback sweep (D17): an e-mail delivered ``delivery.fallback_after_hours`` ago that
nobody read (no human open, no click, no reply) and that no payment answered gets one SMS
draft in the customer's next SMS slot. It goes through approval like every draft, unless
the policy's ``auto_approve_fallback`` is on. Never two fallbacks for one e-mail: the SMS
carries ``fallback_of`` (UNIQUE) and a step named after the e-mail."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from notifier.domain.calendar import CalendarNotPublished
from notifier.domain.items import local_date
from notifier.domain.lifecycle import WENT_OUT
from notifier.domain.position import position
from notifier.drafting.compose import compose, message_context, payment_url
from notifier.drafting.fallback import asked_by, email_facts, facts_day, followed_template
from notifier.drafting.slotting import RESLOT_DAYS, slot_for
from notifier.services.consent import opted_out
from notifier.store import reminders
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Reminder
from notifier.store.queries import items_for
from notifier.sweeps.context import SweepContext

BATCH = 500


@dataclass
class FallbackReport:
    at: datetime
    drafted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "drafted": self.drafted, "skipped": dict(self.skipped)}


def unread_emails(session: Session, now: datetime, hours: int) -> list[Reminder]:
    # NOT EXISTS (an anti-join), not NOT IN: see store.planning.recompute_all.
    fallback = aliased(Reminder)
    followed = (
        select(col(fallback.id)).where(col(fallback.fallback_of) == col(Reminder.id)).exists()
    )
    return list(
        session.scalars(
            select(Reminder)
            .where(
                col(Reminder.channel) == "email",
                col(Reminder.status).in_(WENT_OUT),
                col(Reminder.sent_at) <= now - timedelta(hours=hours),
                col(Reminder.read_at).is_(None),
                col(Reminder.clicked_at).is_(None),
                col(Reminder.replied_at).is_(None),
                ~followed,
            )
            .order_by(col(Reminder.id))
            .limit(BATCH)
        )
    )


def fallback(engine: Engine, now: datetime, ctx: SweepContext) -> FallbackReport:
    report = FallbackReport(at=now)
    policy = ctx.policy
    with unit_of_work(engine) as session:
        emails = unread_emails(session, now, policy.delivery.fallback_after_hours)
        customers = {
            c.id: c
            for c in session.scalars(
                select(Customer).where(col(Customer.id).in_({e.customer_id for e in emails}))
            )
        }
        items = items_for(session, list(customers))
        rows: list[dict[str, Any]] = []
        for email in emails:
            row = _draft(session, email, customers[email.customer_id],
                         items[email.customer_id], now, ctx, report)  # fmt: skip
            if row is not None:
                rows.append(row)
        report.drafted += len(reminders.insert_fallbacks(session, rows, now))
    return report


@dataclass(frozen=True)
class Fallback:
    """The fallback sweep with its policy, calendar and renderer bound (``ctx``)."""

    ctx: SweepContext
    name: ClassVar[str] = "fallback"

    def run(self, engine: Engine, now: datetime) -> FallbackReport:
        return fallback(engine, now, self.ctx)


def _draft(
    session: Session,
    email: Reminder,
    customer: Customer,
    items: list[Any],
    now: datetime,
    ctx: SweepContext,
    report: FallbackReport,
) -> dict[str, Any] | None:
    policy = ctx.policy
    assert email.sent_at is not None
    sent_day = local_date(email.sent_at, customer.timezone)
    if any(p.paid_on >= sent_day for i in items for p in i.payments):
        report.skipped["paid since the e-mail"] += 1
        return None
    # The e-mail's facts, as of the day it was drafted: the SMS repeats that message.
    today = facts_day(email.facts, email.created_at, customer.timezone)
    pos = position(items, today, policy.penalty.default_daily_rate)  # disputed parts set aside
    if not pos.open_items:
        report.skipped["nothing owed"] += 1
        return None
    if opted_out(session, customer, "sms"):
        report.skipped["SMS not possible"] += 1
        return None
    try:
        slot = slot_for(customer, "sms", now, now + timedelta(days=RESLOT_DAYS), policy=policy,
                        calendar=ctx.calendar)  # fmt: skip
    except CalendarNotPublished:
        slot = None
    if slot is None:
        report.skipped["no SMS slot"] += 1
        return None
    message = message_context(customer, pos, step="fallback", tone=email.tone, today=today,
                              policy=policy, calendar=ctx.calendar,
                              url=payment_url(customer, pos, policy),
                              follows=followed_template(email.step, policy))  # fmt: skip
    if local_date(slot.start, customer.timezone) > asked_by(message):
        report.skipped["the e-mail's pay-by date has passed"] += 1
        return None
    facts = email_facts(email.facts, customer.legal_authorised)
    composed = compose(message, "sms", ctx.renderer, policy, facts)
    auto = policy.planning.auto_approve_fallback and not composed.lint
    return {
        "customer_id": customer.id, "step": f"fallback-{email.id}", "cycle": email.cycle,
        "channel": "sms", "address": customer.phone, "fallback_of": email.id,
        # approved at birth when the policy decided it (store/reminders.py sets the status)
        "decided_by": "policy:auto_approve_fallback" if auto else None,
        "stage": email.stage, "tier": email.tier, "tone": email.tone, "locale": message.locale,
        "window": slot.window, "slot_start": slot.start, "slot_end": slot.end,
        "subject": None, "body": composed.body, "html": None, "segments": composed.segments,
        "facts": {**composed.facts, "total": str(pos.total_outstanding)},
        "lint": [str(p) for p in composed.lint], "attempts": 0,
    }  # fmt: skip
