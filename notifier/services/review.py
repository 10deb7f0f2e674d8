"""The approval queue (D12-D14): list, approve, reject and edit drafts. One service for the
CLI and the HTTP API; every decision names its reviewer and lands in the event log.

Nothing generated is sent without a person's approval. A draft that fails the content
rules cannot be approved until it is edited; an edit that fails them is refused and the
draft stays as it was. A draft approved after its slot has passed moves to the next slot
(deferred, never sent late, never dropped).
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from notifier.domain import lifecycle
from notifier.domain.calendar import CalendarNotPublished, WorkCalendar
from notifier.domain.errors import Conflict, Forbidden, NotFound, Refused
from notifier.domain.lifecycle import Status
from notifier.domain.lint import LintProblem, lint
from notifier.domain.policy import Channel, Policy
from notifier.drafting.compose import facts_from_json
from notifier.drafting.slotting import RESLOT_DAYS, reslot
from notifier.render import sms_segments
from notifier.services.users import decider_problem
from notifier.store import reminders as store
from notifier.store.models import Customer, Reminder, ReminderEdit, User

STATUSES = lifecycle.STATUSES  # kept for callers of review.STATUSES


class ReviewError(Conflict):
    """A review action that cannot be done; the message says why."""


class DraftNotFound(NotFound, ReviewError):
    def __init__(self, reminder_id: int) -> None:
        super().__init__(f"no draft with id {reminder_id}", key="err_no_draft", id=reminder_id)


class NotADecider(Forbidden, ReviewError):
    """The name on a decision is not an active reviewer, manager or admin."""


def check_decider(session: Session, name: str) -> None:
    """Every decision names a real, active user whose role may decide (D13): the name
    stands in the customer's evidence as the approver. Checked before anything is written."""
    problem = decider_problem(session.get(User, name), name)
    if problem is not None:
        raise NotADecider(problem)


class InvalidText(Refused, ReviewError):
    """A proposed text that no draft may carry (empty, a subject of several lines)."""


class LintRefused(Refused, ReviewError):
    def __init__(self, reminder_id: int, problems: Sequence[LintProblem | str]) -> None:
        self.problems = [str(p) for p in problems]
        super().__init__(
            f"draft {reminder_id} breaks the content rules: " + "; ".join(self.problems),
            key="err_lint_refused",
            id=reminder_id,
        )

    def detail(self) -> dict[str, Any]:
        return {"message": str(self), "problems": self.problems}


@dataclass(frozen=True)
class DraftFilter:
    status: str | None = None
    channel: str | None = None
    stage: str | None = None
    tier: str | None = None
    collector: str | None = None
    customer_id: str | None = None
    slot_from: datetime | None = None
    slot_to: datetime | None = None
    limit: int = 50
    offset: int = 0


def list_drafts(session: Session, f: DraftFilter) -> list[Reminder]:
    query = select(Reminder)
    if f.status:
        query = query.where(col(Reminder.status) == f.status)
    if f.channel:
        query = query.where(col(Reminder.channel) == f.channel)
    else:  # call tasks are the collectors' list (`notifier calls`), asked for by channel
        query = query.where(col(Reminder.channel) != "call")
    if f.stage:
        query = query.where(col(Reminder.stage) == f.stage)
    if f.tier:
        query = query.where(col(Reminder.tier) == f.tier)
    if f.customer_id:
        query = query.where(col(Reminder.customer_id) == f.customer_id)
    if f.slot_from:
        query = query.where(col(Reminder.slot_start) >= f.slot_from)
    if f.slot_to:
        query = query.where(col(Reminder.slot_start) < f.slot_to)
    if f.collector:
        query = query.join(Customer, col(Customer.id) == col(Reminder.customer_id)).where(
            col(Customer.collector) == f.collector
        )
    query = (
        query.order_by(col(Reminder.slot_start), col(Reminder.id)).limit(f.limit).offset(f.offset)
    )
    return list(session.scalars(query))


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(col(Reminder.status), func.count()).group_by(col(Reminder.status))
    )
    return {str(status): int(n) for status, n in rows}


