"""APScheduler 3.11 as the clock, and nothing more: a handful of sweeps registered in code
at start-up, UTC triggers, coalesced, one instance at a time, with a misfire grace. The
database is the queue; there is never one job per reminder (DESIGN.md).

Several processes may run the same schedule: plan, fallback and expire each claim their
(sweep, tick) row, so a tick runs once across all of them; the delivery sweep claims its
reminders with a lease, and each delivery run is recorded as a ``deliver`` tick of its
minute. The rows are what a later ``--at`` replay is checked against (sweeps/ticks.py):
a replay earlier than a run the scheduler made is refused as one earlier than a CLI run.
Each sweep is built once here with its dependencies bound (sweeps/runs.py).

Every sweep runs once at start-up (a restarted worker does not wait for the next tick).
The delivery sweep wakes every ``deliver_every_seconds`` and drains the backlog: batch
after batch until a claim comes back short or most of the interval is used up. A set
``stop`` event (the process shutting down) ends it after the message in hand; the claims
not started are released for the other workers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from notifier.channels import Channel
from notifier.evidence.seal import seal
from notifier.faults import fault
from notifier.sweeps import reconcile
from notifier.sweeps.context import SweepContext
from notifier.sweeps.deliver import Deliver, DeliverReport
from notifier.sweeps.plan import tick_of
from notifier.sweeps.runs import Expire, Fallback, Plan, Sweep
from notifier.sweeps.ticks import claim_tick, finish_tick, record_tick
from notifier.sweeps.weekly import weekly_job
from notifier.tracking import Tracker

log = logging.getLogger("notifier.scheduler")
Clock = Callable[[], datetime]
MISFIRE_GRACE_S = 300
DEFAULT_DELIVER_EVERY_S = 60.0
# A delivery run stops claiming new batches after this share of its interval, so that it
# ends before the next run is due (that one would be skipped: one instance at a time).
BUDGET_SHARE = 0.9


def utc_now() -> datetime:
    return datetime.now(UTC)


def _plan_job(engine: Engine, sweep: Plan, clock: Clock) -> None:
    report = sweep.run(engine, clock())  # claims and finishes its (plan, tick) row itself
    if report.ran:
        log.info("plan: %s drafted, %s cancelled", report.drafted, report.cancelled)


def run_ticked(
    engine: Engine, sweep: Sweep, now: datetime, ctx: SweepContext
) -> dict[str, Any] | None:
    """``sweep`` at ``now`` once per tick across every process: the (sweep, tick) row is
    claimed first and finished with the report, which also guards a later ``--at``
    replay (sweeps/ticks.py). None when another process has this tick."""
    tick = tick_of(now, ctx.policy.planning.tick_minutes)
    if not claim_tick(engine, sweep.name, tick, now, ctx.worker):
        return None
    report = sweep.run(engine, now).as_dict()
    finish_tick(engine, sweep.name, tick, now, report)
    return report


def _expire_job(engine: Engine, sweep: Expire, ctx: SweepContext, clock: Clock) -> None:
    report = run_ticked(engine, sweep, clock(), ctx)
    if report and report["expired"]:
        log.info("expire: %s drafts expired", report["expired"])


_COUNTED = ("claimed", "sent", "retrying", "deferred", "cancelled", "failed", "unknown",
            "released")  # fmt: skip


@dataclass
class DeliverRun:
    """What one run of the delivery job did, over all its batches."""

    batches: int = 0
    seconds: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def add(self, report: DeliverReport) -> None:
        self.batches += 1
        self.counts.update({name: getattr(report, name) for name in _COUNTED})
        self.by_channel.update(report.by_channel)
        self.problems.extend(p for p in report.problems if p not in self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "seconds": round(self.seconds, 2),
                **{name: self.counts[name] for name in _COUNTED},
                "by_channel": dict(self.by_channel), "problems": self.problems[:20]}  # fmt: skip


def drain_deliveries(
    engine: Engine,
    sweep: Deliver,
    clock: Clock,
    *,
    budget_s: float,
    stop: threading.Event,
) -> DeliverRun:
    """Delivery sweeps, each at the clock's current instant (fresh channels each, opened
    and closed by the sweep), until a claim comes back short (nothing more is due now),
    another batch as long as the last one would not end within ``budget_s`` seconds, or
    ``stop`` is set (then the message in hand is finished and the rest of the batch
    released). The run is recorded as a ``deliver`` tick at the minute of its last batch,
    so that a later ``notifier deliver --at`` earlier than that is refused."""
    run = DeliverRun()
    started = time.monotonic()
    last: datetime | None = None
    while not stop.is_set():
        began = time.monotonic()
        last = clock()
        report = sweep.run(engine, last)
        run.add(report)
        ended = time.monotonic()
        if report.claimed < sweep.ctx.policy.delivery.batch or report.released:
            break
        if (ended - started) + (ended - began) > budget_s:
            break
    run.seconds = time.monotonic() - started
    if last is not None:  # one row a minute whatever the number of workers
        minute = last.astimezone(UTC).replace(second=0, microsecond=0)
        record_tick(engine, sweep.name, minute, sweep.ctx.worker, run.as_dict())
    return run


def _deliver_job(
    engine: Engine, sweep: Deliver, clock: Clock, budget_s: float, stop: threading.Event
) -> None:
    run = drain_deliveries(engine, sweep, clock, budget_s=budget_s, stop=stop)
    if any(run.counts[name] for name in ("claimed", "unknown", "deferred")):
        log.info("deliver: %s", run.as_dict())


def _seal_job(engine: Engine, clock: Clock) -> None:
    """D18: events are written unsealed; each tick links the new ones into their chains."""
    sealed = seal(engine, clock())
    if sealed:
        log.info("seal: %s events sealed", sealed)


def _fallback_job(engine: Engine, sweep: Fallback, ctx: SweepContext, clock: Clock) -> None:
    report = run_ticked(engine, sweep, clock(), ctx)
    if report and report["drafted"]:
        log.info("fallback: %s SMS drafted", report["drafted"])


@dataclass(frozen=True)
class Wiring:
    """How the delivery sweep reaches the world: fresh channels per run, the tracker."""

    channels: Callable[[], Mapping[str, Channel]]
    tracker: Tracker


def sweeps(
    engine: Engine,
    ctx: SweepContext,
    clock: Clock,
    wire: Wiring,
    *,
    deliver_every_s: float = DEFAULT_DELIVER_EVERY_S,
    stop: threading.Event | None = None,
) -> dict[str, tuple[Callable[[], None], BaseTrigger]]:
    """The sweeps the clock runs, by job id, with their triggers (UTC)."""
    tick = CronTrigger(minute=f"*/{ctx.policy.planning.tick_minutes}", timezone=UTC)
    every = IntervalTrigger(seconds=deliver_every_s, timezone=UTC)
    budget_s = deliver_every_s * BUDGET_SHARE
    stopping = stop if stop is not None else threading.Event()
    # Each sweep built once, its dependencies bound; the channels are opened per run.
    planning, expiry, follow_up = Plan(ctx), Expire(ctx.policy), Fallback(ctx)
    delivery = Deliver(ctx, wire.channels, wire.tracker, stop=stopping.is_set, clock=clock)
    return {
        "plan": (lambda: _plan_job(engine, planning, clock), tick),
        "expire": (lambda: _expire_job(engine, expiry, ctx, clock), tick),
        "fallback": (lambda: _fallback_job(engine, follow_up, ctx, clock), tick),
        "seal": (lambda: _seal_job(engine, clock), tick),
        "weekly": (lambda: weekly_job(engine, ctx, clock(), wire.channels), tick),
        # Issue 12: once a day, the planning states against a full recompute.
        "reconcile": (lambda: reconcile.daily_job(engine, ctx, clock()), tick),
        "deliver": (lambda: _deliver_job(engine, delivery, clock, budget_s, stopping), every),
    }


def guarded(job_id: str, func: Callable[[], None]) -> Callable[[], None]:
    """``func`` as a job whose failure is one log line without data (``faults.py``): the
    scheduler's own report of a failed job is its traceback, and a database error's text
    holds the statement's parameters. The job runs again at its next time (the sweeps
    write in transactions of their own: what a failed one began is rolled back)."""

    def job() -> None:
        try:
            func()
        except Exception as exc:
            log.error("%s failed: %s; it runs again at its next time", job_id, fault(exc))

    return job


def build_scheduler(
    engine: Engine,
    ctx: SweepContext,
    wire: Wiring,
    *,
    blocking: bool,
    clock: Clock = utc_now,
    deliver_every_s: float = DEFAULT_DELIVER_EVERY_S,
    stop: threading.Event | None = None,
) -> BaseScheduler:
    """The clock with every sweep registered, each due at once (start-up) and then on its
    trigger. Setting ``stop`` before ``shutdown(wait=True)`` lets a delivery run in
    progress end after the message in hand."""
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone=UTC) if blocking else BackgroundScheduler(timezone=UTC)
    )
    jobs = sweeps(engine, ctx, clock, wire, deliver_every_s=deliver_every_s, stop=stop)
    for job_id, (func, trigger) in jobs.items():
        scheduler.add_job(
            guarded(job_id, func),
            trigger,
            id=job_id,
            name=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_S,
            next_run_time=datetime.now(UTC),  # once at start-up, then on the trigger
        )
    return scheduler
