"""The scheduler's runs guard replays as the command line's do (issue 11, items 3 and 5):
plan, fallback and expire claim their (sweep, tick) row, each delivery run is recorded at
its minute, so `notifier deliver|fallback|expire --at` earlier than a run the scheduler
made is refused. Each sweep is built once with its dependencies bound; the delivery sweep
closes the channels it opened and leaves alone the ones it was handed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.channels import Channel, Outgoing, Receipt
from notifier.channels.base import ChannelLimits
from notifier.domain.policy import Policy
from notifier.scheduler import Wiring, run_ticked, sweeps
from notifier.store.db import unit_of_work
from notifier.store.models import SweepTick
from notifier.sweeps.context import SweepContext
from notifier.sweeps.deliver import Deliver, deliver
from notifier.sweeps.runs import Expire, Fallback
from notifier.tracking import Tracker
from tests.support import run, sweep_context

TRACKER = Tracker("t" * 40, "https://notifier.example")
NOW = datetime.fromisoformat("2026-06-02T09:07:30+08:00")


class Recording:
    """A channel that counts how often it was closed (and never sends anything here)."""

    limits = ChannelLimits()

    def __init__(self, name: str) -> None:
        self.name, self.closed = name, 0

    def send(self, message: Outgoing) -> Receipt:
        raise AssertionError("nothing is due in these tests")

    def close(self) -> None:
        self.closed += 1


def _context(policy: Policy, worker: str) -> SweepContext:
    ctx = sweep_context(policy)
    return SweepContext(ctx.policy, ctx.calendar, ctx.renderer, worker=worker)


def _run_scheduler_jobs(engine: Engine, ctx: SweepContext, opened: list[Recording]) -> None:
    def open_channels() -> Mapping[str, Channel]:
        opened.append(Recording("sms"))
        return {"sms": opened[-1]}

    jobs = sweeps(engine, ctx, lambda: NOW, Wiring(open_channels, TRACKER),
                  stop=threading.Event())  # fmt: skip
    for name in ("plan", "deliver", "fallback", "expire"):
        jobs[name][0]()


def _ticks(engine: Engine) -> dict[str, list[tuple[datetime, str]]]:
    with unit_of_work(engine) as s:
        rows = s.execute(
            select(col(SweepTick.sweep), col(SweepTick.slot), col(SweepTick.worker))
        ).all()
    found: dict[str, list[tuple[datetime, str]]] = {}
    for sweep, slot, worker in rows:
        found.setdefault(sweep, []).append((slot, worker))
    return found


def test_every_scheduled_sweep_leaves_a_tick_and_opened_channels_are_closed(
    engine: Engine, policy: Policy
) -> None:
    opened: list[Recording] = []
    _run_scheduler_jobs(engine, _context(policy, "w1"), opened)
    ticks = _ticks(engine)
    assert set(ticks) >= {"plan", "deliver", "fallback", "expire"}
    tick = NOW.replace(minute=0, second=0)  # the planning tick (15 minutes as shipped)
    for sweep in ("fallback", "expire"):
        [(slot, worker)] = ticks[sweep]
        assert slot == tick and worker == "w1"
    [(minute, _)] = ticks["deliver"]
    assert minute == NOW.replace(second=0)  # the minute of the run
    assert opened and all(channel.closed == 1 for channel in opened)


def test_a_second_worker_waking_for_the_same_tick_does_not_run_fallback_or_expire_again(
    engine: Engine, policy: Policy
) -> None:
    first, second = _context(policy, "w1"), _context(policy, "w2")
    for sweep in (Fallback(first), Expire(policy)):
        assert run_ticked(engine, sweep, NOW, first) is not None
    for sweep in (Fallback(second), Expire(policy)):
        assert run_ticked(engine, sweep, NOW + timedelta(minutes=1), second) is None
    # the next tick is anyone's
    assert run_ticked(engine, Expire(policy), NOW + timedelta(minutes=15), second) == {
        "at": (NOW + timedelta(minutes=15)).isoformat(), "expired": 0
    }  # fmt: skip


@pytest.mark.parametrize("sweep", ["deliver", "fallback", "expire"])
def test_a_replay_earlier_than_the_schedulers_run_is_refused_and_a_dry_run_is_not(
    engine: Engine, db_url: str, policy: Policy, sweep: str
) -> None:
    _run_scheduler_jobs(engine, _context(policy, "w1"), [])
    earlier = (NOW - timedelta(hours=1)).isoformat()
    refused = run(sweep, "--at", earlier, db=db_url)
    assert refused.returncode == 1
    assert f"refusing to run {sweep} as at {earlier}" in refused.stderr
    assert "--dry-run" in refused.stderr and "Traceback" not in refused.stderr
    assert run(sweep, "--at", earlier, "--dry-run", db=db_url).returncode == 0
    later = (NOW + timedelta(hours=1)).isoformat()
    assert run(sweep, "--at", later, db=db_url).returncode == 0


def test_the_delivery_function_leaves_the_callers_channels_open_and_the_sweep_closes_its_own(
    engine: Engine, policy: Policy
) -> None:
    ctx = _context(policy, "w1")
    handed = Recording("sms")
    deliver(engine, NOW, ctx, {"sms": handed}, TRACKER)
    assert handed.closed == 0  # not the function's to close: its caller opened it
    made: list[Recording] = []

    def fresh() -> Mapping[str, Channel]:
        made.append(Recording("sms"))
        return {"sms": made[-1]}

    sweep = Deliver(ctx, fresh, TRACKER)
    sweep.run(engine, NOW)
    sweep.run(engine, NOW)
    assert [c.closed for c in made] == [1, 1]  # fresh channels per run, each closed once


def test_a_failing_job_is_one_log_line_without_its_data_and_the_others_still_run(
    engine: Engine, policy: Policy, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A database error's text holds the statement's parameters (phones, e-mails): a job
    that fails logs its type and where, never its text or traceback, and the next job of
    the same scheduler runs as usual."""
    import notifier.scheduler as scheduler_module

    def broken(*_args: object) -> None:
        raise RuntimeError("INSERT INTO customers VALUES ('+8613912345678', 'li@x.example')")

    monkeypatch.setattr(scheduler_module, "_plan_job", broken)
    clock = scheduler_module.build_scheduler(
        engine, _context(policy, "w1"), Wiring(lambda: {}, TRACKER), blocking=False,
        clock=lambda: NOW,
    )  # fmt: skip
    jobs = {job.id: job for job in clock.get_jobs()}
    with caplog.at_level(logging.INFO):
        jobs["plan"].func()
        jobs["expire"].func()
    [failed] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    line = failed.getMessage()
    assert line.startswith("plan failed: RuntimeError at scheduler.py:")  # where, in the package
    assert failed.exc_info is None and "8613912345678" not in caplog.text
    assert "li@x.example" not in caplog.text
    assert [slot for slot, _ in _ticks(engine)["expire"]]  # the next job ran
