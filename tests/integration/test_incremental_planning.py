"""Incremental planning (issue 12) does what a full scan does: for random portfolios and
random sequences of events (payments, disputes opened and resolved, promises, new
invoices, opt-outs, drafts rejected or sent, a policy edit) at random instants, one
database planned tick by tick from ``planner_due`` and one planned by reading every
customer at the same instants hold the same drafts, cancellations, promises and
escalations after every tick. On SQLite and PostgreSQL.

Also: a tick with nothing due reads nobody; a change marks its customer in the writer's
own transaction; the daily reconciliation finds a tampered state and repairs it."""

from __future__ import annotations

import shutil
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text, update

from notifier.domain.lifecycle import LIVE
from notifier.domain.policy import Policy
from notifier.settings import load_policy
from notifier.store import planning
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.store.models import (
    Customer,
    Dispute,
    Payment,
    PaymentPromise,
    PlannerDue,
    Receivable,
    Reminder,
)
from notifier.sweeps.plan import plan
from notifier.sweeps.reconcile import reconcile
from tests.fakes.backlog import overdue_customers
from tests.support import ROOT, sweep_context

PLACES = (("Asia/Shanghai", "CN", "CNY"), ("America/New_York", "US", "USD"),
          ("Europe/London", "GB", "GBP"))  # fmt: skip
BASE = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Invoice:
    cents: int
    due_in: int  # days from BASE's date
    paid: int  # % paid 20 days after issue (0: nothing)


@dataclass(frozen=True)
class Client:
    place: int
    business: bool
    invoices: tuple[Invoice, ...]


@dataclass(frozen=True)
class Step:
    minutes: int  # the clock moves on this much, then the event, then a tick
    event: str
    target: int  # which customer / invoice / reminder (modulo what exists)
    amount: int


EVENTS = ("none", "none", "pay_all", "pay_part", "dispute", "resolve", "promise", "invoice",
          "sms_opt_out", "reject", "send", "policy")  # fmt: skip
invoices = st.builds(Invoice, cents=st.integers(10_000, 900_000), due_in=st.integers(-100, 12),
                     paid=st.sampled_from((0, 0, 40, 100)))  # fmt: skip
clients = st.builds(Client, place=st.integers(0, 2), business=st.booleans(),
                    invoices=st.lists(invoices, min_size=1, max_size=3).map(tuple))  # fmt: skip
steps = st.builds(
    Step,
    minutes=st.sampled_from((15, 15, 45, 6 * 60, 16 * 60, 24 * 60, 3 * 24 * 60, 9 * 24 * 60)),
    event=st.sampled_from(EVENTS),
    target=st.integers(0, 20),
    amount=st.integers(1, 99),
)
cases = st.tuples(
    st.lists(clients, min_size=1, max_size=4),
    st.integers(0, 24 * 60 - 1),
    st.lists(steps, min_size=1, max_size=7),
)


@pytest.fixture(scope="module")
def policies() -> tuple[Policy, ...]:
    """The shipped policy; a longer horizon; and a delay rule longer than the share rule's
    days, so that D1's share of the whole portfolio decides some tiers (portfolio-bound
    customers, planned again whenever anything changes)."""
    shipped = load_policy(ROOT / "config" / "notifier.toml")
    planning_ = shipped.planning.model_copy(update={"horizon_hours": 48})
    tiers = shipped.tiers.model_copy(update={"c_min_delay_days": 120})
    return (shipped, shipped.model_copy(update={"planning": planning_}),
            shipped.model_copy(update={"tiers": tiers}))  # fmt: skip


