"""The delivery funnel: of the reminders drafted in a period, how many were approved, sent,
delivered, read, and followed by a payment within 7 days, per stage and channel.

It is a cohort funnel: the cohort is every reminder *created* in ``[since, until)``
(drafted), and each later step counts how many of that cohort have reached it by the
time the report runs, whenever that happened. The steps, exactly:

- **drafted**: ``created_at`` in ``[since, until)``; every status, fallback SMS included.
- **approved**: a person (or the auto-approve policy) said yes: the status is one only an
  approved reminder reaches (``approved``, ``sending``, ``sent``, ``delivered``,
  ``failed``, ``unknown``), or ``decided_by`` is set and the status is not ``rejected``
  (approved, then cancelled by the delivery re-check), or it was sent.
- **sent**: ``sent_at`` is set (the provider accepted it: Twilio queued it, the SMTP
  server took it).
- **delivered**, among the sent: SMS: Twilio reported ``delivered`` (``delivered_at``).
  E-mail has no delivery receipt: an e-mail accepted by the SMTP server (sent, and not
  ``failed``) counts as delivered. Either channel: a read, click or reply proves it
  arrived even without a receipt (carriers do not always report).
- **read**, among the sent: a person demonstrably saw it: ``read_at`` (an e-mail opened
  by a person, machine opens excluded (D16), or its link followed), ``clicked_at`` (the
  tracked payment link) or ``replied_at``. SMS has no read receipt, so for SMS this is
  "clicked or replied".
- **paid within 7 days**, among the sent: a payment on any of the customer's invoices
  with ``paid_on`` from the day of sending through 7 days later, the day of sending taken
  in the customer's time zone (D11). A payment is not attributed to one reminder: every
  sent reminder it follows within 7 days counts it.

Each step is a subset of the one before, so the funnel never widens. One GROUP BY query
with ``SUM(CASE ...)``; the local day of ``sent_at`` is ``AT TIME ZONE`` on PostgreSQL and
a registered function on SQLite (which has no time-zone database).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, and_, case, exists, func, literal_column, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col

from notifier.domain.lifecycle import AFTER_APPROVAL  # only an approved reminder has these
from notifier.store.models import Customer, Payment, Receivable, Reminder

STAGES = ("pre_due", "m1", "m2", "m3", "legal")
CHANNELS = ("sms", "email")
STEPS = ("drafted", "approved", "sent", "delivered", "read", "paid")
PAID_WITHIN_DAYS = 7


@dataclass(frozen=True)
class FunnelRow:
    stage: str
    channel: str
    drafted: int = 0
    approved: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    paid: int = 0  # a payment within 7 days of sending

    def steps(self) -> list[tuple[str, int]]:
        return [(step, int(getattr(self, step))) for step in STEPS]

    def rate(self, step: str) -> float | None:
        """``step`` as a share of the drafted; None when nothing was drafted."""
        return int(getattr(self, step)) / self.drafted if self.drafted else None


class LocalDay(FunctionElement[date]):
    """SQL ``notifier_local_day(utc_timestamp, zone, days)``: the calendar day of a stored
    UTC timestamp in the IANA ``zone``, plus ``days`` (an int literal)."""

    type = Date()
    inherit_cache = True
    name = "notifier_local_day"


def _local_day(timestamp: Any, zone: Any, days: int) -> ColumnElement[date]:
    return LocalDay(timestamp, zone, literal_column(str(int(days))))


@compiles(LocalDay, "postgresql")
def _local_day_postgresql(element: LocalDay, compiler: SQLCompiler, **kw: Any) -> str:
    timestamp, zone, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST(({timestamp} AT TIME ZONE 'UTC') AT TIME ZONE {zone} AS DATE) + {days})"


@compiles(LocalDay)
def _local_day_default(element: LocalDay, compiler: SQLCompiler, **kw: Any) -> str:
    return f"notifier_local_day({compiler.process(element.clauses, **kw)})"


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _sqlite_local_day(stored: str | None, zone: str | None, days: int) -> str | None:
    """SQLite side of :class:`LocalDay`: stored timestamps are naive UTC ISO text."""
    if stored is None:
        return None
    try:
        moment = datetime.fromisoformat(str(stored)).replace(tzinfo=UTC)
        day = moment.astimezone(_zone(zone or "UTC")).date()
    except (ValueError, KeyError):  # a bad zone name is not a reason to fail the report
        day = datetime.fromisoformat(str(stored)).date()
    return (day + timedelta(days=int(days))).isoformat()


def register_sql_functions(session: Session) -> None:
    """Make ``notifier_local_day`` known to this session's SQLite connection (a no-op on
    PostgreSQL, which compiles it to ``AT TIME ZONE``)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = cast(Any, connection.connection).dbapi_connection
    raw.create_function("notifier_local_day", 3, _sqlite_local_day, deterministic=True)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def funnel(session: Session, since: datetime, until: datetime) -> list[FunnelRow]:
    """The funnel of the reminders created in ``[since, until)``, one row per stage and
    channel that has any, in stage order (see the module docstring for the steps)."""
    register_sql_functions(session)
    sent = col(Reminder.sent_at).is_not(None)
    approved = or_(
        col(Reminder.status).in_(AFTER_APPROVAL),
        and_(col(Reminder.decided_by).is_not(None), col(Reminder.status) != "rejected"),
        sent,
    )
    read = and_(
        sent,
        or_(
            col(Reminder.read_at).is_not(None),
            col(Reminder.clicked_at).is_not(None),
            col(Reminder.replied_at).is_not(None),
        ),
    )
    delivered = and_(
        sent,
        or_(
            col(Reminder.delivered_at).is_not(None),
            and_(col(Reminder.channel) == "email", col(Reminder.status) != "failed"),
            read,
        ),
    )
    zone = col(Customer.timezone)
    paid_soon = (
        exists()
        .where(
            col(Receivable.customer_id) == col(Reminder.customer_id),
            col(Payment.invoice_id) == col(Receivable.id),
            col(Payment.paid_on) >= _local_day(col(Reminder.sent_at), zone, 0),
            col(Payment.paid_on) <= _local_day(col(Reminder.sent_at), zone, PAID_WITHIN_DAYS),
        )
        .correlate(Reminder, Customer)
    )
    query = (
        select(
            col(Reminder.stage),
            col(Reminder.channel),
            func.count(),
            _count(approved),
            _count(sent),
            _count(delivered),
            _count(read),
            _count(and_(sent, paid_soon)),
        )
        .select_from(Reminder)
        .join(Customer, col(Customer.id) == col(Reminder.customer_id))
        .where(col(Reminder.created_at) >= since, col(Reminder.created_at) < until)
        .group_by(col(Reminder.stage), col(Reminder.channel))
    )
    rows = [
        FunnelRow(stage, channel, *(int(n or 0) for n in counts))
        for stage, channel, *counts in session.execute(query).all()
    ]
    return sorted(rows, key=_order)


def _order(row: FunnelRow) -> tuple[int, str, int, str]:
    stage = STAGES.index(row.stage) if row.stage in STAGES else len(STAGES)
    channel = CHANNELS.index(row.channel) if row.channel in CHANNELS else len(CHANNELS)
    return stage, row.stage, channel, row.channel


def by_channel(rows: list[FunnelRow]) -> list[FunnelRow]:
    """The funnel per channel over all stages (stage ``all``), in channel order."""
    totals: dict[str, FunnelRow] = {}
    counted = [f.name for f in fields(FunnelRow) if f.name not in ("stage", "channel")]
    for row in rows:
        before = totals.get(row.channel, FunnelRow("all", row.channel))
        totals[row.channel] = FunnelRow(
            "all", row.channel, *(getattr(before, n) + getattr(row, n) for n in counted)
        )
    return sorted(totals.values(), key=_order)
