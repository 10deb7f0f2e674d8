"""A reminder's lifecycle: its statuses, the named sets of them, and the moves allowed
between them. Pure: ``store/reminders.py`` is the one writer of a status and asks here
whether a move is allowed; its set-based statements guard with the predecessors read
from :data:`TRANSITIONS`, so the rule is written once.

Moves (the table :data:`TRANSITIONS` is the rule; this is its picture):

    pending_approval -> approved | rejected | cancelled | expired
    approved         -> approved (deferred to a later slot) | sending | rejected
                        | cancelled | failed (no later slot) | sent (a letter posted)
    sending          -> sent | delivered | failed (a callback first, or refused for good)
                        | unknown (crash, lost answer) | approved (retry, never handed over)
    sent             -> delivered | failed (a letter: delivered when its receipt is signed)
    unknown          -> sent | delivered | failed (a callback; never resent by itself)
    to_call          -> to_call (carried or retried at a later window) | called
                        | cancelled | expired (offered in call_windows_max windows)
    rejected, delivered, failed, cancelled, expired, called: final

A call task (channel ``call``, issue 14) is made by a person, so it needs no reviewer:
it is inserted ``to_call`` straight onto the owning collector's list, and the outcome the
collector records closes it (``called``). No answer puts it at the next window; a call
nobody made by the end of its window is carried to the next one (the planner), until it
was offered in ``planning.call_windows_max`` windows: then it expires.

A new draft starts ``pending_approval``, or ``approved`` when the policy approves it
(``auto_approve_fallback``). The stored strings are the public names (CONTRACT.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from notifier.domain.errors import Conflict


class Status(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    TO_CALL = "to_call"  # a call task on a collector's list (issue 14)
    CALLED = "called"  # its outcome recorded


S = Status
_VALUES = frozenset(s.value for s in Status)
# Every status, in the order CONTRACT.md lists them (for choices and counts).
STATUSES: tuple[Status, ...] = tuple(Status)

# Where each status may go, and why. A move not listed is refused.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    # approve, reject, cancel (paid, promised, superseded), expire (nobody approved it)
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    # defer (to approved: a later slot), mark_sending (the claim), reject, cancel at the
    # re-check, fail (no later slot within reach), post (a letter is posted by hand:
    # it never passes through `sending`, no provider is called)
    S.APPROVED: frozenset({S.APPROVED, S.SENDING, S.REJECTED, S.CANCELLED, S.FAILED, S.SENT}),
    # record_sent; a callback that overtook it (delivered, failed); fail (refused for
    # good); mark_unknown (crash or lost answer); retry or never handed over (approved)
    S.SENDING: frozenset({S.SENT, S.DELIVERED, S.FAILED, S.UNKNOWN, S.APPROVED}),
    # the provider's callbacks
    S.SENT: frozenset({S.DELIVERED, S.FAILED}),
    # a callback tells what became of it; never resent by itself (at-most-once)
    S.UNKNOWN: frozenset({S.SENT, S.DELIVERED, S.FAILED}),
    # a call: carried or retried at a later window (to_call), its outcome recorded
    # (called), cancelled (paid, promised, superseded), expired (too many windows)
    S.TO_CALL: frozenset({S.TO_CALL, S.CALLED, S.CANCELLED, S.EXPIRED}),
    S.CALLED: frozenset(),
    S.REJECTED: frozenset(),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}

# The statuses a new draft is inserted with.
INITIAL = frozenset({S.PENDING_APPROVAL, S.APPROVED, S.TO_CALL})
# No move leads out of these.
FINAL = frozenset(s for s, to in TRANSITIONS.items() if not to)
# Not yet handed to a channel: what a change of the customer's standing cancels.
LIVE = frozenset({S.PENDING_APPROVAL, S.APPROVED, S.TO_CALL})
# Handed to the provider, or maybe (``unknown``): the customer may have heard it.
HANDED_OVER = frozenset({S.SENDING, S.SENT, S.DELIVERED, S.UNKNOWN})
# Occupying a place under the frequency caps (C2): planned, or gone out.
COUNTED = LIVE | HANDED_OVER
# Accepted by the provider (sent or delivered): what the fallback sweep follows up.
WENT_OUT = frozenset({S.SENT, S.DELIVERED})
# Handed over and not final: a provider's status callback may still move it.
AWAITING_PROVIDER = HANDED_OVER - FINAL
# Only a reminder that a person (or the policy) approved can have these.
AFTER_APPROVAL = frozenset({S.APPROVED, S.SENDING, S.SENT, S.DELIVERED, S.FAILED, S.UNKNOWN})


class IllegalTransition(Conflict):
    """A move the lifecycle does not allow; nothing was changed."""

    def __init__(
        self, current: str, target: str, reminder_id: int | None = None, move: Move | None = None
    ) -> None:
        self.current, self.target, self.reminder_id = current, target, reminder_id
        which = f"reminder {reminder_id}" if reminder_id is not None else "a reminder"
        if move is not None and allowed(current, target):  # allowed, but not by this move
            needs = " or ".join(move.sources)
            text = f"{which} is {current}; {move.name} takes only a reminder that is {needs}"
        else:
            onward = TRANSITIONS[Status(current)] if current in _VALUES else frozenset()
            can = ", ".join(in_order(onward)) if onward else "nothing (it is final)"
            text = (f"{which} is {current} and cannot become {target}; from {current} it can "
                    f"become {can}")  # fmt: skip
        super().__init__(text)


def allowed(current: str, target: str) -> bool:
    """May a reminder in ``current`` move to ``target``? Unknown names never may."""
    if current not in _VALUES or target not in _VALUES:
        return False
    return Status(target) in TRANSITIONS[Status(current)]


def check(current: str, target: str, reminder_id: int | None = None) -> Status:
    """``target`` as a Status when the move is allowed; else :class:`IllegalTransition`."""
    if not allowed(current, target):
        raise IllegalTransition(current, target, reminder_id)
    return Status(target)


def predecessors(target: Status, among: Iterable[Status] | None = None) -> tuple[Status, ...]:
    """The statuses that may move to ``target`` (narrowed to ``among``), in status order:
    the guard ``WHERE status IN (...)`` of a set-based move."""
    keep = STATUSES if among is None else frozenset(among)
    found = tuple(s for s in STATUSES if target in TRANSITIONS[s] and s in keep)
    if not found:
        raise ValueError(f"no status among {sorted(keep)} may move to {target}")
    return found


def in_order(statuses: Iterable[str]) -> tuple[Status, ...]:
    """``statuses`` in the order of :data:`STATUSES` (stable SQL, stable messages)."""
    wanted = frozenset(statuses)
    return tuple(s for s in STATUSES if s in wanted)


def callback_moves(current: str, outcome: str) -> bool:
    """May a provider's status callback move a reminder in ``current`` to ``outcome``?
    Only one handed over and not final, and only forward (the table)."""
    found = CALLBACK.get(Status(outcome)) if outcome in _VALUES else None
    return found is not None and current in found.sources


@dataclass(frozen=True)
class Move:
    """One named operation of the store (approve, mark_sending, ...): the statuses it
    takes, all predecessors of ``target`` in :data:`TRANSITIONS` (narrowed where the
    operation is narrower than the table: ``approve`` never re-approves), in status order."""

    name: str
    target: Status
    sources: tuple[Status, ...]

    def check(self, current: str, reminder_id: int | None = None) -> Status:
        """``target`` when a reminder in ``current`` may make this move, else
        :class:`IllegalTransition`."""
        if current not in self.sources:
            raise IllegalTransition(current, self.target, reminder_id, self)
        return self.target


def move(name: str, target: Status, among: Iterable[Status] | None = None) -> Move:
    return Move(name, target, predecessors(target, among))


APPROVE = move("approve", S.APPROVED, among={S.PENDING_APPROVAL})
REJECT = move("reject", S.REJECTED)
CANCEL = move("cancel", S.CANCELLED)
EXPIRE = move("expire", S.EXPIRED, among={S.PENDING_APPROVAL})
DEFER = move("defer", S.APPROVED, among={S.APPROVED})  # a later slot, still approved
MARK_SENDING = move("mark_sending", S.SENDING)
RECORD_SENT = move("record_sent", S.SENT, among={S.SENDING})
# What the provider's acceptance is recorded on (its id, the time, the `sent` event): a
# reminder marked sending, or whatever a callback or the lease's end made of it meanwhile.
RECORDS_SENT = frozenset(RECORD_SENT.sources) | (TRANSITIONS[S.SENDING] - LIVE)
# a transient error (back to approved, retried later), or claimed but never handed over
RETRY = move("retry", S.APPROVED, among={S.SENDING})
MARK_UNKNOWN = move("mark_unknown", S.UNKNOWN)
FAIL = move("fail", S.FAILED, among={S.APPROVED, S.SENDING})  # no slot left; refused for good
# A provider's status callback, by the status it reports.
CALLBACK: Mapping[Status, Move] = {
    t: move("apply_callback", t, among=AWAITING_PROVIDER) for t in (S.SENT, S.DELIVERED, S.FAILED)
}
# A formal letter (channel `letter`): posted by a person (tracking number), delivered when
# the signed receipt comes back.
POST_LETTER = move("post_letter", S.SENT, among={S.APPROVED})
RECEIVE_LETTER = move("receive_letter", S.DELIVERED, among={S.SENT})
# Call tasks (issue 14): moved to a later window (carried, or after no answer), closed by
# their outcome, expired after call_windows_max windows.
RESLOT_CALL = move("reslot_call", S.TO_CALL, among={S.TO_CALL})
CLOSE_CALL = move("close_call", S.CALLED)
EXPIRE_CALL = move("expire_call", S.EXPIRED, among={S.TO_CALL})
MOVES: tuple[Move, ...] = (
    APPROVE, REJECT, CANCEL, EXPIRE, DEFER, MARK_SENDING, RECORD_SENT, RETRY, MARK_UNKNOWN,
    FAIL, *CALLBACK.values(), POST_LETTER, RECEIVE_LETTER, RESLOT_CALL, CLOSE_CALL,
    EXPIRE_CALL,
)  # fmt: skip
