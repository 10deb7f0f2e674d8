"""C3, C6: who may be contacted on which channel. Opt-outs are honoured at once, per
channel and per address (whichever customer record carries the address), from STOP words,
unsubscribe links and the provider's own opt-out errors; START turns them back on."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.store.models import Customer, Event, OptOut


def address_of(customer: Customer, channel: str) -> str | None:
    return customer.phone if channel == "sms" else customer.email


def opted_out(session: Session, customer: Customer, channel: str) -> str | None:
    """Why this customer cannot be reached on ``channel`` now, or None (C3, C6)."""
    address = address_of(customer, channel)
    wanted = [(channel, address)] if address else []
    listed = bool(active_opt_outs(session, wanted))
    return opt_out_reason(customer, channel, listed=listed)


def opt_out_reason(customer: Customer, channel: str, *, listed: bool) -> str | None:
    """The rule of :func:`opted_out`, given whether the customer's current address on
    ``channel`` has an active row in ``opt_outs`` (``listed``)."""
    address = address_of(customer, channel)
    if not address:
        return f"no {'phone number' if channel == 'sms' else 'e-mail address'} any more"
    if channel == "sms" and customer.phone_invalid:
        return "the phone number is invalid (provider error 21211)"
    if (customer.sms_opt_out if channel == "sms" else customer.email_opt_out) or listed:
        return f"the customer opted out of {channel}"
    return None


def active_opt_outs(session: Session, wanted: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (channel, address) pairs of ``wanted`` that have an active opt-out: one SELECT
    for a whole batch of reminders."""
    pairs = set(wanted)
    if not pairs:
        return set()
    channels = sorted({channel for channel, _ in pairs})
    addresses = sorted({address for _, address in pairs})
    found = session.execute(
        select(col(OptOut.channel), col(OptOut.address)).where(
            col(OptOut.channel).in_(channels),
            col(OptOut.address).in_(addresses),
            col(OptOut.active),
        )  # fmt: skip
    )
    return {(channel, address) for channel, address in found} & pairs


def record_opt_out(
    session: Session, channel: str, address: str, source: str, now: datetime, active: bool = True
) -> None:
    """C3: honour an opt-out (or a START) for this address, on every customer carrying it."""
    row = session.scalar(
        select(OptOut).where(col(OptOut.channel) == channel, col(OptOut.address) == address)
    )
    if row is None:
        session.add(OptOut(channel=channel, address=address, active=active, source=source, at=now))
    else:
        row.active, row.source, row.at = active, source, now
    field_name = "sms_opt_out" if channel == "sms" else "email_opt_out"
    address_col = col(Customer.phone) if channel == "sms" else col(Customer.email)
    for customer in session.scalars(select(Customer).where(address_col == address)):
        setattr(customer, field_name, active)
        customer.updated_at = now
        kind = "opted_out" if active else "opted_in"
        data = {"channel": channel}
        session.add(Event(at=now, kind=kind, customer_id=customer.id, actor=source, data=data))


def stop_phone(session: Session, customer: Customer, why: str, actor: str, now: datetime) -> None:
    """The customer's phone number is not to be used any more (a wrong number on a call,
    issue 14; like provider error 21211, C6): no call and no SMS goes to it until the
    number is replaced by an import."""
    if customer.phone_invalid:
        return
    customer.phone_invalid = True
    customer.updated_at = now
    session.add(Event(at=now, kind="phone_stopped", customer_id=customer.id, actor=actor,
                      data={"reason": why}))  # fmt: skip
