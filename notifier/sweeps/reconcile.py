"""The daily reconciliation of incremental planning (issue 12): recompute, for every
customer, when it next needs the planner, from its data as it is (set-based reads, a
batch of customers per transaction, no text rendered, nothing drafted), and compare with
``planner_due``.

A stored instant later than the recomputed one (or none stored) is a miss: the planner
would have looked too late. It is repaired (moved earlier, never later: an earlier look
is always safe) and reported by customer id. A stored instant earlier than needed costs a
look that finds nothing; those are only counted. A customer marked "recompute now" is
left alone (its change is waiting for the next tick)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, bindparam, or_, select, update
from sqlmodel import col

from notifier.domain.standing import EarlierReminders, SlotMemo, standing_of
from notifier.store import planning
from notifier.store.db import unit_of_work
from notifier.store.models import PlannerDue
from notifier.store.queries import customer_rows, portfolio_outstanding
from notifier.store.types import UTCDateTime
from notifier.sweeps.calls import beside
from notifier.sweeps.context import SweepContext
from notifier.sweeps.next_due import Live, next_look, with_portfolio
from notifier.sweeps.plan import _load, _promise_fact, overdue_live
from notifier.sweeps.ticks import claim_tick, finish_tick

log = logging.getLogger("notifier.reconcile")

_D = PlannerDue.__table__  # type: ignore[attr-defined]
_REPAIR = (
    update(_D)
    .where(_D.c.customer_id == bindparam("cid"),
           or_(_D.c.next_at.is_(None), _D.c.next_at > bindparam("at", type_=UTCDateTime())))
    .values(next_at=bindparam("at", type_=UTCDateTime()), why="reconciled",
            portfolio_bound=bindparam("bound"))
)  # fmt: skip


@dataclass
class ReconcileReport:
    at: datetime
    checked: int = 0
    repaired: int = 0
    early: int = 0  # looked at sooner than needed: harmless
    late: list[str] = field(default_factory=list)  # customers it would have missed

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "checked": self.checked, "repaired": self.repaired,
                "early": self.early, "late": self.late[:50]}  # fmt: skip


def reconcile(engine: Engine, now: datetime, ctx: SweepContext, *, batch: int = 1000
              ) -> ReconcileReport:  # fmt: skip
    report = ReconcileReport(at=now)
    policy = ctx.policy
    horizon_end = now + timedelta(hours=policy.planning.horizon_hours)
    tick = timedelta(minutes=policy.planning.tick_minutes)
    portfolio: dict[date, Decimal] = {}
    slots: SlotMemo = {}
    with unit_of_work(engine) as session:
        if planning.check_policy(session, policy):
            return report  # everyone is marked already: nothing to compare
    last = ""
    while True:
        with unit_of_work(engine) as session:
            customers = customer_rows(session, after=last, limit=batch)
            if not customers:
                break
            last = customers[-1].id
            ids = [c.id for c in customers]
            stored = dict(session.execute(
                select(col(PlannerDue.customer_id), col(PlannerDue.next_at))
                .where(col(PlannerDue.customer_id).in_(ids))).all())  # fmt: skip
            data = _load(session, ids, now, horizon_end)

            def portfolio_on(day: date) -> Decimal:
                if day not in portfolio:
                    portfolio[day] = portfolio_outstanding(session, day)  # noqa: B023
                return portfolio[day]

            live: dict[str, list[Live]] = {}
            call_ends: dict[str, list[datetime]] = {}
            for r in data.live:  # as the planner's next states read them
                if overdue_live(r):
                    live.setdefault(r.customer_id, []).append(Live(r.cycle))
                if r.channel == "call":
                    call_ends.setdefault(r.customer_id, []).append(r.slot_end)
            repairs: list[tuple[str, datetime, bool]] = []
            for customer in customers:
                cid = customer.id
                report.checked += 1
                have = stored.get(cid)
                if have == planning.RECOMPUTE:
                    continue
                facts = [_promise_fact(p) for p in data.promises.get(cid, [])]
                earlier = EarlierReminders(data.drafted.get(cid, {}), data.taken.get(cid, {}))
                items = data.items.get(cid, [])
                st = standing_of(customer, items, now, policy, ctx.calendar, promises=facts,
                                 reminders=earlier, portfolio=portfolio_on)  # fmt: skip
                want = next_look(st, live.get(cid, ()), promises=facts, reminders=earlier,
                                 calendar=ctx.calendar, slots=slots, tick=tick,
                                 beside=beside(st, call_ends.get(cid, []), tick))  # fmt: skip
                want, bound = with_portfolio(st, want)
                if want is None or (have is not None and have <= want):
                    report.early += int(have is not None and want is not None and have < want)
                    continue
                if have is not None and have <= now:
                    continue  # due already: the next tick plans it
                report.late.append(cid)
                repairs.append((cid, want, bound))
            if repairs:
                missing = [r for r in repairs if r[0] not in stored]
                planning.save(session, [(c, at, "reconciled", b) for c, at, b in missing])
                rest = [{"cid": c, "at": at, "bound": b} for c, at, b in repairs if c in stored]
                if rest:
                    session.execute(_REPAIR, rest)
                report.repaired += len(repairs)
    return report


def daily_job(engine: Engine, ctx: SweepContext, now: datetime) -> None:
    """The scheduler's daily run: once a day across every process (its (reconcile, day)
    row claimed first), the report kept on that row and any miss logged (ids only)."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if not claim_tick(engine, "reconcile", day, now, ctx.worker):
        return
    report = reconcile(engine, now, ctx)
    finish_tick(engine, "reconcile", day, now, report.as_dict())
    if report.late:
        log.warning("reconcile: %s planning states repaired (%s)", report.repaired,
                    ", ".join(report.late[:20]))  # fmt: skip
