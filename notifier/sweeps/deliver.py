"""The delivery sweep: send approved reminders whose slot is open, exactly when planned,
at most once (D12, D15-D18, C1-C3, C6).

1. A reminder still ``sending`` after its lease ran out was interrupted mid-send (a crash):
   it becomes ``unknown`` for a person to decide; it is never resent automatically.
2. Approved reminders whose slot has passed move to their next slot (deferred, not late).
3. A batch of due reminders is claimed with a lease: ``UPDATE .. WHERE id IN (SELECT ..
   FOR UPDATE SKIP LOCKED)`` on PostgreSQL, the same statement without the lock clause on
   SQLite (writes are serial there), so several workers split the work.
4. The claimed batch goes out in small groups of ``group`` reminders (default
   the policy's ``delivery.group``, 10 as shipped), each in three steps:

   a. one transaction: lock the group's rows (FOR UPDATE on PostgreSQL), re-read them,
      re-check them all with set-based reads (:func:`~notifier.sweeps.recheck.recheck_all`:
      still owed and true, no open promise, not opted out, not in quiet hours, within the
      caps), cancel or defer the ones that fail, and mark the others ``sending`` (each
      with ``WHERE status = 'approved' AND claimed_by = me AND version = v``, so a row a
      person or another worker changed since it was read is left alone); commit;
   b. only then call the provider, one message after the other;
   c. one transaction: record every result of the group (``sent``: one UPDATE that keeps
      a status a callback set meanwhile, one event insert; retries, deferrals, failures).

What is in flight at any instant, per worker: at most ``group`` reminders in ``sending``.
A crash (kill -9, power) between (a) and the commit of (c) leaves them all ``sending``;
after the lease they become ``unknown``: the ones already handed to the provider may have
gone out, the others did not, and none is ever resent by itself (at-most-once). Twilio's
status callbacks name the reminder, so they still move such an SMS on to ``delivered``.
A clean stop (``stop``) or an unexpected error gives the group's messages never handed to
the provider back (``approved``, claim released); the message in hand stays ``sending``.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from notifier.channels import (
    Channel,
    Outgoing,
    PermanentDeliveryError,
    Receipt,
    TransientDeliveryError,
)
from notifier.domain.calendar import CalendarNotPublished
from notifier.domain.lifecycle import Status
from notifier.drafting.slotting import reslot
from notifier.services.consent import record_opt_out
from notifier.store import reminders
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Reminder
from notifier.sweeps.context import SweepContext
from notifier.sweeps.recheck import recheck_all
from notifier.tracking import Tracker, expiry, track_email, track_sms

log = logging.getLogger("notifier.deliver")


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
    released: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(), "claimed": self.claimed, "sent": self.sent,
            "by_channel": dict(self.by_channel), "retrying": self.retrying,
            "deferred": self.deferred, "cancelled": self.cancelled, "failed": self.failed,
            "unknown": self.unknown, "released": self.released, "problems": self.problems[:50],
        }  # fmt: skip


def mark_interrupted(engine: Engine, now: datetime) -> int:
    """``sending`` rows whose lease ran out -> ``unknown`` (never resent by themselves)."""
    with unit_of_work(engine) as session:
        return reminders.mark_interrupted(session, now)


def defer_missed(engine: Engine, now: datetime, ctx: SweepContext, report: DeliverReport) -> None:
    """Approved reminders whose slot ended unsent wait for the next slot (D12)."""
    with unit_of_work(engine) as session:
        missed = session.scalars(
            select(Reminder).where(
                col(Reminder.status) == Status.APPROVED,
                col(Reminder.slot_end) <= now,
                col(Reminder.channel) != "letter",  # waits for a person to post it
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
    if slot is None:
        report.failed += 1
        reminders.fail(session, r, f"{why}; no later slot within reach", now)
        return
    report.deferred += 1
    reminders.defer(session, r, slot, why, now)


def claim(engine: Engine, now: datetime, worker: str, batch: int, lease: timedelta) -> list[int]:
    """Lease up to ``batch`` reminders whose slot is open at ``now`` to ``worker``."""
    with unit_of_work(engine) as session:
        return reminders.claim_batch(session, now, worker, batch, now + lease)


def release(engine: Engine, ids: list[int], worker: str) -> int:
    """Give back claims ``worker`` holds but has not started (a clean shutdown): another
    worker may take them at once instead of after the lease."""
    if not ids:
        return 0
    with unit_of_work(engine) as session:
        return reminders.release_claims(session, ids, worker)


def backoff(attempts: int, base: int, cap: int, rng: random.Random) -> timedelta:
    """Exponential backoff with full jitter: uniform in [base/2, base * 2^(n-1)], capped."""
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=rng.uniform(min(base / 2, ceiling), ceiling))


@dataclass(frozen=True)
class _Pending:
    """A reminder marked `sending`: the message, and what its `sent` event records."""

    message: Outgoing
    customer_id: str
    attempt: int


def deliver(
    engine: Engine,
    now: datetime,
    ctx: SweepContext,
    channels: Mapping[str, Channel],
    tracker: Tracker,
    *,
    rng: random.Random | None = None,
    stop: Callable[[], bool] | None = None,
    group: int | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DeliverReport:
    """One delivery run with ``channels`` the caller opened and will close (see
    :class:`Deliver`). ``stop`` is asked before each message: once true, the message in
    hand is finished and the claims not started yet are released (a worker shutting
    down). ``group``: how many reminders are re-checked and marked ``sending`` together
    (see the module doc; default: the policy's ``delivery.group``). ``clock``: when given,
    each group is re-checked and recorded at the clock's time, not at ``now`` (a batch
    held up by a slow provider must not send into quiet hours or past its slot)."""
    group = ctx.policy.delivery.group if group is None else group
    if group < 1:
        raise ValueError(f"a delivery group needs at least one reminder, not {group}")
    report = DeliverReport(at=now)
    rng = rng or random.Random()
    policy = ctx.policy.delivery
    report.unknown = mark_interrupted(engine, now)
    defer_missed(engine, now, ctx, report)
    ids = claim(engine, now, ctx.worker, policy.batch, timedelta(seconds=policy.lease_seconds))
    report.claimed = len(ids)
    for start in range(0, len(ids), group):
        if stop is not None and stop():
            report.released += release(engine, ids[start:], ctx.worker)
            break
        some = ids[start : start + group]
        at = now if clock is None else max(now, clock())
        if not _deliver_group(engine, some, at, ctx, channels, tracker, rng, stop, report):
            report.released += release(engine, ids[start + group :], ctx.worker)
            break
    return report


@dataclass(frozen=True)
class Deliver:
    """The delivery sweep with what it needs bound once (the scheduler builds one per
    process, the CLI one per command): ``run(engine, now)`` opens the channels, sends,
    and closes them again, also when it fails. Whoever opens a channel closes it: the
    :func:`deliver` function only uses the channels it is given."""

    ctx: SweepContext
    open_channels: Callable[[], Mapping[str, Channel]]
    tracker: Tracker
    stop: Callable[[], bool] | None = None
    clock: Callable[[], datetime] | None = None
    rng: random.Random | None = None
    name: ClassVar[str] = "deliver"

    def run(self, engine: Engine, now: datetime) -> DeliverReport:
        with opened(self.open_channels) as channels:
            return deliver(engine, now, self.ctx, channels, self.tracker, rng=self.rng,
                           stop=self.stop, clock=self.clock)  # fmt: skip


@contextmanager
def opened(open_channels: Callable[[], Mapping[str, Channel]]) -> Iterator[Mapping[str, Channel]]:
    """The channels ``open_channels`` gives, each closed on the way out (all of them, even
    when one fails to close)."""
    channels = open_channels()
    try:
        yield channels
    finally:
        for channel in channels.values():
            try:
                channel.close()
            except Exception:  # noqa: BLE001  (a failed QUIT must not hide the sweep's outcome)
                log.warning("closing the %s channel failed", channel.name)


def _prepare(
    session: Session, ids: list[int], now: datetime, ctx: SweepContext, tracker: Tracker,
    report: DeliverReport,
) -> list[_Pending]:  # fmt: skip
    """Lock, re-read and re-check the group; cancel, defer or mark ``sending``. The
    messages to send, in claim order."""
    order = {rid: n for n, rid in enumerate(ids)}
    rows = session.scalars(
        select(Reminder).where(col(Reminder.id).in_(ids)).order_by(col(Reminder.id))
        .with_for_update()
    ).all()  # fmt: skip
    # Someone else took it, or a person changed it meanwhile: not ours to send any more.
    mine = sorted(
        (r for r in rows if r.status == Status.APPROVED and r.claimed_by == ctx.worker),
        key=lambda r: order[r.id or 0],
    )
    until = now + timedelta(seconds=ctx.policy.delivery.lease_seconds)
    pending: list[_Pending] = []
    for r, verdict in zip(mine, recheck_all(session, mine, now, ctx.policy), strict=True):
        if r.slot_end <= now:  # the batch took longer than the slot had left
            _defer(session, r, now, ctx, "its slot ended before its turn in the batch", report)
            continue
        if verdict.action == "cancel":
            report.cancelled += 1
            reminders.cancel(session, r, verdict.reason, now, "delivery")
            continue
        if verdict.action == "defer":
            _defer(session, r, now, ctx, verdict.reason, report)
            continue
        assert r.id is not None
        if not reminders.mark_sending(session, r, ctx.worker, verdict.address, until, now):
            continue  # changed since it was read (SQLite reads are not locked): leave it
        expires = expiry(now, ctx.policy.security.tracking_token_days)
        pending.append(_Pending(_message(r, verdict.address, tracker, expires), r.customer_id,
                                r.attempts + 1))  # fmt: skip
    return pending


def _message(r: Reminder, to: str, tracker: Tracker, expires: date) -> Outgoing:
    assert r.id is not None
    if r.channel == "sms":
        return Outgoing(reminder_id=r.id, channel="sms", to=to,
                        body=track_sms(tracker, r.id, r.body, expires))  # fmt: skip
    tracked = track_email(tracker, r.id, r.body, r.html, expires)
    return Outgoing(reminder_id=r.id, channel="email", to=to, body=tracked.text,
                    subject=r.subject, html=tracked.html, headers=tracked.headers)  # fmt: skip


Outcome = Receipt | TransientDeliveryError | PermanentDeliveryError


def _deliver_group(
    engine: Engine,
    ids: list[int],
    now: datetime,
    ctx: SweepContext,
    channels: Mapping[str, Channel],
    tracker: Tracker,
    rng: random.Random,
    stop: Callable[[], bool] | None,
    report: DeliverReport,
) -> bool:
    """Re-check, mark, send and record one group; False when ``stop`` ended it early."""
    with unit_of_work(engine) as session:
        pending = _prepare(session, ids, now, ctx, tracker, report)
    if not pending:
        return True
    done: list[tuple[_Pending, Outcome]] = []
    handed = 0  # messages handed to a channel: from here on they may have gone out
    stopped = False
    try:
        for p in pending:
            if stop is not None and stop():
                stopped = True
                break
            channel = channels[p.message.channel]
            handed += 1
            try:
                done.append((p, channel.send(p.message)))
            except (TransientDeliveryError, PermanentDeliveryError) as exc:
                done.append((p, exc))
    finally:
        # Also on an unexpected error: what the provider answered is recorded; the message
        # in hand (handed, no answer) stays `sending`; the rest were never handed over.
        untouched = [p.message.reminder_id for p in pending[handed:]]
        with unit_of_work(engine) as session:
            _record(session, done, now, ctx, rng, report)
            report.released += reminders.unmark_many(session, untouched, now)
    return not stopped


def _record(
    session: Session,
    done: list[tuple[_Pending, Outcome]],
    now: datetime,
    ctx: SweepContext,
    rng: random.Random,
    report: DeliverReport,
) -> None:
    """The group's results in one transaction: the accepted ones set-based (one UPDATE
    and one event insert, each an executemany), the refused ones one by one."""
    sent: list[reminders.Sent] = []
    for p, outcome in done:
        m, rid = p.message, p.message.reminder_id
        if isinstance(outcome, Receipt):
            report.sent += 1
            report.by_channel[m.channel] += 1
            sent.append(reminders.Sent(rid, p.customer_id, m.channel, m.to, m.subject, m.body,
                                       outcome.provider_id, outcome.status, p.attempt,
                                       ctx.worker))  # fmt: skip
        elif isinstance(outcome, PermanentDeliveryError):
            _permanent(session, rid, now, outcome, report)
        elif outcome.may_have_sent:  # at-most-once: the provider may have it; a person decides
            _unknown(session, rid, now, str(outcome), report)
        else:
            _transient(session, rid, now, ctx, str(outcome), outcome.retry_after, rng, report)
    reminders.record_sent_many(session, sent, now)


def _unknown(
    session: Session, reminder_id: int, now: datetime, error: str, report: DeliverReport
) -> None:
    r = session.get(Reminder, reminder_id, with_for_update=True)
    assert r is not None
    why = f"the provider may have it (answer lost: {error}); check before sending again"
    reminders.mark_unknown(session, r, why, now)
    report.unknown += 1


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
    if now + wait < r.slot_end:
        reminders.retry(session, r, error, now, at=now + wait)
        report.retrying += 1
        return
    reminders.retry(session, r, error, now)
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
    reminders.fail(session, r, f"{exc.reason}: {exc}", now, code=exc.code)
    report.failed += 1
    if exc.reason == "opted_out":
        record_opt_out(session, r.channel, r.address, "provider-" + (exc.code or "opt-out"), now)
    elif exc.reason == "invalid_address":
        if r.channel == "sms":
            customer.phone_invalid = True
        else:
            record_opt_out(session, "email", r.address, "invalid-address", now)
        customer.updated_at = now
