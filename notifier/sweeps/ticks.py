"""Sweep ticks: one row per (sweep, slot), so that processes waking for the same tick of
the clock run the sweep once. A tick left unfinished by a dead process is taken over
after its lease."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

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
