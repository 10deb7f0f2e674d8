"""What the customer services share: their errors, the customer looked up, and the
bounds of an amount or a text a person types in (promises, disputes, the legal flag)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.errors import Forbidden, NotFound, Refused
from notifier.domain.items import money_to_cents
from notifier.domain.lifecycle import LIVE
from notifier.store import reminders
from notifier.store.models import Customer, Reminder

MAX_TEXT = 2000
MAX_AMOUNT = Decimal("1000000000000")  # far above any real invoice; keeps cents in range


class CustomerError(Refused, ValueError):
    """A customer action that cannot be done; the message says what is wrong."""


class UnknownRecord(NotFound, CustomerError):
    """The customer, invoice or dispute named does not exist (404; still a CustomerError
    for the callers that catch every refusal of these services)."""


class NotAllowed(Forbidden, PermissionError):
    """The user's role may not do this."""


def customer_of(session: Session, customer_id: str, *, lock: bool = False) -> Customer:
    customer = session.get(Customer, customer_id, with_for_update=lock, populate_existing=lock)
    if customer is None:
        raise UnknownRecord(f"no customer with id {customer_id!r}", key="err_no_customer",
                            id=customer_id)  # fmt: skip
    return customer


def amount_cents(amount: Decimal | None, what: str) -> int | None:
    """The amount in cents, or a clear error: positive, finite, at most two decimals."""
    if amount is None:
        return None
    if not amount.is_finite():
        raise CustomerError(f"the {what} amount {amount} is not a number",
                            key="err_amount_not_number", what=what, amount=amount)  # fmt: skip
    if amount <= 0:
        raise CustomerError(f"the {what} amount must be more than 0, not {amount}",
                            key="err_amount_not_positive", what=what, amount=amount)  # fmt: skip
    if amount > MAX_AMOUNT:
        raise CustomerError(f"the {what} amount {amount} is too large",
                            key="err_amount_too_large", what=what, amount=amount)  # fmt: skip
    if amount != amount.quantize(Decimal("0.01")):
        raise CustomerError(f"the {what} amount {amount} has more than two decimals",
                            key="err_amount_decimals", what=what, amount=amount)  # fmt: skip
    return money_to_cents(amount)


def bounded_text(value: str | None, what: str, required: bool = False) -> str | None:
    """``value`` stripped, at most MAX_TEXT characters; None when empty (unless required)."""
    text = (value or "").strip()
    if required and not text:
        raise CustomerError(f"the {what} is required", key="err_text_required", what=what)
    if len(text) > MAX_TEXT:
        raise CustomerError(f"the {what} is longer than {MAX_TEXT} characters",
                            key="err_text_too_long", what=what, n=MAX_TEXT)  # fmt: skip
    return text or None


def cancel_live(
    session: Session, customer_id: str, reason: str, by: str, now: datetime
) -> Sequence[Reminder]:
    """Cancel the customer's live drafts and approved reminders (their text no longer
    fits what the customer just said); store/reminders.py writes each status."""
    live = session.scalars(
        select(Reminder)
        .where(col(Reminder.customer_id) == customer_id, col(Reminder.status).in_(LIVE))
        .with_for_update()
    ).all()
    for r in live:
        reminders.cancel(session, r, reason, now, by)
    return live
