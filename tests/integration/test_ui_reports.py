"""The report pages over the real app: login through the form, the aging buckets with
their colours and amounts, the funnel and collector pages, and the viewer's language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.services.users import add_user
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Payment, PaymentPromise, Receivable, Reminder
from notifier.web import create_app

NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
PASSWORD = "correct horse battery"
EVIL = "<script>alert(1)</script>"
PAGES = ("/reports/aging", "/reports/funnel", "/reports/collectors")


@pytest.fixture
def client(engine: Engine, policy: Policy) -> TestClient:
    with unit_of_work(engine) as s:
        add_user(s, "rita", "reviewer", PASSWORD, NOW)  # zh-CN by default
        add_user(s, "carl", "collector", PASSWORD, NOW, locale="en")
        s.add(Customer(id="A", name="星辰贸易", kind="business", collector="li",
                       created_at=NOW, updated_at=NOW))  # fmt: skip
        s.add(Customer(id="B", name=EVIL, kind="individual", collector="wang",
                       created_at=NOW, updated_at=NOW))  # fmt: skip
        s.flush()
        # one item per bucket as of Mar 10, and one settled on Mar 5
        for rid, yuan, due in (
            ("R-NOT", 1_000, date(2026, 3, 20)),  # not due
            ("R-18", 2_000, date(2026, 2, 20)),  # 18 days: 0-30
            ("R-37", 3_000, date(2026, 2, 1)),  # 37 days: 31-60
            ("R-68", 4_000, date(2026, 1, 1)),  # 68 days: 61-90
            ("R-129", 5_000, date(2025, 11, 1)),  # 129 days: 90+
            ("R-SET", 6_000, date(2026, 2, 15)),  # paid in full on Mar 5
        ):
            s.add(Receivable(id=rid, customer_id="A", amount_cents=yuan * 100,
                             issued_on=date(2025, 10, 1), due_on=due, created_at=NOW,
                             updated_at=NOW))  # fmt: skip
        s.add(Receivable(id="R-B", customer_id="B", amount_cents=70_000,
                         issued_on=date(2026, 1, 1), due_on=date(2026, 3, 1), created_at=NOW,
                         updated_at=NOW))  # fmt: skip
        s.flush()
        s.add(Payment(id="P1", invoice_id="R-SET", amount_cents=600_000,
                      paid_on=date(2026, 3, 5), created_at=NOW, updated_at=NOW))  # fmt: skip
        s.add(PaymentPromise(customer_id="B", promised_on=date(2026, 3, 15),
                             amount_cents=70_000, recorded_at=NOW))  # fmt: skip
        s.add(PaymentPromise(customer_id="A", promised_on=date(2026, 3, 6), status="broken",
                             recorded_at=NOW - timedelta(days=8)))  # fmt: skip
        sent = NOW - timedelta(days=3)
        for n, (status, channel, extra) in enumerate((
            ("pending_approval", "sms", {}),
            ("delivered", "sms", {"sent_at": sent, "delivered_at": sent, "decided_by": "rita"}),
            ("sent", "email", {"sent_at": sent, "read_at": sent, "decided_by": "rita"}),
        )):  # fmt: skip
            s.add(Reminder(customer_id="A", step=f"s{n}", cycle="c", channel=channel,
                           address="x", status=status, stage="m2", tier="B", tone="neutral",
                           locale="zh-CN", window="afternoon", slot_start=sent, slot_end=sent,
                           body="...", created_at=sent, updated_at=sent, **extra))  # fmt: skip
    app = create_app(Settings(), policy, engine, clock=lambda: NOW)
    return TestClient(app)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def log_in(client: TestClient, name: str, target: str = "/reports/aging") -> None:
    form = client.get("/login")
    assert form.status_code == 200
    response = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text), "next": target},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == target


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_users_are_sent_to_the_login_page(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + path


@pytest.mark.parametrize("path", PAGES)
def test_any_logged_in_user_may_read_the_reports(client: TestClient, path: str) -> None:
    log_in(client, "carl")  # a collector: not a decider, still a reader
    response = client.get(path)
    assert response.status_code == 200
    assert 'class="subnav"' in response.text
    assert f'<a href="{path}" aria-current="page">' in response.text


def bucket_bars(html: str) -> dict[str, tuple[str, str]]:
    """Bucket name -> (classes, amount) from the chart's bars and their tooltips."""
    return {
        unescape(label): (classes, unescape(amount))
        for classes, label, amount in re.findall(
            r'<rect class="([^"]+)"[^>]*><title>([^<:]+): ([^<]+)</title>', html
        )
    }


def row_classes(html: str) -> dict[str, str]:
    return {
        invoice: classes.strip()
        for classes, invoice in re.findall(r'<tr class="item([^"]*)" data-invoice="([^"]+)">', html)
    }


