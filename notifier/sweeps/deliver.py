"""The delivery sweep: send approved reminders whose slot is open, exactly when planned,
at most once (D12, D15-D18, C1-C3, C6).

1. A reminder still ``sending`` after its lease ran out was interrupted mid-send (a crash):
   it becomes ``unknown`` for a person to decide; it is never resent automatically.
2. Approved reminders whose slot has passed move to their next slot (deferred, not late).
3. A batch of due reminders is claimed with a lease: ``UPDATE .. WHERE id IN (SELECT ..
   FOR UPDATE SKIP LOCKED)`` on PostgreSQL, the same statement without the lock clause on
   SQLite (writes are serial there), so several workers split the work.
4. Each claimed reminder: lock, re-read, re-check (still owed and true, not opted out, not
   in quiet hours, within the caps), mark ``sending`` and commit; only then call the
   provider; then record ``sent`` (or retry / defer / fail) in a second transaction.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from notifier.channels import (
    Channel,
    Outgoing,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifier.consent import record_opt_out
from notifier.domain.calendar import CalendarNotPublished
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, Reminder
from notifier.store.reminders import cancel
from notifier.sweeps.context import SweepContext
from notifier.sweeps.recheck import recheck
from notifier.sweeps.slotting import reslot
from notifier.tracking import Tracker, track_email


@dataclass
class DeliverReport:
    at: datetime
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    deferred: int = 0
    cancelled: int = 0
    failed: int = 0
    unknown: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(), "claimed": self.claimed, "sent": self.sent,
            "by_channel": dict(self.by_channel), "retrying": self.retrying,
            "deferred": self.deferred, "cancelled": self.cancelled, "failed": self.failed,
            "unknown": self.unknown, "problems": self.problems[:50],
        }  # fmt: skip


def _event(now: datetime, kind: str, r: Reminder, **data: Any) -> Event:
    return Event(at=now, kind=kind, customer_id=r.customer_id, actor="delivery",
                 data={"reminder_id": r.id, "channel": r.channel, **data})  # fmt: skip


def mark_interrupted(engine: Engine, now: datetime) -> int:
    """``sending`` rows whose lease ran out -> ``unknown`` (never resent by themselves)."""
    reason = "interrupted while sending: check with the provider before sending again"
    with unit_of_work(engine) as session:
        rows = session.scalars(
            select(Reminder).where(
                col(Reminder.status) == "sending", col(Reminder.claimed_until) < now
            )
        ).all()
        for r in rows:
            r.status, r.reason, r.updated_at = "unknown", reason, now
            r.version += 1
            session.add(_event(now, "unknown", r, reason=reason))
        return len(rows)


def defer_missed(engine: Engine, now: datetime, ctx: SweepContext, report: DeliverReport) -> None:
    """Approved reminders whose slot ended unsent wait for the next slot (D12)."""
    with unit_of_work(engine) as session:
        missed = session.scalars(
            select(Reminder).where(
                col(Reminder.status) == "approved", col(Reminder.slot_end) <= now
            )
        ).all()
        for r in missed:
            _defer(session, r, now, ctx, "its slot passed before it could be sent", report)


def _defer(
    session: Session,
    r: Reminder,
    now: datetime,
    ctx: SweepContext,
    why: str,
    report: DeliverReport,
) -> None:
    try:
        slot = reslot(session, r, now, ctx.policy, ctx.calendar)
    except CalendarNotPublished as exc:
        slot, why = None, f"{why}; {exc}"
    r.claimed_by = r.claimed_until = None
    r.updated_at = now
    r.version += 1
    if slot is None:
        r.status, r.reason = "failed", f"{why}; no later slot within reach"
        report.failed += 1
        session.add(_event(now, "failed", r, reason=r.reason))
        return
    r.status, r.reason = "approved", f"{why}; moved to {slot.start.isoformat()}"
    report.deferred += 1
    session.add(_event(now, "deferred", r, reason=why, slot_start=slot.start.isoformat()))


def claim(engine: Engine, now: datetime, worker: str, batch: int, lease: timedelta) -> list[int]:
    """Lease up to ``batch`` reminders whose slot is open at ``now`` to ``worker``."""
    due = (
        select(col(Reminder.id))
        .where(
            col(Reminder.status) == "approved",
            col(Reminder.slot_start) <= now,
            col(Reminder.slot_end) > now,
            (col(Reminder.next_attempt_at).is_(None)) | (col(Reminder.next_attempt_at) <= now),
            (col(Reminder.claimed_until).is_(None)) | (col(Reminder.claimed_until) < now),
        )
        .order_by(col(Reminder.slot_start), col(Reminder.id))
        .limit(batch)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    )
    until = now + lease
    with unit_of_work(engine) as session:
        session.execute(
            update(Reminder)
            .where(col(Reminder.id).in_(due.scalar_subquery()))
            .values(claimed_by=worker, claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        return list(
            session.scalars(
                select(col(Reminder.id))
                .where(
                    col(Reminder.claimed_by) == worker,
                    col(Reminder.claimed_until) == until,
                    col(Reminder.status) == "approved",
                )  # fmt: skip
                .order_by(col(Reminder.slot_start), col(Reminder.id))
            )
        )


def backoff(attempts: int, base: int, cap: int, rng: random.Random) -> timedelta:
    """Exponential backoff with full jitter: uniform in [base/2, base * 2^(n-1)], capped."""
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=rng.uniform(min(base / 2, ceiling), ceiling))


def deliver(
    engine: Engine,
    now: datetime,
    ctx: SweepContext,
    channels: Mapping[str, Channel],
    tracker: Tracker,
    *,
    rng: random.Random | None = None,
) -> DeliverReport:
    report = DeliverReport(at=now)
    rng = rng or random.Random()
    policy = ctx.policy.delivery
    report.unknown = mark_interrupted(engine, now)
    defer_missed(engine, now, ctx, report)
    ids = claim(engine, now, ctx.worker, policy.batch, timedelta(seconds=policy.lease_seconds))
    report.claimed = len(ids)
    try:
        for reminder_id in ids:
            _deliver_one(engine, reminder_id, now, ctx, channels, tracker, rng, report)
    finally:
        for channel in channels.values():
            channel.close()
    return report


def _prepare(
    session: Session, reminder_id: int, now: datetime, ctx: SweepContext, tracker: Tracker,
    report: DeliverReport,
) -> Outgoing | None:  # fmt: skip
    """Lock, re-read, re-check; mark ``sending``. The message to send, or None."""
    r = session.get(Reminder, reminder_id, with_for_update=True)
    if r is None or r.status != "approved" or r.claimed_by != ctx.worker:
        return None  # someone else took it, or a person changed it meanwhile
    verdict = recheck(session, r, now, ctx.policy)
    if verdict.action == "cancel":
        report.cancelled += 1
        session.add(cancel(r, verdict.reason, now, "delivery"))
        return None
    if verdict.action == "defer":
        _defer(session, r, now, ctx, verdict.reason, report)
        return None
    r.status, r.address, r.updated_at = "sending", verdict.address, now
    r.attempts += 1
    r.claimed_until = now + timedelta(seconds=ctx.policy.delivery.lease_seconds)
    r.version += 1
    assert r.id is not None
    if r.channel == "sms":
        return Outgoing(reminder_id=r.id, channel="sms", to=verdict.address, body=r.body)
    tracked = track_email(tracker, r.id, r.body, r.html)
    return Outgoing(reminder_id=r.id, channel="email", to=verdict.address, body=tracked.text,
                    subject=r.subject, html=tracked.html, headers=tracked.headers)  # fmt: skip


def _deliver_one(
    engine: Engine,
    reminder_id: int,
    now: datetime,
    ctx: SweepContext,
    channels: Mapping[str, Channel],
    tracker: Tracker,
    rng: random.Random,
    report: DeliverReport,
) -> None:
    with unit_of_work(engine) as session:
        message = _prepare(session, reminder_id, now, ctx, tracker, report)
    if message is None:
        return
    channel = channels[message.channel]
    try:
        receipt = channel.send(message)
    except TransientDeliveryError as exc:
        if exc.may_have_sent:  # at-most-once: the provider may have it; a person decides
            with unit_of_work(engine) as session:
                _unknown(session, reminder_id, now, str(exc), report)
            return
        with unit_of_work(engine) as session:
            _transient(session, reminder_id, now, ctx, str(exc), exc.retry_after, rng, report)
        return
    except PermanentDeliveryError as exc:
        with unit_of_work(engine) as session:
            _permanent(session, reminder_id, now, exc, report)
        return
    with unit_of_work(engine) as session:
        r = session.get(Reminder, reminder_id, with_for_update=True)
        assert r is not None
        # A status callback may have overtaken us (delivered/failed already): keep it.
        if r.status == "sending":
            r.status = "sent"
        r.provider_id, r.sent_at, r.updated_at = receipt.provider_id, now, now
        r.claimed_by = r.claimed_until = None
        r.reason = None
        r.version += 1
        report.sent += 1
        report.by_channel[r.channel] += 1
        # D18: the evidence: the text exactly as sent, when, where, and the provider's id.
        session.add(_event(now, "sent", r, address=message.to, subject=message.subject,
                           body=message.body, provider_id=receipt.provider_id,
                           provider_status=receipt.status, attempt=r.attempts))  # fmt: skip


def _unknown(
    session: Session, reminder_id: int, now: datetime, error: str, report: DeliverReport
) -> None:
    r = session.get(Reminder, reminder_id, with_for_update=True)
    assert r is not None
    r.status, r.updated_at = "unknown", now
    r.reason = f"the provider may have it (answer lost: {error}); check before sending again"
    r.claimed_by = r.claimed_until = None
    r.version += 1
    report.unknown += 1
    session.add(_event(now, "unknown", r, reason=r.reason))


def _transient(
    session: Session,
    reminder_id: int,
    now: datetime,
    ctx: SweepContext,
    error: str,
    retry_after: float | None,
    rng: random.Random,
    report: DeliverReport,
) -> None:
    """Retry with backoff inside the slot; past it, the next slot."""
    r = session.get(Reminder, reminder_id, with_for_update=True)
    assert r is not None
    policy = ctx.policy.delivery
    wait = backoff(r.attempts, policy.retry_base_seconds, policy.retry_max_seconds, rng)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    session.add(_event(now, "send_error", r, error=error, attempt=r.attempts, transient=True))
    r.status, r.claimed_by, r.claimed_until, r.updated_at = "approved", None, None, now
    r.version += 1
    if now + wait < r.slot_end:
        r.next_attempt_at, r.reason = now + wait, f"retrying after a transient error: {error}"
        report.retrying += 1
        return
    _defer(session, r, now + wait, ctx, f"transient errors until the slot ended: {error}", report)


def _permanent(
    session: Session, reminder_id: int, now: datetime, exc: PermanentDeliveryError,
    report: DeliverReport,
) -> None:  # fmt: skip
    """Not retried; an opted-out or invalid address is recorded so it is never tried again."""
    r = session.get(Reminder, reminder_id, with_for_update=True)
    assert r is not None
    customer = session.get(Customer, r.customer_id)
    assert customer is not None
    r.status, r.reason, r.updated_at = "failed", f"{exc.reason}: {exc}", now
    r.claimed_by = r.claimed_until = None
    r.version += 1
    report.failed += 1
    session.add(_event(now, "failed", r, reason=r.reason, code=exc.code))
    if exc.reason == "opted_out":
        record_opt_out(session, r.channel, r.address, "provider-" + (exc.code or "opt-out"), now)
    elif exc.reason == "invalid_address":
        if r.channel == "sms":
            customer.phone_invalid = True
        else:
            record_opt_out(session, "email", r.address, "invalid-address", now)
        customer.updated_at = now