@pytest.fixture(scope="module")
def pair(store: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
         ) -> Iterator[Callable[[], tuple[Engine, Engine]]]:  # fmt: skip
    """Two fresh migrated databases per call (the incremental one, the full-scan one)."""
    engines: list[Engine] = []
    numbers = count()
    if store == "postgresql":
        server = request.getfixturevalue("postgres_server")
        template = request.getfixturevalue("postgres_template")
        names: list[str] = []

        def make() -> tuple[Engine, Engine]:
            made = []
            for _ in range(2):
                names.append(server.create_database(template))
                made.append(make_engine(server.url(names[-1])))
            engines.extend(made)
            return made[0], made[1]

        yield make
        for engine in engines:
            engine.dispose()
        for name in names:
            server.drop_database(name)
        return
    folder = tmp_path_factory.mktemp("incremental")
    template = folder / "template.db"
    engine = make_engine(f"sqlite:///{template}")
    upgrade(engine)
    engine.dispose()

    def make_sqlite() -> tuple[Engine, Engine]:
        made = []
        for _ in range(2):
            path = folder / f"example-{next(numbers)}.db"
            shutil.copyfile(template, path)
            made.append(make_engine(f"sqlite:///{path}"))
        engines.extend(made)
        return made[0], made[1]

    yield make_sqlite
    for e in engines:
        e.dispose()


def store_portfolio(engine: Engine, portfolio: list[Client]) -> None:
    day = BASE.date()
    with unit_of_work(engine) as s:
        for n, c in enumerate(portfolio):
            zone, country, _ = PLACES[c.place]
            s.add(Customer(id=f"K{n}", name=f"Customer {n}", kind="business" if c.business
                           else "individual", phone=f"+8613900000{n:03d}",
                           email=f"k{n}@x.example", timezone=zone, country=country,
                           locale="en", collector="alice", created_at=T0,
                           updated_at=T0))  # fmt: skip
        s.flush()
        for n, c in enumerate(portfolio):
            for m, inv in enumerate(c.invoices):
                due = day + timedelta(days=inv.due_in)
                rid = f"K{n}-{m}"
                s.add(Receivable(id=rid, customer_id=f"K{n}", amount_cents=inv.cents,
                                 currency=PLACES[c.place][2], issued_on=due - timedelta(days=30),
                                 due_on=due, created_at=T0, updated_at=T0))  # fmt: skip
                if inv.paid:
                    s.flush()
                    s.add(Payment(id=f"{rid}-P", invoice_id=rid,
                                  amount_cents=inv.cents * inv.paid // 100,
                                  paid_on=due - timedelta(days=10), created_at=T0,
                                  updated_at=T0))  # fmt: skip


def apply(engine: Engine, step: Step, now: datetime, n: int) -> None:
    """The same event on either database (chosen from what exists, by id order)."""
    kind = step.event
    with unit_of_work(engine) as s:
        invoices = list(s.scalars(select(Receivable).order_by(Receivable.id)))
        inv = invoices[step.target % len(invoices)]
        today = now.date()
        if kind in ("pay_all", "pay_part"):
            cents = inv.amount_cents if kind == "pay_all" else inv.amount_cents * step.amount // 100
            s.add(Payment(id=f"X{n}", invoice_id=inv.id, amount_cents=cents, paid_on=today,
                          created_at=now, updated_at=now))  # fmt: skip
        elif kind == "dispute":
            if s.scalar(select(Dispute.id).where(Dispute.invoice_id == inv.id,
                                                 Dispute.resolved_at.is_(None))) is None:  # type: ignore[union-attr]  # fmt: skip
                s.add(Dispute(invoice_id=inv.id, amount_cents=None, reason="faulty",
                              opened_at=now))  # fmt: skip
        elif kind == "resolve":
            s.execute(update(Dispute).where(Dispute.resolved_at.is_(None))  # type: ignore[union-attr]
                      .values(resolved_at=now))  # fmt: skip
        elif kind == "promise":
            s.add(PaymentPromise(customer_id=inv.customer_id, recorded_at=now,
                                 promised_on=today + timedelta(days=step.amount % 12)))  # fmt: skip
        elif kind == "invoice":
            s.add(Receivable(id=f"N{n}", customer_id=inv.customer_id, amount_cents=50_000,
                             currency=inv.currency, issued_on=today - timedelta(days=20),
                             due_on=today + timedelta(days=step.amount % 15 - 5),
                             created_at=now, updated_at=now))  # fmt: skip
        elif kind == "sms_opt_out":
            s.execute(update(Customer).where(Customer.id == inv.customer_id)
                      .values(sms_opt_out=True, updated_at=now))  # fmt: skip
        elif kind in ("reject", "send"):
            live = list(s.scalars(select(Reminder).where(
                Reminder.status.in_(("pending_approval", "approved")))  # type: ignore[attr-defined]
                .order_by(Reminder.customer_id, Reminder.step)))  # fmt: skip
            if live:
                r = live[step.target % len(live)]
                r.status = "rejected" if kind == "reject" else "sent"
                r.updated_at = now


