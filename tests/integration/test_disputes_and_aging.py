"""Regressions of issue 11: a dispute sets aside only the disputed amount (D22), and the
aging report totals per currency with each customer aged on its own local date (D11, D26),
through the planner, explain, the CLI report and the web page."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.reports.explain import as_dict, explain
from notifier.services.users import add_user
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import (
    Customer,
    Dispute,
    PaymentPromise,
    Receivable,
    Reminder,
    User,
)
from notifier.sweeps.plan import plan
from notifier.sweeps.recheck import recheck_all
from notifier.web import create_app
from tests.support import run, sweep_context, web_login

BEIJING = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLANNED = datetime(2026, 3, 2, 8, 0, tzinfo=BEIJING)  # Monday; New York is still on Sunday
PASSWORD = "correct horse battery"


def customer(cid: str, zone: str = "Asia/Shanghai", country: str = "CN") -> Customer:
    return Customer(id=cid, name=f"Customer {cid}", kind="business", phone="+8613912345678",
                    email=f"{cid.lower()}@x.example", timezone=zone, country=country,
                    locale="en", created_at=T0, updated_at=T0)  # fmt: skip


def invoice(rid: str, cid: str, cents: int, due: date, currency: str = "CNY") -> Receivable:
    return Receivable(id=rid, customer_id=cid, amount_cents=cents, currency=currency,
                      issued_on=date(2026, 1, 1), due_on=due, created_at=T0,
                      updated_at=T0)  # fmt: skip


@pytest.fixture
def disputed(engine: Engine) -> Engine:
    """C1 owes 8,000 (3,000 of it disputed) due 20 February and 2,000 due 22 February."""
    with unit_of_work(engine) as s:
        s.add(customer("C1"))
        s.flush()
        s.add_all([invoice("BIG", "C1", 800_000, date(2026, 2, 20)),
                   invoice("SMALL", "C1", 200_000, date(2026, 2, 22))])  # fmt: skip
        s.flush()
        s.add(Dispute(invoice_id="BIG", amount_cents=300_000, reason="faulty", opened_at=T0))
    return engine


def test_a_partial_dispute_still_collects_the_undisputed_part(
    disputed: Engine, policy: Policy
) -> None:
    """D22: the draft asks for 5,000 of the 8,000 invoice beside the 2,000 one; before
    issue 11 the whole invoice was dropped and the text asked for 2,000 alone."""
    report = plan(disputed, PLANNED, sweep_context(policy), force=True)
    assert report.by_channel == {"email": 1, "call": 1}  # day +10: the e-mail and the call
    with unit_of_work(disputed) as s:
        drafts = s.scalars(select(Reminder)).all()
        for draft in drafts:
            assert draft.facts["total"] == "7000.00", draft.channel
            assert draft.facts["totals"] == {"CNY": "7000.00"}
            assert "5000.00" in draft.facts["amounts"]
            assert "8000.00" not in draft.facts["amounts"]
            assert "8,000" not in draft.body and "8000" not in draft.body
        # the re-check at sending sees the same amount: the e-mail is still true
        email = [d for d in drafts if d.channel == "email"]
        [verdict] = recheck_all(s, email, PLANNED, policy)
        assert verdict.action != "cancel", verdict.reason


def test_a_whole_dispute_still_pauses_the_whole_invoice(engine: Engine, policy: Policy) -> None:
    with unit_of_work(engine) as s:
        s.add(customer("C1"))
        s.flush()
        s.add_all([invoice("BIG", "C1", 800_000, date(2026, 2, 20)),
                   invoice("SMALL", "C1", 200_000, date(2026, 2, 22))])  # fmt: skip
        s.flush()
        s.add(Dispute(invoice_id="BIG", amount_cents=None, reason="faulty", opened_at=T0))
    plan(engine, PLANNED, sweep_context(policy), force=True)
    with unit_of_work(engine) as s:
        [draft] = s.scalars(select(Reminder)).all()
    assert draft.facts["total"] == "2000.00"


def test_explain_shows_the_paused_part_open_promises_and_the_escalation(
    disputed: Engine, policy: Policy
) -> None:
    escalated = datetime(2026, 2, 27, 9, tzinfo=UTC)
    with unit_of_work(disputed) as s:
        c = s.get(Customer, "C1")
        assert c is not None
        c.escalated_at, c.escalation_reason = escalated, "2 broken promises to pay (D21)"
        s.add(PaymentPromise(customer_id="C1", promised_on=date(2026, 3, 9),
                             amount_cents=500_000, recorded_at=T0))  # fmt: skip
    with unit_of_work(disputed) as s:
        e = as_dict(explain(s, "C1", PLANNED, policy, WorkCalendar(policy.calendar)))
    big = next(o for o in e["open_items"] if o["invoice_id"] == "BIG")
    assert (big["outstanding"], big["paused"], big["disputed"]) == ("5000.00", "3000.00", True)
    assert e["total_outstanding"] == "7000.00"
    assert e["totals"]["CNY"]["paused"] == "3000.00"
    assert e["promises"] == [{"id": 1, "promised_on": "2026-03-09", "amount": "5000.00"}]
    assert e["paused_by"] == "promised to pay by 2026-03-09" and e["due_step"] is None
    assert e["escalation"] == {"at": escalated.isoformat(),
                               "reason": "2 broken promises to pay (D21)"}  # fmt: skip
    text = run("explain", "C1", "--at", PLANNED.isoformat(),
               db=str(disputed.url)).stdout  # fmt: skip
    assert "CNY: 7,000.00 outstanding" in text and "3,000.00 paused by disputes (D22)" in text
    assert "open promise: pay by 2026-03-09 (5,000.00)" in text
    assert "escalated 2026-02-27 17:00" in text


def test_explain_reads_in_chinese_without_an_english_word_or_a_code(
    disputed: Engine, policy: Policy
) -> None:
    """A Chinese collector reads the same standing in words: the stage, the paused part,
    the promise that pauses reminders, the escalation and its reason, slots, caps and
    channels (the codes m1, pre_due, sms stay in --json)."""
    with unit_of_work(disputed) as s:
        c = s.get(Customer, "C1")
        assert c is not None
        c.escalated_at = datetime(2026, 2, 27, 9, tzinfo=UTC)
        c.escalation_reason = "2 broken promises to pay (D21)"
        s.add(PaymentPromise(customer_id="C1", promised_on=date(2026, 3, 9),
                             amount_cents=500_000, recorded_at=T0))  # fmt: skip
    done = run("explain", "C1", "--at", PLANNED.isoformat(), "--locale", "zh-CN",
               db=str(disputed.url))  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for said in (
        "企业，中国，Asia/Shanghai，英文",
        "阶段：逾期1–30天；最早的未结清款项 BIG：逾期10天",
        "争议暂停",
        "CNY：未收 7,000.00，逾期 7,000.00；",
        "其中 3,000.00 因争议暂停（D22）",
        "到期步骤：—（已承诺2026-03-09前付款）",
        "未到期的付款承诺：2026-03-09前付款（5,000.00）",
        "已升级 2026-02-27 17:00 CST（周五）：2次未兑现付款承诺",
        "免打扰时间（中国）",
        "渠道：短信：可用，邮件：可用，信函：无邮寄地址",
        "标记：无",
    ):
        assert said in text, (said, text)
    # What is left once the ids, the name, the zone and the currency are taken out: no
    # English word, no code.
    rest = re.sub(r"Customer C1|C1|BIG|SMALL|Asia/Shanghai|CST|UTC|CNY|D22", "", text)
    assert not re.findall(r"[A-Za-z]{2,}", rest), re.findall(r"[A-Za-z_]{2,}", rest)
    english = run("explain", "C1", "--at", PLANNED.isoformat(), db=str(disputed.url)).stdout
    assert "stage: 1–30 days overdue; oldest open item BIG: 10 days overdue" in english
    assert "due step: — (promised to pay by 2026-03-09)" in english


@pytest.fixture
def two_zones(engine: Engine) -> Engine:
    """A Beijing and a New York customer with the same invoice due 24 February, and a
    London one owing pounds."""
    with unit_of_work(engine) as s:
        s.add_all([customer("BJ"), customer("NY", "America/New_York", "US"),
                   customer("LO", "Europe/London", "GB")])  # fmt: skip
        s.flush()
        s.add_all([invoice("BJ-1", "BJ", 800_000, date(2026, 2, 24)),
                   invoice("NY-1", "NY", 800_000, date(2026, 2, 24), "USD"),
                   invoice("LO-1", "LO", 100_000, date(2026, 2, 24), "GBP")])  # fmt: skip
        add_user(s, "smith", "reviewer", PASSWORD, T0, locale="en")
    return engine


def test_aging_ages_each_customer_on_its_own_day_and_totals_per_currency(
    two_zones: Engine,
) -> None:
    result = run("report", "aging", "--at", PLANNED.isoformat(), "--format", "json",
                 db=str(two_zones.url))  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = {r["invoice_id"]: r for r in data["items"]}
    assert (rows["BJ-1"]["days_overdue"], rows["BJ-1"]["as_of"]) == (6, "2026-03-02")
    assert (rows["NY-1"]["days_overdue"], rows["NY-1"]["as_of"]) == (5, "2026-03-01")
    assert rows["BJ-1"]["penalty"] == "24.00" and rows["NY-1"]["penalty"] == "20.00"
    assert data["zone"] == "Asia/Shanghai" and data["as_of"] == "2026-03-02"
    m1 = next(b for b in data["buckets"] if b["bucket"] == "0-30")
    assert m1["outstanding"] == {"CNY": "8000.00", "GBP": "1000.00", "USD": "8000.00"}
    assert m1["items"] == 3
    table = run("report", "aging", "--at", "2026-03-02", db=str(two_zones.url)).stdout
    assert "Aging report as of 2026-03-02 (2026-03-02 23:59 Asia/Shanghai;" in table
    assert "own local date" in table


def test_the_web_aging_page_states_its_zone_and_matches_each_customers_page(
    two_zones: Engine, policy: Policy
) -> None:
    with unit_of_work(two_zones) as s:
        viewer = s.get(User, "smith")
        assert viewer is not None
        viewer.timezone = "Europe/London"
    client = TestClient(create_app(Settings(), policy, two_zones, clock=lambda: PLANNED))
    web_login(client, "smith", PASSWORD, "/customers")
    html = client.get("/reports/aging").text
    assert "As of 2026-03-02 00:00 Europe/London; each customer is aged on its own local" in html
    for invoice_id, days in (("BJ-1", 6), ("NY-1", 5)):
        row = re.search(rf'data-invoice="{invoice_id}">(.*?)</tr>', html, re.S)
        assert row is not None
        assert re.findall(r'<td class="num">(-?\d+)</td>', row.group(1)) == [str(days)]
        cid = invoice_id[:2]
        page = client.get(f"/customers/{cid}").text
        assert f'<span data-field="days_overdue" data-days="{days}">' in page
