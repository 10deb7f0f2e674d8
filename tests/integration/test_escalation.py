"""D4, D21: escalation hands a customer from its collector to a manager, on SQLite and
PostgreSQL: after broken promises (the planner, a batch at a time) and by hand (a manager,
`notifier escalate`), through one service; the event keeps who had the customer, who has
it, the reason, who decided and when; `explain` shows it; a manager hands it back."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.policy import EscalationPolicy, Policy
from notifier.services.customers import CustomerError, NotAllowed
from notifier.services.escalation import NO_MANAGER, deescalate, escalate, escalate_many
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, PaymentPromise, User
from notifier.sweeps.plan import plan
from tests.support import PORTFOLIO_PLANNED, run, sweep_context, two_customer_portfolio

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = PORTFOLIO_PLANNED + timedelta(days=1)


@pytest.fixture
def portfolio(engine: Engine, policy: Policy) -> Engine:
    """C1 and C2, both with collector li and a draft planned; users of every role."""
    two_customer_portfolio(engine, policy)
    with unit_of_work(engine) as s:
        for name, role, active in (
            ("zhao", "manager", True),
            ("wang", "reviewer", True),
            ("qian", "manager", False),
            ("root", "admin", True),
        ):
            s.add(User(name=name, role=role, active=active, created_at=T0))  # fmt: skip
    return engine


def broken_promises(engine: Engine, customer_id: str, days: tuple[int, ...] = (10, 20)) -> None:
    with unit_of_work(engine) as s:
        s.add_all(
            PaymentPromise(customer_id=customer_id, promised_on=date(2026, 2, day),
                           status="broken", recorded_by="li", recorded_at=T0)
            for day in days
        )  # fmt: skip


def customer(engine: Engine, customer_id: str) -> Customer:
    with unit_of_work(engine) as s:
        c = s.get(Customer, customer_id)
        assert c is not None
        return c


def events(engine: Engine, kind: str) -> list[Event]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(Event).where(col(Event.kind) == kind).order_by(col(Event.id))))


def with_escalation(policy: Policy, escalation: EscalationPolicy) -> Policy:
    return policy.model_copy(update={"escalation": escalation})


def user(engine: Engine, name: str) -> User:
    with unit_of_work(engine) as s:
        u = s.get(User, name)
        assert u is not None
        return u


def test_two_broken_promises_hand_the_customer_to_its_collectors_manager(
    portfolio: Engine, policy: Policy
) -> None:
    broken_promises(portfolio, "C1")
    policy = with_escalation(policy, EscalationPolicy(manager="zhao", managers={"li": "sun"}))
    report = plan(portfolio, LATER, sweep_context(policy), force=True)
    assert report.escalated == 1
    c1, c2 = customer(portfolio, "C1"), customer(portfolio, "C2")
    assert (c1.collector, c1.escalation_reason) == ("sun", "2 broken promises to pay (D21)")
    assert c1.escalated_at == LATER and c2.collector == "li" and c2.escalated_at is None
    [event] = events(portfolio, "escalated")
    assert (event.customer_id, event.actor, event.at) == ("C1", "planner", LATER)
    assert event.data == {"reason": "2 broken promises to pay (D21)", "from": "li", "to": "sun"}
    again = plan(portfolio, LATER + timedelta(hours=1), sweep_context(policy), force=True)
    assert again.escalated == 0 and len(events(portfolio, "escalated")) == 1


def test_with_no_manager_named_the_customer_stays_and_the_event_says_so(
    portfolio: Engine, policy: Policy
) -> None:
    broken_promises(portfolio, "C1")
    plan(portfolio, LATER, sweep_context(with_escalation(policy, EscalationPolicy())), force=True)
    c1 = customer(portfolio, "C1")
    assert c1.escalated_at == LATER and c1.collector == "li"
    [event] = events(portfolio, "escalated")
    assert event.data["to"] == "li" and event.data["note"] == NO_MANAGER


def test_the_planners_batch_escalates_each_customer_once_in_one_call(portfolio: Engine) -> None:
    policy = EscalationPolicy(manager="zhao")
    with unit_of_work(portfolio) as s:
        done = escalate_many(s, [("C1", "r1"), ("C2", "r2"), ("nobody", "r3")], policy,
                             "planner", LATER)  # fmt: skip
        assert done == ["C1", "C2"]
        assert escalate_many(s, [("C1", "again")], policy, "planner", LATER) == []
    assert [customer(portfolio, c).collector for c in ("C1", "C2")] == ["zhao", "zhao"]
    assert [e.data["reason"] for e in events(portfolio, "escalated")] == ["r1", "r2"]


def test_a_manager_escalates_by_hand_and_hands_the_customer_back(portfolio: Engine) -> None:
    policy = EscalationPolicy(manager="zhao")
    with unit_of_work(portfolio) as s:
        c = escalate(s, "C1", "  says 'in process' for the third time ", user(portfolio, "root"),
                     LATER, policy)  # fmt: skip
        assert (
            c.collector == "zhao" and c.escalation_reason == "says 'in process' for the third time"
        )
    [up] = events(portfolio, "escalated")
    assert (up.actor, up.data["role"], up.data["from"], up.data["to"]) == (
        "root",
        "admin",
        "li",
        "zhao",
    )
    with unit_of_work(portfolio) as s:
        c = deescalate(s, "C1", "paid half, back to li", user(portfolio, "zhao"), LATER)
    c1 = customer(portfolio, "C1")
    assert (c1.collector, c1.escalated_at, c1.escalation_reason) == ("li", None, None)
    [down] = events(portfolio, "deescalated")
    assert (down.actor, down.data["from"], down.data["to"]) == ("zhao", "zhao", "li")
    assert down.data["note"] == "paid half, back to li"


def test_only_active_managers_and_admins_escalate_and_never_twice(portfolio: Engine) -> None:
    policy = EscalationPolicy(manager="zhao")
    for name in ("wang", "qian"):
        with pytest.raises(NotAllowed), unit_of_work(portfolio) as s:
            escalate(s, "C1", "late", user(portfolio, name), LATER, policy)
    with pytest.raises(CustomerError, match="needs a reason"), unit_of_work(portfolio) as s:
        escalate(s, "C1", "   ", user(portfolio, "zhao"), LATER, policy)
    with unit_of_work(portfolio) as s:
        escalate(s, "C1", "late", user(portfolio, "zhao"), LATER, policy)
    with pytest.raises(CustomerError, match="escalated already"), unit_of_work(portfolio) as s:
        escalate(s, "C1", "later", user(portfolio, "zhao"), LATER, policy)
    with pytest.raises(CustomerError, match="not escalated"), unit_of_work(portfolio) as s:
        deescalate(s, "C2", None, user(portfolio, "zhao"), LATER)
    assert len(events(portfolio, "escalated")) == 1 and customer(portfolio, "C2").collector == "li"


def test_the_cli_escalates_as_a_manager_and_explain_shows_the_handover(
    portfolio: Engine, db_url: str
) -> None:
    at = LATER.isoformat()
    refused = run("escalate", "C1", "--reason", "late", "--as", "wang", "--at", at, db=db_url)
    assert refused.returncode == 1 and "only a manager or an admin may escalate" in refused.stderr
    unknown = run("escalate", "C1", "--reason", "late", "--as", "ghost", "--at", at, db=db_url)
    assert unknown.returncode == 1 and "no user 'ghost'" in unknown.stderr
    assert customer(portfolio, "C1").escalated_at is None
    done = run("escalate", "C1", "--reason", "two broken promises", "--as", "zhao", "--at", at,
               db=db_url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "escalated C1: from li to manager" in done.stdout  # the shipped policy's manager
    text = run("explain", "C1", "--at", at, db=db_url)
    assert text.returncode == 0, text.stderr
    assert "two broken promises" in text.stdout
    assert "from collector li to manager, by zhao" in text.stdout
    explained = json.loads(run("explain", "C1", "--at", at, "--json", db=db_url).stdout)
    assert explained["collector"] == "manager"
    assert explained["escalation"] | {"at": None} == {
        "at": None, "reason": "two broken promises", "by": "zhao", "from_collector": "li",
        "to": "manager", "note": None,
    }  # fmt: skip
    twice = run("escalate", "C1", "--reason", "again", "--as", "zhao", db=db_url)
    assert twice.returncode == 1 and "escalated already" in twice.stderr
    back = run("deescalate", "C1", "--as", "root", db=db_url)
    assert back.returncode == 0 and customer(portfolio, "C1").collector == "li"


def test_a_reimport_does_not_hand_an_escalated_customer_back(
    portfolio: Engine, db_url: str, tmp_path: Path
) -> None:
    with unit_of_work(portfolio) as s:
        escalate(s, "C1", "late", user(portfolio, "zhao"), LATER, EscalationPolicy(manager="zhao"))
    erp = tmp_path / "customers.csv"
    erp.write_text("customer_id,name,kind,collector\nC1,客户C1,business,li\nC2,客户C2,business,li\n",
                   encoding="utf-8")  # fmt: skip
    result = run("import", "customers", str(erp), db=db_url)
    assert result.returncode == 0, result.stderr
    assert customer(portfolio, "C1").collector == "zhao"
    assert customer(portfolio, "C2").collector == "li"
