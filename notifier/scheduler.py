"""APScheduler 3.11 as the clock, and nothing more: a handful of sweeps registered in code
at start-up, UTC triggers, coalesced, one instance at a time, with a misfire grace. The
database is the queue; there is never one job per reminder (DESIGN.md).

Several processes may run the same schedule: each sweep claims its (sweep, tick) row, so a
tick runs once across all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from notifier.channels import Channel
from notifier.sweeps.context import SweepContext
from notifier.sweeps.deliver import deliver
from notifier.sweeps.expire import expire
from notifier.sweeps.fallback import fallback
from notifier.sweeps.plan import plan
from notifier.tracking import Tracker

log = logging.getLogger("notifier.scheduler")
Clock = Callable[[], datetime]
MISFIRE_GRACE_S = 300


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


def _deliver_job(engine: Engine, ctx: SweepContext, clock: Clock, wire: Wiring) -> None:
    report = deliver(engine, clock(), ctx, wire.channels(), wire.tracker)
    if report.claimed or report.unknown or report.deferred:
        log.info("deliver: %s", report.as_dict())


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
    engine: Engine, ctx: SweepContext, clock: Clock, wire: Wiring
) -> dict[str, tuple[Callable[[], None], str]]:
    """The sweeps the clock runs, by job id, with their cron minute field."""
    tick = f"*/{ctx.policy.planning.tick_minutes}"
    return {
        "plan": (lambda: _plan_job(engine, ctx, clock), tick),
        "expire": (lambda: _expire_job(engine, ctx, clock), tick),
        "fallback": (lambda: _fallback_job(engine, ctx, clock), tick),
        "deliver": (lambda: _deliver_job(engine, ctx, clock, wire), "*"),  # every minute
    }


def build_scheduler(
    engine: Engine, ctx: SweepContext, wire: Wiring, *, blocking: bool, clock: Clock = utc_now
) -> BaseScheduler:
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone=UTC) if blocking else BackgroundScheduler(timezone=UTC)
    )
    for job_id, (func, minute) in sweeps(engine, ctx, clock, wire).items():
        scheduler.add_job(
            func,
            CronTrigger(minute=minute, timezone=UTC),
            id=job_id,
            name=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_S,
        )
    return scheduler
