"""The one writer of a reminder's status and version, and of the event each move leaves
(D18): procrastinate's ``JobManager`` for reminders. Every function here is one named
move of ``domain.lifecycle`` (approve, reject, cancel, expire, defer, mark_sending,
record_sent, retry, mark_unknown, fail, apply_callback) or the insert of new drafts; each
checks the move, bumps the version and writes its event itself, so callers never do.

Two shapes, one rule:
- a row the caller has read under its lock (an ORM ``Reminder``): the move is checked
  against the row's status and :class:`~notifier.domain.lifecycle.IllegalTransition` is
  raised before anything changes;
- set-based statements for the hot paths (delivery, callbacks, expiry), built once: they
  guard with ``WHERE status IN (the move's sources)``, read from the lifecycle's table, so
  a row that moved on meanwhile is left alone and simply not counted.

Nothing here commits: the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, get_args

from sqlalchemy import (
    ColumnElement,
    Connection,
    Update,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy import update as sql_update
from sqlmodel import Session, col

from notifier.domain import lifecycle as lc
from notifier.domain.lifecycle import Move, Status
from notifier.domain.reads import Outcome
from notifier.domain.slots import Slot
from notifier.store.bulk import insert_ignoring_conflicts, insert_rows
from notifier.store.models import Event, LetterPost, Reminder, ReminderEdit

_R = Reminder.__table__  # type: ignore[attr-defined]  # Core statements on the same table
_AT = _R.c.updated_at.type
_EVENTS = Event.__table__  # type: ignore[attr-defined]
_EVENT = insert(_EVENTS)
_KEY = ("customer_id", "step", "cycle")
LETTER = "letter"  # the channel no provider sends: printed and posted by a person
CALL = "call"  # a call task (issue 14): made by a person, never claimed by delivery


def _sources(m: Move) -> ColumnElement[bool]:
    """The guard of a set-based move: ``status IN (its sources)``, one bound value each
    (not an expanding IN, which an executemany cannot carry)."""
    guard: ColumnElement[bool] = _R.c.status.in_([literal(s.value) for s in m.sources])
    return guard


def _apply(r: Reminder, m: Move, now: datetime) -> None:
    """Check ``m`` against the row, then move it and bump its version."""
    r.status = m.check(r.status, r.id).value
    r.updated_at = now
    r.version += 1


def _event(session: Session, r: Reminder, kind: str, actor: str, now: datetime,
           **data: Any) -> None:  # fmt: skip
    session.add(Event(at=now, kind=kind, customer_id=r.customer_id, actor=actor,
                      data={"reminder_id": r.id, "channel": r.channel, **data}))  # fmt: skip


def _release(r: Reminder) -> None:
    r.claimed_by = r.claimed_until = None


# -- review -------------------------------------------------------------------------------


def approve(session: Session, r: Reminder, by: str, now: datetime,
            moved_to: str | None = None) -> None:  # fmt: skip
    """A person (or the policy) approves a pending draft; ``moved_to``: the slot it was
    moved to because its own had passed (the caller re-slotted it)."""
    _apply(r, lc.APPROVE, now)
    r.decided_by, r.decided_at = by, now
    data: dict[str, Any] = {"reminder_id": r.id}
    if moved_to:
        data["moved_to"] = moved_to
    session.add(Event(at=now, kind="approved", customer_id=r.customer_id, actor=by, data=data))


def reject(session: Session, r: Reminder, by: str, reason: str, now: datetime) -> None:
    _apply(r, lc.REJECT, now)
    r.decided_by, r.decided_at, r.reason = by, now, reason
    session.add(Event(at=now, kind="rejected", customer_id=r.customer_id, actor=by,
                      data={"reminder_id": r.id, "reason": reason}))  # fmt: skip


def edit_text(
    session: Session, r: Reminder, by: str, now: datetime, *, body: str, subject: str | None,
    html: str | None, segments: int | None,
) -> None:  # fmt: skip
    """A reviewer's new text for a pending draft (checked by the caller), kept with before
    and after (D13); not a move, but a new version of the draft."""
    if r.status != Status.PENDING_APPROVAL:
        raise ValueError(f"reminder {r.id} is {r.status}; only a pending draft can be edited")
    session.add(ReminderEdit(reminder_id=r.id or 0, edited_by=by, edited_at=now,
                             subject_before=r.subject, subject_after=subject,
                             body_before=r.body, body_after=body))  # fmt: skip
    session.add(Event(at=now, kind="edited", customer_id=r.customer_id, actor=by,
                      data={"reminder_id": r.id}))  # fmt: skip
    r.body, r.subject, r.segments, r.lint = body, subject, segments, []
    if html is not None:
        r.html = html
    r.updated_at = now
    r.version += 1


# -- cancelling and expiry ----------------------------------------------------------------


def cancel(session: Session, r: Reminder, reason: str, now: datetime, actor: str) -> None:
    """Cancel ``r``: its message is no longer right (paid, promised, superseded ...)."""
    _apply(r, lc.CANCEL, now)
    r.reason = reason
    _release(r)
    _event(session, r, "cancelled", actor, now, reason=reason)


def cancel_many(session: Session, reasons: Mapping[int, str], now: datetime, actor: str) -> int:
    """Cancel these reminders (id -> reason) that are still cancellable; one SELECT loads
    only them (locked). A row that moved on since the caller read it is left alone."""
    if not reasons:
        return 0
    rows = session.scalars(
        select(Reminder)
        .where(col(Reminder.id).in_(reasons), _sources(lc.CANCEL))
        .order_by(col(Reminder.id))
        .with_for_update()
    ).all()
    by_id = {r.id: r for r in rows}
    for reminder_id, reason in reasons.items():  # in the caller's order: its events' order
        if (r := by_id.get(reminder_id)) is not None:
            cancel(session, r, reason, now, actor)
    session.flush()  # now, so these events precede the ones the caller inserts next
    return len(by_id)


_EXPIRE = (
    sql_update(_R)
    .where(_sources(lc.EXPIRE), _R.c.slot_end < bindparam("cutoff", type_=_AT))
    .values(status=lc.EXPIRE.target.value, reason=bindparam("reason"),
            updated_at=bindparam("now", type_=_AT), version=_R.c.version + 1)
    .returning(_R.c.id, _R.c.customer_id)
)  # fmt: skip


def expire_stale(session: Session, cutoff: datetime, reason: str, now: datetime) -> int:
    """Expire every pending draft whose slot ended before ``cutoff``: one UPDATE, one
    event insert."""
    rows = session.execute(_EXPIRE, {"cutoff": cutoff, "reason": reason, "now": now}).all()
    if rows:
        session.execute(_EVENT, [
            {"at": now, "kind": "expired", "customer_id": cid, "actor": "expiry",
             "data": {"reminder_id": rid, "reason": reason}}
            for rid, cid in sorted(rows)
        ])  # fmt: skip
    return len(rows)


# -- new drafts ---------------------------------------------------------------------------


def _born(rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """A new draft is pending, or approved when the policy decided it (``decided_by``); a
    call task goes straight onto its collector's list (``to_call``: a person makes it)."""
    for row in rows:
        decided = row.get("decided_by") is not None
        row["status"] = (Status.APPROVED if decided else Status.PENDING_APPROVAL).value
        if row.get("channel") == CALL:
            row["status"] = Status.TO_CALL.value
        row["decided_at"] = now if decided else None
        row["version"] = 1
        row.setdefault("created_at", now)
        row.setdefault("updated_at", now)


