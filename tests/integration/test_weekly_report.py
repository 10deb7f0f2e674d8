"""The manager's week over a real database, on SQLite and PostgreSQL: the figures of a
portfolio computed by hand (tests/integration/weekly_portfolio.py), and the Monday e-mail
sent once per week to the managers through a real SMTP server, however many processes
run the job."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.channels import SmtpEmail
from notifier.domain.policy import Policy
from notifier.reports.weekly import build_weekly
from notifier.scheduler import Wiring, sweeps
from notifier.store.db import unit_of_work
from notifier.store.models import SweepTick, User
from notifier.sweeps.weekly import SWEEP, send_weekly
from notifier.tracking import Tracker
from tests.fakes.smtp_servers import SmtpServer, recording_smtp_server
from tests.integration.weekly_portfolio import REPORT_DAY, WEEK, seed
from tests.support import sweep_context


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> str:
    """Every test here runs on both stores (the module is not in conftest's BOTH_STORES)."""
    return str(request.param)


@pytest.fixture
def portfolio(engine: Engine) -> Engine:
    seed(engine)
    return engine


def D(text: str) -> Decimal:  # noqa: N802
    return Decimal(text)


def test_the_weeks_figures_match_the_hand_computed_portfolio(
    portfolio: Engine, policy: Policy
) -> None:
    with unit_of_work(portfolio) as s:
        report = build_weekly(s, REPORT_DAY, policy)
    assert (report.week.start, report.week.end) == WEEK
    rows = {r.collector: r for r in report.rows}
    assert list(rows) == ["li", "wang", "zhang"]  # F owes nothing; D's payments split
    li, wang, zhang = rows["li"], rows["wang"], rows["zhang"]
    assert li.collected == {"CNY": D("56000.50")}
    assert li.recovered == {"CNY": D("48000.50")}
    assert li.overdue_at_start == {"CNY": D("120000.00")}
    assert li.rate == {"CNY": D("0.4000")}
    assert li.recovered_past == {"CNY": D("40000.00")}
    assert li.incentive == {"CNY": D("400.00")}
    assert (li.payments, li.promises) == (3, {"kept": 0, "broken": 2, "pending": 0})
    assert wang.collected == {"CNY": D("1234.56"), "USD": D("2000.00")}  # overpaid: capped
    assert wang.overdue_at_start == {"CNY": D("4234.56"), "USD": D("5000.00")}  # dispute aside
    assert wang.rate == {"CNY": D("0.2915"), "USD": D("0.4000")}
    assert wang.incentive == {"CNY": D("12.35"), "USD": D("20.00")}
    assert (wang.payments, wang.promises) == (2, {"kept": 1, "broken": 0, "pending": 1})
    assert zhang.recovered == {"CNY": D("2000.00")}  # after the escalation only
    assert zhang.overdue_at_start == {} and zhang.rate == {"CNY": None}
    assert zhang.incentive == {"CNY": D("0.00")}
    total = report.total
    assert total.collected == {"CNY": D("59235.06"), "USD": D("2000.00")}
    assert total.recovered == {"CNY": D("51235.06"), "USD": D("2000.00")}
    assert total.overdue_at_start == {"CNY": D("124234.56"), "USD": D("5000.00")}
    assert total.rate == {"CNY": D("0.4124"), "USD": D("0.4000")}
    assert total.incentive == {"CNY": D("412.35"), "USD": D("20.00")}
    assert total.promises == {"kept": 1, "broken": 2, "pending": 1}
    assert [(o.invoice_id, o.collector, o.days_overdue, o.outstanding, o.paused)
            for o in report.oldest] == [
        ("A-OLD", "li", 108, D("50000.00"), D("0.00")),
        ("C-1", "wang", 97, D("3000.00"), D("0.00")),
        ("D-1", "zhang", 83, D("5000.00"), D("0.00")),
        ("E-1", "wang", 66, D("3000.00"), D("1000.00")),
        ("A-MID", "li", 47, D("14999.50"), D("0.00")),
    ]  # fmt: skip


def test_the_oldest_items_are_cut_at_the_policys_number(portfolio: Engine, policy: Policy) -> None:
    short = policy.model_copy(
        update={"weekly": policy.weekly.model_copy(update={"oldest_items": 2})}
    )
    with unit_of_work(portfolio) as s:
        report = build_weekly(s, REPORT_DAY, short)
    assert [o.invoice_id for o in report.oldest] == ["A-OLD", "C-1"]


def test_a_week_before_the_payments_has_none_and_counts_what_was_overdue(
    portfolio: Engine, policy: Policy
) -> None:
    with unit_of_work(portfolio) as s:
        report = build_weekly(s, REPORT_DAY - timedelta(days=7), policy)  # Feb 23..Mar 1
    assert report.total.collected == {} and report.total.promises["broken"] == 0
    # nothing was paid between the end of Feb 22 and the end of Mar 1
    assert report.total.overdue_at_start == {"CNY": D("124234.56"), "USD": D("5000.00")}
    assert {r.collector for r in report.rows} == {"li", "wang"}  # D was still li's
    assert report.total.rate == {"CNY": D("0.0000"), "USD": D("0.0000")}


# -- the Monday e-mail -----------------------------------------------------------------------
NINE = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with recording_smtp_server() as server:
        yield server


def mailing_policy(policy: Policy) -> Policy:
    emails = {"zhang": "zhang@corp.example", "qian": "qian@corp.example",
              "li": "li@corp.example", "gone": "gone@corp.example"}  # fmt: skip
    return policy.model_copy(update={"weekly": policy.weekly.model_copy(update={"emails": emails})})


@pytest.fixture
def staff(portfolio: Engine) -> Engine:
    with unit_of_work(portfolio) as s:
        for name, role, locale, active in (
            ("zhang", "manager", "zh-CN", True), ("qian", "manager", "en", True),
            ("zhao", "manager", "zh-CN", True),  # no address: named, skipped
            ("gone", "manager", "en", False), ("li", "collector", "zh-CN", True),
        ):  # fmt: skip
            s.add(User(name=name, role=role, locale=locale, active=active,
                       created_at=datetime(2026, 1, 1, tzinfo=UTC)))  # fmt: skip
    return portfolio


def test_the_monday_email_goes_once_to_each_manager_with_the_workbook(
    staff: Engine, policy: Policy, smtp: SmtpServer
) -> None:
    rules = mailing_policy(policy)
    before = send_weekly(
        staff, NINE - timedelta(minutes=1), rules, SmtpEmail(smtp.settings()), "w1"
    )
    assert not before.ran and smtp.mails == []  # last week's slot is past its catch-up day

    first = send_weekly(staff, NINE, rules, SmtpEmail(smtp.settings(), timeout=5), "w1")
    assert first.ran and first.sent == ["qian", "zhang"] and first.no_address == ["zhao"]
    # later ticks that Monday, other workers: nothing more
    for minutes, worker in ((15, "w2"), (30, "w1"), (600, "w3")):
        again = send_weekly(staff, NINE + timedelta(minutes=minutes), rules,
                            SmtpEmail(smtp.settings(), timeout=5), worker)  # fmt: skip
        assert not again.ran
    mails = smtp.mails
    assert sorted(m.rcpt_tos[0] for m in mails) == ["qian@corp.example", "zhang@corp.example"]
    by_to = {m.rcpt_tos[0]: m.message for m in mails}
    zh, en = by_to["zhang@corp.example"], by_to["qian@corp.example"]
    assert zh["Subject"] == "每周催收报告 2026-03-02 至 2026-03-08"
    assert en["Subject"] == "Weekly collection report 2026-03-02 to 2026-03-08"
    zh_body = zh.get_body(preferencelist=("plain",))
    assert zh_body is not None
    text = zh_body.get_content()
    assert "逾期超90天回款" in text and "40,000.00" in text and "412.35" in text
    html_part = en.get_body(preferencelist=("html",))
    assert html_part is not None and "<table" in html_part.get_content()
    assert "Recovered past 90 days" in html_part.get_content()
    (attachment,) = list(en.iter_attachments())
    assert attachment.get_filename() == "weekly-2026-03-02.xlsx"
    book = load_workbook(io.BytesIO(attachment.get_content()))
    assert book.sheetnames == ["Collectors", "Oldest items"]
    cells = [[c.value for c in row] for row in book["Collectors"].iter_rows(min_row=4)]
    li_row = next(r for r in cells if r[0] == "li")
    assert li_row[1] == "CNY" and Decimal(str(li_row[7])) == D("400.00")
    with unit_of_work(staff) as s:
        ticks = list(s.scalars(select(SweepTick).where(col(SweepTick.sweep) == SWEEP)))
    assert len(ticks) == 1 and ticks[0].finished_at is not None
    assert ticks[0].report["sent"] == ["qian", "zhang"]

    next_week = send_weekly(staff, NINE + timedelta(days=7), rules,
                            SmtpEmail(smtp.settings(), timeout=5), "w2")  # fmt: skip
    assert next_week.ran and len(smtp.mails) == 4


def test_workers_racing_for_the_monday_slot_send_it_once(
    staff: Engine, policy: Policy, smtp: SmtpServer
) -> None:
    rules = mailing_policy(policy)
    results = []
    start = threading.Barrier(3)

    def worker(name: str) -> None:
        start.wait(timeout=10)
        results.append(send_weekly(staff, NINE + timedelta(seconds=5), rules,
                                   SmtpEmail(smtp.settings(), timeout=5), name))  # fmt: skip

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r.ran for r in results) == 1 and len(results) == 3
    assert len(smtp.mails) == 2


