"""The tables. Money is integer cents (minor units), time is UTC, dates are calendar dates
as the ERP gives them. Ids of customers, receivables and payments are the ERP's own, so a
re-import is an upsert by id. The schema itself is created by the Alembic migrations in
``migrations/``; these classes are the mapping the code uses.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from notifier.store.types import DecimalText, UTCDateTime


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)  # business | individual
    phone: str | None = Field(default=None, max_length=20)  # E.164
    email: str | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=500)  # postal (地址): letters
    title: str | None = Field(default=None, max_length=2)  # mr | ms (individuals), else None
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    locale: str = Field(default="zh-CN", max_length=8)  # zh-CN | en
    country: str = Field(default="CN", max_length=2)
    tier: str | None = Field(default=None, max_length=1)  # hand-set tier A|B|C, else None
    tier_hand_set: bool = False
    collector: str | None = Field(default=None, max_length=64, index=True)
    notes: str | None = None
    legal_authorised: bool = False
    sms_opt_out: bool = False
    email_opt_out: bool = False
    phone_invalid: bool = False
    # D4, D21: escalation moves the customer from its collector to a manager.
    escalated_at: datetime | None = _utc(nullable=True)
    escalation_reason: str | None = None
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class Receivable(SQLModel, table=True):
    __tablename__ = "receivables"
    __table_args__ = (Index("ix_receivables_customer_due", "customer_id", "due_on"),)

    id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(
        sa_column=Column(String(64), ForeignKey("customers.id"), nullable=False)
    )
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(default="CNY", max_length=3)
    issued_on: date
    due_on: date
    penalty_rate_daily: Decimal | None = Field(
        default=None, sa_column=Column(DecimalText(), nullable=True)
    )
    payment_url: str | None = Field(default=None, max_length=500)
    # Set when the item was rescheduled into an instalment plan (D20): the plan's
    # instalments are then the items that fall due, not this one.
    plan_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("instalment_plans.id"), nullable=True)
    )
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class Payment(SQLModel, table=True):
    __tablename__ = "payments"

    id: str = Field(primary_key=True, max_length=64)
    invoice_id: str = Field(
        sa_column=Column(String(64), ForeignKey("receivables.id"), nullable=False, index=True)
    )
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    paid_on: date
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class PaymentPromise(SQLModel, table=True):
    """D21: a promise to pay by a date pauses reminders until then."""

    __tablename__ = "payment_promises"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(
        sa_column=Column(String(64), ForeignKey("customers.id"), nullable=False, index=True)
    )
    promised_on: date
    amount_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    status: str = Field(default="open", max_length=16)  # open | kept | broken | withdrawn
    note: str | None = None
    recorded_by: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _utc()


class Dispute(SQLModel, table=True):
    """D22: a disputed item (or part of it) is paused and routed to after-sales."""

    __tablename__ = "disputes"
    # At most one open dispute per invoice, kept by the database as well as by the service.
    __table_args__ = (
        Index("uq_disputes_open_invoice", "invoice_id", unique=True,
              sqlite_where=text("resolved_at IS NULL"),
              postgresql_where=text("resolved_at IS NULL")),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: str = Field(
        sa_column=Column(String(64), ForeignKey("receivables.id"), nullable=False, index=True)
    )
    amount_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    reason: str
    opened_by: str | None = Field(default=None, max_length=64)
    opened_at: datetime = _utc()
    resolved_at: datetime | None = _utc(nullable=True)


class InstalmentPlan(SQLModel, table=True):
    """D20: a debt rescheduled into instalments, each reminded like an invoice."""

    __tablename__ = "instalment_plans"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(
        sa_column=Column(String(64), ForeignKey("customers.id"), nullable=False, index=True)
    )
    total_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    note: str | None = None
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _utc()
    # A cancelled plan stays as evidence; its invoices fall due again (migration 0011).
    cancelled_at: datetime | None = _utc(nullable=True)
    cancelled_by: str | None = Field(default=None, max_length=64)


class Instalment(SQLModel, table=True):
    __tablename__ = "instalments"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(
        sa_column=Column(Integer, ForeignKey("instalment_plans.id"), nullable=False, index=True)
    )
    seq: int
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    due_on: date
    paid_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class IdempotencyKey(SQLModel, table=True):
    """An ``Idempotency-Key`` of ``POST /api/payments``: the request it came with (its
    SHA-256) and the answer given, returned again for a repeat (migration 0011)."""

    __tablename__ = "idempotency_keys"

    key: str = Field(primary_key=True, max_length=200)
    scope: str = Field(max_length=40)  # which route: "payments"
    user_name: str = Field(max_length=64)
    request_sha256: str = Field(max_length=64)
    status_code: int
    response: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc()


class Event(SQLModel, table=True):
    """D18: the append-only evidence log. Rows are never updated nor deleted: triggers
    refuse both (migrations 0001, 0008); the retention purge (C5) will need its own path."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_customer_at", "customer_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc()
    kind: str = Field(max_length=40, index=True)
    customer_id: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Reminder(SQLModel, table=True):
    """One message to one customer for one cadence step of one overdue cycle (D7).

    The UNIQUE (customer, step, cycle) key makes every planning run idempotent: a re-run
    or a concurrent run inserts nothing twice. Its status follows ``domain/lifecycle.py``
    and is written only by ``store/reminders.py`` (with the version and the event).
    """

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("customer_id", "step", "cycle", name="uq_reminders_customer_step_cycle"),
        Index("ix_reminders_status_slot", "status", "slot_start"),
        Index("ix_reminders_customer", "customer_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(
        sa_column=Column(String(64), ForeignKey("customers.id"), nullable=False)
    )
    step: str = Field(max_length=40)
    cycle: str = Field(max_length=80)  # the oldest open item and its due date
    channel: str = Field(max_length=8)  # sms | email
    address: str = Field(max_length=254)  # where it goes, fixed when drafted
    status: str = Field(default="pending_approval", max_length=20)
    stage: str = Field(max_length=10)
    tier: str = Field(max_length=1)
    tone: str = Field(max_length=10)
    locale: str = Field(max_length=8)
    window: str = Field(max_length=40)
    slot_start: datetime = _utc()
    slot_end: datetime = _utc()
    subject: str | None = None
    body: str
    html: str | None = None
    segments: int | None = None
    # What the text states, to lint edits against the data (D14).
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    lint: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fallback_of: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("reminders.id"), nullable=True, unique=True),
    )
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = _utc(nullable=True)
    reason: str | None = None  # why rejected, cancelled, re-slotted or failed
    version: int = 1
    # Delivery (at-most-once): claimed with a lease, marked `sending` before the provider
    # is called; a `sending` row whose lease ran out is `unknown` and goes to a person.
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = _utc(nullable=True)
    attempts: int = 0
    next_attempt_at: datetime | None = _utc(nullable=True)
    provider_id: str | None = Field(default=None, max_length=200, index=True)
    sent_at: datetime | None = _utc(nullable=True)
    delivered_at: datetime | None = _utc(nullable=True)
    # Read tracking (D16): the first human open, click and reply.
    read_at: datetime | None = _utc(nullable=True)
    clicked_at: datetime | None = _utc(nullable=True)
    replied_at: datetime | None = _utc(nullable=True)


