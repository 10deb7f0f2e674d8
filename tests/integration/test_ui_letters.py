"""Letters and the legal route in the web app (issue 15), over a real app and SQLite, logged
in through the login form: the draft page of a letter links its PDF (a DRAFT until
approved) and, once approved, takes the posted form; the customer page shows the legal
route and takes a manager's decision; the manager's home page lists the lawsuits to
prepare."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.services.review import approve
from notifier.services.users import add_user
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, Receivable, Reminder
from notifier.sweeps.plan import plan
from notifier.web import create_app
from tests.support import sweep_context, web_login

SH = ZoneInfo("Asia/Shanghai")
PLANNED = datetime(2026, 3, 2, 8, 0, tzinfo=SH)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = PLANNED

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def letter_id(engine: Engine, policy: Policy) -> int:
    """W1 (legal-authorised, with a postal address) owes 20,000 due 2026-01-15: on
    2026-03-02 its lawyer's letter is drafted as a letter."""
    with unit_of_work(engine) as s:
        s.add(
            Customer(
                id="W1",
                name="客户W1",
                kind="business",
                email="w1@x.example",
                address="广州市天河区体育西路1号",
                legal_authorised=True,
                created_at=T0,
                updated_at=T0,
            )
        )
        s.flush()
        s.add(
            Receivable(
                id="W1-1",
                customer_id="W1",
                amount_cents=2_000_000,
                issued_on=date(2025, 12, 15),
                due_on=date(2026, 1, 15),
                created_at=T0,
                updated_at=T0,
            )
        )
        for name, role in (("wang", "reviewer"), ("zhang", "manager")):
            add_user(s, name, role, PASSWORD, T0, locale="en")
    plan(engine, PLANNED, sweep_context(policy), force=True)
    with unit_of_work(engine) as s:
        return s.scalars(select(col(Reminder.id)).where(col(Reminder.channel) == "letter")).one()


@pytest.fixture
def app(engine: Engine, policy: Policy, letter_id: int, clock: Clock) -> FastAPI:
    return create_app(Settings(), policy, engine, clock=clock)


def _login(app: FastAPI, name: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    return client, web_login(client, name, PASSWORD, "/home")


def test_letter_page_links_the_pdf_and_records_the_posting(
    app: FastAPI, engine: Engine, policy: Policy, letter_id: int, clock: Clock
) -> None:
    client, csrf = _login(app, "wang")
    page = client.get(f"/drafts/{letter_id}").text
    assert f'href="/drafts/{letter_id}/letter.pdf"' in page and "draft, for review" in page
    assert 'id="posted-form"' not in page  # not approved yet
    pdf = client.get(f"/drafts/{letter_id}/letter.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "DRAFT" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    with unit_of_work(engine) as s:
        approve(s, [letter_id], "wang", PLANNED, policy, sweep_context(policy).calendar)
    page = client.get(f"/drafts/{letter_id}").text
    assert 'id="posted-form"' in page and "to post" in page
    text = PdfReader(io.BytesIO(client.get(f"/drafts/{letter_id}/letter.pdf").content))
    assert "DRAFT" not in text.pages[0].extract_text()
    bad = client.post(f"/drafts/{letter_id}/posted", data={"csrf": csrf, "tracking": "x"})
    assert bad.status_code == 422 and "not a tracking number" in bad.text
    clock.now = PLANNED + timedelta(hours=2)
    done = client.post(
        f"/drafts/{letter_id}/posted",
        follow_redirects=False,
        data={"csrf": csrf, "tracking": "EA000000003CN", "carrier": "SF"},
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?message=posted")
    page = client.get(done.headers["location"]).text
    assert "SF, tracking number EA000000003CN" in page and 'id="received-form"' in page
    with unit_of_work(engine) as s:
        r = s.get(Reminder, letter_id)
        assert r is not None and (r.status, r.provider_id) == ("sent", "EA000000003CN")
        posted = s.scalars(select(Event).where(col(Event.kind) == "posted")).one()
        assert posted.actor == "wang" and posted.data["carrier"] == "SF"


def test_the_manager_decides_the_legal_route_on_the_customer_page(
    app: FastAPI, engine: Engine, policy: Policy, letter_id: int, clock: Clock
) -> None:
    with unit_of_work(engine) as s:
        approve(s, [letter_id], "wang", PLANNED, policy, sweep_context(policy).calendar)
    reviewer, reviewer_csrf = _login(app, "wang")
    reviewer.post(
        f"/drafts/{letter_id}/posted", data={"csrf": reviewer_csrf, "tracking": "EA000000004CN"}
    )
    clock.now = PLANNED + timedelta(days=8)
    reviewer, reviewer_csrf = _login(app, "wang")  # a new day, a new login
    manager, csrf = _login(app, "zhang")
    home = manager.get("/home").text
    assert re.search(r'id="tile-lawsuit"[^>]*><span class="figure bad">1<', home)
    assert 'data-customer="W1"' in home.split('id="lawsuit"')[1].split("</ul>")[0]
    page = manager.get("/customers/W1").text
    assert 'data-state="prepare_lawsuit"' in page and "Payment order available" in page
    assert 'id="legal-route-form"' in page
    refused = reviewer.post(
        "/customers/W1/legal-route",
        data={"csrf": reviewer_csrf, "decision": "lawsuit", "reason": "x"},
    )
    assert refused.status_code == 403
    empty = manager.post(
        "/customers/W1/legal-route", data={"csrf": csrf, "decision": "lawsuit", "reason": ""}
    )
    assert empty.status_code == 422 and "needs a reason" in empty.text
    done = manager.post(
        "/customers/W1/legal-route",
        follow_redirects=False,
        data={"csrf": csrf, "decision": "payment_order", "reason": "undisputed and small"},
    )
    assert done.status_code == 303
    page = manager.get("/customers/W1").text
    assert 'data-state="decided_payment_order"' in page and "undisputed and small" in page
    assert re.search(r'id="tile-lawsuit"[^>]*><span class="figure">0<', manager.get("/home").text)