def insert_drafts(session: Session, rows: Sequence[dict[str, Any]], now: datetime,
                  actor: str = "planner") -> list[dict[str, Any]]:  # fmt: skip
    """The planner's new drafts, pending approval, each once per (customer, step, cycle)
    (ON CONFLICT DO NOTHING); a ``drafted`` event for each one inserted, which are
    returned (id, customer_id, step, channel, slot_start), in the order given."""
    _born(rows, now)
    inserted = [
        {"id": rid, "customer_id": row["customer_id"], "step": row["step"],
         "channel": row["channel"], "slot_start": row["slot_start"].astimezone(UTC)}
        for rid, row in _created(session, rows)
    ]  # fmt: skip
    _record(session, [
        {"at": now, "kind": "drafted", "customer_id": row["customer_id"], "actor": actor,
         "data": {"reminder_id": row["id"], "step": row["step"], "channel": row["channel"],
                  "slot_start": row["slot_start"].isoformat()}}
        for row in inserted
    ])  # fmt: skip
    return inserted


def insert_fallbacks(session: Session, rows: Sequence[dict[str, Any]], now: datetime,
                     actor: str = "fallback") -> list[dict[str, Any]]:  # fmt: skip
    """The fallback sweep's SMS drafts (approved at once where the row names the policy
    in ``decided_by``); a ``fallback_drafted`` event for each one inserted, which are
    returned (id, customer_id, fallback_of, status), in the order given."""
    _born(rows, now)
    inserted = [
        {"id": rid, "customer_id": row["customer_id"], "fallback_of": row.get("fallback_of"),
         "status": row["status"]}
        for rid, row in _created(session, rows)
    ]  # fmt: skip
    _record(session, [
        {"at": now, "kind": "fallback_drafted", "customer_id": row["customer_id"],
         "actor": actor, "data": {"fallback_of": row["fallback_of"],
                                  "status": row["status"], "reminder_id": row["id"]}}
        for row in inserted
    ])  # fmt: skip
    return inserted


