"""What a recipient does with a message that went out (D16-D17, C3): opens it (the
e-mail's pixel), follows its link, unsubscribes. The web hooks only verify the signed
token and call these.

A hit is counted per token (one upsert, so two hits at once count 1 and 2); the first
hit writes the ``opened`` or ``clicked`` event, later ones are only counted. An open that
looks like a machine's (a mail provider's prefetch) is recorded as such and does not
make the message read; the first open by a person then writes its own event. A reminder's
``read_at`` and ``clicked_at`` are facts about the recipient, not its status: the status
is only written by store/reminders.py.

No HTTP here. Callers own the transaction (nothing commits) and pass ``now``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from notifier.domain.errors import NotFound
from notifier.domain.policy import DeliveryPolicy
from notifier.domain.reads import is_machine_open
from notifier.services.consent import record_opt_out
from notifier.store.models import Event, Reminder, TrackingHit
from notifier.tracking import first_link


class UnknownMessage(NotFound):
    """The token names a reminder that is not (any longer) in the database."""


def _reminder(session: Session, reminder_id: int) -> Reminder:
    r = session.get(Reminder, reminder_id)
    if r is None:
        raise UnknownMessage("no such message")  # never the id: the token is the secret
    return r


def count_hit(session: Session, kind: str, token: str, reminder_id: int, now: datetime) -> int:
    """Count one hit of ``token``; how many there have been, this one included."""
    key = hashlib.sha256(f"{kind}:{token}".encode()).hexdigest()
    table = TrackingHit.__table__  # type: ignore[attr-defined]
    dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = (
        dialect.insert(table)
        .values(key=key, reminder_id=reminder_id, kind=kind, hits=1, first_at=now, last_at=now)
        .on_conflict_do_update(index_elements=["key"],
                               set_={"hits": table.c.hits + 1, "last_at": now})
        .returning(table.c.hits)
    )  # fmt: skip
    return int(session.execute(upsert).scalar_one())


def record_open(
    session: Session,
    reminder_id: int,
    token: str,
    now: datetime,
    user_agent: str,
    client: str | None,
    policy: DeliveryPolicy,
) -> None:
    """The e-mail's pixel was fetched."""
    r = _reminder(session, reminder_id)
    machine = is_machine_open(r.sent_at, now, user_agent, client, policy)
    first = count_hit(session, "open", token, reminder_id, now) == 1
    first_person = not machine and r.read_at is None
    if first_person:
        r.read_at = now
    if first or first_person:
        session.add(Event(at=now, kind="opened", customer_id=r.customer_id, actor="recipient",
                          data={"reminder_id": r.id, "machine": machine,
                                "user_agent": user_agent[:200]}))  # fmt: skip


def record_click(
    session: Session, reminder_id: int, token: str, target: str, now: datetime
) -> None:
    """The message's link was followed: a person read it."""
    r = _reminder(session, reminder_id)
    r.clicked_at = r.clicked_at or now
    r.read_at = r.read_at or now
    if count_hit(session, "click", token, reminder_id, now) == 1:
        session.add(Event(at=now, kind="clicked", customer_id=r.customer_id, actor="recipient",
                          data={"reminder_id": r.id, "target": target}))  # fmt: skip


def sms_link(session: Session, reminder_id: int) -> str | None:
    """Where an SMS's short tracked link goes: the link the stored SMS itself holds
    (its token carries no target, notifier.tracking)."""
    r = session.get(Reminder, reminder_id)
    return first_link(r.body) if r is not None and r.channel == "sms" else None


def unsubscribe(session: Session, reminder_id: int, now: datetime) -> None:
    """The e-mail's unsubscribe link (RFC 8058 one-click, or the page's button): the
    address it went to is opted out at once."""
    r = _reminder(session, reminder_id)
    record_opt_out(session, "email", r.address, "unsubscribe-link", now)
