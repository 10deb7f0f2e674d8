"""Seed 003: the manager's week by e-mail, once a week (``[weekly]``: Monday 09:00 in its
zone), to every active user of ``recipients_role`` whose address ``[weekly] emails``
names: the report as the body (in the recipient's language) and as an Excel attachment.

Once per week however many processes run the scheduler: the send slot is a sweep tick
(``sweeps/ticks.claim_tick``), so only the process that claims it sends. A process that
was down at 09:00 catches up within ``CATCH_UP`` of the slot; after that the week is
left alone (``notifier report weekly`` still has it). Nothing is claimed while nobody is
to receive it or the e-mail channel is not configured, so configuring either later in
the catch-up window still sends that week's report.

One tick per week, not per recipient: a process that dies while building or sending
leaves the tick unfinished, and after its lease (15 min) another process sends the
report again to everyone (a repeat is better than a manager without the report). A
recipient whose server refused the mail is recorded in the tick's report, never retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.channels import Channel, DeliveryError
from notifier.channels.base import Attachment, Outgoing
from notifier.channels.capture import UnavailableChannel
from notifier.channels.masking import scrub
from notifier.domain.policy import Policy
from notifier.domain.weekly import send_slot, week_of_slot
from notifier.reports import weekly_export
from notifier.reports.weekly import build_weekly
from notifier.reports.weekly_export import XLSX
from notifier.store.db import unit_of_work
from notifier.store.models import User
from notifier.sweeps.context import SweepContext
from notifier.sweeps.ticks import claim_tick, finish_tick
from notifier.words import locale_of, text

log = logging.getLogger("notifier.sweeps.weekly")
SWEEP = "weekly"
CATCH_UP = timedelta(hours=24)


@dataclass
class WeeklyRun:
    ran: bool = False
    slot: datetime | None = None
    sent: list[str] = field(default_factory=list)  # user names, never addresses
    failed: dict[str, str] = field(default_factory=dict)
    no_address: list[str] = field(default_factory=list)
    why_not: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"slot": self.slot.isoformat() if self.slot else None, "sent": self.sent,
                "failed": self.failed, "no_address": self.no_address}  # fmt: skip


def recipients(engine: Engine, policy: Policy) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(name, address, locale) of each active user of the recipients' role with an
    address, and the names of those without one."""
    rules = policy.weekly
    with unit_of_work(engine) as session:
        users = session.execute(
            select(col(User.name), col(User.locale))
            .where(col(User.role) == rules.recipients_role, col(User.active).is_(True))
            .order_by(col(User.name))
        ).all()
    found = [(name, rules.emails[name], locale_of(loc)) for name, loc in users
             if name in rules.emails]  # fmt: skip
    return found, [name for name, _ in users if name not in rules.emails]


def send_weekly(
    engine: Engine, now: datetime, policy: Policy, channel: Channel, worker: str
) -> WeeklyRun:
    """Send this week's report if its slot has come, nobody sent it yet, and someone is
    to receive it."""
    rules = policy.weekly
    slot = send_slot(now, rules)
    run = WeeklyRun(slot=slot)
    if now - slot >= CATCH_UP:
        run.why_not = "the send slot is more than a day past"
        return run
    people, run.no_address = recipients(engine, policy)
    if not people:
        run.why_not = f"no active {rules.recipients_role} has an address in [weekly] emails"
        return run
    if isinstance(channel, UnavailableChannel):
        run.why_not = channel.why
        return run
    if not claim_tick(engine, SWEEP, slot, now, worker):
        run.why_not = "sent already (or being sent by another process)"
        return run
    run.ran = True
    week = week_of_slot(slot, rules)
    with unit_of_work(engine) as session:
        report = build_weekly(session, week.end, policy)
    rendered: dict[str, tuple[str, str, str, bytes]] = {}
    try:
        for name, address, locale in people:
            if locale not in rendered:
                subject = text(locale, "wk_subject", start=week.start.isoformat(),
                               end=week.end.isoformat())  # fmt: skip
                body = weekly_export.to_text(report, locale) + "\n" + text(locale, "wk_attached")
                rendered[locale] = (subject, body, weekly_export.to_html(report, locale),
                                    weekly_export.to_xlsx(report, locale))  # fmt: skip
            subject, body, html, workbook = rendered[locale]
            attachment = Attachment(f"weekly-{week.start.isoformat()}.xlsx", XLSX, workbook)
            message = Outgoing(reminder_id=0, channel="email", to=address, subject=subject,
                               body=body, html=html, attachments=(attachment,))  # fmt: skip
            try:
                channel.send(message)
                run.sent.append(name)
            except DeliveryError as exc:
                run.failed[name] = scrub(str(exc))
    finally:
        channel.close()
    finish_tick(engine, SWEEP, slot, now, run.as_dict())
    if run.failed:
        log.warning("weekly report: not sent to %s", ", ".join(sorted(run.failed)))
    return run


def weekly_job(
    engine: Engine, ctx: SweepContext, now: datetime,
    channels: Callable[[], Mapping[str, Channel]],
) -> None:  # fmt: skip
    """The scheduler's job (every planning tick): cheap until the slot comes."""
    if now - send_slot(now, ctx.policy.weekly) >= CATCH_UP:
        return
    run = send_weekly(engine, now, ctx.policy, channels()["email"], ctx.worker)
    if run.ran:
        log.info("weekly report: sent to %s recipient(s)", len(run.sent))
