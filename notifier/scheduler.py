"""APScheduler 3.11 as the clock, and nothing more: a handful of sweeps registered in code
at start-up, UTC triggers, coalesced, one instance at a time, with a misfire grace. The
database is the queue; there is never one job per reminder (DESIGN.md).

Several processes may run the same schedule: each sweep claims its (sweep, tick) row, so a
tick runs once across all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from notifier.sweeps.context import SweepContext
from notifier.sweeps.expire import expire
from notifier.sweeps.plan import plan

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


def sweeps(engine: Engine, ctx: SweepContext, clock: Clock) -> dict[str, Callable[[], None]]:
    """The sweeps the clock runs, by job id."""
    return {
        "plan": lambda: _plan_job(engine, ctx, clock),
        "expire": lambda: _expire_job(engine, ctx, clock),
    }


def build_scheduler(
    engine: Engine, ctx: SweepContext, *, blocking: bool, clock: Clock = utc_now
) -> BaseScheduler:
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone=UTC) if blocking else BackgroundScheduler(timezone=UTC)
    )
    minutes = ctx.policy.planning.tick_minutes
    for job_id, func in sweeps(engine, ctx, clock).items():
        scheduler.add_job(
            func,
            CronTrigger(minute=f"*/{minutes}", timezone=UTC),
            id=job_id,
            name=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_S,
        )
    return scheduler
