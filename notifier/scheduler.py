"""APScheduler 3.11 as the clock, and nothing more: a handful of sweeps registered in code
at start-up, UTC triggers, coalesced, one instance at a time, with a misfire grace. The
database is the queue; there is never one job per reminder (DESIGN.md).

Several processes may run the same schedule: each sweep claims its (sweep, tick) row, so a
tick runs once across all of them; the delivery sweep claims its reminders with a lease.

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
from notifier.sweeps.context import SweepContext
from notifier.sweeps.deliver import DeliverReport, deliver
from notifier.sweeps.expire import expire
from notifier.sweeps.fallback import fallback
from notifier.sweeps.plan import plan
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


def _plan_job(engine: Engine, ctx: SweepContext, clock: Clock) -> None:
    report = plan(engine, clock(), ctx)
    if report.ran:
        log.info("plan: %s drafted, %s cancelled", report.drafted, report.cancelled)


def _expire_job(engine: Engine, ctx: SweepContext, clock: Clock) -> None:
    n = expire(engine, clock(), ctx.policy)
    if n:
        log.info("expire: %s drafts expired", n)


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
    ctx: SweepContext,
    clock: Clock,
    wire: Wiring,
    *,
    budget_s: float,
    stop: threading.Event,
) -> DeliverRun:
    """Delivery sweeps, each at the clock's current instant, until a claim comes back
    short (nothing more is due now), another batch as long as the last one would not end
    within ``budget_s`` seconds, or ``stop`` is set (then the message in hand is finished
    and the rest of the batch released)."""
    run = DeliverRun()
    started = time.monotonic()
    while not stop.is_set():
        began = time.monotonic()
        report = deliver(
            engine, clock(), ctx, wire.channels(), wire.tracker, stop=stop.is_set, clock=clock
        )
        run.add(report)
        ended = time.monotonic()
        if report.claimed < ctx.policy.delivery.batch or report.released:
            break
        if (ended - started) + (ended - began) > budget_s:
            break
    run.seconds = time.monotonic() - started
    return run


def _deliver_job(
    engine: Engine,
    ctx: SweepContext,
    clock: Clock,
    wire: Wiring,
    budget_s: float,
    stop: threading.Event,
) -> None:
    run = drain_deliveries(engine, ctx, clock, wire, budget_s=budget_s, stop=stop)
    if any(run.counts[name] for name in ("claimed", "unknown", "deferred")):
        log.info("deliver: %s", run.as_dict())


def _fallback_job(engine: Engine, ctx: SweepContext, clock: Clock) -> None:
    report = fallback(engine, clock(), ctx)
    if report.drafted:
        log.info("fallback: %s SMS drafted", report.drafted)


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
    return {
        "plan": (lambda: _plan_job(engine, ctx, clock), tick),
        "expire": (lambda: _expire_job(engine, ctx, clock), tick),
        "fallback": (lambda: _fallback_job(engine, ctx, clock), tick),
        "deliver": (lambda: _deliver_job(engine, ctx, clock, wire, budget_s, stopping), every),
    }


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
            func,
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
