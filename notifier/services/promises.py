"""D21: a promise to pay by a date. Reminders pause until that date (the planner and the
send-time re-check honour every open promise); the customer's live drafts are cancelled
at once, as the planner would on its next run. The planner settles a promise as kept or
broken the day after its date.

No HTTP here. Callers own the transaction (nothing commits) and pass ``now``. Every
change lands in the append-only event log with who made it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from notifier.domain.items import cents_to_money, local_date
from notifier.domain.policy import LimitsPolicy
from notifier.services.common import (
    CustomerError,
    amount_cents,
    bounded_text,
    cancel_live,
    customer_of,
)
from notifier.store.models import Event, PaymentPromise

# Who may record a promise beyond promise_max_days (up to promise_manager_max_days).
LONG_PROMISE_ROLES = frozenset({"manager", "admin"})


def record_promise(
    session: Session,
    customer_id: str,
    promised_on: date,
    amount: Decimal | None,
    note: str | None,
    by: str,
    now: datetime,
    *,
    role: str | None = None,
    limits: LimitsPolicy | None = None,
) -> PaymentPromise:
    """The customer promised to pay (``amount``, or everything) by ``promised_on``.
    The customer's live drafts are cancelled now: their text asks for a payment the
    customer has just promised.

    A promise pauses collection, so it is bounded: at most ``limits.promise_max_days``
    ahead of the customer's today, or ``promise_manager_max_days`` when ``role`` (the
    recording user's) is a manager's or an admin's. ``limits`` defaults to the policy's
    defaults, so a caller that forgets it still cannot pause collection for ever."""
    customer = customer_of(session, customer_id)
    today = local_date(now, customer.timezone)
    if promised_on < today:
        raise CustomerError(
            f"the promised date {promised_on.isoformat()} is in the past "
            f"(it is {today.isoformat()} for the customer)"
        )
    _within_reach(promised_on, today, role, limits or LimitsPolicy())
    cents = amount_cents(amount, "promised")
    text = bounded_text(note, "note")
    promise = PaymentPromise(customer_id=customer.id, promised_on=promised_on,
                             amount_cents=cents, status="open", note=text, recorded_by=by,
                             recorded_at=now)  # fmt: skip
    session.add(promise)
    session.flush()
    session.add(Event(at=now, kind="promise_recorded", customer_id=customer.id, actor=by,
                      data={"promise_id": promise.id, "promised_on": promised_on.isoformat(),
                            "amount": None if cents is None else str(cents_to_money(cents)),
                            "note": text}))  # fmt: skip
    cancel_live(session, customer.id, f"promised to pay by {promised_on.isoformat()}", by, now)
    return promise


def _within_reach(promised_on: date, today: date, role: str | None, limits: LimitsPolicy) -> None:
    manager = role in LONG_PROMISE_ROLES
    days = limits.promise_manager_max_days if manager else limits.promise_max_days
    if (promised_on - today).days <= days:
        return
    latest = (today + timedelta(days=days)).isoformat()
    if manager or limits.promise_manager_max_days == days:
        raise CustomerError(
            f"the promised date {promised_on.isoformat()} is more than {days} days ahead; "
            f"the latest a promise may reach is {latest}"
        )
    raise CustomerError(
        f"the promised date {promised_on.isoformat()} is more than {days} days ahead "
        f"(latest {latest}); only a manager may record a promise up to "
        f"{limits.promise_manager_max_days} days ahead"
    )