def draft_json(r: Reminder) -> dict[str, Any]:
    """A reminder as CONTRACT.md's `drafts --json` and the API show it."""
    return {
        "id": r.id,
        "customer_id": r.customer_id,
        "channel": r.channel,
        "status": r.status,
        "stage": r.stage,
        "tier": r.tier,
        "tone": r.tone,
        "step": r.step,
        "locale": r.locale,
        "window": r.window,
        "slot_start": r.slot_start.isoformat(),
        "slot_end": r.slot_end.isoformat(),
        "subject": r.subject,
        "body": r.body,
        "segments": r.segments,
        "lint": r.lint,
        "fallback_of": r.fallback_of,
        "decided_by": r.decided_by,
        "reason": r.reason,
        "attempts": r.attempts,
        "provider_id": r.provider_id,
        **{
            name: (value.isoformat() if value else None)
            for name, value in (
                ("sent_at", r.sent_at),
                ("delivered_at", r.delivered_at),
                ("read_at", r.read_at),
                ("clicked_at", r.clicked_at),
                ("replied_at", r.replied_at),
            )
        },  # fmt: skip
        "created_at": r.created_at.isoformat(),
        "updated_at": r.updated_at.isoformat(),
    }


def get_draft(session: Session, reminder_id: int) -> Reminder:
    reminder = session.get(Reminder, reminder_id)
    if reminder is None:
        raise DraftNotFound(reminder_id)
    return reminder


def _get(session: Session, reminder_id: int) -> Reminder:
    """Lock the draft and re-read it: a copy this session read earlier (the page that lists
    the drafts) is brought up to date, not trusted (FOR UPDATE alone does not refresh it)."""
    reminder = session.get(Reminder, reminder_id, with_for_update=True, populate_existing=True)
    if reminder is None:
        raise DraftNotFound(reminder_id)
    return reminder


def approve(
    session: Session,
    ids: Sequence[int],
    reviewer: str,
    now: datetime,
    policy: Policy,
    calendar: WorkCalendar,
) -> list[Reminder]:
    """Approve drafts; all or none: one that cannot be approved refuses the whole call."""
    check_decider(session, reviewer)
    reminders = [_get(session, i) for i in ids]
    for r in reminders:
        if r.status not in lifecycle.APPROVE.sources:
            raise ReviewError(f"draft {r.id} is {r.status}, only pending drafts can be approved",
                              key="err_approve_not_pending", id=r.id, status=r.status)  # fmt: skip
        if r.lint:
            raise LintRefused(r.id or 0, r.lint)
    for r in reminders:
        moved = _reslot_if_passed(session, r, now, policy, calendar)
        store.approve(session, r, reviewer, now, moved_to=moved)
    return reminders


def approve_all_pending(
    session: Session, reviewer: str, now: datetime, policy: Policy, calendar: WorkCalendar,
    f: DraftFilter | None = None,
) -> tuple[list[Reminder], list[tuple[int, str]]]:  # fmt: skip
    """Bulk approve every pending draft (matching ``f``); drafts that break the content
    rules are left pending and reported, the rest approved."""
    check_decider(session, reviewer)
    base = f or DraftFilter()
    drafts = list_drafts(session, replace(base, status=Status.PENDING_APPROVAL, limit=1_000_000))
    clean = [r.id for r in drafts if not r.lint and r.id is not None]
    skipped = [(r.id or 0, "; ".join(r.lint)) for r in drafts if r.lint]
    return approve(session, clean, reviewer, now, policy, calendar), skipped


def _reslot_if_passed(
    session: Session, r: Reminder, now: datetime, policy: Policy, calendar: WorkCalendar
) -> str | None:
    """D12: approved after its slot ended -> the next slot; never late, never dropped."""
    if r.slot_end > now:
        return None
    try:
        slot = reslot(session, r, now, policy, calendar)
    except CalendarNotPublished as exc:
        raise ReviewError(f"draft {r.id}: its slot has passed and {exc}",
                          key="err_slot_passed", id=r.id) from exc  # fmt: skip
    if slot is None:
        raise ReviewError(
            f"draft {r.id}: its slot has passed and no slot within {RESLOT_DAYS} days fits",
            key="err_no_slot",
            id=r.id,
            days=RESLOT_DAYS,
        )
    return slot.start.isoformat()