def outcome(engine: Engine) -> dict[str, Any]:
    with unit_of_work(engine) as s:
        reminders = sorted(
            (r.customer_id, r.step, r.cycle, r.channel, r.status, r.slot_start.isoformat(),
             r.reason or "")
            for r in s.scalars(select(Reminder))
        )  # fmt: skip
        promises = sorted((p.customer_id, p.promised_on.isoformat(), p.status)
                          for p in s.scalars(select(PaymentPromise)))  # fmt: skip
        escalated = sorted(c.id for c in s.scalars(select(Customer)) if c.escalated_at)
    return {"reminders": reminders, "promises": promises, "escalated": escalated}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases, first=st.integers(0, 2))
def test_incremental_ticks_draft_and_cancel_exactly_what_full_scans_do(
    pair: Callable[[], tuple[Engine, Engine]],
    policies: tuple[Policy, ...],
    case: Any,
    first: int,
) -> None:
    portfolio, start, sequence = case
    incremental, full = pair()
    for engine in (incremental, full):
        store_portfolio(engine, portfolio)
    now = BASE + timedelta(minutes=start)
    which = first
    policy = policies[which]
    read = []
    for n, step in enumerate(sequence):
        now += timedelta(minutes=step.minutes)
        if step.event == "policy":
            which = (which + 1) % len(policies)
            policy = policies[which]
        else:
            for engine in (incremental, full):
                apply(engine, step, now, n)
        ctx = sweep_context(policy)
        ticked = plan(incremental, now, ctx)
        plan(full, now, ctx, force=True, full=True)
        assert ticked.ran and ticked.mode == "incremental"
        read.append(ticked.customers)
        assert outcome(incremental) == outcome(full), f"after step {n}: {step} at {now}"
    # Not a full scan in disguise: a tick later with no change reads nobody due.
    assert plan(incremental, now + timedelta(minutes=1), sweep_context(policy),
                force=True, full=False).customers <= len(portfolio)  # fmt: skip


def test_a_quiet_tick_reads_no_customer_and_a_payment_marks_its_customer(
    engine: Engine, policy: Policy
) -> None:
    portfolio = [Client(0, True, (Invoice(100_000, -5, 0),)), Client(1, False, (Invoice(
        200_000, -40, 0),)), Client(2, True, (Invoice(300_000, 20, 0),))]  # fmt: skip
    store_portfolio(engine, portfolio)
    ctx = sweep_context(policy)
    first = plan(engine, BASE, ctx)
    assert first.customers == 3  # everyone, once: the states are new
    quiet = plan(engine, BASE + timedelta(minutes=15), ctx)
    assert quiet.ran and quiet.customers == 0
    with unit_of_work(engine) as s:
        s.add(Payment(id="PAY", invoice_id="K1-0", amount_cents=1_000, paid_on=BASE.date(),
                      created_at=BASE, updated_at=BASE))  # fmt: skip
        s.flush()
        marked = s.scalar(select(PlannerDue.next_at).where(PlannerDue.customer_id == "K1"))
        assert marked == planning.RECOMPUTE  # in the writer's own transaction
    after = plan(engine, BASE + timedelta(minutes=30), ctx)
    assert after.customers == 1


