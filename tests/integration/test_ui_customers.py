"""The customer pages of the reviewer web app over a real app and a real SQLite database:
the list, one customer's page with its timeline, and the promise, dispute and legal-flag
forms, posted as a logged-in browser posts them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.services.users import add_user
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import (
    Customer,
    Dispute,
    Event,
    PaymentPromise,
    Receivable,
    Reminder,
)
from notifier.web import create_app
from tests.support import sweep_context, two_customer_portfolio, web_login

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLANNED = datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)  # Monday 2 March, 08:00 in Shanghai
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def portfolio(engine: Engine, policy: Policy) -> dict[str, int]:
    return two_customer_portfolio(engine, policy)


@pytest.fixture
def app(engine: Engine, policy: Policy, portfolio: dict[str, int]) -> FastAPI:
    return create_app(Settings(), policy, engine, clock=lambda: PLANNED)


def add(
    engine: Engine, name: str, role: str, zone: str = "Asia/Shanghai", locale: str = "en"
) -> None:
    with unit_of_work(engine) as s:
        user = add_user(s, name, role, PASSWORD, T0, locale=locale)
        user.timezone = zone


def login(app: FastAPI, name: str) -> tuple[TestClient, str]:
    """A browser logged in through the login form, and the CSRF token its pages carry."""
    client = TestClient(app)
    return client, web_login(client, name, PASSWORD, "/customers")


@pytest.fixture
def reviewer(engine: Engine, app: FastAPI) -> tuple[TestClient, str]:
    add(engine, "wang", "reviewer")
    return login(app, "wang")


@pytest.fixture
def manager(engine: Engine, app: FastAPI) -> tuple[TestClient, str]:
    add(engine, "zhao", "manager")
    return login(app, "zhao")


def listed(html: str) -> list[str]:
    """The customer ids of the list page, in order."""
    return re.findall(r'<td><a href="/customers/([^"]+)">\1</a></td>', html)


def kinds(engine: Engine, kind: str) -> list[Event]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(Event).where(col(Event.kind) == kind)))


def test_list_searches_by_id_or_name_and_pages_by_50(
    engine: Engine, reviewer: tuple[TestClient, str]
) -> None:
    with unit_of_work(engine) as s:
        for i in range(60):
            s.add(
                Customer(
                    id=f"K{i:03}",
                    name=f"批量客户{i}",
                    kind="individual",
                    created_at=T0,
                    updated_at=T0,
                )
            )
    client, _ = reviewer
    first = client.get("/customers")
    assert first.status_code == 200
    assert listed(first.text) == ["C1", "C2", *(f"K{i:03}" for i in range(48))]
    assert 'href="/customers?q=&offset=50"' in first.text
    assert listed(client.get("/customers?offset=50").text) == [f"K{i:03}" for i in range(48, 60)]
    assert listed(client.get("/customers?q=k05").text) == [f"K{i:03}" for i in range(50, 60)]
    assert listed(client.get("/customers", params={"q": "客户C2"}).text) == ["C2"]
    assert listed(client.get("/customers", params={"q": "%"}).text) == []  # not a wildcard
    row = re.search(r'<a href="/customers/C1">客户C1</a></td>(.*?)</tr>', first.text, re.S)
    assert row is not None
    assert "CN¥14,000.00" in row.group(1)  # 10,000 + (5,000 - 1,000 paid)


@contextmanager
def selects(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_list_reads_a_page_in_a_fixed_number_of_selects(
    engine: Engine, reviewer: tuple[TestClient, str]
) -> None:
    client, _ = reviewer
    with selects(engine) as few:
        assert len(listed(client.get("/customers").text)) == 2
    with unit_of_work(engine) as s:
        for i in range(60):
            s.add(
                Customer(
                    id=f"K{i:03}",
                    name=f"批量客户{i}",
                    kind="business",
                    created_at=T0,
                    updated_at=T0,
                )
            )
            s.add(
                Receivable(
                    id=f"K{i:03}-1",
                    customer_id=f"K{i:03}",
                    amount_cents=10_000,
                    issued_on=date(2026, 1, 1),
                    due_on=date(2026, 2, 1),
                    created_at=T0,
                    updated_at=T0,
                )
            )
    with selects(engine) as many:
        assert len(listed(client.get("/customers").text)) == 50
    assert len(many) == len(few) <= 12


def test_customer_page_shows_header_items_and_timeline_in_both_zones(
    app: FastAPI, engine: Engine
) -> None:
    with unit_of_work(engine) as s:
        c = s.get(Customer, "C1")
        assert c is not None
        c.sms_opt_out = True
        c.escalated_at = PLANNED
        c.escalation_reason = "2 broken promises to pay (D21)"
    add(engine, "smith", "reviewer", zone="Europe/London")
    client, _ = login(app, "smith")
    html = client.get("/customers/C1").text
    assert "<h1>客户C1 <span" in html
    assert "Kind: business" in html and "Asia/Shanghai (CN)" in html and "Collector: li" in html
    assert "legal-authorised: no" in html and "SMS opted out" in html
    # the automatic reason in the viewer's words, without the rule's id (issue 13)
    assert "2 broken promises to pay" in html and "(D21)" not in html
    assert re.search(r"<td>C1-1</td><td>2026-01-30</td><td class=\"num\">31</td>", html)
    assert re.search(r"<td>C1-2</td><td>2026-02-05</td><td class=\"num\">25</td>", html)
    assert "CN¥4,000.00" in html and "CN¥14,000.00" in html  # C1-2 after its payment; total
    timeline = html.split('id="timeline"', 1)[1]
    assert "Drafted" in timeline and "planner" in timeline
    # the draft at 08:00 in Shanghai is 00:00 in London, the viewer's zone
    assert '2026-03-02 08:00 Mon <span class="muted">customer&#39;s time</span>' in timeline
    assert '2026-03-02 00:00 Mon <span class="muted">your time</span>' in timeline
    assert "Payment" in timeline and "2026-02-10" in timeline and "CN¥1,000.00" in timeline
    # the next call window (issue 14): the business afternoon, in the customer's time
    assert re.search(r'data-field="next_call">Next call window: 2026-03-0\d 1[45]:\d\d', html)


def test_the_page_speaks_the_viewers_language(app: FastAPI, engine: Engine) -> None:
    add(engine, "zhang", "reviewer", locale="zh-CN")
    client, _ = login(app, "zhang")
    html = client.get("/customers/C1").text
    assert "时间线" in html and "记录付款承诺" in html and "生成草稿" in html
    assert "证据档案" in html and "下次通话时段" in html
    assert "Timeline" not in html


def test_the_page_says_why_the_tier_in_the_viewers_language_as_explain_does(
    app: FastAPI, engine: Engine, policy: Policy
) -> None:
    """The tier's and the blacklist's reasons are data (domain/reasons.py) worded by the
    one catalogue: the page in Chinese for a Chinese reader, explain --json in English,
    the same reasons. C1 gets an invoice unpaid for over a year: blacklisted (D25)."""
    from notifier.reports.explain import ENGLISH, as_dict, explain
    from notifier.words import words

    with unit_of_work(engine) as s:
        s.add(Receivable(id="OLD-1", customer_id="C1", amount_cents=50_000,
                         issued_on=date(2024, 12, 1), due_on=date(2025, 1, 1), created_at=T0,
                         updated_at=T0))  # fmt: skip
    with unit_of_work(engine) as s:
        e = explain(s, "C1", PLANNED, policy, sweep_context(policy).calendar)
        reasons, flagged, suspended = e.tier.reasons, e.flags.blacklist_why, e.flags.suspend_why
        english = as_dict(e)
    assert reasons and english["tier_reasons"] == [ENGLISH.why(r) for r in reasons]
    assert "unpaid" in [w.key for w in flagged] and [w.key for w in suspended] == ["suspend"]
    assert english["flag_reasons"] == [ENGLISH.why(w) for w in (*flagged, *suspended)]
    add(engine, "zhang", "reviewer", locale="zh-CN")
    client, _ = login(app, "zhang")
    html = client.get("/customers/C1").text
    line = re.search(r'<li data-field="tier_reasons">([^<]*)</li>', html)
    assert line is not None, "no tier reasons on the page"
    zh = words("zh-CN")
    assert line.group(1) == zh("cu_tier_why") + ": " + "；".join(zh.why(r) for r in reasons)
    assert not re.search(r"[A-Za-z]{3,}", line.group(1))  # no English words left
    black = re.search(r'<li class="bad" data-field="blacklisted">([^<]*)</li>', html)
    assert black is not None and black.group(1) == "黑名单标记: " + "；".join(map(zh.why, flagged))
    assert "逾期超过365天未付：OLD-1" in black.group(1)
    held = re.search(r'<li class="bad" data-field="suspend_new_orders">([^<]*)</li>', html)
    assert held is not None and held.group(1) == "暂停新订单: " + zh.why(suspended[0])


def test_a_promise_is_recorded_logged_and_shown(
    reviewer: tuple[TestClient, str], engine: Engine, portfolio: dict[str, int]
) -> None:
    client, csrf = reviewer
    form = {"csrf": csrf, "promised_on": "2026-03-09", "amount": "5,000", "note": "周五到账"}
    answer = client.post("/customers/C1/promise", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/customers/C1?message=promise"
    with unit_of_work(engine) as s:
        [row] = s.scalars(select(PaymentPromise)).all()
        draft = s.get(Reminder, portfolio["C1"])
    assert (row.customer_id, row.promised_on, row.amount_cents, row.recorded_by) == (
        "C1",
        date(2026, 3, 9),
        500_000,
        "wang",
    )
    [logged] = kinds(engine, "promise_recorded")
    assert logged.actor == "wang" and logged.data["promised_on"] == "2026-03-09"
    assert draft is not None and draft.status == "cancelled"  # reminders pause (D21)
    html = client.get(answer.headers["location"]).text
    assert "Promise recorded" in html
    entry = re.search(r'<li class="ev-promise">(.*?)</li>', html, re.S)
    assert entry is not None
    assert "2026-03-09" in entry.group(1) and "CN¥5,000.00" in entry.group(1)
    assert "周五到账" in entry.group(1) and "wang" in entry.group(1)


@pytest.mark.parametrize(
    ("promised_on", "amount", "message"),
    [
        ("2026-03-01", "", "is in the past"),
        ("next week", "", "is not a date"),
        ("2026-03-09", "lots", "is not an amount"),
        ("2026-03-09", "-10", "must be more than 0"),
    ],
)
def test_a_wrong_promise_is_shown_again_with_the_reason(
    reviewer: tuple[TestClient, str], engine: Engine, promised_on: str, amount: str, message: str
) -> None:
    client, csrf = reviewer
    form = {"csrf": csrf, "promised_on": promised_on, "amount": amount, "note": "kept note"}
    answer = client.post("/customers/C1/promise", data=form)
    assert answer.status_code == 422
    assert message in answer.text and "kept note</textarea>" in answer.text
    with unit_of_work(engine) as s:
        assert s.scalars(select(PaymentPromise)).all() == []
    assert kinds(engine, "promise_recorded") == []


def test_a_dispute_is_recorded_shown_and_resolved(
    reviewer: tuple[TestClient, str], engine: Engine
) -> None:
    client, csrf = reviewer
    form = {"csrf": csrf, "invoice_id": "C1-1", "amount": "2000", "reason": "<b>货物破损</b>"}
    answer = client.post("/customers/C1/dispute", data=form, follow_redirects=False)
    assert answer.status_code == 303
    with unit_of_work(engine) as s:
        [row] = s.scalars(select(Dispute)).all()
    assert (row.invoice_id, row.amount_cents, row.opened_by) == ("C1-1", 200_000, "wang")
    [logged] = kinds(engine, "dispute_opened")
    assert logged.customer_id == "C1" and logged.data["reason"] == "<b>货物破损</b>"
    assert answer.headers["location"] == "/customers/C1?message=dispute"
    html = client.get(answer.headers["location"]).text
    assert "Dispute opened" in html
    assert '<td>C1-1 <span class="bad">disputed</span></td>' in html
    entry = re.search(r'<li class="ev-dispute">(.*?)</li>', html, re.S)
    assert entry is not None and "&lt;b&gt;货物破损&lt;/b&gt;" in entry.group(1)
    assert "<b>货物破损" not in html
    assert '<option value="C1-1"' not in html  # one open dispute per invoice
    resolve = f"/customers/C1/disputes/{row.id}/resolve"
    assert f'action="{resolve}"' in html
    done = client.post(resolve, data={"csrf": csrf, "note": "换货"}, follow_redirects=False)
    assert done.status_code == 303
    with unit_of_work(engine) as s:
        resolved = s.get(Dispute, row.id)
    assert resolved is not None and resolved.resolved_at == PLANNED
    assert "Dispute resolved" in client.get("/customers/C1").text


def test_a_dispute_on_another_customers_invoice_is_refused(
    reviewer: tuple[TestClient, str], engine: Engine
) -> None:
    client, csrf = reviewer
    form = {"csrf": csrf, "invoice_id": "C2-1", "amount": "", "reason": "faulty"}
    answer = client.post("/customers/C1/dispute", data=form)
    assert answer.status_code == 422
    assert "is not an invoice of customer &#39;C1&#39;" in answer.text
    with unit_of_work(engine) as s:
        assert s.scalars(select(Dispute)).all() == []


@pytest.mark.parametrize("role", ["reviewer", "collector"])
def test_the_legal_flag_is_hidden_from_and_refused_to_others(
    app: FastAPI, engine: Engine, role: str
) -> None:
    add(engine, "someone", role)
    client, csrf = login(app, "someone")
    html = client.get("/customers/C1").text
    assert 'action="/customers/C1/legal"' not in html
    answer = client.post("/customers/C1/legal", data={"csrf": csrf, "value": "1"})
    assert answer.status_code == 403
    with unit_of_work(engine) as s:
        c = s.get(Customer, "C1")
    assert c is not None and not c.legal_authorised
    assert kinds(engine, "legal_authorised") == []


def test_a_manager_sets_and_clears_the_legal_flag(
    manager: tuple[TestClient, str], engine: Engine
) -> None:
    client, csrf = manager
    html = client.get("/customers/C1").text
    assert 'action="/customers/C1/legal"' in html and 'name="value" value="1"' in html
    answer = client.post(
        "/customers/C1/legal", data={"csrf": csrf, "value": "1"}, follow_redirects=False
    )
    assert answer.status_code == 303
    with unit_of_work(engine) as s:
        c = s.get(Customer, "C1")
    assert c is not None and c.legal_authorised
    [logged] = kinds(engine, "legal_authorised")
    assert logged.actor == "zhao" and logged.data == {
        "value": True,
        "by": "zhao",
        "role": "manager",
    }
    html = client.get("/customers/C1").text
    assert "legal-authorised: <strong" in html and 'name="value" value="0"' in html
    entry = re.search(r'<li class="ev-legal_authorised">(.*?)</li>', html, re.S)
    assert entry is not None and "set" in entry.group(1) and "zhao" in entry.group(1)
    client.post("/customers/C1/legal", data={"csrf": csrf, "value": "0"})
    with unit_of_work(engine) as s:
        c = s.get(Customer, "C1")
    assert c is not None and not c.legal_authorised
    assert len(kinds(engine, "legal_authorised")) == 2


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/customers/C1/promise", {"promised_on": "2026-03-09"}),
        ("/customers/C1/dispute", {"invoice_id": "C1-1", "reason": "faulty"}),
        ("/customers/C1/legal", {"value": "1"}),
    ],
)
def test_posts_without_the_csrf_token_are_refused(
    manager: tuple[TestClient, str], engine: Engine, path: str, data: dict[str, str]
) -> None:
    client, _ = manager
    assert client.post(path, data=data).status_code == 403
    assert client.post(path, data={**data, "csrf": "forged"}).status_code == 403
    with unit_of_work(engine) as s:
        assert s.scalars(select(PaymentPromise)).all() == []
        assert s.scalars(select(Dispute)).all() == []
        c = s.get(Customer, "C1")
    assert c is not None and not c.legal_authorised


def test_anonymous_posts_change_nothing(app: FastAPI, engine: Engine) -> None:
    anonymous = TestClient(app)
    token = re.search(r'name="csrf" value="([^"]+)"', anonymous.get("/login").text)
    assert token is not None
    form = {"csrf": token.group(1), "promised_on": "2026-03-09"}
    answer = anonymous.post("/customers/C1/promise", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    with unit_of_work(engine) as s:
        assert s.scalars(select(PaymentPromise)).all() == []


def test_unknown_customer_is_404(reviewer: tuple[TestClient, str]) -> None:
    client, csrf = reviewer
    assert client.get("/customers/NOPE").status_code == 404
    form = {"csrf": csrf, "promised_on": "2026-03-09"}
    assert client.post("/customers/NOPE/promise", data=form).status_code == 404


def test_a_promise_dated_far_ahead_is_refused_with_422_and_a_manager_may_go_further(
    reviewer: tuple[TestClient, str], engine: Engine, app: FastAPI
) -> None:
    client, csrf = reviewer
    for day in ("9999-12-31", "2026-06-01"):  # 91 days ahead of 2 March
        form = {"csrf": csrf, "promised_on": day, "amount": "", "note": ""}
        answer = client.post("/customers/C1/promise", data=form)
        assert answer.status_code == 422
        assert "more than 90 days ahead" in answer.text and "only a manager" in answer.text
    assert kinds(engine, "promise_recorded") == []
    add(engine, "zhao", "manager")
    boss, boss_csrf = login(app, "zhao")
    form = {"csrf": boss_csrf, "promised_on": "2026-06-01", "amount": "", "note": ""}
    assert boss.post("/customers/C1/promise", data=form, follow_redirects=False).status_code == 303
    form["promised_on"] = "2027-03-03"  # 366 days
    answer = boss.post("/customers/C1/promise", data=form)
    assert answer.status_code == 422 and "more than 365 days ahead" in answer.text
    with unit_of_work(engine) as s:
        assert [p.promised_on for p in s.scalars(select(PaymentPromise))] == [date(2026, 6, 1)]


def test_a_manager_escalates_to_the_policys_manager_and_hands_the_customer_back(
    manager: tuple[TestClient, str], engine: Engine
) -> None:
    client, csrf = manager
    html = client.get("/customers/C1").text
    assert 'action="/customers/C1/escalate"' in html and "Escalate to a manager" in html
    form = {"csrf": csrf, "reason": "2 broken promises"}
    answer = client.post("/customers/C1/escalate", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].endswith("message=escalated")
    with unit_of_work(engine) as s:
        c = s.get(Customer, "C1")
    assert c is not None and c.collector == "manager" and c.escalated_at == PLANNED
    [logged] = kinds(engine, "escalated")
    assert logged.actor == "zhao" and logged.data["from"] == "li" and logged.data["to"] == "manager"
    html = client.get("/customers/C1?message=escalated").text
    assert "Escalated: the customer is now with a manager." in html
    assert "from collector li to manager, by zhao" in html and "Collector: manager" in html
    entry = re.search(r'<li class="ev-escalated">(.*?)</li>', html, re.S)
    assert entry is not None and "li → manager" in entry.group(1)
    assert 'action="/customers/C1/deescalate"' in html
    back = client.post("/customers/C1/deescalate", data={"csrf": csrf, "note": "paid"},
                       follow_redirects=False)  # fmt: skip
    assert back.status_code == 303
    with unit_of_work(engine) as s:
        c = s.get(Customer, "C1")
    assert c is not None and c.collector == "li" and c.escalated_at is None
    assert "Handed back" in client.get("/customers/C1").text


def test_an_escalation_without_a_reason_is_shown_again_with_422(
    manager: tuple[TestClient, str], engine: Engine
) -> None:
    client, csrf = manager
    answer = client.post("/customers/C1/escalate", data={"csrf": csrf, "reason": "  "})
    assert answer.status_code == 422 and "an escalation needs a reason" in answer.text
    assert kinds(engine, "escalated") == []


@pytest.mark.parametrize("role", ["reviewer", "collector"])
def test_escalation_is_hidden_from_and_refused_to_others(
    app: FastAPI, engine: Engine, role: str
) -> None:
    add(engine, "someone", role)
    client, csrf = login(app, "someone")
    assert 'action="/customers/C1/escalate"' not in client.get("/customers/C1").text
    answer = client.post("/customers/C1/escalate", data={"csrf": csrf, "reason": "late"})
    assert answer.status_code == 403
    assert kinds(engine, "escalated") == []


def test_the_handover_speaks_the_viewers_language(app: FastAPI, engine: Engine) -> None:
    add(engine, "zhou", "manager", locale="zh-CN")
    client, csrf = login(app, "zhou")
    assert "升级给经理" in client.get("/customers/C1").text
    client.post("/customers/C1/escalate", data={"csrf": csrf, "reason": "多次承诺未兑现"})
    html = client.get("/customers/C1").text
    # full-width punctuation in the Chinese texts (issue 13)
    assert "由催收专员 li 转交 manager，操作人 zhou" in html and "交回催收专员" in html