def test_nothing_is_claimed_while_nobody_has_an_address(
    staff: Engine, policy: Policy, smtp: SmtpServer
) -> None:
    run = send_weekly(staff, NINE, policy, SmtpEmail(smtp.settings(), timeout=5), "w1")
    assert not run.ran and run.why_not is not None and "[weekly] emails" in run.why_not
    with unit_of_work(staff) as s:
        assert s.scalars(select(SweepTick).where(col(SweepTick.sweep) == SWEEP)).first() is None
    late = send_weekly(staff, NINE + timedelta(hours=3), mailing_policy(policy),
                       SmtpEmail(smtp.settings(), timeout=5), "w1")  # fmt: skip
    assert late.ran and len(smtp.mails) == 2  # configured later that morning: still sent


def test_the_scheduler_runs_the_weekly_job_on_its_tick(
    staff: Engine, policy: Policy, smtp: SmtpServer
) -> None:
    ctx = sweep_context(mailing_policy(policy))
    wire = Wiring(channels=lambda: {"email": SmtpEmail(smtp.settings(), timeout=5)},
                  tracker=Tracker("k" * 40, "http://127.0.0.1:8000"))  # fmt: skip
    job, _trigger = sweeps(staff, ctx, lambda: NINE + timedelta(minutes=15), wire)["weekly"]
    job()
    job()  # the next tick, or another worker: nothing more
    assert len(smtp.mails) == 2
