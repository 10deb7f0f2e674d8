"""Safe replays (issue 11, item 5), through the real `notifier` command on SQLite and
PostgreSQL: `--dry-run` prints the sweep's report and writes nothing (deliver calls no
channel), and a run that writes as at an instant earlier than the newest one the sweep
already ran at is refused, pointing to `--dry-run`.

The portfolio is the demo's (scripts/demo_data.py, `make demo`), with its dates moved to
2026-06-01 so that the tests do not depend on the day they run."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.store.db import dry_run, make_engine, unit_of_work
from notifier.store.models import Event, Reminder, SweepTick
from notifier.sweeps.plan import plan
from tests.fakes.postgres import Server
from tests.support import ROOT, run, sweep_context

TODAY = "2026-06-01"  # a Monday, 13 weeks after the samples' reference day
PLANNED = "2026-06-01T08:00:00+08:00"
PAST = "2026-03-02T08:00:00+08:00"  # the replay: before the demo's invoices exist
PASSWORD = "long enough pw"


def _ok(*args: str, db: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = run(*args, db=db, env=env)
    assert result.returncode == 0, (args, result.stderr)
    return result


def _json(*args: str, db: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(_ok(*args, "--json", db=db, env=env).stdout)


def build_demo(url: str, data: Path) -> str:
    """What `make demo` does, on ``url``: the demo data, imported and planned."""
    subprocess.run([sys.executable, "scripts/demo_data.py", str(data), "--today", TODAY],
                   cwd=ROOT, check=True, capture_output=True)  # fmt: skip
    _ok("init", db=url)
    for kind in ("customers", "receivables", "payments"):
        _ok("import", kind, str(data / f"{kind}.csv"), db=url)
    _ok("plan", "--at", PLANNED, db=url)
    _ok("user", "add", "wang", "--role", "reviewer", "--password", PASSWORD, db=url)
    return url


@pytest.fixture(scope="module")
def demo_once(
    store: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    data = tmp_path_factory.mktemp("demo-data")
    if store == "postgresql":
        server: Server = request.getfixturevalue("postgres_server")
        with server.database() as url:
            yield build_demo(url, data)
    else:
        yield build_demo(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}", data)


@pytest.fixture
def demo(demo_once: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A copy of the planned demo database for one test."""
    source = make_url(demo_once)
    if source.get_backend_name() == "postgresql":
        server: Server = request.getfixturevalue("postgres_server")
        with server.database(template=str(source.database)) as url:
            yield url
        return
    target = tmp_path / "demo.db"
    with (
        closing(sqlite3.connect(str(source.database))) as original,
        closing(sqlite3.connect(target)) as copy,
    ):
        original.backup(copy)
    yield f"sqlite:///{target}"


def snapshot(url: str) -> tuple[list[tuple[Any, ...]], int, int]:
    """Every reminder's id, status and version; the number of events and of ticks."""
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            reminders = c.execute(
                select(col(Reminder.id), col(Reminder.status), col(Reminder.version),
                       col(Reminder.slot_start)).order_by(col(Reminder.id))
            ).all()  # fmt: skip
            events = c.scalar(select(func.count()).select_from(Event)) or 0
            ticks = c.scalar(select(func.count()).select_from(SweepTick)) or 0
    finally:
        engine.dispose()
    return [tuple(r) for r in reminders], events, ticks


def test_replaying_a_past_instant_is_refused_naming_the_newest_tick_and_the_queue_survives(
    demo: str,
) -> None:
    before = snapshot(demo)
    pending = [r for r in before[0] if r[1] == "pending_approval"]
    assert pending, "the demo portfolio has drafts pending approval after planning"
    refused = run("plan", "--at", PAST, db=demo)
    assert refused.returncode == 1
    assert "newest plan tick recorded is 2026-06-01T08:00:00+08:00" in refused.stderr
    assert "--dry-run" in refused.stderr and "Traceback" not in refused.stderr
    assert snapshot(demo) == before


def test_a_dry_run_of_the_past_reports_the_cancellations_and_writes_nothing(demo: str) -> None:
    before = snapshot(demo)
    report = _json("plan", "--at", PAST, "--dry-run", db=demo)
    # What the issue saw the planner do to the queue, now only reported.
    assert report["dry_run"] is True and report["cancelled"] >= 1
    assert report["skipped"]["settled"] >= report["customers"] - 2
    assert snapshot(demo) == before
    text_report = _ok("plan", "--at", PAST, "--dry-run", db=demo).stdout
    assert f"{report['cancelled']} cancelled" in text_report
    assert text_report.rstrip().endswith("dry run: nothing was written")
    assert snapshot(demo) == before
    # Without the record of the newest run (a database from before it was kept), the
    # replay does for real what the dry run said, and today's drafts are gone.
    engine = make_engine(demo)
    try:
        with engine.begin() as c:
            c.execute(text("DELETE FROM sweep_ticks"))
    finally:
        engine.dispose()
    done = _json("plan", "--at", PAST, db=demo)
    assert {k: v for k, v in report.items() if k != "dry_run"} == done
    cancelled = [r for r in snapshot(demo)[0] if r[1] == "cancelled"]
    assert len(cancelled) == report["cancelled"]


