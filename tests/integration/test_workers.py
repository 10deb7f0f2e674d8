"""Several ``notifier worker`` processes on one PostgreSQL split the work and never plan or
send a reminder twice (issue 6): three real workers drain 10,000 approved reminders into
the local Twilio and a real SMTP server, and three ``notifier plan`` processes started at
the same instant draft each (customer, step, cycle) once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, text

from notifier.domain.policy import Policy
from notifier.store.db import make_engine, unit_of_work
from notifier.store.models import Reminder
from tests.fakes.backlog import (
    approved_backlog,
    events_by_reminder,
    overdue_customers,
    reminders_by_id,
    still_to_send,
)
from tests.fakes.smtp_servers import recording_smtp_server
from tests.fakes.twilio_fake import TwilioFake
from tests.fakes.workers import (
    ROOT,
    WORKER_SECRET_KEY,
    WorkerPool,
    policy_copy,
    worker_env,
)
from tests.support import run

BACKLOG = 10_000
DRAIN_TIMEOUT_S = 240
WORKERS = 3


def test_three_workers_on_one_postgresql_send_ten_thousand_reminders_each_exactly_once(
    pg_url: str, policy: Policy, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    planted = approved_backlog(engine, BACKLOG, datetime.now(UTC), policy, prefix="W")
    by_channel = Counter(p.channel for p in planted)
    assert by_channel == {"sms": BACKLOG // 2, "email": BACKLOG // 2}

    with TwilioFake() as twilio, recording_smtp_server() as smtp:
        twilio.callbacks_enabled = False  # no web app here: statuses stay `sent`
        env = worker_env(twilio=twilio, smtp=smtp, deliver_every_s=1)
        with WorkerPool(pg_url, env, tmp_path) as pool:
            workers = [pool.start() for _ in range(WORKERS)]
            drained = pool.wait_until(lambda: still_to_send(engine) == 0, DRAIN_TIMEOUT_S, every=1)
            assert drained, f"{still_to_send(engine)} still to send\n{pool.logs()}"
            assert [w.stop() for w in workers] == [0] * WORKERS, pool.logs()
        sms, mails = twilio.messages, smtp.mails

    # At the providers: every reminder arrived once, at its own address, with its marker.
    expected = {p.address: p for p in planted}
    sms_to = Counter(m.to for m in sms)
    mail_to = Counter(to for m in mails for to in m.rcpt_tos)
    assert len(sms) == by_channel["sms"] and len(mails) == by_channel["email"]
    assert set(sms_to) | set(mail_to) == set(expected)
    assert max(sms_to.values()) == 1 and max(mail_to.values()) == 1
    assert all(expected[m.to].customer_id in m.body for m in sms)
    assert all(expected[m.rcpt_tos[0]].customer_id in str(m.message["Subject"]) for m in mails)
    message_ids = Counter(str(m.message["Message-ID"]) for m in mails)
    assert len(message_ids) == len(mails)

    # In the database: each one `sent` once, its evidence pointing at what arrived.
    reminders = reminders_by_id(engine)
    sent = events_by_reminder(engine, "sent")
    assert Counter(r.status for r in reminders.values()) == {"sent": BACKLOG}
    assert all(r.claimed_by is None and r.attempts == 1 for r in reminders.values())
    assert {rid: len(events) for rid, events in sent.items()} == dict.fromkeys(reminders, 1)
    sids = {m.sid for m in sms}
    for rid, [event] in sent.items():
        r = reminders[rid]
        assert event.data["provider_id"] == r.provider_id
        assert r.provider_id in (sids if r.channel == "sms" else message_ids)

    # The work was split: each worker (host:pid) sent part of it.
    split = Counter(events[0].data["worker"] for events in sent.values())
    assert {name.rsplit(":", 1)[1] for name in split} == {str(w.pid) for w in workers}
    assert sum(split.values()) == BACKLOG and min(split.values()) > 0
    print(f"split over the workers: {sorted(split.values(), reverse=True)}")
    engine.dispose()


SH = ZoneInfo("Asia/Shanghai")
PLAN_AT = datetime(2026, 3, 2, 8, 0, tzinfo=SH)
PORTFOLIO = 900
PLAN_TIMEOUT_S = 180
PLANNERS = 3


def _waiting_to_insert(engine: Engine) -> int:
    """Sessions waiting for a lock on the reminders table."""
    with engine.connect() as connection:
        return int(connection.scalar(text(WAITING)) or 0)


WAITING = """SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE c.relname = 'reminders' AND NOT l.granted"""


def test_three_planners_at_the_same_instant_draft_each_step_once(pg_url: str) -> None:
    engine = make_engine(pg_url)
    customers = overdue_customers(engine, PORTFOLIO, PLAN_AT, prefix="P")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    clean["NOTIFIER_SECRET_KEY"] = WORKER_SECRET_KEY
    command = [sys.executable, "-m", "notifier", "--db", pg_url, "plan",
               "--at", PLAN_AT.isoformat(), "--json"]  # fmt: skip
    planners: list[subprocess.Popen[str]] = []
    try:
        # The starting gate: the planners read freely, but their INSERTs wait until all
        # three have composed the same drafts; then they race for the same keys.
        with engine.connect() as gate:
            gate.execute(text("LOCK TABLE reminders IN EXCLUSIVE MODE"))
            planners += [
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=clean,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
                for _ in range(PLANNERS)
            ]
            deadline = time.monotonic() + PLAN_TIMEOUT_S
            while _waiting_to_insert(engine) < PLANNERS and time.monotonic() < deadline:
                assert all(p.poll() is None for p in planners), "a planner ended early"
                time.sleep(0.1)
            assert _waiting_to_insert(engine) == PLANNERS
            gate.commit()  # all three go
        outputs = [p.communicate(timeout=PLAN_TIMEOUT_S) for p in planners]
    finally:
        for p in planners:
            p.kill()
            p.wait()
    assert [p.returncode for p in planners] == [0] * PLANNERS, [err for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    drafted = [report["drafted"] for report in reports]
    assert [report["customers"] for report in reports] == [PORTFOLIO] * PLANNERS

    with unit_of_work(engine) as session:
        keys = Counter(
            session.execute(select(Reminder.customer_id, Reminder.step, Reminder.cycle)).all()
        )
    assert len(keys) == PORTFOLIO and max(keys.values()) == 1
    assert {customer for customer, _, _ in keys} == set(customers)
    # Each draft was reported by exactly one planner, with exactly one `drafted` event.
    assert sum(drafted) == PORTFOLIO
    events = events_by_reminder(engine, "drafted")
    assert {rid: len(e) for rid, e in events.items()} == dict.fromkeys(reminders_by_id(engine), 1)
    print(f"drafts per planner: {drafted}; skipped: {[r['skipped'] for r in reports]}")
    engine.dispose()


def test_a_worker_drains_its_backlog_at_start_up_batch_after_batch(
    engine: Engine, db_url: str, policy: Policy, tmp_path: Path
) -> None:
    planted = approved_backlog(engine, 70, datetime.now(UTC), policy, prefix="D",
                               channels=("sms",))  # fmt: skip
    policy_path = policy_copy(tmp_path, batch=20)
    with TwilioFake() as twilio:
        twilio.callbacks_enabled = False
        # The next run would be an hour away: everything must go out in the first one.
        env = worker_env(twilio=twilio, policy_path=policy_path, deliver_every_s=3600)
        with WorkerPool(db_url, env, tmp_path) as pool:
            worker = pool.start()
            assert pool.wait_until(lambda: still_to_send(engine) == 0, 120), pool.logs()
            assert worker.stop() == 0, pool.logs()
        arrived = Counter(m.to for m in twilio.messages)
    assert set(arrived) == {p.address for p in planted} and max(arrived.values()) == 1
    assert "'batches': 4, " in worker.output(20_000)  # 20 + 20 + 20 + 10: one run


def test_worker_refuses_a_delivery_interval_that_is_not_positive(db_url: str) -> None:
    done = run("worker", db=db_url, env={"NOTIFIER_DELIVER_EVERY_SECONDS": "0"}, timeout=60)
    assert done.returncode == 1
    assert "NOTIFIER_DELIVER_EVERY_SECONDS" in done.stderr + done.stdout