def test_a_tick_after_one_that_cancelled_settled_and_escalated_reads_none_of_them(
    engine: Engine, policy: Policy
) -> None:
    """What a tick writes beyond a new draft (a draft cancelled, promises settled, an
    escalation) goes into the customer's next state in the same transaction: the next
    tick, with nothing due, reads none of those customers again."""
    portfolio = [Client(0, True, (Invoice(100_000, -40, 0),)),
                 Client(1, False, (Invoice(200_000, -40, 0),))]  # fmt: skip
    store_portfolio(engine, portfolio)
    with unit_of_work(engine) as s:  # open, their dates passed, the invoice still overdue
        s.add_all(PaymentPromise(customer_id="K1", recorded_at=T0, status="open",
                                 promised_on=BASE.date() - timedelta(days=days))
                  for days in (20, 10))  # fmt: skip
    ctx = sweep_context(policy)
    first = plan(engine, BASE, ctx)
    assert (first.customers, first.escalated) == (2, 1) and first.drafted >= 2
    with unit_of_work(engine) as s:
        assert s.scalar(select(Customer.escalated_at).where(Customer.id == "K1")) is not None
        assert set(s.scalars(select(PaymentPromise.status))) == {"broken"}
        s.add(Payment(id="PAY", invoice_id="K0-0", amount_cents=100_000, paid_on=BASE.date(),
                      created_at=BASE, updated_at=BASE))  # fmt: skip
    paid = plan(engine, BASE + timedelta(minutes=15), ctx)
    assert (paid.customers, paid.escalated) == (1, 0)  # K0 for its payment; K1 not again
    assert paid.cancelled >= 1  # K0's draft: nothing is owed any more
    quiet = plan(engine, BASE + timedelta(minutes=30), ctx)
    assert quiet.ran and quiet.customers == 0
    with unit_of_work(engine) as s:
        whys = set(s.scalars(select(PlannerDue.why)))
    assert whys == {"planned"}


def test_a_tier_the_portfolio_share_decides_is_planned_again_when_another_customer_changes(
    engine: Engine, policies: tuple[Policy, ...]
) -> None:
    """D1's share rule: K0 owes most of the portfolio, 100 days overdue (C by its share,
    under a delay rule of 120 days). A new invoice of K1 alone changes the total; the next
    tick plans K0 again too, and on the shipped rules (C by delay first) nobody is bound."""
    share_decides = policies[2]
    store_portfolio(engine, [Client(0, True, (Invoice(800_000, -100, 0),)),
                             Client(1, True, (Invoice(100_000, -5, 0),))])  # fmt: skip
    ctx = sweep_context(share_decides)
    plan(engine, BASE, ctx)
    with unit_of_work(engine) as s:
        bound = dict(s.execute(select(PlannerDue.customer_id, PlannerDue.portfolio_bound)).all())
        s.add(Receivable(id="BIG", customer_id="K1", amount_cents=9_000_000, currency="CNY",
                         issued_on=BASE.date(), due_on=BASE.date() + timedelta(days=30),
                         created_at=BASE, updated_at=BASE))  # fmt: skip
    assert bound == {"K0": True, "K1": False}
    after = plan(engine, BASE + timedelta(minutes=15), ctx)
    assert after.customers == 2  # K1 for its invoice, K0 for its share
    edited = plan(engine, BASE + timedelta(minutes=30), sweep_context(policies[0]))
    assert edited.customers == 2  # the policy edit: everyone again
    with unit_of_work(engine) as s:
        assert not any(s.scalars(select(PlannerDue.portfolio_bound)))


