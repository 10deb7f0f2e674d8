"""C3, D16, D18: one inbound SMS, acted on once.

Twilio may deliver the same inbound webhook more than once, and a captured signed request
can be replayed word for word (the signature covers the MessageSid, so a replay carries
the same one). The first delivery of a MessageSid is recorded in ``inbound_messages``
together with what it did; any later one does nothing at all: no event, no consent change,
no confirmation. So a replayed START never re-subscribes a number that has since opted out,
and one reply is one ``replied`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select
from sqlmodel import Session, col

from notifier.domain.policy import DeliveryPolicy
from notifier.domain.reads import Keyword, Outcome, handled_by_twilio, read_reply
from notifier.services.consent import active_opt_outs, record_opt_out
from notifier.store import reminders
from notifier.store.bulk import insert_ignoring_conflicts
from notifier.store.models import Customer, Event, InboundMessage, Reminder

# C3: the one confirmation of an opt-out, in the customer's language.
OPT_OUT_CONFIRMATION = {
    "zh-CN": "您已退订短信提醒，我们不会再发送短信。如需恢复请回复START。",
    "en": "You have been unsubscribed and will receive no more messages. Reply START to resume.",
}


@dataclass(frozen=True)
class InboundResult:
    duplicate: bool  # this MessageSid was seen before: nothing was done
    keyword: Keyword | None = None
    replied: int = 0  # ``replied`` events written (one per customer with this number)
    confirmation: str | None = None  # the text to answer with, if any


def receive(
    session: Session,
    message_sid: str,
    sender: str,
    text: str,
    now: datetime,
    policy: DeliveryPolicy,
) -> InboundResult:
    """Act on an inbound SMS from ``sender`` once per ``message_sid``, in the caller's
    transaction: opt out (STOP, 退订, TD ... as domain.reads.read_reply finds them), opt
    back in (START as the whole reply), or record the reply on the customer's latest
    message. An opt-out that says more than the keyword ("I will pay Friday, stop texting
    me") is also recorded as a reply, so the collector still reads the promise."""
    reading = read_reply(text, policy)
    # First statement of the transaction: on SQLite it takes the write lock before any
    # read, on PostgreSQL a concurrent copy waits here for this one and then inserts nothing.
    first = insert_ignoring_conflicts(
        session,
        InboundMessage.__table__,  # type: ignore[attr-defined]
        [{"message_sid": message_sid, "received_at": now, "kind": reading.keyword or "reply"}],
        ["message_sid"],
    )
    if not first:
        return InboundResult(duplicate=True)
    customers = session.scalars(
        select(Customer).where(col(Customer.phone) == sender).order_by(col(Customer.id))
    ).all()
    confirmation = None
    if reading.keyword == "stop":
        already = bool(active_opt_outs(session, [("sms", sender)]))
        record_opt_out(session, "sms", sender, "inbound-stop", now)
        # Twilio blocked the number and answered for its own exact words; any other
        # opt-out gets our one confirmation (C3), and only when it changed something.
        if not already and not handled_by_twilio(text):
            locale = customers[0].locale if customers else "zh-CN"
            confirmation = OPT_OUT_CONFIRMATION.get(locale, OPT_OUT_CONFIRMATION["zh-CN"])
    elif reading.keyword == "start":
        record_opt_out(session, "sms", sender, "inbound-start", now, active=False)
    replied = 0
    if not reading.bare:
        for customer in customers:
            _record_reply(session, customer, text, now)
            replied += 1
    return InboundResult(False, reading.keyword, replied, confirmation)


def _record_reply(session: Session, customer: Customer, text: str, now: datetime) -> None:
    latest = session.scalar(
        select(Reminder)
        .where(col(Reminder.customer_id) == customer.id, col(Reminder.sent_at).is_not(None))
        .order_by(col(Reminder.sent_at).desc())
        .limit(1)
    )
    if latest is not None and latest.replied_at is None:
        latest.replied_at = now
    data = {"text": text, "reminder_id": latest.id if latest else None}
    session.add(Event(at=now, kind="replied", customer_id=customer.id, actor="customer", data=data))


def status_callback(
    connection: Connection, reminder: int | None, sid: str, outcome: Outcome, reported: str,
    error: str | None, now: datetime,
) -> None:  # fmt: skip
    """A provider's status callback (``reminder``: the id its signed URL names): the
    reminder moves forward or nothing changes (a repeated, late or stray callback); a
    number the carrier reports as unsubscribed (21610) is opted out (C3)."""
    moved = reminders.apply_callback(connection, reminder, sid, outcome, reported, error, now)
    if moved is not None and outcome == "failed" and error == "21610":
        with Session(bind=connection) as session:  # joins this transaction
            record_opt_out(session, "sms", moved.address, "provider-21610", now)
            session.flush()