def test_a_dry_run_reports_what_the_real_run_then_does(demo: str) -> None:
    later = "2026-06-02T08:00:00+08:00"
    rehearsed = _json("plan", "--at", later, "--dry-run", db=demo)
    assert snapshot(demo)[2] == 1  # only the planning run of the fixture is recorded
    done = _json("plan", "--at", later, db=demo)
    assert {k: v for k, v in rehearsed.items() if k != "dry_run"} == done
    assert snapshot(demo)[2] == 2  # the run that wrote is recorded: the next replay sees it
    assert run("plan", "--at", PLANNED, db=demo).returncode == 1
    again = _ok("plan", "--at", later, db=demo)  # the same instant again: nothing new
    assert "0 drafts" in again.stdout


def test_deliver_dry_run_calls_no_channel_writes_nothing_and_predicts_the_send(
    demo: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "out"
    env = {"NOTIFIER_DELIVERY_MODE": "capture", "NOTIFIER_CAPTURE_DIR": str(outbox)}
    _ok("approve", "--all", "--as", "wang", "--at", PLANNED, db=demo)
    approved = [r for r in snapshot(demo)[0] if r[1] == "approved"]
    first = min(r[3] for r in approved)
    at = (first.astimezone(UTC) + timedelta(minutes=1)).isoformat()
    before = snapshot(demo)
    rehearsed = _json("deliver", "--at", at, "--dry-run", db=demo, env=env)
    assert rehearsed["dry_run"] is True and rehearsed["sent"] >= 1
    assert len(rehearsed["would_send"]) == rehearsed["sent"]
    assert not outbox.exists(), "a dry run hands nothing to a channel"
    assert snapshot(demo) == before
    done = _json("deliver", "--at", at, db=demo, env=env)
    assert done["sent"] == rehearsed["sent"]
    assert len(list(outbox.rglob("*.json"))) == done["sent"]
    sent = {r[0] for r in snapshot(demo)[0] if r[1] == "sent"}
    assert sent == {m["reminder_id"] for m in rehearsed["would_send"]}
    earlier = run("deliver", "--at", PLANNED, db=demo, env=env)
    assert earlier.returncode == 1 and "newest deliver tick" in earlier.stderr


def test_expire_and_fallback_dry_runs_write_nothing_and_expire_then_does_it(demo: str) -> None:
    week_later = "2026-06-08T12:00:00+08:00"
    before = snapshot(demo)
    pending = sum(1 for r in before[0] if r[1] == "pending_approval")
    rehearsed = _json("expire", "--at", week_later, "--dry-run", db=demo)
    assert rehearsed == {"at": week_later, "expired": pending, "dry_run": True}
    follow = _json("fallback", "--at", week_later, "--dry-run", db=demo)
    assert follow["dry_run"] is True and follow["drafted"] == 0  # no e-mail went out
    assert snapshot(demo) == before
    assert "expired at" in _ok("expire", "--at", week_later, "--dry-run", db=demo).stdout
    assert _json("expire", "--at", week_later, db=demo)["expired"] == pending
    # Call tasks wait for no approval: the planner carries them to a later window or
    # expires them after the windows it offers (sweeps/calls.py), never this sweep.
    calls = sum(1 for r in before[0] if r[1] == "to_call")
    after = [r[1] for r in snapshot(demo)[0]]
    assert set(after) <= {"expired", "to_call"} and after.count("to_call") == calls
    assert after.count("expired") == len(after) - calls
    assert run("expire", "--at", PLANNED, db=demo).returncode == 1


def test_the_schedulers_ticks_guard_the_replay_and_its_own_runs_are_not_checked(
    demo: str, policy: Policy
) -> None:
    engine = make_engine(demo)
    try:
        tomorrow = datetime.fromisoformat("2026-06-02T09:00:00+08:00")
        assert plan(engine, tomorrow, sweep_context(policy)).ran  # as the scheduler runs it
        refused = run("plan", "--at", "2026-06-02T08:00:00+08:00", db=demo)
        assert refused.returncode == 1
        assert "newest plan tick recorded is 2026-06-02T09:00:00+08:00" in refused.stderr
        # The scheduler itself runs at its clock's now and is never refused.
        assert plan(engine, tomorrow - timedelta(hours=1), sweep_context(policy)).ran
    finally:
        engine.dispose()


def test_units_of_work_in_a_dry_run_see_each_other_and_nothing_persists(engine: Engine) -> None:
    at = datetime(2026, 6, 1, tzinfo=UTC)
    with dry_run(engine):
        with unit_of_work(engine) as s:
            s.add(Event(at=at, kind="import", data={}))
        with unit_of_work(engine) as s:
            assert s.scalar(select(func.count()).select_from(Event)) == 1
        with pytest.raises(ZeroDivisionError), unit_of_work(engine) as s:
            s.add(Event(at=at, kind="import", data={}))
            s.flush()
            _ = 1 / 0  # a unit that fails inside a dry run is undone alone
        with unit_of_work(engine) as s:
            assert s.scalar(select(func.count()).select_from(Event)) == 1
    with engine.connect() as c:
        assert c.scalar(text("SELECT count(*) FROM events")) == 0
    with unit_of_work(engine) as s:  # and the engine writes for real again afterwards
        s.add(Event(at=at, kind="import", data={}))
    with engine.connect() as c:
        assert c.scalar(text("SELECT count(*) FROM events")) == 1
