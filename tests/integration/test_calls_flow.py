"""Issue 14, on SQLite and PostgreSQL: a collector's day replayed with ``--at``. The
B-tier customer's mid-term call lands on its collector's list at 14:00; "promised
2026-03-20" pauses everything; the broken promise resumes the messages one step firmer;
a second vague answer escalates to the manager; a wrong number stops the phone; a
dispute sets its part aside; no answer is retried at the next window and a call nobody
made is carried, then expired; delivery never sends a call; D24's thanks and feedback
call a week after settling. Then the same through the CLI, the JSON API and the page."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlmodel import col

from notifier.channels.capture import CaptureChannel
from notifier.domain.errors import Conflict, Forbidden, NotFound, Refused
from notifier.domain.policy import Policy
from notifier.services import calls
from notifier.services.users import add_user
from notifier.store import reminders as store_reminders
from notifier.store.db import unit_of_work
from notifier.store.models import (
    CallOutcome,
    Customer,
    Dispute,
    Event,
    Payment,
    PaymentPromise,
    Receivable,
    Reminder,
    User,
)
from notifier.sweeps.deliver import deliver
from notifier.sweeps.plan import plan
from notifier.tracking import Tracker
from notifier.words import words
from tests.support import run, sweep_context, web_login

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
STAMPS = {"created_at": T0, "updated_at": T0}
PASSWORD = "long enough pw"
TRACKER = Tracker("t" * 40, "https://notifier.example")


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


@pytest.fixture
def day(engine: Engine, policy: Policy) -> Engine:
    """B1 (tier B by hand, collector li): 20,000 issued 2026-02-16, due 2026-03-20, so the
    middle of its term is Wednesday 2026-03-04. A1 (tier A, li): 12,000 due 2026-02-20, at
    day +10 on 2026-03-02 (a Monday). Users: li (collector), zhao (manager), wu
    (another collector)."""
    with unit_of_work(engine) as s:
        s.add(
            Customer(
                id="B1",
                name="上海宏达贸易有限公司",
                kind="business",
                phone="+8613912345678",
                email="ap@hongda.example",
                tier="B",
                tier_hand_set=True,
                collector="li",
                **STAMPS,
            )
        )
        s.add(
            Customer(
                id="A1",
                name="杭州云帆科技有限公司",
                kind="business",
                phone="+8615012345678",
                email="ar@yunfan.example",
                tier="A",
                tier_hand_set=True,
                collector="li",
                **STAMPS,
            )
        )
        s.flush()
        s.add(
            Receivable(
                id="B1-1",
                customer_id="B1",
                amount_cents=2_000_000,
                issued_on=date(2026, 2, 16),
                due_on=date(2026, 3, 20),
                **STAMPS,
            )
        )
        s.add(
            Receivable(
                id="A1-1",
                customer_id="A1",
                amount_cents=1_200_000,
                issued_on=date(2026, 1, 21),
                due_on=date(2026, 2, 20),
                **STAMPS,
            )
        )
        for name, role in (("li", "collector"), ("zhao", "manager"), ("wu", "collector")):
            s.add(User(name=name, role=role, created_at=T0))
    return engine


def planned(engine: Engine, policy: Policy, now: datetime) -> None:
    plan(engine, now, sweep_context(policy), force=True)


def tasks(
    engine: Engine, policy: Policy, now: datetime, collector: str | None = "li"
) -> list[dict[str, object]]:
    with unit_of_work(engine) as s:
        found = calls.list_calls(s, calls.CallFilter(collector=collector, at=now), policy)
        return [calls.call_json(r, c) for r, c in found]


def record(
    engine: Engine,
    policy: Policy,
    task: int,
    outcome: str,
    now: datetime,
    by: str = "li",
    **kw: object,
) -> calls.Recorded:
    with unit_of_work(engine) as s:
        user = s.get(User, by)
        assert user is not None
        return calls.record_outcome(
            s,
            task,
            calls.OutcomeInput(outcome, **kw),
            user,
            now,  # type: ignore[arg-type]
            policy,
            sweep_context(policy).calendar,
        )


def reminders_of(engine: Engine, customer: str) -> list[Reminder]:
    with unit_of_work(engine) as s:
        return list(
            s.scalars(
                select(Reminder)
                .where(col(Reminder.customer_id) == customer)
                .order_by(col(Reminder.id))
            )
        )


def test_the_b_tier_mid_term_call_is_on_its_collectors_list_at_14_00(
    day: Engine, policy: Policy
) -> None:
    planned(day, policy, at(4, 8))  # Wednesday, the middle of B1's term
    [task] = [t for t in tasks(day, policy, at(4, 8)) if t["customer_id"] == "B1"]
    assert task["step"] == "mid_term_call" and task["status"] == "to_call"
    assert task["slot_start"] == "2026-03-04T06:00:00Z"  # 14:00 in Shanghai
    assert task["slot_end"] == "2026-03-04T08:00:00Z"  # until 16:00
    assert task["collector"] == "li" and "B1-1" in str(task["talking_points"])
    assert tasks(day, policy, at(4, 8), collector="wu") == []  # not wu's list
    # a call needs no reviewer: it is not a draft waiting for approval
    assert all(r.status == "to_call" for r in reminders_of(day, "B1"))


def test_a_promise_on_the_call_pauses_everything_and_a_broken_one_resumes_one_step_firmer(
    day: Engine, policy: Policy
) -> None:
    planned(day, policy, at(2, 8))  # A1 at day +10: the offer e-mail and the offer call
    live = {r.step: r for r in reminders_of(day, "A1")}
    assert live["offer"].status == "pending_approval" and live["offer_call"].status == "to_call"
    done = record(
        day,
        policy,
        live["offer_call"].id or 0,
        "promised",
        at(2, 14, 30),
        promised_on=date(2026, 3, 20),
        amount=None,
        note="月底前付",
    )
    assert any("pause" in e for e in done.effects)
    after = {r.step: r.status for r in reminders_of(day, "A1")}
    assert after == {"offer": "cancelled", "offer_call": "called"}
    planned(day, policy, at(10, 8))  # paused: nothing new while the promise holds
    assert {r.step for r in reminders_of(day, "A1")} == {"offer", "offer_call"}
    planned(day, policy, at(23, 8))  # broken: day +31's rung, one firmer than instalment_offer
    new = [r for r in reminders_of(day, "A1") if r.step not in ("offer", "offer_call")]
    with unit_of_work(day) as s:
        [p] = s.scalars(select(PaymentPromise)).all()
        assert p.status == "broken"
    assert [r.step for r in new] == ["consequences"]
    assert new[0].facts["firmer_by"] == 1


def test_a_second_vague_answer_escalates_to_the_manager(day: Engine, policy: Policy) -> None:
    planned(day, policy, at(2, 8))
    [task] = [t for t in tasks(day, policy, at(2, 8)) if t["customer_id"] == "A1"]
    first = record(day, policy, int(str(task["id"])), "no_answer", at(2, 15))
    assert first.effects[0].startswith("retried at 2026-03-03T06:00:00")  # the next afternoon
    assert first.task.status == "to_call" and first.task.attempts == 1
    once = record(day, policy, int(str(task["id"])), "in_process", at(3, 14, 30), note="正在走流程")
    assert once.effects == ("vague answer 1 of 2",)
    with unit_of_work(day) as s:  # the next call of the cycle: another vague answer
        r = s.get(Reminder, int(str(task["id"])))
        assert r is not None
        s.add(
            Reminder(
                **{
                    **r.model_dump(exclude={"id"}),
                    "step": "final_call",
                    "status": "to_call",
                    "version": 1,
                }
            )
        )
    with unit_of_work(day) as s:
        second_id = s.scalar(select(col(Reminder.id)).where(col(Reminder.step) == "final_call"))
    twice = record(day, policy, int(second_id or 0), "in_process", at(4, 14, 30))
    assert "escalated to manager" in twice.effects[0]
    with unit_of_work(day) as s:
        c = s.get(Customer, "A1")
        assert c is not None and c.collector == "manager" and c.escalated_at is not None
        kinds = [e.kind for e in s.scalars(select(Event).where(col(Event.customer_id) == "A1"))]
        assert kinds.count("call_outcome") == 3 and "escalated" in kinds
        assert len(s.scalars(select(CallOutcome)).all()) == 3


def test_a_wrong_number_stops_the_phone_and_a_dispute_sets_its_part_aside(
    day: Engine, policy: Policy
) -> None:
    planned(day, policy, at(2, 8))
    [a1] = [t for t in tasks(day, policy, at(2, 8)) if t["customer_id"] == "A1"]
    done = record(
        day,
        policy,
        int(str(a1["id"])),
        "disputed",
        at(2, 14, 30),
        amount=None,
        note="货物有质量问题",
    )
    assert "set aside" in done.effects[0]
    with unit_of_work(day) as s:
        [d] = s.scalars(select(Dispute)).all()
        assert d.invoice_id == "A1-1" and d.reason == "货物有质量问题"
    planned(day, policy, at(4, 8))
    [b1] = [t for t in tasks(day, policy, at(4, 8)) if t["customer_id"] == "B1"]
    record(day, policy, int(str(b1["id"])), "wrong_number", at(4, 14, 10))
    with unit_of_work(day) as s:
        c = s.get(Customer, "B1")
        assert c is not None and c.phone_invalid
        assert s.scalar(select(col(Event.kind)).where(col(Event.kind) == "phone_stopped"))


def test_outcomes_are_refused_for_the_wrong_person_a_closed_task_or_missing_facts(
    day: Engine, policy: Policy
) -> None:
    planned(day, policy, at(2, 8))
    [a1] = [t for t in tasks(day, policy, at(2, 8)) if t["customer_id"] == "A1"]
    task = int(str(a1["id"]))
    with pytest.raises(Forbidden, match="li's, not wu's"):
        record(day, policy, task, "reached", at(2, 15), by="wu")
    with pytest.raises(Refused, match="needs the promised date"):
        record(day, policy, task, "promised", at(2, 15))
    with pytest.raises(Refused, match="not a call outcome"):
        record(day, policy, task, "hung_up", at(2, 15))
    with pytest.raises(NotFound, match="no call task"):
        record(day, policy, 99_999, "reached", at(2, 15))
    with unit_of_work(day) as s:  # nothing half written
        assert s.scalars(select(CallOutcome)).all() == []
    record(day, policy, task, "reached", at(2, 15), by="zhao")  # a manager may
    with pytest.raises(Conflict, match="not on the list any more"):
        record(day, policy, task, "refused", at(2, 15, 5))
    with unit_of_work(day) as s:
        assert calls.call_task(s, task).status == "called"
        offer = s.scalar(select(col(Reminder.id)).where(col(Reminder.step) == "offer"))
        with pytest.raises(NotFound):
            calls.call_task(s, int(offer or 0))  # a message is no call task


def test_a_call_nobody_made_is_carried_to_the_next_window_then_expires(
    day: Engine, policy: Policy
) -> None:
    planned(day, policy, at(2, 8))
    [a1] = [t for t in tasks(day, policy, at(2, 8)) if t["customer_id"] == "A1"]
    task = int(str(a1["id"]))
    for n, hour_day in enumerate((2, 3), start=1):
        planned(day, policy, at(hour_day, 16, 30))  # the window is over, nobody called
        [r] = [r for r in reminders_of(day, "A1") if r.id == task]
        assert r.status == "to_call" and r.attempts == n
        assert r.slot_start == at(hour_day + 1, 14).astimezone(UTC)
    planned(day, policy, at(4, 16, 30))  # the third window passed too: expired
    [r] = [r for r in reminders_of(day, "A1") if r.id == task]
    assert r.status == "expired" and "3 window(s)" in (r.reason or "")


def test_a_mornings_call_tasks_are_carried_with_one_read_of_the_call_times(
    day: Engine, policy: Policy
) -> None:
    """The call times (calls planned and made, for the caps) of every task carried in a
    tick are read at once, not once a task: four customers' tasks carried with two reads of
    the calls made in the tick (the batch's own and the carry's; once a task: five)."""
    with unit_of_work(day) as s:
        for n in (2, 3, 4):
            s.add(Customer(id=f"A{n}", name=f"客户{n}", kind="business", tier="A",
                           tier_hand_set=True, phone=f"+861501234567{n}", collector="li",
                           **STAMPS))  # fmt: skip
            s.flush()
            s.add(Receivable(id=f"A{n}-1", customer_id=f"A{n}", amount_cents=1_200_000,
                             issued_on=date(2026, 1, 21), due_on=date(2026, 2, 20),
                             **STAMPS))  # fmt: skip
    planned(day, policy, at(2, 8))
    assert {t["customer_id"] for t in tasks(day, policy, at(2, 8))} >= {"A1", "A2", "A3", "A4"}
    reads: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "call_outcomes" in statement:
            reads.append(statement)

    event.listen(day, "before_cursor_execute", seen)
    try:
        planned(day, policy, at(2, 16, 30))  # every window is over, nobody called
    finally:
        event.remove(day, "before_cursor_execute", seen)
    moved = [r for c in ("A1", "A2", "A3", "A4") for r in reminders_of(day, c)
             if r.channel == "call" and r.attempts == 1]  # fmt: skip
    assert len(moved) == 4
    assert all(r.slot_start == at(3, 14).astimezone(UTC) for r in moved)
    assert len(reads) <= 2  # the batch's own read of calls made, and the carry's


def test_delivery_never_sends_a_call_task(day: Engine, policy: Policy, tmp_path: Path) -> None:
    planned(day, policy, at(2, 8))
    with unit_of_work(day) as s:  # the offer e-mail approved; the call needs no approval
        for r in s.scalars(select(Reminder).where(col(Reminder.status) == "pending_approval")):
            store_reminders.approve(s, r, "zhao", at(2, 8, 30))
    out = tmp_path / "out"
    channels = {name: CaptureChannel(name, out) for name in ("sms", "email")}
    ctx = sweep_context(policy)
    morning = deliver(day, at(2, 9, 30), ctx, channels, TRACKER)  # the e-mail's slot
    afternoon = deliver(day, at(2, 14, 30), ctx, channels, TRACKER)  # the call's window
    assert (morning.sent, afternoon.sent) == (1, 0)
    calls_left = [r for r in reminders_of(day, "A1") if r.channel == "call"]
    assert [(r.status, r.version, r.attempts) for r in calls_left] == [("to_call", 1, 0)]
    assert [p.parent.name for p in out.rglob("*") if p.is_file()] == ["email"]  # it alone


def test_a_week_after_settling_the_thanks_is_drafted_and_the_feedback_call_listed(
    day: Engine, policy: Policy
) -> None:
    planned(day, policy, at(2, 8))  # A1 was in collection (the offer step)
    with unit_of_work(day) as s:
        s.add(
            Payment(
                id="P1",
                invoice_id="A1-1",
                amount_cents=1_200_000,
                paid_on=date(2026, 3, 5),
                **STAMPS,
            )
        )
    planned(day, policy, at(6, 8))
    assert {r.status for r in reminders_of(day, "A1")} == {"cancelled"}
    planned(day, policy, at(12, 8))  # a week after 03-05: Thursday 03-12
    new = {r.step: r for r in reminders_of(day, "A1") if r.cycle == "settled@2026-03-05"}
    assert new["thank_you"].status == "pending_approval" and new["thank_you"].channel == "email"
    assert new["feedback_call"].status == "to_call"
    assert "结清" in new["feedback_call"].body
    planned(day, policy, at(12, 9))
    assert len([r for r in reminders_of(day, "A1") if r.cycle.startswith("settled@")]) == 2


# -- every shell: the CLI, the JSON API, the page ------------------------------------------


def test_the_cli_lists_calls_as_json_and_records_outcomes(
    day: Engine, db_url: str, policy: Policy
) -> None:
    planned(day, policy, at(4, 8))
    listed = run(
        "calls", "--collector", "li", "--at", "2026-03-04T08:00:00+08:00", "--json", db=db_url
    )
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    [b1] = [r for r in rows if r["customer_id"] == "B1"]
    chinese = run("calls", "--collector", "li", "--at", "2026-03-04T08:00:00+08:00",
                  "--locale", "zh-CN", db=db_url).stdout  # fmt: skip
    step = words("zh-CN").step(b1["step"])
    assert f"{step} (第 {b1['windows_offered']} 个时段)" in chinese, chinese
    assert f"共 {len(rows)} 个电话待拨打" in chinese and b1["step"] not in chinese
    assert {
        "id",
        "customer_id",
        "collector",
        "step",
        "slot_start",
        "slot_end",
        "talking_points",
        "status",
    } <= set(b1)
    missing = run("call", str(b1["id"]), "--outcome", "promised", "--as", "li", db=db_url)
    assert missing.returncode == 1 and "--promised-on" in missing.stderr
    done = run(
        "call",
        str(b1["id"]),
        "--outcome",
        "promised",
        "--promised-on",
        "2026-03-20",
        "--amount",
        "20,000.00",
        "--as",
        "li",
        "--at",
        "2026-03-04T14:20:00+08:00",
        db=db_url,
    )
    assert done.returncode == 0, done.stderr
    assert "now called" in done.stdout and "2026-03-20" in done.stdout
    drafts = run("drafts", "--json", db=db_url)
    assert all(r["channel"] != "call" for r in json.loads(drafts.stdout))
    plain = run("calls", "--collector", "li", "--at", "2026-03-04T08:00:00+08:00", db=db_url)
    assert plain.returncode == 0 and "call(s) to make" in plain.stdout


def test_the_api_and_the_page_list_calls_and_take_outcomes(day: Engine, policy: Policy) -> None:
    from notifier.services.users import create_token
    from notifier.settings import Settings
    from notifier.web.app import create_app

    planned(day, policy, at(2, 8))
    with unit_of_work(day) as s:
        add_user(s, "li2", "collector", PASSWORD, T0)
        s.get(Customer, "B1").collector = "li2"  # type: ignore[union-attr]
        s.get(Customer, "A1").collector = "li2"  # type: ignore[union-attr]
        token = create_token(s, "li2", T0)
    app = create_app(Settings(), policy, day, clock=lambda: at(2, 14, 30).astimezone(UTC))
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {token}"}
        got = client.get("/api/calls", headers=auth)
        assert got.status_code == 200, got.text
        [a1] = [r for r in got.json() if r["customer_id"] == "A1"]
        bad = client.post(
            f"/api/calls/{a1['id']}/outcome", headers=auth, json={"outcome": "promised"}
        )
        assert bad.status_code == 422 and "promised date" in bad.text
        ok = client.post(
            f"/api/calls/{a1['id']}/outcome",
            headers=auth,
            json={"outcome": "reached", "note": "will pay"},
        )
        assert ok.status_code == 200 and ok.json()["status"] == "called"
        assert ok.json()["outcomes"][0]["outcome"] == "reached"
        again = client.post(
            f"/api/calls/{a1['id']}/outcome", headers=auth, json={"outcome": "reached"}
        )
        assert again.status_code == 409
        assert (
            client.post(
                "/api/calls/99999/outcome", headers=auth, json={"outcome": "reached"}
            ).status_code
            == 404
        )
        csrf = web_login(client, "li2", PASSWORD, "/calls")
        page = client.get("/calls")
        assert page.status_code == 200
        ids = re.findall(r'data-call="(\d+)"', page.text)
        assert str(a1["id"]) not in ids  # called: off the list
        home = client.get("/home")
        assert 'href="/calls"' in home.text
        if ids:
            posted = client.post(
                f"/calls/{ids[0]}/outcome",
                data={"csrf": csrf, "outcome": "no_answer"},
                follow_redirects=False,
            )
            assert posted.status_code == 303, posted.text
            assert f"/calls?done={ids[0]}" == posted.headers["location"]


def test_a_long_standing_customer_gets_a_holiday_greeting_drafted_before_mid_autumn(
    day: Engine, policy: Policy
) -> None:
    with unit_of_work(day) as s:
        s.add(
            Receivable(
                id="B1-0",
                customer_id="B1",
                amount_cents=500_000,
                issued_on=date(2024, 6, 1),
                due_on=date(2024, 7, 1),
                **STAMPS,
            )
        )
        s.flush()
        s.add(
            Payment(
                id="P0", invoice_id="B1-0", amount_cents=500_000, paid_on=date(2024, 7, 1), **STAMPS
            )
        )
        s.add(
            Payment(
                id="P2",
                invoice_id="B1-1",
                amount_cents=1_500_000,
                paid_on=date(2026, 3, 20),
                **STAMPS,
            )
        )
    planned(day, policy, at(21, 8, month=9))  # 中秋 is 2026-09-25: drafted from the 22nd
    assert [r for r in reminders_of(day, "B1") if r.step.startswith("greeting")] == []
    planned(day, policy, at(22, 8, month=9))
    [greeting] = [r for r in reminders_of(day, "B1") if r.step.startswith("greeting")]
    assert (greeting.step, greeting.cycle) == ("greeting_mid_autumn", "holiday@2026-09-25")
    assert greeting.status == "pending_approval" and greeting.lint == []
    assert "中秋" in (greeting.subject or "") and "¥5,000.00" in greeting.body  # the open part
