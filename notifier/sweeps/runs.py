"""The sweeps as the scheduler and the command line run them: each one ``run(engine,
now) -> report``, with its dependencies (policy, calendar, renderer, channels) bound when
it is built, once per process by the scheduler and once per command by the CLI.

    Plan(ctx)                                  sweeps/plan.py (claims its own tick)
    Deliver(ctx, open_channels, tracker, ...)  sweeps/deliver.py (opens and closes them)
    Fallback(ctx)                              sweeps/fallback.py
    Expire(policy)                             sweeps/expire.py

Every report has ``as_dict()``: what a tick (sweeps/ticks.py) records and ``--json``
prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from sqlalchemy import Engine

from notifier.sweeps.context import SweepContext
from notifier.sweeps.deliver import Deliver
from notifier.sweeps.expire import Expire
from notifier.sweeps.fallback import Fallback
from notifier.sweeps.plan import PlanReport, plan

__all__ = ["Deliver", "Expire", "Fallback", "Plan", "Report", "Sweep"]


class Report(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


class Sweep(Protocol):
    name: ClassVar[str]

    def run(self, engine: Engine, now: datetime) -> Report: ...


@dataclass(frozen=True)
class Plan:
    """The planning sweep. ``force``: run whatever tick the clock is at (the command
    line); without it the run claims its (plan, tick) row first, so that processes waking
    for the same tick plan once (the scheduler)."""

    ctx: SweepContext
    force: bool = False
    batch: int = 1000
    name: ClassVar[str] = "plan"

    def run(self, engine: Engine, now: datetime) -> PlanReport:
        return plan(engine, now, self.ctx, batch=self.batch, force=self.force)
