"""Sweep ticks: one row per (sweep, slot), so that processes waking for the same tick of
the clock run the sweep once. A tick left unfinished by a dead process is taken over
after its lease.

The scheduler's plan, fallback and expire runs each claim their (sweep, tick) row; its
delivery runs (every worker, every minute, by design) are recorded after the run under
``deliver`` at the minute they ran. Runs from the command line (``notifier plan --at ..``)
are recorded too, under ``cli:<sweep>`` at their exact instant (never a tick the
scheduler would then skip). The newest recorded instant of a sweep, whoever ran it, is
what a later replay is checked against."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from notifier.domain.errors import Conflict
from notifier.store.bulk import insert_ignoring_conflicts
from notifier.store.db import unit_of_work
from notifier.store.models import SweepTick

LEASE = timedelta(minutes=15)


def claim_tick(engine: Engine, sweep: str, slot: datetime, now: datetime, worker: str) -> bool:
    """True when this process should run ``sweep`` for ``slot``."""
    try:
        with unit_of_work(engine) as session:
            session.add(SweepTick(sweep=sweep, slot=slot, started_at=now, worker=worker))
        return True
    except IntegrityError:
        pass
    with unit_of_work(engine) as session:
        taken = session.execute(
            update(SweepTick)
            .where(
                col(SweepTick.sweep) == sweep,
                col(SweepTick.slot) == slot,
                col(SweepTick.finished_at).is_(None),
                col(SweepTick.started_at) < now - LEASE,
            )
            .values(started_at=now, worker=worker)
        )
        return bool(taken.rowcount)  # type: ignore[attr-defined]


def finish_tick(
    engine: Engine, sweep: str, slot: datetime, now: datetime, report: dict[str, Any]
) -> None:
    with unit_of_work(engine) as session:
        session.execute(
            update(SweepTick)
            .where(col(SweepTick.sweep) == sweep, col(SweepTick.slot) == slot)
            .values(finished_at=now, report=report)
        )


def last_ticks(engine: Engine, sweep: str, limit: int = 10) -> list[SweepTick]:
    with unit_of_work(engine) as session:
        return list(
            session.scalars(
                select(SweepTick)
                .where(col(SweepTick.sweep) == sweep)
                .order_by(col(SweepTick.slot).desc())
                .limit(limit)
            )
        )


class ReplayRefused(Conflict):
    """A run as at an instant earlier than one the sweep already ran at."""


def record_run(
    engine: Engine, sweep: str, at: datetime, worker: str, report: dict[str, Any]
) -> None:
    """A command-line run of ``sweep`` as at ``at``, finished, with its report. Two runs
    at the same instant keep the first row."""
    record_tick(engine, f"cli:{sweep}", at, worker, report)


def record_tick(
    engine: Engine, sweep: str, slot: datetime, worker: str, report: dict[str, Any]
) -> None:
    """A finished run of ``sweep`` at ``slot`` that claimed no tick beforehand (the
    command line's runs; the scheduler's delivery runs, which several workers make at
    once by design). A second row for the same slot is ignored: the first one stays."""
    row = {"sweep": sweep, "slot": slot, "started_at": slot, "finished_at": slot,
           "worker": worker[:100], "report": report}  # fmt: skip
    with unit_of_work(engine) as session:
        insert_ignoring_conflicts(session, SweepTick.__table__, [row], ("sweep", "slot"))  # type: ignore[attr-defined]


def newest_tick(engine: Engine, sweep: str) -> datetime | None:
    """The latest instant ``sweep`` ran at: the scheduler's ticks and the command line's."""
    with unit_of_work(engine) as session:
        newest: datetime | None = session.scalar(
            select(func.max(col(SweepTick.slot))).where(
                col(SweepTick.sweep).in_((sweep, f"cli:{sweep}"))
            )
        )
    return newest


def refuse_replay(engine: Engine, sweep: str, at: datetime) -> None:
    """:class:`ReplayRefused` when ``sweep`` already ran as at an instant later than
    ``at``: run as at the past, it would undo what it did since (the planner would cancel
    the drafts of items that did not exist yet at ``at``)."""
    newest = newest_tick(engine, sweep)
    if newest is None or at >= newest:
        return
    shown = newest.astimezone(at.tzinfo).isoformat()
    raise ReplayRefused(
        f"refusing to run {sweep} as at {at.isoformat()}: the newest {sweep} tick recorded is "
        f"{shown}, later than that, and a run as at an earlier instant would undo what "
        f"was done since. To see what it would do, add --dry-run (nothing is written)."
    )