def reject(
    session: Session, reminder_id: int, reviewer: str, reason: str, now: datetime
) -> Reminder:
    check_decider(session, reviewer)
    if not reason.strip():
        raise InvalidText("a rejection needs a reason", key="err_reject_reason")
    r = _get(session, reminder_id)
    if r.status not in lifecycle.REJECT.sources:
        raise ReviewError(f"draft {r.id} is {r.status} and can no longer be rejected",
                          key="err_reject_not_pending", id=r.id, status=r.status)  # fmt: skip
    store.reject(session, r, reviewer, reason.strip(), now)
    return r


def check_text(
    session: Session, r: Reminder, body: str, subject: str | None, policy: Policy
) -> tuple[list[LintProblem], int | None]:
    """The linter on a proposed text for this draft (used live by the editor too)."""
    customer = session.get(Customer, r.customer_id)
    assert customer is not None
    channel: Channel = "sms" if r.channel == "sms" else "email"
    facts = facts_from_json(r.facts, channel, customer.legal_authorised)
    segments = sms_segments(body)[0] if channel == "sms" else None
    problems = lint(body, facts, policy.lint,
                    subject=subject if channel == "email" else None, segments=segments,
                    max_segments=policy.planning.sms_max_segments)  # fmt: skip
    return problems, segments


SUBJECT_MAX = 200
BODY_MAX = 20_000  # characters: far past any message (an SMS holds 1,600 at Twilio)


def _check_subject(subject: str) -> None:
    """One line, no control characters: a line break in a subject would start a header of
    its own (a Bcc: the reviewer typed) in the e-mail as sent."""
    if any(unicodedata.category(c) == "Cc" for c in subject):
        raise InvalidText("the subject must be one line, without line breaks or control characters",
                          key="err_subject_one_line")  # fmt: skip
    if not subject.strip() or len(subject) > SUBJECT_MAX:
        raise InvalidText(f"the subject must have 1 to {SUBJECT_MAX} characters",
                          key="err_subject_length", n=SUBJECT_MAX)  # fmt: skip


def edit(
    session: Session,
    reminder_id: int,
    reviewer: str,
    body: str,
    subject: str | None,
    now: datetime,
    policy: Policy,
    expected_version: int | None = None,
) -> Reminder:
    """Replace the text of a pending draft; refused (draft unchanged) when it breaks the
    content rules. The edit is kept with before and after (D13)."""
    check_decider(session, reviewer)
    r = _get(session, reminder_id)
    if r.status != Status.PENDING_APPROVAL:
        raise ReviewError(f"draft {r.id} is {r.status}; only pending drafts can be edited",
                          key="err_edit_not_pending", id=r.id, status=r.status)  # fmt: skip
    if expected_version is not None and expected_version != r.version:
        raise ReviewError(f"draft {r.id} changed meanwhile (version {r.version}); reload it",
                          key="err_changed_meanwhile", id=r.id)  # fmt: skip
    body = body.strip("\n")
    if not body.strip():
        raise InvalidText("the body cannot be empty", key="err_body_empty")
    if len(body) > BODY_MAX:
        raise InvalidText(f"the body is longer than {BODY_MAX} characters",
                          key="err_body_too_long", n=BODY_MAX)  # fmt: skip
    new_subject = subject if subject is not None else r.subject
    if r.channel == "sms":
        new_subject = None
    if new_subject is not None:
        _check_subject(new_subject)
    problems, segments = check_text(session, r, body, new_subject, policy)
    if problems:
        raise LintRefused(reminder_id, problems)
    html = text_to_html(body) if r.channel == "email" else None  # follows the reviewer's text
    store.edit_text(session, r, reviewer, now, body=body, subject=new_subject, html=html,
                    segments=segments)  # fmt: skip
    return r


def edits_of(session: Session, reminder_id: int) -> list[ReminderEdit]:
    return list(
        session.scalars(
            select(ReminderEdit)
            .where(col(ReminderEdit.reminder_id) == reminder_id)
            .order_by(col(ReminderEdit.edited_at))
        )
    )


def text_to_html(text: str) -> str:
    """The HTML part of an edited e-mail: the reviewer's text, escaped, in paragraphs."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    body = "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)
    return f'<!doctype html><html><body style="font-family:sans-serif">{body}</body></html>'
