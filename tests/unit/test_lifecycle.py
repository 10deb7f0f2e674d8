"""The reminder lifecycle (domain/lifecycle.py): which moves are allowed, the named sets,
and the named moves of the store, all read from one table."""

from __future__ import annotations

import itertools

import pytest

from notifier.domain import lifecycle as lc
from notifier.domain.lifecycle import IllegalTransition, Status, allowed
from notifier.domain.reads import moves_forward

S = Status
ALL = list(itertools.product(lc.STATUSES, lc.STATUSES))

# The moves the product makes, written out by hand once more: the table must equal this.
EXPECTED = {
    (S.PENDING_APPROVAL, S.APPROVED), (S.PENDING_APPROVAL, S.REJECTED),
    (S.PENDING_APPROVAL, S.CANCELLED), (S.PENDING_APPROVAL, S.EXPIRED),
    (S.APPROVED, S.APPROVED), (S.APPROVED, S.SENDING), (S.APPROVED, S.REJECTED),
    (S.APPROVED, S.CANCELLED), (S.APPROVED, S.FAILED),
    (S.APPROVED, S.SENT),  # a formal letter posted by hand (issue 15)
    (S.SENDING, S.SENT), (S.SENDING, S.DELIVERED), (S.SENDING, S.FAILED),
    (S.SENDING, S.UNKNOWN), (S.SENDING, S.APPROVED),
    (S.SENT, S.DELIVERED), (S.SENT, S.FAILED),
    (S.UNKNOWN, S.SENT), (S.UNKNOWN, S.DELIVERED), (S.UNKNOWN, S.FAILED),
    # a call task (issue 14): carried or retried, closed by its outcome, cancelled, expired
    (S.TO_CALL, S.TO_CALL), (S.TO_CALL, S.CALLED), (S.TO_CALL, S.CANCELLED),
    (S.TO_CALL, S.EXPIRED),
}  # fmt: skip


def test_the_stored_names_are_the_public_ones_in_contract_order() -> None:
    assert [s.value for s in lc.STATUSES] == [
        "pending_approval", "approved", "rejected", "sending", "sent", "delivered", "failed",
        "unknown", "cancelled", "expired", "to_call", "called",
    ]  # fmt: skip
    assert Status("sent") == "sent" and isinstance(Status.SENT, str)


@pytest.mark.parametrize(("current", "target"), ALL, ids=lambda s: str(s))
def test_allowed_is_exactly_the_table(current: Status, target: Status) -> None:
    assert allowed(current, target) is ((current, target) in EXPECTED)
    assert allowed(current.value, target.value) is allowed(current, target)  # plain strings


def test_a_forbidden_move_raises_with_what_is_possible_instead() -> None:
    with pytest.raises(IllegalTransition, match="reminder 7 is sent and cannot become "
                       "approved; from sent it can become delivered, failed"):  # fmt: skip
        lc.check("sent", "approved", 7)
    with pytest.raises(IllegalTransition, match="cancelled.*nothing \\(it is final\\)"):
        lc.check("cancelled", "approved")
    assert lc.check("approved", "sending") is S.SENDING


def test_unknown_status_names_never_move() -> None:
    assert not allowed("archived", "approved") and not allowed("approved", "archived")
    with pytest.raises(IllegalTransition):
        lc.check("archived", "approved")


def test_final_statuses_are_the_ones_with_no_way_out() -> None:
    assert {S.REJECTED, S.DELIVERED, S.FAILED, S.CANCELLED, S.EXPIRED, S.CALLED} == lc.FINAL
    assert not any(allowed(f, t) for f in lc.FINAL for t in lc.STATUSES)


def test_the_named_sets_the_sweeps_and_pages_use() -> None:
    # what a change of standing cancels (a call task too)
    assert {S.PENDING_APPROVAL, S.APPROVED, S.TO_CALL} == lc.LIVE
    assert {S.SENDING, S.SENT, S.DELIVERED, S.UNKNOWN} == lc.HANDED_OVER  # re-check's recent
    assert lc.COUNTED == lc.LIVE | lc.HANDED_OVER  # under the caps (C2)
    assert {S.SENT, S.DELIVERED} == lc.WENT_OUT  # what the fallback follows up
    assert {S.SENDING, S.SENT, S.UNKNOWN} == lc.AWAITING_PROVIDER
    assert {S.PENDING_APPROVAL, S.APPROVED, S.TO_CALL} == lc.INITIAL
    assert S.FAILED in lc.AFTER_APPROVAL and S.PENDING_APPROVAL not in lc.AFTER_APPROVAL
    # Nothing can be cancelled once it may have reached the customer.
    assert not any(allowed(s, S.CANCELLED) for s in lc.HANDED_OVER)


def test_every_named_move_takes_only_allowed_predecessors_and_every_move_has_one() -> None:
    for m in lc.MOVES:
        assert m.sources, m.name
        assert all(allowed(s, m.target) for s in m.sources), m.name
    made = {(s, m.target) for m in lc.MOVES for s in m.sources}
    assert made == EXPECTED  # no allowed move without an operation, none beyond the table


def test_approve_is_narrower_than_the_table_and_says_so() -> None:
    assert allowed("approved", "approved")  # a deferral stays approved ...
    with pytest.raises(IllegalTransition, match="approve takes only a reminder that is "
                       "pending_approval"):  # fmt: skip
        lc.APPROVE.check("approved", 3)  # ... but approving twice is refused
    assert lc.APPROVE.check("pending_approval") is S.APPROVED


def test_predecessors_are_the_guard_of_set_based_moves() -> None:
    assert lc.EXPIRE.sources == (S.PENDING_APPROVAL,)  # the expiry sweep: drafts only
    assert lc.EXPIRE_CALL.sources == (S.TO_CALL,)
    assert lc.predecessors(S.SENDING) == (S.APPROVED,)
    assert lc.predecessors(S.FAILED, among=lc.AWAITING_PROVIDER) == (S.SENDING, S.SENT, S.UNKNOWN)
    with pytest.raises(ValueError, match="may move to pending_approval"):
        lc.predecessors(S.PENDING_APPROVAL)


def test_callbacks_move_only_handed_over_reminders_forward() -> None:
    for current, outcome in itertools.product(lc.STATUSES, (S.SENT, S.DELIVERED, S.FAILED)):
        expected = current in lc.AWAITING_PROVIDER and allowed(current, outcome)
        assert lc.callback_moves(current, outcome) is expected
        assert moves_forward(current, outcome) is expected  # domain.reads asks the lifecycle
    assert not lc.callback_moves("approved", "failed")  # a stray callback fails nothing
    assert not lc.callback_moves("sent", "sent")  # a repeat changes nothing
    assert lc.callback_moves("unknown", "sent")  # and tells what became of an unknown one


def test_what_a_send_is_recorded_on() -> None:
    # sending, or what a callback or the lease's end made of it; never an unsent draft
    assert {S.SENDING, S.SENT, S.DELIVERED, S.FAILED, S.UNKNOWN} == lc.RECORDS_SENT
