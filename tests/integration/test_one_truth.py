"""One truth per customer (issue 11): for random portfolios (items, part payments, disputes
with and without an amount, promises, customers in China, the US and Britain) at random
instants, ``explain``, the planner's facts on the drafts it writes, the drafts' lint facts,
the aging report and the customer page agree on stage, days overdue, penalty and totals
per currency, for every customer.

Each example runs on its own SQLite file, copied from one migrated once for the module,
through the real plan sweep, the real report code and the real web app."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.reports.aging import build_aging
from notifier.reports.explain import as_dict, explain
from notifier.services.users import add_user
from notifier.settings import Settings, load_policy
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.store.models import (
    Customer,
    Dispute,
    Payment,
    PaymentPromise,
    Receivable,
    Reminder,
)
from notifier.sweeps.plan import plan
from notifier.web import create_app
from tests.support import ROOT, sweep_context, web_login

PLACES = (("Asia/Shanghai", "CN", "CNY"), ("America/New_York", "US", "USD"),
          ("Europe/London", "GB", "GBP"))  # fmt: skip
BASE = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # instants run from here over three days
PASSWORD = "correct horse battery"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Invoice:
    cents: int
    due_in: int  # days from BASE's date (negative: already due)
    payments: tuple[tuple[int, int], ...]  # (share of the amount in %, days after issue)
    dispute: int | None  # None: no dispute; 0: the whole invoice; else % of the amount


@dataclass(frozen=True)
class Client:
    place: int
    business: bool
    invoices: tuple[Invoice, ...]
    promises: tuple[int, ...]  # promised-on, days from BASE's date


invoices = st.builds(
    Invoice,
    cents=st.integers(10_000, 3_000_000),
    due_in=st.integers(-120, 10),
    payments=st.lists(st.tuples(st.integers(1, 70), st.integers(0, 100)), max_size=2).map(tuple),
    dispute=st.one_of(st.none(), st.none(), st.just(0), st.integers(1, 99)),
)
clients = st.builds(
    Client,
    place=st.integers(0, len(PLACES) - 1),
    business=st.booleans(),
    invoices=st.lists(invoices, min_size=1, max_size=3).map(tuple),
    promises=st.lists(st.integers(-20, 10), max_size=2).map(tuple),
)
portfolios = st.lists(clients, min_size=1, max_size=4)
instants = st.integers(0, 72 * 60).map(lambda minutes: BASE + timedelta(minutes=minutes))


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(ROOT / "config" / "notifier.toml")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with one reviewer, copied for every example."""
    path = tmp_path_factory.mktemp("one-truth") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with unit_of_work(engine) as s:
        add_user(s, "auditor", "reviewer", PASSWORD, T0, locale="en")
    engine.dispose()
    return path


@pytest.fixture(scope="module")
def fresh(template: Path) -> Iterator[Any]:
    numbers = count()
    engines: list[Engine] = []

    def make() -> Engine:
        path = template.with_name(f"example-{next(numbers)}.db")
        shutil.copyfile(template, path)
        engine = make_engine(f"sqlite:///{path}")
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def store(engine: Engine, portfolio: list[Client]) -> None:
    day = BASE.date()
    with unit_of_work(engine) as s:
        for n, c in enumerate(portfolio):
            zone, country, _ = PLACES[c.place]
            s.add(Customer(id=f"K{n}", name=f"Customer {n}", kind="business" if c.business
                           else "individual", phone=f"+86139000000{n:02d}",
                           email=f"k{n}@x.example", timezone=zone, country=country,
                           locale="en", created_at=T0, updated_at=T0))  # fmt: skip
        s.flush()
        for n, c in enumerate(portfolio):
            currency = PLACES[c.place][2]
            for m, inv in enumerate(c.invoices):
                due = day + timedelta(days=inv.due_in)
                issued = due - timedelta(days=30)
                rid = f"K{n}-{m}"
                s.add(Receivable(id=rid, customer_id=f"K{n}", amount_cents=inv.cents,
                                 currency=currency, issued_on=issued, due_on=due,
                                 created_at=T0, updated_at=T0))  # fmt: skip
                s.flush()
                for k, (share, after) in enumerate(inv.payments):
                    s.add(Payment(id=f"{rid}-P{k}", invoice_id=rid,
                                  amount_cents=inv.cents * share // 100,
                                  paid_on=issued + timedelta(days=after), created_at=T0,
                                  updated_at=T0))  # fmt: skip
                if inv.dispute is not None:
                    cents = None if inv.dispute == 0 else inv.cents * inv.dispute // 100
                    s.add(Dispute(invoice_id=rid, amount_cents=cents or None, reason="faulty",
                                  opened_at=T0))  # fmt: skip
            for k, offset in enumerate(c.promises):
                s.add(PaymentPromise(customer_id=f"K{n}", promised_on=day + timedelta(days=offset),
                                     recorded_at=T0 + timedelta(minutes=k)))  # fmt: skip


