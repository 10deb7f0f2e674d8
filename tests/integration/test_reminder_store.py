"""Every move of a reminder through store/reminders.py, from every status, on SQLite and
PostgreSQL: an allowed move lands (status, version + 1, its event); a forbidden one raises
IllegalTransition (a row the caller holds) or matches nothing (a set-based statement),
and in both cases changes nothing, even when the caller commits afterwards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from notifier.domain import lifecycle as lc
from notifier.domain.lifecycle import IllegalTransition, Move, Status
from notifier.domain.slots import Slot
from notifier.store import reminders
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, LetterPost, Reminder

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SLOT_START = NOW - timedelta(days=3)  # long past: expiry and deferral apply
WORKER = "w1"
LATER = Slot("morning", NOW + timedelta(days=1), NOW + timedelta(days=1, hours=2),
             "Asia/Shanghai")  # fmt: skip


def _customer(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        s.add(Customer(id="C1", name="客户一", kind="business", phone="+8613912345678",
                       email="c1@x.example", created_at=NOW, updated_at=NOW))  # fmt: skip


def _reminder(engine: Engine, status: Status, step: str) -> int:
    """A reminder in ``status``, claimed by ``WORKER`` with a lease that ran out."""
    with unit_of_work(engine) as s:
        r = Reminder(customer_id="C1", step=step, cycle="INV-1@2026-01-30", channel="sms",
                     address="+8613912345678", status=status.value, stage="m1", tier="B",
                     tone="neutral", locale="zh-CN", window="morning", slot_start=SLOT_START,
                     slot_end=SLOT_START + timedelta(hours=2), body="请付款。",
                     created_at=SLOT_START, updated_at=SLOT_START, version=1,
                     claimed_by=WORKER, claimed_until=NOW - timedelta(minutes=1),
                     attempts=1)  # fmt: skip
        s.add(r)
        s.flush()
        assert r.id is not None
        return r.id


@dataclass(frozen=True)
class _State:
    status: str
    version: int
    events: int


def _state(engine: Engine, rid: int) -> _State:
    with unit_of_work(engine) as s:
        r = s.get(Reminder, rid)
        assert r is not None
        events = sum(1 for e in s.scalars(select(Event)) if e.data.get("reminder_id") == rid)
        return _State(r.status, r.version, events)


def _park(engine: Engine) -> None:
    """Earlier rows out of reach of the sweeping statements (expiry, interrupted sends)."""
    with unit_of_work(engine) as s:
        for r in s.scalars(select(Reminder)):
            r.claimed_until, r.slot_end = None, NOW + timedelta(days=30)


# A move on a row the caller holds: the function is called with the row, read and locked.
RowMove = Callable[[Session, Reminder], None]
ROW_MOVES: dict[str, tuple[Move, RowMove]] = {
    "approve": (lc.APPROVE, lambda s, r: reminders.approve(s, r, "li", NOW)),
    "reject": (lc.REJECT, lambda s, r: reminders.reject(s, r, "li", "paid by phone", NOW)),
    "cancel": (lc.CANCEL, lambda s, r: reminders.cancel(s, r, "paid", NOW, "planner")),
    "defer": (lc.DEFER, lambda s, r: reminders.defer(s, r, LATER, "slot passed", NOW)),
    "retry": (lc.RETRY, lambda s, r: reminders.retry(s, r, "timeout", NOW, at=NOW)),
    "mark_unknown": (lc.MARK_UNKNOWN, lambda s, r: reminders.mark_unknown(s, r, "lost", NOW)),
    "fail": (lc.FAIL, lambda s, r: reminders.fail(s, r, "rejected: 21211", NOW, code="21211")),
    # a formal letter (issue 15): posted by a person, received on its signed receipt's day
    "post_letter": (lc.POST_LETTER, lambda s, r: _as_letter(r) and reminders.post_letter(
        s, r, "li", "EMS", "EA123456789CN", NOW) and None),
    "receive_letter": (lc.RECEIVE_LETTER, lambda s, r: _as_letter(r) and reminders.receive_letter(
        s, r, LetterPost(reminder_id=r.id or 0, carrier="EMS", tracking_no="EA123456789CN",
                         posted_by="li", posted_at=NOW), "li", NOW.date(), NOW)),
    # a call task (issue 14): to a later window, closed by its outcome, or expired
    "reslot_call": (lc.RESLOT_CALL, lambda s, r: _as_call(r) and reminders.reslot_call(
        s, r, LATER, "no answer", NOW, "li")),
    "close_call": (lc.CLOSE_CALL, lambda s, r: _as_call(r) and reminders.close_call(
        s, r, "reached", "li", NOW)),
    "expire_call": (lc.EXPIRE_CALL, lambda s, r: _as_call(r) and reminders.expire_call(
        s, r, "nobody called", NOW)),
}  # fmt: skip


def _as_letter(r: Reminder) -> bool:
    r.channel = "letter"
    return True


def _as_call(r: Reminder) -> bool:
    r.channel = "call"
    return True


def _send(s: Session, rid: int) -> Any:
    sent = reminders.Sent(rid, "C1", "sms", "+8613912345678", None, "请付款。", f"SM{rid}",
                          "queued", 1, WORKER)  # fmt: skip
    return reminders.record_sent_many(s, [sent], NOW)


def _mark_sending(s: Session, rid: int) -> bool:
    r = s.get(Reminder, rid)
    assert r is not None
    return reminders.mark_sending(s, r, WORKER, "+8613912345678", NOW + timedelta(minutes=5),
                                  NOW)  # fmt: skip


def _callback(outcome: str) -> Callable[[Session, int], Any]:
    def apply(s: Session, rid: int) -> Any:
        return reminders.apply_callback(s.connection(), rid, f"SM{rid}", outcome,  # type: ignore[arg-type]
                                        outcome, "30003" if outcome == "failed" else None,
                                        NOW)  # fmt: skip

    return apply


# A set-based move: it returns what it moved (a count, True, a row) or nothing.
SetMove = Callable[[Session, int], Any]
SET_MOVES: dict[str, tuple[Move, SetMove]] = {
    "cancel_many": (lc.CANCEL, lambda s, rid: reminders.cancel_many(s, {rid: "paid"}, NOW, "x")),
    "expire_stale": (lc.EXPIRE, lambda s, rid: reminders.expire_stale(s, NOW, "stale", NOW)),
    "mark_sending": (lc.MARK_SENDING, _mark_sending),
    "record_sent_many": (lc.RECORD_SENT, _send),
    "unmark_many": (lc.RETRY, lambda s, rid: reminders.unmark_many(s, [rid], NOW)),
    "mark_interrupted": (lc.MARK_UNKNOWN, lambda s, rid: reminders.mark_interrupted(s, NOW)),
    **{f"apply_callback({o})": (lc.CALLBACK[Status(o)], _callback(o))
       for o in ("sent", "delivered", "failed")},
}  # fmt: skip


def test_the_walk_covers_every_allowed_move() -> None:
    moves = {(src, m.target) for m, _ in (*ROW_MOVES.values(), *SET_MOVES.values())
             for src in m.sources}  # fmt: skip
    allowed = {(a, b) for a in lc.STATUSES for b in lc.STATUSES if lc.allowed(a, b)}
    assert moves == allowed


@pytest.mark.parametrize("name", sorted(ROW_MOVES))
def test_a_move_on_a_held_row_from_every_status(engine: Engine, name: str) -> None:
    move, apply = ROW_MOVES[name]
    _customer(engine)
    for status in lc.STATUSES:
        rid = _reminder(engine, status, status.value)
        before = _state(engine, rid)
        with unit_of_work(engine) as s:  # commits whatever the store left in the session
            r = s.get(Reminder, rid, with_for_update=True)
            assert r is not None
            if status in move.sources:
                apply(s, r)
            else:
                with pytest.raises(IllegalTransition, match=f"reminder {rid} is {status}"):
                    apply(s, r)
        after = _state(engine, rid)
        if status in move.sources:
            assert after == _State(move.target, 2, before.events + 1), (name, status)
        else:
            assert after == before, (name, status)  # nothing changed, nothing recorded


@pytest.mark.parametrize("name", sorted(SET_MOVES))
def test_a_set_based_move_from_every_status(engine: Engine, name: str) -> None:
    move, apply = SET_MOVES[name]
    _customer(engine)
    for status in lc.STATUSES:
        _park(engine)
        rid = _reminder(engine, status, status.value)
        before = _state(engine, rid)
        with unit_of_work(engine) as s:
            result = apply(s, rid)
        after = _state(engine, rid)
        # The claim made good and the give-back of an unsent one leave no event (as before).
        events = 0 if name in ("mark_sending", "unmark_many") else 1
        if status in move.sources:
            assert after == _State(move.target, 2, before.events + events), (name, status)
            assert result is None or result, (name, status)  # 1, True or the row moved
        elif name == "record_sent_many" and status in lc.RECORDS_SENT:
            # a callback got there first: its status stays, the send is still recorded
            assert after == _State(status, 2, before.events + 1)
        else:
            assert after == before, (name, status)
            assert not result, (name, status)


def test_new_drafts_are_pending_or_approved_by_the_policy_with_their_events(
    engine: Engine,
) -> None:
    _customer(engine)
    row: dict[str, Any] = {
        "customer_id": "C1", "cycle": "INV-1@2026-01-30", "channel": "sms",
        "address": "+8613912345678", "stage": "m1", "tier": "B", "tone": "neutral",
        "locale": "zh-CN", "window": "morning", "slot_start": LATER.start,
        "slot_end": LATER.end, "subject": None, "body": "请付款。", "html": None,
        "segments": 1, "facts": {}, "lint": [],
    }  # fmt: skip
    with unit_of_work(engine) as s:
        drafted = reminders.insert_drafts(s, [{**row, "step": "m1-first"}], NOW)
        again = reminders.insert_drafts(s, [{**row, "step": "m1-first"}], NOW)  # same key
        fallbacks = reminders.insert_fallbacks(s, [
            {**row, "step": "fallback-1", "decided_by": "policy:auto_approve_fallback"},
            {**row, "step": "fallback-2", "decided_by": None},
        ], NOW)  # fmt: skip
    assert len(drafted) == 1 and again == []
    assert [f["status"] for f in fallbacks] == ["approved", "pending_approval"]
    with unit_of_work(engine) as s:
        made = {r.step: r for r in s.scalars(select(Reminder))}
        kinds = sorted(e.kind for e in s.scalars(select(Event)))
    assert made["m1-first"].status == "pending_approval" and made["m1-first"].version == 1
    assert made["fallback-1"].decided_at is not None and made["fallback-2"].decided_at is None
    assert kinds == ["drafted", "fallback_drafted", "fallback_drafted"]


def test_only_approved_reminders_are_claimed_and_released(engine: Engine) -> None:
    _customer(engine)
    ids = {status: _reminder(engine, status, f"claim-{status}") for status in lc.STATUSES}
    with unit_of_work(engine) as s:  # every slot open now, no lease held
        for r in s.scalars(select(Reminder)):
            r.slot_start, r.slot_end = NOW - timedelta(minutes=5), NOW + timedelta(hours=1)
            r.claimed_by = r.claimed_until = None
    with unit_of_work(engine) as s:
        claimed = reminders.claim_batch(s, NOW, "w2", 50, NOW + timedelta(minutes=5))
    assert claimed == [ids[Status.APPROVED]]
    with unit_of_work(engine) as s:
        assert reminders.release_claims(s, claimed, "w2") == 1
        r = s.get(Reminder, ids[Status.APPROVED])
        assert r is not None and r.claimed_by is None and r.version == 1  # a claim is no move


def test_a_callback_for_another_messages_sid_does_not_move_the_named_reminder(
    engine: Engine,
) -> None:
    _customer(engine)
    rid = _reminder(engine, Status.SENT, "sid")
    with unit_of_work(engine) as s:
        r = s.get(Reminder, rid)
        assert r is not None
        r.provider_id = "SM-original"
    with unit_of_work(engine) as s:
        moved = reminders.apply_callback(s.connection(), rid, "SM-other", "delivered",
                                         "delivered", None, NOW)  # fmt: skip
    assert moved is None and _state(engine, rid).status == "sent"