def test_reconciliation_finds_a_state_set_too_late_and_repairs_it(
    engine: Engine, policy: Policy
) -> None:
    store_portfolio(engine, [Client(0, True, (Invoice(100_000, -2, 0), Invoice(5_000, 9, 0)))])
    ctx = sweep_context(policy)
    plan(engine, BASE, ctx)
    assert reconcile(engine, BASE + timedelta(minutes=5), ctx).repaired == 0
    with unit_of_work(engine) as s:  # as a writer that bypassed the triggers would leave it
        s.execute(text("UPDATE planner_due SET next_at = NULL"))
    found = reconcile(engine, BASE + timedelta(minutes=10), ctx)
    assert found.repaired == 1 and found.late == ["K0"]
    with unit_of_work(engine) as s:
        assert s.scalar(select(PlannerDue.next_at)) is not None


def test_reconciliation_reads_a_settled_customers_thank_you_draft_as_the_planner_does(
    engine: Engine, policy: Policy
) -> None:
    """Live after-payment tasks (D24's thanks and feedback call, a cycle of their own) are
    no stale overdue messages: the reconciliation finds the planner's state right."""
    store_portfolio(engine, [Client(1, True, (Invoice(100_000, -40, 0),))])  # New York
    ctx = sweep_context(policy)
    plan(engine, BASE - timedelta(days=11), ctx)  # reminded while overdue (was_collected)
    with unit_of_work(engine) as s:
        s.add(Payment(id="PAY", invoice_id="K0-0", amount_cents=100_000,
                      paid_on=BASE.date() - timedelta(days=7), created_at=T0,
                      updated_at=T0))  # fmt: skip
    now = BASE + timedelta(hours=12)  # Monday 07:00 in New York: a week after settling
    plan(engine, now, ctx)
    with unit_of_work(engine) as s:
        live = set(s.scalars(select(Reminder.step).where(Reminder.status.in_(LIVE))))  # type: ignore[attr-defined]
    assert live == {"thank_you", "feedback_call"}
    found = reconcile(engine, now + timedelta(minutes=5), ctx)
    assert (found.repaired, found.late) == (0, [])


def _workers_on_distinct_partitions(n: int, parts: int) -> list[str]:
    """Worker names whose first partition differs (each starts on its own)."""
    names: list[str] = []
    seen: set[int] = set()
    for k in count():
        name = f"planner-{k}"
        start = zlib.crc32(name.encode()) % parts
        if start not in seen:
            seen.add(start)
            names.append(name)
        if len(names) == n:
            return names
    raise AssertionError("unreachable")


def test_three_workers_plan_one_tick_together_each_a_share_none_twice(
    postgres_server: Any, postgres_template: str, policy: Policy
) -> None:
    at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    parts = 6
    with postgres_server.database(postgres_template) as shared_url, \
            postgres_server.database(postgres_template) as alone_url:  # fmt: skip
        shared, alone = make_engine(shared_url), make_engine(alone_url)
        for engine in (shared, alone):
            overdue_customers(engine, 240, at, prefix="W")
        barrier = threading.Barrier(3)
        reports: dict[str, Any] = {}

        def work(name: str) -> None:
            engine = make_engine(shared_url)  # each worker its own engine and connections
            try:
                ctx = replace(sweep_context(policy), worker=name)
                barrier.wait(timeout=60)
                reports[name] = plan(engine, at, ctx, parts=parts)
            finally:
                engine.dispose()

        names = _workers_on_distinct_partitions(3, parts)
        threads = [threading.Thread(target=work, args=(name,)) for name in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads)
        one = plan(alone, at, sweep_context(policy), force=True, full=True)
        split = {name: r.drafted for name, r in reports.items()}
        print(f"drafts per worker: {split} (one planner: {one.drafted})")
        assert len(split) == 3 and min(split.values()) > 0  # each drafted a share
        assert sum(split.values()) == one.drafted == 240  # the union: one planner's result
        taken = [p for r in reports.values() for p in r.partitions]
        assert sorted(taken) == sorted(f"plan:{k}/{parts}" for k in range(1, parts + 1))
        keys = Counter(key for r in outcome(shared)["reminders"] for key in [r[:3]])
        assert max(keys.values()) == 1  # nothing drafted twice
        assert outcome(shared) == outcome(alone)
        shared.dispose()
        alone.dispose()