class LetterPost(SQLModel, table=True):
    """Issue 15, D18: a formal letter (a reminder on channel ``letter``) as posted: the
    carrier and its tracking number, who posted it and when; later the day the signed
    receipt (签收回执) says it was received. Written only by ``store/reminders.py``, with
    the letter's move (approved -> sent -> delivered) and its event."""

    __tablename__ = "letter_posts"

    reminder_id: int = Field(
        sa_column=Column(Integer, ForeignKey("reminders.id"), primary_key=True,
                         autoincrement=False)
    )  # fmt: skip
    carrier: str = Field(max_length=40)
    tracking_no: str = Field(max_length=64)
    posted_by: str = Field(max_length=64)
    posted_at: datetime = _utc()
    received_on: date | None = None
    received_recorded_by: str | None = Field(default=None, max_length=64)
    received_recorded_at: datetime | None = _utc(nullable=True)


class CallOutcome(SQLModel, table=True):
    """Issue 14, D18: one outcome a collector recorded of a call task (a reminder on
    channel ``call``): what the customer said, who recorded it and when (migration 0012).
    The rows count the calls made under the caps (C2) and the vague answers (D21)."""

    __tablename__ = "call_outcomes"
    __table_args__ = (Index("ix_call_outcomes_customer_at", "customer_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(
        sa_column=Column(Integer, ForeignKey("reminders.id"), nullable=False, index=True)
    )
    customer_id: str = Field(
        sa_column=Column(String(64), ForeignKey("customers.id"), nullable=False)
    )
    cycle: str = Field(max_length=80)
    outcome: str = Field(max_length=20)  # reached | no_answer | wrong_number | promised | ...
    at: datetime = _utc()
    recorded_by: str = Field(max_length=64)
    note: str | None = None
    promised_on: date | None = None
    amount_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    invoice_id: str | None = Field(default=None, max_length=64)


class ReminderEdit(SQLModel, table=True):
    """D13: every reviewer edit, who and when, before and after."""

    __tablename__ = "reminder_edits"

    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(
        sa_column=Column(Integer, ForeignKey("reminders.id"), nullable=False, index=True)
    )
    edited_by: str = Field(max_length=64)
    edited_at: datetime = _utc()
    subject_before: str | None = None
    subject_after: str | None = None
    body_before: str
    body_after: str


class OptOut(SQLModel, table=True):
    """C3: an address that asked not to be contacted on a channel, honoured at once and
    whichever customer record carries it; `active` turns off on START / re-subscribe."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_opt_outs_channel_address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=8)
    address: str = Field(max_length=254)
    active: bool = True
    source: str = Field(max_length=40)  # twilio-stop, inbound-keyword, unsubscribe-link, ...
    at: datetime = _utc()


class InboundMessage(SQLModel, table=True):
    """C3, D18: each inbound SMS, once. Twilio may deliver a webhook again, and a captured
    signed request can be replayed; UNIQUE (message_sid) means one message acts once: a
    repeat writes no event and changes no consent. Only what deduplication needs is kept
    (no sender, no text: those are in the customer's events), C5."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("message_sid", name="uq_inbound_messages_message_sid"),)

    id: int | None = Field(default=None, primary_key=True)
    message_sid: str = Field(max_length=64)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    kind: str = Field(max_length=8)  # stop | start | reply


class SweepTick(SQLModel, table=True):
    """One run of a sweep for one tick of the clock; UNIQUE (sweep, slot) means two
    processes that wake for the same tick run it once."""

    __tablename__ = "sweep_ticks"
    __table_args__ = (UniqueConstraint("sweep", "slot", name="uq_sweep_ticks_sweep_slot"),)

    id: int | None = Field(default=None, primary_key=True)
    sweep: str = Field(max_length=20)
    slot: datetime = _utc()
    started_at: datetime = _utc()
    finished_at: datetime | None = _utc(nullable=True)
    worker: str = Field(max_length=100)
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class User(SQLModel, table=True):
    """A person who reviews, collects, manages or administers (D4, D13)."""

    __tablename__ = "users"

    name: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)  # reviewer | collector | manager | admin
    password_hash: str | None = None
    locale: str = Field(default="zh-CN", max_length=8)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    active: bool = True
    created_at: datetime = _utc()
    # The collector's own phone (E.164): click-to-call rings it first (migration 0014).
    phone: str | None = Field(default=None, max_length=20)


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(max_length=64, unique=True)
    user_name: str = Field(
        sa_column=Column(String(64), ForeignKey("users.name"), nullable=False, index=True)
    )
    created_at: datetime = _utc()
    revoked_at: datetime | None = _utc(nullable=True)
    # Written at most once a minute per token (see users.TOUCH_EVERY), not on every call.
    last_used_at: datetime | None = _utc(nullable=True)


class WebSession(SQLModel, table=True):
    """A login to the web pages. The signed cookie carries only a random id (its SHA-256
    is the key here), so that logging out, a password or role change and disabling the
    user end the session at once, copies of the cookie included."""

    __tablename__ = "web_sessions"

    id_sha256: str = Field(primary_key=True, max_length=64)
    user_name: str = Field(
        sa_column=Column(String(64), ForeignKey("users.name"), nullable=False, index=True)
    )
    created_at: datetime = _utc()
    last_seen_at: datetime = _utc()
    expires_at: datetime = _utc()
    ended_at: datetime | None = _utc(nullable=True)


class LoginFailure(SQLModel, table=True):
    """One failed login, kept for the throttling window (policy.security) so that every
    process serving the app counts the same failures. The name is as typed (it need not
    be a user); the address is the client's."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_user_at", "user_name", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc(index=True)
    user_name: str = Field(max_length=64)
    address: str = Field(max_length=64)


class TrackingHit(SQLModel, table=True):
    """D16: how often one tracking link (an open pixel or one click link) was hit. The
    first hit writes the event; repeats only count here, so replaying a link cannot fill
    the evidence log. ``key`` is the SHA-256 of the purpose and the token (never the token
    itself, which would let a reader replay it)."""

    __tablename__ = "tracking_hits"

    key: str = Field(primary_key=True, max_length=64)
    reminder_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("reminders.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    kind: str = Field(max_length=8)  # open | click
    hits: int = 0
    first_at: datetime = _utc()
    last_at: datetime = _utc()


class PlannerDue(SQLModel, table=True):
    """Issue 12: when a customer next needs the planner (``store/planning.py``). Written
    by the planner, and set to "recompute now" by triggers (migration 0009) whenever a row
    of the customer's standing changes; a tick reads only the rows due by then."""

    __tablename__ = "planner_due"

    customer_id: str = Field(primary_key=True, max_length=64)
    # None: nothing to do until the customer's data changes.
    next_at: datetime | None = _utc(nullable=True, index=True)
    why: str = Field(max_length=20)
    portfolio_bound: bool = False


class PlannerMeta(SQLModel, table=True):
    """What the planning states were computed under (the policy's digest, ...)."""

    __tablename__ = "planner_meta"

    key: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=200)