def test_aging_page_shows_the_buckets_in_colour_with_their_amounts(client: TestClient) -> None:
    log_in(client, "carl")
    html = client.get("/reports/aging").text
    assert 'value="2026-03-10"' in html  # today in the viewer's zone
    assert bucket_bars(html) == {
        "Not due": ("bar", "CN¥1,000.00"),
        "0-30 days": ("bar", "CN¥2,700.00"),  # R-18 and customer B's 9 days
        "31-60 days": ("bar red", "CN¥3,000.00"),
        "61-90 days": ("bar red", "CN¥4,000.00"),
        "90+ days": ("bar red", "CN¥5,000.00"),
        "Settled": ("bar green", "CN¥6,000.00"),  # settled in the last 30 days
    }
    buckets = re.findall(
        r'<tr class="bucket ?([^"]*)" data-bucket="([^"]+)">\s*<th scope="row">[^<]*</th>'
        r'<td class="num" data-field="items">(\d+)</td>\s*<td class="num">([^<]*)</td>',
        html,
    )
    assert buckets == [
        ("", "not_due", "1", "CN¥1,000.00"), ("", "0-30", "2", "CN¥2,700.00"),
        ("red", "31-60", "1", "CN¥3,000.00"), ("red", "61-90", "1", "CN¥4,000.00"),
        ("red", "90+", "1", "CN¥5,000.00"), ("green", "settled", "1", "CN¥0.00"),
    ]  # fmt: skip
    assert row_classes(html) == {
        "R-NOT": "", "R-18": "", "R-B": "", "R-37": "red", "R-68": "red", "R-129": "red",
        "R-SET": "green",
    }  # fmt: skip
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"' in html
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_aging_page_as_of_another_day(client: TestClient) -> None:
    log_in(client, "carl")
    html = client.get("/reports/aging?at=2026-02-25").text
    assert 'value="2026-02-25"' in html
    # R-37 was 24 days overdue then; the payment of Mar 5 had not happened yet
    assert row_classes(html)["R-37"] == ""
    assert "R-SET" in row_classes(html) and row_classes(html)["R-SET"] == ""
    assert bucket_bars(html)["Settled"] == ("bar green", "CN¥0.00")


def test_the_viewer_chooses_the_language(client: TestClient) -> None:
    log_in(client, "rita")
    zh = client.get("/reports/aging").text
    assert "账龄报告" in zh and "31-60天" in zh and "Aging report" not in zh
    form = {"locale": "en", "csrf": csrf_of(zh)}
    switched = client.post("/language", data=form, follow_redirects=False,
                           headers={"referer": "http://testserver/reports/aging"})  # fmt: skip
    assert switched.status_code == 303 and switched.headers["location"] == "/reports/aging"
    en = client.get("/reports/aging").text
    assert "Aging report" in en and "31-60 days" in en and "账龄报告" not in en
    funnel = client.get("/reports/funnel").text
    assert "Paid within 7 days" in funnel and "Delivery funnel" in funnel


def test_funnel_page_shows_counts_and_a_chart_per_channel(client: TestClient) -> None:
    log_in(client, "carl")
    html = client.get("/reports/funnel?days=30").text
    counts = {
        (stage, channel, step): int(n)
        for stage, channel, body in re.findall(
            r'<tr(?: class="total")? data-stage="([^"]+)" data-channel="([^"]+)">(.*?)</tr>',
            html,
            re.S,
        )
        for step, n in re.findall(r'data-step="(\w+)">(\d+)', body)
    }
    assert [counts[("m2", "sms", s)] for s in ("drafted", "approved", "sent", "delivered")] == [
        2, 1, 1, 1
    ]  # fmt: skip
    assert [counts[("m2", "email", s)] for s in ("sent", "delivered", "read", "paid")] == [
        1, 1, 1, 0
    ]  # fmt: skip
    assert counts[("all", "sms", "drafted")] == 2
    charts = re.findall(r'<svg [^>]*aria-label="([^"]+)"', html)
    assert charts == ["Delivery funnel by stage, SMS", "Delivery funnel by stage, E-mail"]
    assert html.count('<rect class="bar step-') == 12  # 6 steps x 1 stage x 2 channels
    assert client.get("/reports/funnel?days=1").text.count('<rect class="bar step-') == 0


def test_collectors_page_shows_progress_and_the_queue_status(client: TestClient) -> None:
    log_in(client, "carl")
    html = client.get("/reports/collectors").text
    li = re.search(r'<tr data-collector="li">(.*?)</tr>', html, re.S)
    assert li is not None
    cells = dict(re.findall(r'data-field="(\w+)">(.*?)</td>', li.group(1), re.S))
    assert re.sub(r"<[^>]+>", "", cells["outstanding"]) == "CN¥15,000.00"
    assert re.sub(r"<[^>]+>", "", cells["overdue"]) == "CN¥14,000.00"
    assert re.sub(r"<[^>]+>", "", cells["collected"]) == "CN¥6,000.00"
    assert (cells["open_items"], cells["reminders_sent"]) == ("5", "2")
    assert "promised (2026-03-15)" in html
    assert "follow up (broken promise: 2026-03-06)" in html
