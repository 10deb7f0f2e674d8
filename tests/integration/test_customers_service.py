"""services/customers.py: promises (D21), disputes (D22), the legal flag (D19) and the
timeline (D18), on a real migrated database (the ``engine`` fixture: SQLite, then PostgreSQL)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.services import customers, disputes, promises, review
from notifier.store.db import unit_of_work
from notifier.store.models import (
    Customer,
    Dispute,
    Event,
    Payment,
    PaymentPromise,
    Reminder,
    User,
)
from notifier.store.queries import items_for
from tests.fakes.postgres import wait_until_blocked_on_a_lock
from tests.support import add_deciders, two_customer_portfolio

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)  # Monday 2 March in Shanghai
T0 = datetime(2026, 1, 1, tzinfo=UTC)
MANAGER = User(name="zhao", role="manager", created_at=T0)
REVIEWER = User(name="wang", role="reviewer", created_at=T0)
COLLECTOR = User(name="li", role="collector", created_at=T0)


@pytest.fixture
def drafted(engine: Engine, policy: Policy) -> dict[str, int]:
    drafts = two_customer_portfolio(engine, policy)
    add_deciders(engine, REVIEWER.name)
    return drafts


def events(session: Session, kind: str) -> list[Event]:
    return list(session.scalars(select(Event).where(col(Event.kind) == kind)))


def test_a_promise_is_recorded_and_pauses_the_customers_drafts(
    engine: Engine, drafted: dict[str, int]
) -> None:
    with unit_of_work(engine) as s:
        promise = promises.record_promise(
            s, "C1", date(2026, 3, 10), Decimal("5000.00"), " next Tuesday ", "li", NOW
        )
    with unit_of_work(engine) as s:
        row = s.get(PaymentPromise, promise.id)
        assert row is not None
        assert (row.promised_on, row.amount_cents, row.status, row.note, row.recorded_by) == (
            date(2026, 3, 10),
            500_000,
            "open",
            "next Tuesday",
            "li",
        )
        [recorded] = events(s, "promise_recorded")
        assert (recorded.customer_id, recorded.actor) == ("C1", "li")
        assert recorded.data == {
            "promise_id": promise.id,
            "promised_on": "2026-03-10",
            "amount": "5000.00",
            "note": "next Tuesday",
        }
        mine, other = s.get(Reminder, drafted["C1"]), s.get(Reminder, drafted["C2"])
        assert mine is not None and other is not None
        assert (mine.status, mine.reason) == ("cancelled", "promised to pay by 2026-03-10")
        assert other.status == "pending_approval"  # another customer's draft is untouched
        [cancelled] = events(s, "cancelled")
        assert cancelled.data["reminder_id"] == drafted["C1"] and cancelled.actor == "li"


def test_a_promise_for_today_in_the_customers_zone_is_accepted(
    engine: Engine, drafted: dict[str, int]
) -> None:
    # 2026-03-01 23:30 UTC is already 2 March in Shanghai
    late_utc = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    with unit_of_work(engine) as s:
        promise = promises.record_promise(s, "C2", date(2026, 3, 2), None, None, "li", late_utc)
    assert promise.amount_cents is None


@pytest.mark.parametrize(
    ("customer_id", "day", "amount", "message"),
    [
        ("C9", date(2026, 3, 10), None, "no customer with id 'C9'"),
        ("C1", date(2026, 3, 1), None, "the promised date 2026-03-01 is in the past"),
        ("C1", date(2026, 3, 10), Decimal("0"), "must be more than 0"),
        ("C1", date(2026, 3, 10), Decimal("-5"), "must be more than 0"),
        ("C1", date(2026, 3, 10), Decimal("NaN"), "is not a number"),
        ("C1", date(2026, 3, 10), Decimal("1.234"), "more than two decimals"),
    ],
)
def test_a_wrong_promise_is_refused_with_what_is_wrong(
    engine: Engine,
    drafted: dict[str, int],
    customer_id: str,
    day: date,
    amount: Decimal | None,
    message: str,
) -> None:
    with pytest.raises(customers.CustomerError, match=message), unit_of_work(engine) as s:
        promises.record_promise(s, customer_id, day, amount, None, "li", NOW)
    with unit_of_work(engine) as s:
        assert s.scalars(select(PaymentPromise)).all() == []
        assert events(s, "promise_recorded") == []


def test_a_dispute_pauses_the_disputed_item_and_is_logged(
    engine: Engine, drafted: dict[str, int]
) -> None:
    with unit_of_work(engine) as s:
        dispute = disputes.open_dispute(
            s, "C1-1", Decimal("2000"), "goods faulty", "li", NOW, customer_id="C1"
        )
    with unit_of_work(engine) as s:
        row = s.get(Dispute, dispute.id)
        assert row is not None and (row.amount_cents, row.reason, row.opened_by) == (
            200_000,
            "goods faulty",
            "li",
        )
        [opened] = events(s, "dispute_opened")
        assert opened.customer_id == "C1" and opened.data["invoice_id"] == "C1-1"
        assert opened.data["amount"] == "2000.00"
        disputed = {i.id: i.disputed for i in items_for(s, ["C1"])["C1"]}
        assert disputed == {"C1-1": True, "C1-2": False}  # the rest is still collected


@pytest.mark.parametrize(
    ("invoice_id", "amount", "reason", "customer_id", "message"),
    [
        ("X-1", None, "faulty", None, "no invoice with id 'X-1'"),
        ("C2-1", None, "faulty", "C1", "is not an invoice of customer 'C1'"),
        ("C1-1", Decimal("10000.01"), "faulty", None, "more than invoice 'C1-1' is for"),
        ("C1-1", Decimal("0"), "faulty", None, "must be more than 0"),
        ("C1-1", None, "   ", None, "the reason is required"),
    ],
)
def test_a_wrong_dispute_is_refused_with_what_is_wrong(
    engine: Engine,
    drafted: dict[str, int],
    invoice_id: str,
    amount: Decimal | None,
    reason: str,
    customer_id: str | None,
    message: str,
) -> None:
    with pytest.raises(customers.CustomerError, match=message), unit_of_work(engine) as s:
        disputes.open_dispute(s, invoice_id, amount, reason, "li", NOW, customer_id=customer_id)
    with unit_of_work(engine) as s:
        assert s.scalars(select(Dispute)).all() == []


def test_one_open_dispute_per_invoice_and_resolving_it(
    engine: Engine, drafted: dict[str, int]
) -> None:
    with unit_of_work(engine) as s:
        first = disputes.open_dispute(s, "C1-1", None, "faulty", "li", NOW)
    with (
        pytest.raises(customers.CustomerError, match="already has an open dispute"),
        unit_of_work(engine) as s,
    ):
        disputes.open_dispute(s, "C1-1", None, "again", "li", NOW)
    with (
        pytest.raises(customers.CustomerError, match="is not about customer 'C2'"),
        unit_of_work(engine) as s,
    ):
        disputes.resolve_dispute(s, first.id or 0, None, "li", NOW, customer_id="C2")
    later = NOW + timedelta(days=3)
    with unit_of_work(engine) as s:
        disputes.resolve_dispute(s, first.id or 0, "replaced the goods", "zhao", later)
    with unit_of_work(engine) as s:
        row = s.get(Dispute, first.id)
        assert row is not None and row.resolved_at == later
        [resolved] = events(s, "dispute_resolved")
        assert (resolved.actor, resolved.data["note"]) == ("zhao", "replaced the goods")
        assert not any(i.disputed for i in items_for(s, ["C1"])["C1"])
    with (
        pytest.raises(customers.CustomerError, match="already resolved"),
        unit_of_work(engine) as s,
    ):
        disputes.resolve_dispute(s, first.id or 0, None, "zhao", later)
    with unit_of_work(engine) as s:  # a new dispute may follow a resolved one
        disputes.open_dispute(s, "C1-1", None, "faulty again", "li", later)


def test_the_database_itself_refuses_a_second_open_dispute_on_an_invoice(
    engine: Engine, drafted: dict[str, int]
) -> None:
    with unit_of_work(engine) as s:
        disputes.open_dispute(s, "C1-1", None, "faulty", "li", NOW)
    # Past the service (another program, a race the service's check did not see).
    with pytest.raises(IntegrityError), unit_of_work(engine) as s:
        s.add(Dispute(invoice_id="C1-1", reason="again", opened_at=NOW))
    with unit_of_work(engine) as s:
        assert len(s.scalars(select(Dispute)).all()) == 1
        s.add(Dispute(invoice_id="C1-1", reason="an old one", opened_at=NOW, resolved_at=NOW))


@pytest.mark.parametrize("who", [REVIEWER, COLLECTOR])
def test_only_a_manager_or_admin_sets_the_legal_flag(
    engine: Engine, drafted: dict[str, int], who: User
) -> None:
    with (
        pytest.raises(customers.NotAllowed, match=f"a {who.role} may not"),
        unit_of_work(engine) as s,
    ):
        customers.set_legal_authorised(s, "C1", True, who, NOW)
    with unit_of_work(engine) as s:
        c = s.get(Customer, "C1")
        assert c is not None and not c.legal_authorised
        assert events(s, "legal_authorised") == []


def test_the_legal_flag_is_logged_with_who_and_relints_pending_drafts(
    engine: Engine, policy: Policy, drafted: dict[str, int]
) -> None:
    admin = User(name="root", role="admin", created_at=T0)
    with unit_of_work(engine) as s:
        customers.set_legal_authorised(s, "C1", True, MANAGER, NOW, policy=policy)
    draft_id = drafted["C1"]
    with unit_of_work(engine) as s:  # authorised: a reviewer may now mention a lawsuit
        r = review.get_draft(s, draft_id)
        review.edit(s, draft_id, "wang", r.body + "\n\n否则我们将起诉。", r.subject, NOW, policy)
    with unit_of_work(engine) as s:
        customers.set_legal_authorised(s, "C1", False, admin, NOW, policy=policy)
    with unit_of_work(engine) as s:
        c = s.get(Customer, "C1")
        assert c is not None and not c.legal_authorised
        assert [(e.actor, e.data) for e in events(s, "legal_authorised")] == [
            ("zhao", {"value": True, "by": "zhao", "role": "manager"}),
            ("root", {"value": False, "by": "root", "role": "admin"}),
        ]
        r = review.get_draft(s, draft_id)
        assert any(p.startswith("legal_threat") for p in r.lint)
    with pytest.raises(review.LintRefused), unit_of_work(engine) as s:
        review.approve(s, [draft_id], "wang", NOW, policy, WorkCalendar(policy.calendar))
    with unit_of_work(engine) as s:  # unchanged: nothing logged
        customers.set_legal_authorised(s, "C1", False, MANAGER, NOW, policy=policy)
        assert len(events(s, "legal_authorised")) == 2


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_timeline_merges_everything_newest_first(
    engine: Engine, policy: Policy, drafted: dict[str, int]
) -> None:
    draft_id = drafted["C1"]
    with unit_of_work(engine) as s:
        r = review.get_draft(s, draft_id)
        review.edit(
            s, draft_id, "wang", "您好，" + r.body, r.subject, NOW + timedelta(minutes=1), policy
        )
        s.add(
            Event(
                at=NOW + timedelta(minutes=2),
                kind="opened",
                customer_id="C1",
                actor="recipient",
                data={"reminder_id": draft_id, "machine": True},
            )
        )
        disputes.open_dispute(s, "C1-1", None, "faulty", "li", NOW + timedelta(minutes=3))
        promises.record_promise(
            s, "C1", date(2026, 3, 9), None, "will pay", "li", NOW + timedelta(minutes=4)
        )
        s.add(Event(at=NOW, kind="opened", customer_id="C2", actor="recipient", data={}))
    with unit_of_work(engine) as s:
        entries = customers.timeline(s, "C1")
    kinds = [e.kind for e in entries]
    assert kinds == ["cancelled", "promise", "dispute", "opened", "edit", "drafted", "payment"]
    assert entries == sorted(entries, key=lambda e: e.at, reverse=True)
    # no "promise_recorded", "dispute_opened" or "edited" twice: the rows carry them
    cancelled, promise, dispute, opened, edit, drafted_entry, payment = entries
    assert (
        promise.details["promised_on"] == date(2026, 3, 9) and promise.details["status"] == "open"
    )
    assert promise.actor == "li" and promise.details["note"] == "will pay"
    assert dispute.details["invoice_id"] == "C1-1" and dispute.details["resolved_at"] is None
    assert opened.details["machine"] is True
    assert opened.message is not None and opened.message.status == "cancelled"  # status now
    assert edit.details["body_after"] == "您好，" + edit.details["body_before"]
    assert edit.actor == "wang" and drafted_entry.actor == "planner"
    assert payment.date_only and payment.details["day"] == date(2026, 2, 10)
    assert payment.details["amount"] == Decimal("1000.00") and payment.details["currency"] == "CNY"
    assert payment.at == datetime(2026, 2, 10, tzinfo=SHANGHAI)
    assert cancelled.message is not None and cancelled.message.id == draft_id


def test_timeline_is_set_based_and_limited(engine: Engine, drafted: dict[str, int]) -> None:
    def selects() -> int:
        with counting(engine) as statements, unit_of_work(engine) as s:
            customers.timeline(s, "C1")
        return sum(1 for q in statements if q.lstrip().upper().startswith("SELECT"))

    few = selects()
    with unit_of_work(engine) as s:
        for i in range(200):
            s.add(
                Event(
                    at=NOW + timedelta(seconds=i),
                    kind="clicked",
                    customer_id="C1",
                    actor="recipient",
                    data={"reminder_id": drafted["C1"]},
                )
            )
            s.add(
                Payment(
                    id=f"PX{i}",
                    invoice_id="C1-1",
                    amount_cents=1,
                    paid_on=date(2026, 2, 1),
                    created_at=T0,
                    updated_at=T0,
                )
            )
    assert selects() == few <= 7
    with unit_of_work(engine) as s:
        assert len(customers.timeline(s, "C1", limit=50)) == 50
        with pytest.raises(customers.CustomerError, match="no customer with id 'C9'"):
            customers.timeline(s, "C9")


def test_two_clerks_opening_a_dispute_at_once_open_one(
    engine: Engine, drafted: dict[str, int], store: str
) -> None:
    if store != "postgresql":
        pytest.skip("SQLite has no row locks to wait on")
    second: list[BaseException | None] = []

    def other_clerk() -> None:
        try:
            with unit_of_work(engine) as s:
                disputes.open_dispute(s, "C1-1", None, "wrong quantity", "wang", NOW)
            second.append(None)
        except BaseException as exc:  # handed to the test's thread
            second.append(exc)

    with unit_of_work(engine) as first:
        disputes.open_dispute(first, "C1-1", None, "faulty", "li", NOW)
        thread = threading.Thread(target=other_clerk)
        thread.start()
        wait_until_blocked_on_a_lock(engine, thread)
    thread.join()
    assert len(second) == 1 and isinstance(second[0], customers.CustomerError)
    assert "already has an open dispute" in str(second[0])
    with unit_of_work(engine) as s:
        assert [d.opened_by for d in s.scalars(select(Dispute))] == ["li"]


@pytest.mark.parametrize(
    ("role", "days", "refused"),
    [
        ("collector", 90, None),
        ("collector", 91, "more than 90 days ahead (latest 2026-05-31); only a manager"),
        ("reviewer", 2912382, "more than 90 days ahead"),  # 9999-12-31
        ("manager", 365, None),
        ("admin", 365, None),
        ("manager", 366, "more than 365 days ahead; the latest a promise may reach is 2027-03-02"),
    ],
)
def test_a_promise_reaches_at_most_the_policys_days_ahead_longer_only_for_a_manager(
    engine: Engine, drafted: dict[str, int], policy: Policy, role: str, days: int,
    refused: str | None,
) -> None:  # fmt: skip
    day = date(2026, 3, 2) + timedelta(days=days)
    with unit_of_work(engine) as s:
        if refused is None:
            promises.record_promise(s, "C1", day, None, None, "li", NOW, role=role,
                                     limits=policy.limits)  # fmt: skip
        else:
            with pytest.raises(customers.CustomerError, match=re.escape(refused)):
                promises.record_promise(s, "C1", day, None, None, "li", NOW, role=role,
                                         limits=policy.limits)  # fmt: skip
    with unit_of_work(engine) as s:
        recorded = [p.promised_on for p in s.scalars(select(PaymentPromise))]
    assert recorded == ([] if refused else [day])


def test_a_promise_without_a_role_or_limits_is_still_bounded(
    engine: Engine, drafted: dict[str, int]
) -> None:
    with (
        pytest.raises(customers.CustomerError, match="more than 90 days ahead"),
        unit_of_work(engine) as s,
    ):
        promises.record_promise(s, "C1", date(9999, 12, 31), None, None, "li", NOW)
