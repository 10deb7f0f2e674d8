"""The legal route (D19, issue 15): the lawyer's letter is drafted as a letter for an
authorised customer, posted, and seven days later a "prepare lawsuit" task waits for a
manager; the payment order is offered below 50,000 CNY of undisputed principal (a
dispute can bring a larger debt below it, D22); each decision is kept with who and why,
in the hash chain, in explain, on the pages and in the evidence file. The commands
`letter pdf/posted/received` and `legal-route` do the same from the terminal."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.errors import Forbidden, Refused
from notifier.domain.policy import Policy
from notifier.evidence.export import build
from notifier.evidence.seal import verify
from notifier.reports.explain import as_dict, explain
from notifier.reports.home import manager_home
from notifier.services import legal, letters
from notifier.services.review import approve
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Dispute, Receivable, Reminder
from notifier.sweeps.plan import plan
from tests.support import add_deciders, run, sweep_context

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
STAMPS = {"created_at": T0, "updated_at": T0}
PLANNED = datetime(2026, 3, 2, 8, 0, tzinfo=SH)  # INV-1 (due 2026-01-15) is 46 days overdue
POSTED = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
A_WEEK_ON = POSTED + timedelta(days=7)


def _customer(
    engine: Engine,
    cid: str,
    cents: int,
    *,
    legal_authorised: bool = True,
    disputed_cents: int | None = None,
) -> None:
    with unit_of_work(engine) as s:
        s.add(
            Customer(
                id=cid,
                name=f"客户{cid}",
                kind="business",
                email=f"{cid}@x.example",
                address="北京市朝阳区建国路88号",
                legal_authorised=legal_authorised,
                collector="li",
                **STAMPS,
            )
        )
        s.flush()
        s.add(
            Receivable(
                id=f"{cid}-1",
                customer_id=cid,
                amount_cents=cents,
                issued_on=date(2025, 12, 15),
                due_on=date(2026, 1, 15),
                **STAMPS,
            )
        )
        if disputed_cents is not None:
            s.flush()
            s.add(
                Dispute(
                    invoice_id=f"{cid}-1",
                    amount_cents=disputed_cents,
                    reason="part of the goods were faulty",
                    opened_by="li",
                    opened_at=T0,
                )
            )


def _posted_lawyer_letter(engine: Engine, policy: Policy, cid: str) -> int:
    ctx = sweep_context(policy)
    plan(engine, PLANNED, ctx, force=True)
    with unit_of_work(engine) as s:
        r = s.scalars(
            select(Reminder).where(
                col(Reminder.customer_id) == cid, col(Reminder.channel) == "letter"
            )
        ).one()
        assert r.step == "lawyer_letter" and r.subject == "委托律师处理通知函"
        assert "委托律师" in r.body and r.lint == []
        rid = r.id or 0
    add_deciders(engine, "wang")
    add_deciders(engine, "zhang", role="manager")
    add_deciders(engine, "li", role="collector")
    with unit_of_work(engine) as s:
        approve(s, [rid], "wang", PLANNED, policy, ctx.calendar)
    with unit_of_work(engine) as s:
        letters.posted(s, rid, "EA000000001CN", "EMS", "wang", POSTED, policy)
    return rid


def test_prepare_lawsuit_is_due_a_week_after_the_lawyers_letter_and_a_manager_decides(
    engine: Engine, policy: Policy
) -> None:
    _customer(engine, "K1", 3_000_000)
    rid = _posted_lawyer_letter(engine, policy, "K1")
    with unit_of_work(engine) as s:
        before = legal.route(s, "K1", A_WEEK_ON - timedelta(minutes=1), policy)
        assert before.state == "waiting_after_letter" and not before.task_open
        assert legal.open_tasks(s, A_WEEK_ON - timedelta(minutes=1), policy) == []
        due = legal.route(s, "K1", A_WEEK_ON, policy)
    assert due.state == "prepare_lawsuit" and due.task_due_at == A_WEEK_ON
    assert due.letter_id == rid and due.tracking_no == "EA000000001CN"
    assert due.principal == {"CNY": 30_000} and due.payment_order  # below 50,000 CNY
    with unit_of_work(engine) as s:
        assert [r.customer_id for r in legal.open_tasks(s, A_WEEK_ON, policy)] == ["K1"]
        assert [
            r.customer_id for r in manager_home(s, A_WEEK_ON, policy, "Asia/Shanghai").lawsuit_tasks
        ] == ["K1"]
    # Who may decide, and with what: a collector may not; a decision needs a reason.
    with unit_of_work(engine) as s, pytest.raises(Forbidden, match="manager"):
        legal.decide(s, "K1", "lawsuit", "no answer", "li", A_WEEK_ON, policy)
    with unit_of_work(engine) as s, pytest.raises(Refused, match="reason"):
        legal.decide(s, "K1", "lawsuit", "  ", "zhang", A_WEEK_ON, policy)
    with unit_of_work(engine) as s, pytest.raises(Refused, match="not a decision"):
        legal.decide(s, "K1", "arrest", "x", "zhang", A_WEEK_ON, policy)
    # Wait: the task comes back a week later; then the payment order.
    with unit_of_work(engine) as s:
        waited = legal.decide(
            s, "K1", "wait", "customer promised to call back", "zhang", A_WEEK_ON, policy
        )
    assert waited.state == "waiting_after_letter" and waited.task_due_at == A_WEEK_ON + timedelta(
        days=7
    )
    later = A_WEEK_ON + timedelta(days=7, hours=1)
    with unit_of_work(engine) as s:
        assert legal.route(s, "K1", later, policy).task_open
        done = legal.decide(
            s, "K1", "payment_order", "undisputed, below the threshold", "zhang", later, policy
        )
    assert done.state == "decided_payment_order" and not done.task_open
    assert [(d.by, d.decision) for d in done.decisions] == [
        ("zhang", "wait"),
        ("zhang", "payment_order"),
    ]
    with unit_of_work(engine) as s:
        assert legal.open_tasks(s, later + timedelta(days=30), policy) == []
        e = explain(s, "K1", later, policy, sweep_context(policy).calendar)
    shown = as_dict(e)["legal_route"]
    assert shown["state"] == "decided_payment_order"
    assert shown["decisions"][1]["reason"] == "undisputed, below the threshold"
    # The decisions are evidence: in the chain, which still verifies, and in the file.
    assert verify(engine, later, "K1").ok
    bundle = build(engine, later, "K1")
    decisions = json.loads(bundle.files["legal_decisions.json"])
    assert [d["data"]["decision"] for d in decisions] == ["wait", "payment_order"]
    assert [d["actor"] for d in decisions] == ["zhang", "zhang"]
    posted = json.loads(bundle.files["letters.json"])
    assert [(x["id"], x["tracking_no"], x["carrier"]) for x in posted] == [
        (rid, "EA000000001CN", "EMS")
    ]
    summary = "\n".join(
        p.extract_text() for p in PdfReader(io.BytesIO(bundle.files["summary.pdf"])).pages
    )
    assert "EA000000001CN" in summary and "payment_order" in summary


def test_payment_order_only_below_the_threshold_of_undisputed_principal(
    engine: Engine, policy: Policy
) -> None:
    _customer(engine, "K2", 6_000_000)  # 60,000: above 50,000
    _customer(engine, "K3", 6_000_000, disputed_cents=1_500_000)  # 45,000 undisputed
    _customer(engine, "K4", 1_000_000, legal_authorised=False)
    add_deciders(engine, "zhang", role="manager")
    at = datetime(2026, 3, 20, 9, 0, tzinfo=SH)
    with unit_of_work(engine) as s:
        assert not legal.route(s, "K2", at, policy).payment_order
        k3 = legal.route(s, "K3", at, policy)
        assert k3.payment_order and k3.principal == {"CNY": 45_000}
        assert legal.route(s, "K4", at, policy).state == "not_authorised"
    with unit_of_work(engine) as s, pytest.raises(Refused, match="only below 50,000.00 CNY"):
        legal.decide(s, "K2", "payment_order", "fast", "zhang", at, policy)
    with unit_of_work(engine) as s, pytest.raises(Refused, match="not authorised"):
        legal.decide(s, "K4", "lawsuit", "no answer", "zhang", at, policy)
    with unit_of_work(engine) as s:
        assert (
            legal.decide(s, "K2", "lawsuit", "over the threshold", "zhang", at, policy).state
            == "decided_lawsuit"
        )


def test_the_commands_print_post_receive_and_decide(
    engine: Engine, policy: Policy, db_url: str, tmp_path: Path
) -> None:
    _customer(engine, "K5", 3_000_000)
    ctx = sweep_context(policy)
    plan(engine, PLANNED, ctx, force=True)
    with unit_of_work(engine) as s:
        rid = s.scalars(select(col(Reminder.id)).where(col(Reminder.channel) == "letter")).one()
    add_deciders(engine, "wang")
    add_deciders(engine, "zhang", role="manager")
    draft = run("letter", "pdf", str(rid), "-o", str(tmp_path / "draft.pdf"), db=db_url)
    assert draft.returncode == 0 and "DRAFT" in draft.stdout, draft.stderr
    assert "草稿" in PdfReader(tmp_path / "draft.pdf").pages[0].extract_text()
    early = run(
        "letter", "posted", str(rid), "--tracking", "EA000000002CN", "--as", "wang", db=db_url
    )
    assert early.returncode == 1 and "only a letter that is approved" in early.stderr
    with unit_of_work(engine) as s:
        approve(s, [rid], "wang", PLANNED, policy, ctx.calendar)
    done = run(
        "letter",
        "posted",
        str(rid),
        "--tracking",
        "EA000000002CN",
        "--carrier",
        "EMS",
        "--as",
        "wang",
        "--at",
        "2026-03-02T10:00:00+08:00",
        "--json",
        db=db_url,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "sent"
    bad = run("letter", "received", str(rid), "--on", "someday", "--as", "wang", db=db_url)
    assert bad.returncode == 1 and "not a date" in bad.stderr
    got = run(
        "letter",
        "received",
        str(rid),
        "--on",
        "2026-03-04",
        "--as",
        "wang",
        "--at",
        "2026-03-05T10:00:00+08:00",
        db=db_url,
    )
    assert got.returncode == 0 and "delivered" in got.stdout, got.stderr
    shown = run("legal-route", "K5", "--at", "2026-03-09T11:00:00+08:00", "--json", db=db_url)
    assert json.loads(shown.stdout)["state"] == "prepare_lawsuit"
    assert json.loads(shown.stdout)["received_on"] == "2026-03-04"
    decided = run(
        "legal-route",
        "K5",
        "--decide",
        "lawsuit",
        "--reason",
        "no answer in 7 days",
        "--as",
        "zhang",
        "--at",
        "2026-03-09T11:00:00+08:00",
        db=db_url,
    )
    assert decided.returncode == 0, decided.stderr
    assert "K5: Decided: lawsuit" in decided.stdout  # words, not the code decided_lawsuit
    assert "decision: Lawsuit, by zhang" in decided.stdout
    assert "no answer in 7 days" in decided.stdout
    in_chinese = run("legal-route", "K5", "--locale", "zh-CN", "--at", "2026-03-09T12:00:00+08:00",
                     db=db_url).stdout  # fmt: skip
    assert (
        "K5: 已决定：起诉" in in_chinese
        and "由 zhang 决定：起诉；原因：no answer in 7 days" in (in_chinese)
    )
    assert "Decided" not in in_chinese and "principal" not in in_chinese
    no_reason = run("legal-route", "K5", "--decide", "wait", "--as", "zhang", db=db_url)
    assert no_reason.returncode == 1 and "--reason" in no_reason.stderr
    explained = run("explain", "K5", "--at", "2026-03-09T12:00:00+08:00", db=db_url)
    assert "legal route: K5: Decided: lawsuit" in explained.stdout, explained.stderr
