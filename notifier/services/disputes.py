"""D22: a dispute on an invoice (all of it or a part). Only the disputed amount is set
aside and routed to after-sales; the rest of the invoice is still collected. A dispute is
later resolved, and the item is collected again (or was credited by the ERP).

No HTTP here. Callers own the transaction (nothing commits) and pass ``now``. Every
change lands in the append-only event log with who made it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.items import cents_to_money
from notifier.services.common import (
    CustomerError,
    UnknownRecord,
    amount_cents,
    bounded_text,
    customer_of,
)
from notifier.store.models import Dispute, Event, Receivable


def open_dispute(
    session: Session,
    invoice_id: str,
    amount: Decimal | None,
    reason: str,
    by: str,
    now: datetime,
    *,
    customer_id: str | None = None,
) -> Dispute:
    """The customer disputes ``invoice_id`` (``amount`` of it, or all of it).
    ``customer_id``, when given, must be the invoice's customer."""
    # Locked: a dispute opened meanwhile on the same invoice (PostgreSQL) is seen below.
    invoice = session.get(Receivable, invoice_id, with_for_update=True, populate_existing=True)
    if invoice is None:
        raise UnknownRecord(f"no invoice with id {invoice_id!r}")
    customer = customer_of(session, invoice.customer_id)
    if customer_id is not None and customer.id != customer_id:
        raise CustomerError(f"invoice {invoice_id!r} is not an invoice of customer {customer_id!r}")
    cents = amount_cents(amount, "disputed")
    if cents is not None and cents > invoice.amount_cents:
        raise CustomerError(
            f"the disputed amount {amount} is more than invoice {invoice_id!r} is for "
            f"({cents_to_money(invoice.amount_cents)})"
        )
    text = bounded_text(reason, "reason", required=True)
    assert text is not None
    already = session.scalar(
        select(col(Dispute.id)).where(
            col(Dispute.invoice_id) == invoice_id, col(Dispute.resolved_at).is_(None)
        )
    )
    if already is not None:
        raise CustomerError(f"invoice {invoice_id!r} already has an open dispute (#{already})")
    dispute = Dispute(invoice_id=invoice_id, amount_cents=cents, reason=text, opened_by=by,
                      opened_at=now)  # fmt: skip
    session.add(dispute)
    session.flush()
    session.add(Event(at=now, kind="dispute_opened", customer_id=customer.id, actor=by,
                      data={"dispute_id": dispute.id, "invoice_id": invoice_id,
                            "amount": None if cents is None else str(cents_to_money(cents)),
                            "reason": text}))  # fmt: skip
    return dispute


def resolve_dispute(
    session: Session,
    dispute_id: int,
    note: str | None,
    by: str,
    now: datetime,
    *,
    customer_id: str | None = None,
) -> Dispute:
    """After-sales settled the dispute. ``customer_id``, when given, must be the disputed
    invoice's customer."""
    dispute = session.get(Dispute, dispute_id, with_for_update=True)
    if dispute is None:
        raise UnknownRecord(f"no dispute with id {dispute_id}")
    invoice = session.get(Receivable, dispute.invoice_id)
    assert invoice is not None  # a foreign key
    if customer_id is not None and invoice.customer_id != customer_id:
        raise CustomerError(f"dispute #{dispute_id} is not about customer {customer_id!r}")
    if dispute.resolved_at is not None:
        raise CustomerError(f"dispute #{dispute_id} was already resolved")
    text = bounded_text(note, "note")
    dispute.resolved_at = now
    session.add(Event(at=now, kind="dispute_resolved", customer_id=invoice.customer_id, actor=by,
                      data={"dispute_id": dispute.id, "invoice_id": dispute.invoice_id,
                            "note": text}))  # fmt: skip
    return dispute
