"""Formal letters (issue 15): print one, record that it was posted (carrier and tracking
number) and, later, the day its signed receipt says it was received.

A letter is a reminder on channel ``letter``: drafted by the planner, reviewed, edited
and approved like any message (services/review.py). No provider sends it: the approved
letter is printed (``pdf``), posted by a person and recorded here; ``store/reminders.py``
moves it (approved -> sent -> delivered) and writes the evidence. A letter not approved
yet prints with a DRAFT watermark, for review; a rejected, cancelled or expired one does
not print.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from notifier.domain import lifecycle
from notifier.domain.errors import Conflict, Forbidden, NotFound, Refused
from notifier.domain.lifecycle import Status
from notifier.domain.policy import Policy
from notifier.store import reminders as store
from notifier.store.models import Customer, LetterPost, Reminder, User

LETTER = "letter"
PRINTABLE = frozenset({Status.PENDING_APPROVAL, Status.APPROVED, Status.SENT, Status.DELIVERED})
_TRACKING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{3,63}$")


class NoSuchLetter(NotFound):
    def __init__(self, reminder_id: int) -> None:
        super().__init__(f"no letter with id {reminder_id}")


class NotALetter(Refused):
    def __init__(self, r: Reminder) -> None:
        super().__init__(f"reminder {r.id} is an {r.channel} message, not a letter "
                         f"(channel {LETTER})")  # fmt: skip


class LetterRefused(Refused):
    """Input about a letter that cannot be right (a tracking number, a date)."""


class LetterState(Conflict):
    """The letter is not in the state the action needs; the message says which it is."""


class UnknownUser(Forbidden):
    pass


def get_letter(session: Session, reminder_id: int, lock: bool = False) -> Reminder:
    r = session.get(Reminder, reminder_id, with_for_update=lock, populate_existing=lock)
    if r is None:
        raise NoSuchLetter(reminder_id)
    if r.channel != LETTER:
        raise NotALetter(r)
    return r


def post_of(session: Session, reminder_id: int) -> LetterPost | None:
    return session.get(LetterPost, reminder_id)


def _check_user(session: Session, name: str) -> None:
    """The name stands in the evidence as who posted or received: an active user."""
    user = session.get(User, name)
    if user is None or not user.active:
        raise UnknownUser(f"{name!r} is not an active notifier user (notifier user add)")


@dataclass(frozen=True)
class Printed:
    reminder: Reminder
    pdf: bytes
    draft: bool


def pdf(session: Session, reminder_id: int, policy: Policy) -> Printed:
    """The letter as a PDF: the approved one to post, or a draft (watermarked) to review."""
    r = get_letter(session, reminder_id)
    if r.status not in PRINTABLE:
        raise LetterState(f"letter {r.id} is {r.status}: there is nothing to print")
    customer = session.get(Customer, r.customer_id)
    assert customer is not None
    facts: dict[str, Any] = dict(r.facts.get("letter") or {})
    if not facts:
        raise LetterState(f"letter {r.id} carries no letter facts: draft it again")
    seal = Path(policy.letters.seal_image) if policy.letters.seal_image else None
    draft = r.status == Status.PENDING_APPROVAL
    from notifier.letters.pdf import Letter, render_pdf  # ReportLab: only to print a letter

    letter = Letter(reminder_id=r.id or 0, locale=r.locale, title=r.subject or "",
                    body=r.body, recipient=customer.name, address=r.address, facts=facts,
                    draft=draft, seal_image=seal)  # fmt: skip
    return Printed(r, render_pdf(letter), draft)


def _clean(text: str, what: str, longest: int) -> str:
    value = text.strip()
    if not value or len(value) > longest or any(unicodedata.category(c) == "Cc" for c in value):
        raise LetterRefused(f"the {what} must be 1 to {longest} characters on one line")
    return value


def posted(session: Session, reminder_id: int, tracking: str, carrier: str | None, by: str,
           now: datetime, policy: Policy) -> LetterPost:  # fmt: skip
    """Record that the approved letter was posted: ``sent``, with its tracking number."""
    _check_user(session, by)
    number = tracking.strip().replace(" ", "")
    if not _TRACKING.match(number):
        raise LetterRefused(f"{tracking!r} is not a tracking number: 4 to 64 letters, digits "
                            "or dashes, e.g. EA123456789CN")  # fmt: skip
    name = _clean(carrier or policy.letters.carriers[0], "carrier", 40)
    r = get_letter(session, reminder_id, lock=True)
    if r.status not in lifecycle.POST_LETTER.sources:
        raise LetterState(_why_not(r, "posted", "approved"))
    return store.post_letter(session, r, by, name, number, now)


def received(session: Session, reminder_id: int, on: date, by: str, now: datetime) -> LetterPost:
    """Record the day the signed receipt says the letter was received: ``delivered``."""
    _check_user(session, by)
    r = get_letter(session, reminder_id, lock=True)
    if r.status not in lifecycle.RECEIVE_LETTER.sources:
        raise LetterState(_why_not(r, "marked received", "posted (sent)"))
    post = session.get(LetterPost, reminder_id, with_for_update=True)
    assert post is not None  # a posted letter has its row (written with the move)
    zone = ZoneInfo(session.get(Customer, r.customer_id).timezone)  # type: ignore[union-attr]
    posted_on = post.posted_at.astimezone(zone).date()
    today = now.astimezone(zone).date()
    if not posted_on <= on <= today:
        raise LetterRefused(f"the receipt date {on.isoformat()} must lie between the day it "
                            f"was posted ({posted_on.isoformat()}) and today "
                            f"({today.isoformat()})")  # fmt: skip
    store.receive_letter(session, r, post, by, on, now)
    return post


def _why_not(r: Reminder, action: str, needs: str) -> str:
    return f"letter {r.id} is {r.status}; only a letter that is {needs} can be {action}"


def letter_json(r: Reminder, post: LetterPost | None) -> dict[str, Any]:
    """A letter with its posting, as the CLI's --json and the evidence show it."""
    letter = r.facts.get("letter") or {}
    return {
        "id": r.id, "customer_id": r.customer_id, "step": r.step, "status": r.status,
        "address": r.address, "title": r.subject, "letter_date": letter.get("letter_date"),
        "deadline": letter.get("deadline"), "working_days": letter.get("working_days"),
        "carrier": post.carrier if post else None,
        "tracking_no": post.tracking_no if post else None,
        "posted_at": post.posted_at.isoformat() if post else None,
        "posted_by": post.posted_by if post else None,
        "received_on": post.received_on.isoformat() if post and post.received_on else None,
    }  # fmt: skip