def _created(session: Session, rows: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(id, row) of each row this call inserted, in the order given: the database returns
    only the ids and keys of what it inserted (ON CONFLICT DO NOTHING), the rest is the
    caller's own row (of rows that share a key, the first is the one inserted)."""
    position: dict[tuple[Any, ...], int] = {}
    for i, row in enumerate(rows):
        position.setdefault((row["customer_id"], row["step"], row["cycle"]), i)
    new = insert_ignoring_conflicts(session, _R, rows, _KEY, returning=("id", *_KEY))
    found = sorted((position[(n["customer_id"], n["step"], n["cycle"])], n["id"]) for n in new)
    return [(rid, rows[i]) for i, rid in found]


def _record(session: Session, events: list[dict[str, Any]]) -> None:
    """Events that need nothing read back: one executemany."""
    insert_rows(session, _EVENTS, events)


# -- delivery: claims ---------------------------------------------------------------------


def claim_batch(
    session: Session, now: datetime, worker: str, batch: int, until: datetime
) -> list[int]:
    """Lease up to ``batch`` reminders whose slot is open at ``now`` to ``worker`` (FOR
    UPDATE SKIP LOCKED on PostgreSQL; writes are serial on SQLite). A claim is not a move:
    status and version stay; ``mark_sending`` is the move."""
    ready = _sources(lc.MARK_SENDING)
    due = (
        select(col(Reminder.id))
        .where(
            ready,
            col(Reminder.channel) != LETTER,  # a letter is posted by a person: post_letter
            col(Reminder.slot_start) <= now,
            col(Reminder.slot_end) > now,
            (col(Reminder.next_attempt_at).is_(None)) | (col(Reminder.next_attempt_at) <= now),
            (col(Reminder.claimed_until).is_(None)) | (col(Reminder.claimed_until) < now),
        )
        .order_by(col(Reminder.slot_start), col(Reminder.id))
        .limit(batch)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    )
    session.execute(
        sql_update(Reminder)
        .where(col(Reminder.id).in_(due.scalar_subquery()))
        .values(claimed_by=worker, claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(col(Reminder.id))
            .where(col(Reminder.claimed_by) == worker, col(Reminder.claimed_until) == until, ready)
            .order_by(col(Reminder.slot_start), col(Reminder.id))
        )
    )


def release_claims(session: Session, ids: Sequence[int], worker: str) -> int:
    """Give back claims ``worker`` holds but has not started (a clean shutdown)."""
    if not ids:
        return 0
    done = session.execute(
        sql_update(Reminder)
        .where(col(Reminder.id).in_(ids), col(Reminder.claimed_by) == worker,
               _sources(lc.MARK_SENDING))
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return int(done.rowcount)  # type: ignore[attr-defined]


# -- delivery: sending --------------------------------------------------------------------

# Mark one re-checked reminder `sending`, only if nobody changed it since it was read.
_MARK_SENDING = (
    sql_update(_R)
    .where(_R.c.id == bindparam("rid"), _sources(lc.MARK_SENDING),
           _R.c.claimed_by == bindparam("worker"), _R.c.version == bindparam("seen"))
    .values(status=lc.MARK_SENDING.target.value, address=bindparam("to"),
            attempts=_R.c.attempts + 1, claimed_until=bindparam("until", type_=_AT),
            updated_at=bindparam("now", type_=_AT), version=_R.c.version + 1)
)  # fmt: skip
# Record a send the provider accepted: `sending` becomes `sent`; a status a callback set
# meanwhile (delivered, failed ...) stays as it is, the provider's id and time are kept.
# A reminder never handed over (pending, cancelled ...) is left alone.
_RECORD_SENT = (
    sql_update(_R)
    .where(_R.c.id == bindparam("rid"),
           _R.c.status.in_([literal(s.value) for s in lc.in_order(lc.RECORDS_SENT)]))
    .values(status=case((_sources(lc.RECORD_SENT), lc.RECORD_SENT.target.value),
                        else_=_R.c.status),
            provider_id=bindparam("pid"), sent_at=bindparam("now", type_=_AT),
            updated_at=bindparam("now", type_=_AT), claimed_by=None, claimed_until=None,
            reason=None, version=_R.c.version + 1)
)  # fmt: skip
# Give back a reminder marked `sending` but never handed to the provider.
_UNMARK = (
    sql_update(_R)
    .where(_R.c.id == bindparam("rid"), _sources(lc.RETRY))
    .values(status=lc.RETRY.target.value, attempts=_R.c.attempts - 1, claimed_by=None,
            claimed_until=None, updated_at=bindparam("now", type_=_AT),
            version=_R.c.version + 1)
)  # fmt: skip


def mark_sending(session: Session, r: Reminder, worker: str, to: str, until: datetime,
                 now: datetime) -> bool:  # fmt: skip
    """The claim made good: ``r`` (read at ``r.version``) becomes ``sending`` to ``to``,
    unless someone changed it since it was read (False: leave it)."""
    marked = session.execute(_MARK_SENDING, {"rid": r.id, "worker": worker, "seen": r.version,
                                             "to": to, "until": until, "now": now})  # fmt: skip
    return int(marked.rowcount) == 1  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Sent:
    """A message the provider accepted, and the evidence its ``sent`` event keeps (D18):
    the text exactly as sent, where, the provider's id and answer."""

    reminder_id: int
    customer_id: str
    channel: str
    address: str
    subject: str | None
    body: str
    provider_id: str
    provider_status: str
    attempt: int
    worker: str


def record_sent_many(session: Session, sent: Sequence[Sent], now: datetime) -> None:
    """Every accepted message of a group: one UPDATE and one event insert (executemany)."""
    if not sent:
        return
    done = session.execute(_RECORD_SENT, [{"rid": s.reminder_id, "pid": s.provider_id,
                                           "now": now} for s in sent])  # fmt: skip
    if int(done.rowcount) != len(sent):  # type: ignore[attr-defined]
        # Some were never handed over (the guard left them): no evidence of a send for them.
        kept = set(session.scalars(select(col(Reminder.id)).where(
            col(Reminder.id).in_([s.reminder_id for s in sent]),
            col(Reminder.status).in_(lc.in_order(lc.RECORDS_SENT)))))  # fmt: skip
        sent = [s for s in sent if s.reminder_id in kept]
        if not sent:
            return
    session.execute(_EVENT, [
        {"at": now, "kind": "sent", "customer_id": s.customer_id, "actor": "delivery",
         "data": {"reminder_id": s.reminder_id, "channel": s.channel, "address": s.address,
                  "subject": s.subject, "body": s.body, "provider_id": s.provider_id,
                  "provider_status": s.provider_status, "attempt": s.attempt,
                  "worker": s.worker}}
        for s in sent
    ])  # fmt: skip


def unmark_many(session: Session, ids: Sequence[int], now: datetime) -> int:
    """Reminders marked ``sending`` but never handed to the provider go back to
    ``approved``, claim released, the attempt not counted."""
    if not ids:
        return 0
    gone = session.execute(_UNMARK, [{"rid": rid, "now": now} for rid in ids])
    return int(gone.rowcount)  # type: ignore[attr-defined]


# -- delivery: outcomes -------------------------------------------------------------------


def defer(session: Session, r: Reminder, slot: Slot, why: str, now: datetime,
          actor: str = "delivery") -> None:  # fmt: skip
    """``r`` waits for ``slot`` (already set on it by ``slotting.reslot``), still approved."""
    _apply(r, lc.DEFER, now)
    r.reason = f"{why}; moved to {slot.start.isoformat()}"
    _release(r)
    _event(session, r, "deferred", actor, now, reason=why, slot_start=slot.start.isoformat())


def fail(session: Session, r: Reminder, reason: str, now: datetime, actor: str = "delivery",
         **data: Any) -> None:  # fmt: skip
    """Never sent, for good: no later slot, or the provider refused it permanently."""
    _apply(r, lc.FAIL, now)
    r.reason = reason
    _release(r)
    _event(session, r, "failed", actor, now, reason=reason, **data)


def retry(session: Session, r: Reminder, error: str, now: datetime,
          at: datetime | None = None) -> None:  # fmt: skip
    """A transient error: ``r`` is approved again (claim released), retried at ``at`` in
    its slot; without ``at`` the caller defers it to a later slot next."""
    _apply(r, lc.RETRY, now)
    _event(session, r, "send_error", "delivery", now, error=error, attempt=r.attempts,
           transient=True)  # fmt: skip
    _release(r)
    if at is not None:
        r.next_attempt_at, r.reason = at, f"retrying after a transient error: {error}"


def mark_unknown(session: Session, r: Reminder, reason: str, now: datetime,
                 actor: str = "delivery") -> None:  # fmt: skip
    """The provider may have it (answer lost): a person decides; never resent by itself."""
    _apply(r, lc.MARK_UNKNOWN, now)
    r.reason = reason
    _release(r)
    _event(session, r, "unknown", actor, now, reason=reason)


_INTERRUPTED = (
    sql_update(_R)
    .where(_sources(lc.MARK_UNKNOWN), _R.c.claimed_until < bindparam("now", type_=_AT))
    .values(status=lc.MARK_UNKNOWN.target.value, reason=bindparam("reason"),
            updated_at=bindparam("now", type_=_AT), version=_R.c.version + 1)
    .returning(_R.c.id, _R.c.customer_id, _R.c.channel)
)  # fmt: skip


def mark_interrupted(session: Session, now: datetime) -> int:
    """``sending`` rows whose lease ran out (a worker died mid-send) become ``unknown``:
    one UPDATE, one event insert."""
    reason = "interrupted while sending: check with the provider before sending again"
    rows = session.execute(_INTERRUPTED, {"now": now, "reason": reason}).all()
    if rows:
        session.execute(_EVENT, [
            {"at": now, "kind": "unknown", "customer_id": cid, "actor": "delivery",
             "data": {"reminder_id": rid, "channel": channel, "reason": reason}}
            for rid, cid, channel in sorted(rows)
        ])  # fmt: skip
    return len(rows)


# -- provider callbacks -------------------------------------------------------------------


def _forward(m: Move) -> Update:
    """Move a reminder to ``m.target`` if it is one of ``m.sources`` (forward only),
    keeping a message SID it has."""
    values: dict[str, Any] = {"status": m.target.value, "updated_at": bindparam("now", type_=_AT),
                              "provider_id": func.coalesce(_R.c.provider_id, bindparam("sid")),
                              "version": _R.c.version + 1}  # fmt: skip
    if m.target == Status.DELIVERED:
        values["delivered_at"] = bindparam("now", type_=_AT)
    if m.target == Status.FAILED:
        values["reason"] = bindparam("reason")
    return (
        sql_update(_R)
        .where(_sources(m))
        .values(values)
        .returning(_R.c.id, _R.c.customer_id, _R.c.address)
    )


# The reminder named in the (signed) callback URL, unless it carries another message's
# SID; else the one with this SID. Built once per outcome.
_BY_ID = {
    o: _forward(lc.CALLBACK[Status(o)]).where(
        _R.c.id == bindparam("rid"),
        _R.c.provider_id.is_(None) | (_R.c.provider_id == bindparam("sid")),
    )
    for o in get_args(Outcome)
}
_BY_SID = {
    o: _forward(lc.CALLBACK[Status(o)]).where(_R.c.provider_id == bindparam("sid"))
    for o in get_args(Outcome)
}


@dataclass(frozen=True)
class Moved:
    """A reminder a callback moved: which, whose, and the address it went to."""

    reminder_id: int
    customer_id: str
    address: str


def apply_callback(
    connection: Connection, reminder: int | None, sid: str, outcome: Outcome, reported: str,
    error: str | None, now: datetime,
) -> Moved | None:  # fmt: skip
    """A provider's status callback: one UPDATE that moves the reminder forward or matches
    nothing (a repeated, late or stray callback: None), then its event. By id first: a
    callback may overtake the sweep, before it has stored the SID."""
    why = f"provider reported {reported}" + (f" (error {error})" if error else "")
    params = {"sid": sid, "now": now, "reason": why}
    row = None
    if reminder is not None:
        row = connection.execute(_BY_ID[outcome], params | {"rid": reminder}).first()
    if row is None:
        row = connection.execute(_BY_SID[outcome], params).first()
    if row is None:
        return None
    moved = Moved(*row)
    # Twilio's "sent" (handed to the carrier) is not our "sent" (the sweep's evidence of
    # what went out): its own kind, so a reminder never has two "sent" events.
    kind = "carrier_sent" if outcome == "sent" else outcome
    data = {"reminder_id": moved.reminder_id, "provider_status": reported, "error_code": error}
    connection.execute(_EVENT, {"at": now, "kind": kind, "customer_id": moved.customer_id,
                                "actor": "twilio", "data": data})  # fmt: skip
    return moved


# -- formal letters (issue 15): posted and received by a person ---------------------------


def post_letter(session: Session, r: Reminder, by: str, carrier: str, tracking_no: str,
                now: datetime) -> LetterPost:  # fmt: skip
    """An approved letter was posted: ``sent``, with the carrier's tracking number kept
    as evidence (its ``posted`` event and a ``letter_posts`` row)."""
    if r.channel != LETTER:
        raise ValueError(f"reminder {r.id} is a {r.channel} message, not a letter")
    _apply(r, lc.POST_LETTER, now)
    r.sent_at, r.provider_id, r.reason = now, tracking_no, None
    _release(r)
    post = LetterPost(reminder_id=r.id or 0, carrier=carrier, tracking_no=tracking_no,
                      posted_by=by, posted_at=now)  # fmt: skip
    session.add(post)
    _event(session, r, "posted", by, now, address=r.address, carrier=carrier,
           tracking_no=tracking_no, subject=r.subject, body=r.body)  # fmt: skip
    return post


def receive_letter(session: Session, r: Reminder, post: LetterPost, by: str, on: date,
                   now: datetime) -> None:  # fmt: skip
    """The signed receipt (签收回执) of a posted letter came back: ``delivered`` on ``on``."""
    _apply(r, lc.RECEIVE_LETTER, now)
    r.delivered_at = now
    post.received_on, post.received_recorded_by, post.received_recorded_at = on, by, now
    _event(session, r, "received", by, now, received_on=on.isoformat(),
           carrier=post.carrier, tracking_no=post.tracking_no)  # fmt: skip


# -- call tasks (issue 14): made by a person, closed by the outcome recorded ---------------


def _call(r: Reminder) -> None:
    if r.channel != CALL:
        raise ValueError(f"reminder {r.id} is a {r.channel} message, not a call task")


def reslot_call(session: Session, r: Reminder, slot: Slot, why: str, now: datetime,
                actor: str) -> None:  # fmt: skip
    """Put the call task at a later window (no answer, or nobody called in its window):
    still ``to_call``; ``attempts`` counts the windows it was offered in."""
    _call(r)
    _apply(r, lc.RESLOT_CALL, now)
    r.slot_start, r.slot_end, r.window = slot.start, slot.end, slot.window
    r.attempts += 1
    r.reason = _moved_why(why, slot)
    _event(session, r, "call_moved", actor, now, **_moved_data(why, slot, r.attempts + 1))


def _moved_why(why: str, slot: Slot) -> str:
    """A moved call task's reason, as both shapes of the move store it."""
    return f"{why}; moved to {slot.start.isoformat()}"


def _moved_data(why: str, slot: Slot, window: int) -> dict[str, Any]:
    """A ``call_moved`` event's own facts: why, where to, and which window it is now in."""
    return {"reason": why, "slot_start": slot.start.isoformat(), "window": window}


@dataclass(frozen=True)
class CallMove:
    """A call task nobody made in its window, read (``to_call``, at ``version``) under the
    caller's lock: to its next window (``slot``), or expired (``slot`` None)."""

    id: int
    customer_id: str
    version: int
    attempts: int
    slot: Slot | None
    reason: str


_RESLOT = (
    sql_update(_R)
    .where(_R.c.id == bindparam("rid"), _R.c.version == bindparam("seen"),
           _sources(lc.RESLOT_CALL))
    .values(status=lc.RESLOT_CALL.target.value, slot_start=bindparam("start", type_=_AT),
            slot_end=bindparam("end", type_=_AT), window=bindparam("window_name"),
            attempts=_R.c.attempts + 1, reason=bindparam("moved_why"),
            updated_at=bindparam("now", type_=_AT), version=_R.c.version + 1)
)  # fmt: skip
_EXPIRE_CALL = (
    sql_update(_R)
    .where(_R.c.id == bindparam("rid"), _R.c.version == bindparam("seen"),
           _sources(lc.EXPIRE_CALL))
    .values(status=lc.EXPIRE_CALL.target.value, reason=bindparam("expired_why"),
            updated_at=bindparam("now", type_=_AT), version=_R.c.version + 1)
)  # fmt: skip


def move_calls(session: Session, moves: Sequence[CallMove], now: datetime, actor: str) -> None:
    """:func:`reslot_call` or :func:`expire_call` for each of these tasks, set-based (a
    morning carries thousands): one UPDATE of each kind and one insert of their events, in
    the order given. The caller holds the rows' locks, so none moved on since it read them."""
    reslot = [{"rid": m.id, "seen": m.version, "start": m.slot.start, "end": m.slot.end,
               "window_name": m.slot.window, "now": now,
               "moved_why": _moved_why(m.reason, m.slot)}
              for m in moves if m.slot is not None]  # fmt: skip
    expire = [{"rid": m.id, "seen": m.version, "now": now, "expired_why": m.reason}
              for m in moves if m.slot is None]  # fmt: skip
    if reslot:
        session.execute(_RESLOT, reslot)
    if expire:
        session.execute(_EXPIRE_CALL, expire)
    _record(session, [
        {"at": now, "kind": "call_moved" if m.slot is not None else "expired",
         "customer_id": m.customer_id, "actor": actor,
         "data": {"reminder_id": m.id, "channel": CALL,
                  **(_moved_data(m.reason, m.slot, m.attempts + 2) if m.slot is not None
                     else {"reason": m.reason})}}
        for m in moves
    ])  # fmt: skip


def close_call(session: Session, r: Reminder, outcome: str, by: str, now: datetime,
               **data: Any) -> None:  # fmt: skip
    """The collector recorded the call's outcome: the task is ``called`` (evidence: its
    ``call_outcome`` event with what the customer said)."""
    _call(r)
    _apply(r, lc.CLOSE_CALL, now)
    r.decided_by, r.decided_at, r.sent_at, r.reason = by, now, now, outcome
    _event(session, r, "call_outcome", by, now, outcome=outcome, **data)


def note_call(session: Session, r: Reminder, outcome: str, by: str, now: datetime,
              **data: Any) -> None:  # fmt: skip
    """An outcome that leaves the task open (no answer): its evidence, no move."""
    _call(r)
    _event(session, r, "call_outcome", by, now, outcome=outcome, **data)


def expire_call(session: Session, r: Reminder, reason: str, now: datetime,
                actor: str = "planner") -> None:  # fmt: skip
    """Nobody made the call in the windows it was offered: ``expired``."""
    _call(r)
    _apply(r, lc.EXPIRE_CALL, now)
    r.reason = reason
    _event(session, r, "expired", actor, now, reason=reason)
