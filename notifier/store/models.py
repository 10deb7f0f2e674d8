"""The tables. Money is integer cents (minor units), time is UTC, dates are calendar dates
as the ERP gives them. Ids of customers, receivables and payments are the ERP's own, so a
re-import is an upsert by id. The schema itself is created by the Alembic migrations in
``migrations/``; these classes are the mapping the code uses.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String
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


class Event(SQLModel, table=True):
    """D18: the append-only evidence log. Rows are never updated (a trigger refuses it);
    deletion is reserved for the retention purge (C5)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_customer_at", "customer_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc()
    kind: str = Field(max_length=40, index=True)
    customer_id: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