def number(text: str) -> Decimal:
    """An amount as a page shows it (¥7,000.00, US$7,000.00, £7,000.00): its figures."""
    return Decimal(re.sub(r"[^\d.\-]", "", text))


def page_facts(html: str) -> dict[str, Any]:
    # The page shows words; the codes it stands for are in its data attributes.
    stage = re.search(r'<span data-field="stage" data-stage="(\w+)">', html)
    days = re.search(r'<span data-field="days_overdue" data-days="(-?\d+)">', html)
    assert stage is not None
    totals = {}
    for cur, row in re.findall(r'<tr data-currency="([A-Z]{3})">(.*?)</tr>', html, re.S):
        cells = dict(re.findall(r'<th class="num" data-field="(\w+)">([^<]*)</th>', row))
        totals[cur] = {k: number(v) if v else Decimal(0) for k, v in cells.items()}
    return {"stage": stage.group(1), "days": int(days.group(1)) if days else 0, "totals": totals}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(portfolio=portfolios, now=instants)
def test_every_view_of_a_customer_tells_the_same_standing(
    fresh: Any, policy: Policy, portfolio: list[Client], now: datetime
) -> None:
    engine = fresh()
    store(engine, portfolio)
    plan(engine, now, sweep_context(policy), force=True)
    calendar = WorkCalendar(policy.calendar)
    with unit_of_work(engine) as s:
        told = {f"K{n}": as_dict(explain(s, f"K{n}", now, policy, calendar))
                for n in range(len(portfolio))}  # fmt: skip
        aging = build_aging(s, now, policy)
        drafts = [(r.customer_id, r.stage, dict(r.facts))
                  for r in s.scalars(select(Reminder)) if r.fallback_of is None]  # fmt: skip
    event(f"drafts written: {min(len(drafts), 3)}+" if drafts else "no draft written")
    event("some item partly disputed" if any(inv.dispute for c in portfolio for inv in c.invoices)
          else "no partial dispute")  # fmt: skip
    client = TestClient(create_app(Settings(), policy, engine, clock=lambda: now))
    web_login(client, "auditor", PASSWORD, "/customers")

    for cid, e in told.items():
        totals = {cur: {k: Decimal(v) for k, v in t.items()} for cur, t in e["totals"].items()}
        # the aging report: every open item, on the customer's own day
        rows = [r for r in aging if r.customer_id == cid and r.bucket != "settled"]
        assert {r.as_of for r in rows} <= {date.fromisoformat(e["local_date"])}
        aged: dict[str, dict[str, Decimal]] = {}
        for r in rows:
            t = aged.setdefault(r.currency, {"outstanding": Decimal(0), "paused": Decimal(0),
                                             "penalty": Decimal(0)})  # fmt: skip
            t["outstanding"] += r.outstanding - r.paused
            t["paused"] += r.paused
            t["penalty"] += r.penalty
        assert aged == {cur: {k: t[k] for k in ("outstanding", "paused", "penalty")}
                        for cur, t in totals.items()}, cid  # fmt: skip
        if e["oldest_item"] is not None:
            [oldest] = [r for r in rows if r.invoice_id == e["oldest_item"]]
            assert oldest.days_overdue == e["days_overdue"]
        penalty = sum((t["penalty"] for t in totals.values()), Decimal(0))
        if len(totals) == 1:
            assert Decimal(e["penalty_so_far"]) == penalty
        # the customer page
        shown = page_facts(client.get(f"/customers/{cid}").text)
        assert (shown["stage"], shown["days"]) == (e["stage"], e["days_overdue"]), cid
        assert shown["totals"] == {cur: {k: t[k] for k in ("outstanding", "paused", "penalty")}
                                   for cur, t in totals.items()}, cid  # fmt: skip
        # the drafts the planner wrote at this instant: its facts and the lint facts
        for customer_id, stage, facts in drafts:
            if customer_id != cid:
                continue
            assert stage == e["stage"]
            assert facts["days_overdue"] == e["days_overdue"]
            assert Decimal(facts["penalty"]) == Decimal(e["penalty_so_far"])
            assert facts["totals"] == {cur: t["outstanding"] for cur, t in e["totals"].items()}
            assert facts["total"] == e["total_outstanding"]
            stated = {Decimal(a) for a in facts["amounts"]}
            assert Decimal(e["penalty_so_far"]) in stated
            assert {Decimal(o["outstanding"]) for o in e["open_items"]
                    if Decimal(o["outstanding"]) > 0} <= stated  # fmt: skip
