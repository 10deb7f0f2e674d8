"""The approval queue's JSON API over a real app and a real SQLite database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.services.users import add_user, create_token
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, Receivable, Reminder, ReminderEdit
from notifier.sweeps.plan import plan
from notifier.web import create_app
from tests.support import sweep_context

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLANNED = datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)  # Monday, before the 09:00 slot
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(PLANNED)


@pytest.fixture
def portfolio(engine: Engine, policy: Policy) -> list[int]:
    with unit_of_work(engine) as s:
        for cid, email in (("C1", "a@x.example"), ("C2", "b@x.example"), ("C3", None)):
            s.add(Customer(id=cid, name=f"客户{cid}", kind="business", phone="+8613912345678",
                           email=email, created_at=T0, updated_at=T0))  # fmt: skip
        s.flush()
        for cid in ("C1", "C2", "C3"):
            s.add(Receivable(id=f"{cid}-1", customer_id=cid, amount_cents=1_234_500,
                             issued_on=date(2026, 1, 1), due_on=date(2026, 1, 30),
                             created_at=T0, updated_at=T0))  # fmt: skip
    ctx = sweep_context(policy)
    report = plan(engine, PLANNED, ctx, force=True)
    assert report.drafted == 3
    with unit_of_work(engine) as s:
        return list(s.scalars(select(col(Reminder.id)).order_by(col(Reminder.id))))


@pytest.fixture
def client(engine: Engine, policy: Policy, clock: Clock, portfolio: list[int]) -> TestClient:
    return TestClient(create_app(Settings(), policy, engine, clock=clock))


def token(engine: Engine, name: str, role: str) -> dict[str, str]:
    with unit_of_work(engine) as s:
        add_user(s, name, role, "correct horse battery", T0)
    with unit_of_work(engine) as s:
        return {"Authorization": f"Bearer {create_token(s, name, T0)}"}


@pytest.fixture
def reviewer(engine: Engine) -> dict[str, str]:
    return token(engine, "wang", "reviewer")


def test_health_answers_without_login_and_metrics_for_a_manager(
    client: TestClient, engine: Engine, reviewer: dict[str, str]
) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=reviewer).status_code == 403
    metrics = client.get("/metrics", headers=token(engine, "zhao", "manager")).text
    assert 'notifier_reminders{status="pending_approval"} 3.0' in metrics


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/drafts"), ("GET", "/api/drafts/1"), ("POST", "/api/drafts/1/approve"),
     ("POST", "/api/drafts/1/reject"), ("PATCH", "/api/drafts/1"),
     ("POST", "/api/drafts/approve")],
)  # fmt: skip
def test_api_refuses_requests_without_a_valid_token(
    client: TestClient, method: str, path: str
) -> None:
    assert client.request(method, path).status_code == 401
    forged = {"Authorization": "Bearer ntf_forged"}
    assert client.request(method, path, headers=forged).status_code == 401


def test_list_drafts_filters_by_status_and_channel(
    client: TestClient, reviewer: dict[str, str]
) -> None:
    rows = client.get("/api/drafts", params={"status": "pending_approval"}, headers=reviewer)
    assert rows.status_code == 200
    data = rows.json()
    assert len(data) == 3
    for key in ("id", "customer_id", "channel", "status", "stage", "tone", "step", "slot_start",
                "slot_end", "subject", "body", "fallback_of"):  # fmt: skip
        assert key in data[0]
    by_channel = client.get("/api/drafts", params={"channel": "sms"}, headers=reviewer).json()
    assert [d["customer_id"] for d in by_channel] == ["C3"]  # no e-mail address: SMS


def test_approve_records_the_reviewer_and_an_event(
    client: TestClient, reviewer: dict[str, str], engine: Engine, portfolio: list[int]
) -> None:
    first = portfolio[0]
    answer = client.post(f"/api/drafts/{first}/approve", headers=reviewer)
    assert answer.status_code == 200
    assert answer.json()["status"] == "approved" and answer.json()["decided_by"] == "wang"
    again = client.post(f"/api/drafts/{first}/approve", headers=reviewer)
    assert again.status_code == 409
    with unit_of_work(engine) as s:
        kinds = s.scalars(select(col(Event.actor)).where(col(Event.kind) == "approved")).all()
    assert kinds == ["wang"]


def test_approving_after_the_slot_moves_the_draft_to_the_next_slot(
    client: TestClient, reviewer: dict[str, str], clock: Clock, portfolio: list[int]
) -> None:
    before = client.get(f"/api/drafts/{portfolio[0]}", headers=reviewer).json()
    clock.now = datetime.fromisoformat(before["slot_end"]) + timedelta(minutes=1)
    after = client.post(f"/api/drafts/{portfolio[0]}/approve", headers=reviewer).json()
    assert after["status"] == "approved"
    assert datetime.fromisoformat(after["slot_start"]) > clock.now  # deferred, not late


def test_reject_needs_a_reason(client: TestClient, reviewer: dict[str, str]) -> None:
    assert (
        client.post("/api/drafts/2/reject", json={"reason": ""}, headers=reviewer).status_code
        == 422
    )
    done = client.post("/api/drafts/2/reject", json={"reason": "customer called"}, headers=reviewer)
    assert done.json()["status"] == "rejected" and done.json()["reason"] == "customer called"


def test_edit_with_a_threat_is_refused_and_the_draft_is_unchanged(
    client: TestClient, reviewer: dict[str, str], engine: Engine, portfolio: list[int]
) -> None:
    draft_id = portfolio[2]  # the SMS
    original = client.get(f"/api/drafts/{draft_id}", headers=reviewer).json()
    bad = original["body"].replace("回复TD退订", "否则我们将起诉至法院。回复TD退订")
    refused = client.patch(f"/api/drafts/{draft_id}", json={"body": bad}, headers=reviewer)
    assert refused.status_code == 422
    assert any("legal_threat" in p for p in refused.json()["detail"]["problems"])
    unchanged = client.get(f"/api/drafts/{draft_id}", headers=reviewer).json()
    assert unchanged["body"] == original["body"] and unchanged["edits"] == []


def test_an_edit_with_a_pasted_long_number_is_refused_as_a_wrong_amount(
    client: TestClient, reviewer: dict[str, str], portfolio: list[int]
) -> None:
    # 40 digits is more than an amount to the cent holds: the lint once raised on it (a
    # server error); now the edit is refused with the reason, the draft left as it was.
    draft_id = portfolio[2]
    original = client.get(f"/api/drafts/{draft_id}", headers=reviewer).json()
    pasted = original["body"].replace(
        "回复TD退订", "参考号1234567890123456789012345678901234567890元 回复TD退订"
    )
    checked = client.post(f"/api/drafts/{draft_id}/lint", json={"body": pasted}, headers=reviewer)
    assert checked.status_code == 200
    assert any(p.startswith("wrong_amount") for p in checked.json()["problems"])
    refused = client.patch(f"/api/drafts/{draft_id}", json={"body": pasted}, headers=reviewer)
    assert refused.status_code == 422
    assert (
        client.get(f"/api/drafts/{draft_id}", headers=reviewer).json()["body"] == original["body"]
    )
    too_long = {"body": original["body"], "subject": "x" * 301}
    assert (
        client.post(f"/api/drafts/{draft_id}/lint", json=too_long, headers=reviewer).status_code
        == 422
    )


def test_edit_that_passes_is_kept_with_before_and_after(
    client: TestClient, reviewer: dict[str, str], engine: Engine, portfolio: list[int]
) -> None:
    draft_id = portfolio[2]
    original = client.get(f"/api/drafts/{draft_id}", headers=reviewer).json()
    better = "王经理您好，" + original["body"]
    lint = client.post(f"/api/drafts/{draft_id}/lint", json={"body": better}, headers=reviewer)
    assert lint.json()["problems"] == []
    change = {"body": better, "version": original["version"]}
    saved = client.patch(f"/api/drafts/{draft_id}", json=change, headers=reviewer)
    assert saved.status_code == 200 and saved.json()["body"] == better
    stale = client.patch(f"/api/drafts/{draft_id}", json=change, headers=reviewer)
    assert stale.status_code == 409  # someone changed it meanwhile
    with unit_of_work(engine) as s:
        [edit] = s.scalars(select(ReminderEdit)).all()
    assert (edit.edited_by, edit.body_before, edit.body_after) == ("wang", original["body"], better)


def test_bulk_approve_all_pending(client: TestClient, reviewer: dict[str, str]) -> None:
    answer = client.post("/api/drafts/approve", json={"all": True}, headers=reviewer).json()
    assert len(answer["approved"]) == 3 and answer["skipped"] == []
    left = client.get("/api/drafts", params={"status": "pending_approval"}, headers=reviewer)
    assert left.json() == []


def test_collector_may_read_but_not_decide(client: TestClient, engine: Engine) -> None:
    collector = token(engine, "li", "collector")
    assert client.get("/api/drafts", headers=collector).status_code == 200
    assert client.post("/api/drafts/1/approve", headers=collector).status_code == 403


def test_unknown_draft_is_404(client: TestClient, reviewer: dict[str, str]) -> None:
    assert client.post("/api/drafts/999/approve", headers=reviewer).status_code == 404


@pytest.mark.parametrize(
    "subject", ["Invoice\r\nBcc: someone@example.com", "Invoice\nreminder", "x" * 201, "  "]
)
def test_an_edited_subject_that_would_break_the_email_headers_is_refused(
    client: TestClient, reviewer: dict[str, str], portfolio: list[int], subject: str
) -> None:
    email_id = next(
        i for i in portfolio
        if client.get(f"/api/drafts/{i}", headers=reviewer).json()["channel"] == "email"
    )  # fmt: skip
    before = client.get(f"/api/drafts/{email_id}", headers=reviewer).json()
    change = {"body": before["body"], "subject": subject}
    refused = client.patch(f"/api/drafts/{email_id}", json=change, headers=reviewer)
    assert refused.status_code == 422
    assert "subject" in refused.json()["detail"]
    after = client.get(f"/api/drafts/{email_id}", headers=reviewer).json()
    assert after["subject"] == before["subject"] and after["edits"] == []
