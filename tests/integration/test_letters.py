"""Formal letters (issue 15) on SQLite and PostgreSQL: the planner drafts the day +20
written demand as a letter for a business with a postal address (an e-mail for one
without, and explain says why); the PDF, read back with pypdf, carries every open item,
the amounts, the penalty basis and the deadline counted in official working days, in
Chinese and in English; a draft prints with a DRAFT watermark; the approved letter is
posted with its tracking number and later received, each move with its evidence, and
the delivery sweep never touches a letter."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.errors import Conflict, Refused
from notifier.domain.policy import Policy
from notifier.importer import import_text
from notifier.reports.explain import as_dict, explain
from notifier.services import letters
from notifier.services.review import approve, edit
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, LetterPost, Receivable, Reminder
from notifier.sweeps.deliver import deliver
from notifier.sweeps.plan import plan
from notifier.tracking import Tracker
from tests.support import add_deciders, sweep_context

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
STAMPS = {"created_at": T0, "updated_at": T0}
# Monday 2026-03-02 08:00: INV-1 (due 2026-02-10) is 20 days overdue, the formal notice's
# day; ten working days from then is Monday 16 March.
PLANNED = datetime(2026, 3, 2, 8, 0, tzinfo=SH)


def _portfolio(
    engine: Engine,
    *,
    locale: str = "zh-CN",
    address: str | None = "上海市黄浦区中山东一路1号",
    legal: bool = False,
) -> None:
    with unit_of_work(engine) as s:
        s.add(
            Customer(
                id="L1",
                name="上海远航贸易有限公司" if locale == "zh-CN" else "Far Sail Ltd",
                kind="business",
                phone="+8613912345678",
                email="l1@x.example",
                address=address,
                locale=locale,
                collector="li",
                legal_authorised=legal,
                **STAMPS,
            )
        )
        s.flush()
        s.add_all(
            [
                Receivable(
                    id="INV-1",
                    customer_id="L1",
                    amount_cents=3_000_000,
                    issued_on=date(2026, 1, 1),
                    due_on=date(2026, 2, 10),
                    **STAMPS,
                ),
                Receivable(
                    id="INV-2",
                    customer_id="L1",
                    amount_cents=1_250_050,
                    issued_on=date(2026, 1, 10),
                    due_on=date(2026, 2, 20),
                    **STAMPS,
                ),
            ]
        )


def _letter(engine: Engine) -> Reminder:
    with unit_of_work(engine) as s:
        r = s.scalars(
            select(Reminder).where(
                col(Reminder.customer_id) == "L1", col(Reminder.channel) == "letter"
            )
        ).one()
        s.expunge(r)
        return r


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _working_days_after(start: date, n: int, policy: Policy) -> date:
    calendar = sweep_context(policy).calendar
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        counted += calendar.is_working_day("CN", day)
    return day


def test_day_20_demand_is_a_letter_with_items_penalty_and_working_day_deadline_zh(
    engine: Engine, policy: Policy
) -> None:
    _portfolio(engine)
    by_channel = plan(engine, PLANNED, sweep_context(policy), force=True).by_channel
    assert by_channel["letter"] == 1 and by_channel["email"] == 0  # (a call task may go beside)
    r = _letter(engine)
    assert (r.channel, r.step, r.status, r.address) == (
        "letter",
        "formal_notice",
        "pending_approval",
        "上海市黄浦区中山东一路1号",
    )
    assert r.lint == [] and r.subject == "付款催告函"
    facts = r.facts["letter"]
    deadline = _working_days_after(date(2026, 3, 2), 10, policy)
    assert deadline == date(2026, 3, 16) and facts["deadline"] == "2026-03-16"
    with unit_of_work(engine) as s:
        printed = letters.pdf(s, r.id or 0, policy)
    assert printed.draft
    text = _text(printed.pdf)
    assert "草稿" in text and "DRAFT" in text  # not approved: the watermark
    assert (
        "付款催告函" in text
        and "上海远航贸易有限公司" in text
        and "上海市黄浦区中山东一路1号" in text
    )
    assert "INV-1" in text and "INV-2" in text and "2026-02-10" in text
    assert "¥30,000.00" in text and "¥12,500.50" in text and "¥42,500.50" in text
    # D8: 30,000 x 0.05 % x 20 days = 300.00; 12,500.50 x 0.05 % x 10 days = 62.50
    assert "¥300.00" in text and "¥62.50" in text and "¥362.50" in text and "¥42,863.00" in text
    assert "0.05%" in text and "20" in text
    assert "2026年3月16日" in text and "10 个工作日" in text
    assert "星辰供应链有限公司" in text and "400-820-0000" in text
    assert "第 1 页 共 1 页" in text


def test_english_letter_names_the_same_amounts_and_deadline(engine: Engine, policy: Policy) -> None:
    _portfolio(engine, locale="en")
    plan(engine, PLANNED, sweep_context(policy), force=True)
    r = _letter(engine)
    assert r.subject == "Formal demand for payment" and r.lint == []
    add_deciders(engine, "wang")
    with unit_of_work(engine) as s:
        approve(s, [r.id or 0], "wang", PLANNED, policy, sweep_context(policy).calendar)
    with unit_of_work(engine) as s:
        printed = letters.pdf(s, r.id or 0, policy)
    text = _text(printed.pdf)
    assert not printed.draft and "DRAFT" not in text
    assert "Far Sail Ltd" in text and "Formal demand for payment" in text
    assert "CN¥30,000.00" in text and "CN¥362.50" in text and "CN¥42,500.50" in text
    assert "March 16, 2026" in text and "10 working days" in text
    assert "Page 1 of 1" in text


def test_posted_and_received_move_the_letter_and_keep_the_evidence(
    engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    _portfolio(engine)
    ctx = sweep_context(policy)
    plan(engine, PLANNED, ctx, force=True)
    r = _letter(engine)
    add_deciders(engine, "wang")
    with unit_of_work(engine) as s, pytest.raises(Conflict, match="only a letter that is approved"):
        letters.posted(s, r.id or 0, "EA123456789CN", None, "wang", PLANNED, policy)
    with unit_of_work(engine) as s:
        approve(s, [r.id or 0], "wang", PLANNED, policy, ctx.calendar)
    # The delivery sweep, in the letter's slot and after it, never touches a letter.
    for minutes in (65, 60 * 30):
        report = deliver(
            engine,
            PLANNED + timedelta(minutes=minutes),
            ctx,
            {},
            Tracker("t" * 40, "https://notifier.example"),
        )
        assert report.sent == 0 and report.deferred == 0 and report.failed == 0
    assert _letter(engine).status == "approved"
    with unit_of_work(engine) as s, pytest.raises(Refused, match="not a tracking number"):
        letters.posted(s, r.id or 0, "12", None, "wang", PLANNED, policy)
    posted_at = PLANNED + timedelta(hours=3)
    with unit_of_work(engine) as s:
        letters.posted(s, r.id or 0, "EA 123456789 CN", None, "wang", posted_at, policy)
    got = _letter(engine)
    assert (got.status, got.provider_id, got.sent_at) == ("sent", "EA123456789CN", posted_at)
    with unit_of_work(engine) as s, pytest.raises(Refused, match="must lie between"):
        letters.received(s, r.id or 0, date(2026, 3, 1), "wang", posted_at)
    with unit_of_work(engine) as s:
        letters.received(s, r.id or 0, date(2026, 3, 4), "wang", datetime(2026, 3, 5, tzinfo=SH))
    with unit_of_work(engine) as s:
        post = s.get(LetterPost, r.id)
        assert post is not None
        assert (post.carrier, post.tracking_no, post.received_on) == (
            "EMS",
            "EA123456789CN",
            date(2026, 3, 4),
        )
        kinds = [
            e.kind
            for e in s.scalars(select(Event).order_by(col(Event.id)))
            if e.data.get("reminder_id") == r.id
        ]
        sent = s.scalars(select(Event).where(col(Event.kind) == "posted")).one()
    assert kinds == ["drafted", "approved", "posted", "received"]
    assert sent.data["tracking_no"] == "EA123456789CN" and sent.data["body"] == got.body
    assert _letter(engine).status == "delivered"


def test_a_reviewer_edit_prints_and_is_linted_like_a_message(
    engine: Engine, policy: Policy
) -> None:
    _portfolio(engine)
    plan(engine, PLANNED, sweep_context(policy), force=True)
    r = _letter(engine)
    add_deciders(engine, "wang")
    with unit_of_work(engine) as s, pytest.raises(Refused, match="legal"):
        edit(s, r.id or 0, "wang", r.body + "\n\n否则我司将起诉。", None, PLANNED, policy)
    new = r.body.replace("特此函告。", "我们期待与贵司继续合作。\n\n特此函告。")
    with unit_of_work(engine) as s:
        edit(s, r.id or 0, "wang", new, None, PLANNED, policy)
    with unit_of_work(engine) as s:
        assert "我们期待与贵司继续合作" in _text(letters.pdf(s, r.id or 0, policy).pdf)


def test_a_business_without_postal_address_gets_the_email_instead(
    engine: Engine, policy: Policy
) -> None:
    _portfolio(engine, address=None)
    with unit_of_work(engine) as s:
        shown = as_dict(explain(s, "L1", PLANNED, policy, sweep_context(policy).calendar))
    assert shown["channels"]["letter"] == "no postal address"
    assert shown["letter_skipped"] == "letter skipped: no postal address (地址); email instead"
    by_channel = plan(engine, PLANNED, sweep_context(policy), force=True).by_channel
    assert by_channel["email"] == 1 and by_channel["letter"] == 0
    with unit_of_work(engine) as s:
        email = s.scalars(select(Reminder).where(col(Reminder.channel) == "email")).one()
    with unit_of_work(engine) as s, pytest.raises(Refused, match="not a letter"):
        letters.pdf(s, email.id or 0, policy)


def test_the_customers_import_reads_the_postal_address_in_either_header(engine: Engine) -> None:
    csv = (
        "客户编号,客户名称,类型,地址\n"
        "A1,甲公司,business,杭州市西湖区文三路 90 号\n"
        "A2,乙公司,business,\n"
    )
    with unit_of_work(engine) as s:
        import_text(s, "customers", csv, now=T0)
    english = "customer_id,name,kind,address\nA3,C Ltd,business,1 Queen's Road Central\n"
    with unit_of_work(engine) as s:
        import_text(s, "customers", english, now=T0)
    with unit_of_work(engine) as s:
        found = {c.id: c.address for c in s.scalars(select(Customer))}
    assert found == {"A1": "杭州市西湖区文三路 90 号", "A2": None, "A3": "1 Queen's Road Central"}
