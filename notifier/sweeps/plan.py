"""The planning sweep: for every customer with open items, draft the due cadence step for
the customer's earliest contact slot starting within the planning horizon, so that a
person can approve it before the slot (D5-D7, D12-D14, D20-D23, C2, C4).

Thin orchestration: the rules are in ``domain/``, the text in ``render/``. Work goes in
batches of customers, one transaction each, reading each table once per batch. Reminders
are inserted with ON CONFLICT DO NOTHING on (customer, step, cycle), and the sweep claims
its (sweep, tick) row first, so re-runs and concurrent runs create nothing twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Row, insert, select
from sqlmodel import Session, col

from notifier.domain.calendar import CalendarNotPublished
from notifier.domain.items import Item, cents_to_money
from notifier.domain.lifecycle import COUNTED, LIVE
from notifier.domain.standing import (
    EarlierReminders,
    PromiseFact,
    SlotMemo,
    Standing,
    standing_of,
)
from notifier.drafting.compose import compose, message_context, payment_url
from notifier.services.escalation import escalate_many
from notifier.store import reminders
from notifier.store.db import unit_of_work
from notifier.store.models import Event, PaymentPromise, Reminder
from notifier.store.queries import CustomerRow, customer_rows, items_for, portfolio_outstanding
from notifier.sweeps.context import SweepContext
from notifier.sweeps.ticks import claim_tick, finish_tick


@dataclass
class PlanReport:
    at: datetime
    tick: datetime
    ran: bool = True
    customers: int = 0
    drafted: int = 0
    cancelled: int = 0
    escalated: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    by_channel: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "tick": self.tick.isoformat(),
            "ran": self.ran,
            "customers": self.customers,
            "drafted": self.drafted,
            "by_channel": dict(self.by_channel),
            "cancelled": self.cancelled,
            "escalated": self.escalated,
            "skipped": dict(self.skipped),
            "problems": self.problems[:50],
        }


def tick_of(now: datetime, minutes: int) -> datetime:
    minute = (now.minute // minutes) * minutes
    return now.replace(minute=minute, second=0, microsecond=0)


def plan(
    engine: Engine, now: datetime, ctx: SweepContext, *, batch: int = 1000, force: bool = False
) -> PlanReport:
    tick = tick_of(now, ctx.policy.planning.tick_minutes)
    report = PlanReport(at=now, tick=tick)
    if not force and not claim_tick(engine, "plan", tick, now, ctx.worker):
        report.ran = False
        return report
    portfolio: dict[date, Decimal] = {}  # by the customers' own days (a zone or two apart)
    slots: SlotMemo = {}
    last = ""
    while True:  # a batch of customers per transaction, read by keyset: memory stays flat
        with unit_of_work(engine) as session:
            customers = customer_rows(session, after=last, limit=batch)
            if not customers:
                break
            _plan_batch(session, customers, now, ctx, portfolio, report, slots)
        last = customers[-1].id
    if not force:
        finish_tick(engine, "plan", tick, now, report.as_dict())
    return report


@dataclass
class _Batch:
    items: dict[str, list[Item]]
    promises: dict[str, list[PaymentPromise]]
    drafted: dict[str, dict[str, set[str]]]  # customer -> cycle -> steps
    taken: dict[str, dict[str, list[datetime]]]  # customer -> channel -> slot starts
    live: list[Row[Any]]


# What the sweep needs of a customer's earlier reminders: never their text.
_REMINDER_COLUMNS = (
    col(Reminder.id),
    col(Reminder.customer_id),
    col(Reminder.step),
    col(Reminder.cycle),
    col(Reminder.channel),
    col(Reminder.status),
    col(Reminder.slot_start),
    col(Reminder.fallback_of),
)


def _load(session: Session, ids: list[str], now: datetime, horizon_end: datetime) -> _Batch:
    promises: dict[str, list[PaymentPromise]] = defaultdict(list)
    for p in session.scalars(
        select(PaymentPromise).where(col(PaymentPromise.customer_id).in_(ids))
    ):
        promises[p.customer_id].append(p)
    drafted: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    taken: dict[str, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    live: list[Row[Any]] = []
    window_start = now - timedelta(days=7)
    window_end = horizon_end + timedelta(days=7)
    for r in session.execute(select(*_REMINDER_COLUMNS).where(col(Reminder.customer_id).in_(ids))):
        drafted[r.customer_id][r.cycle].add(r.step)
        if r.status in COUNTED and window_start <= r.slot_start <= window_end:
            taken[r.customer_id][r.channel].append(r.slot_start)
        if r.status in LIVE:
            live.append(r)
    return _Batch(items_for(session, ids), promises, drafted, taken, live)


def _plan_batch(
    session: Session,
    customers: list[CustomerRow],
    now: datetime,
    ctx: SweepContext,
    portfolio: dict[date, Decimal],
    report: PlanReport,
    slots: SlotMemo,
) -> None:
    policy = ctx.policy
    horizon_end = now + timedelta(hours=policy.planning.horizon_hours)
    ids = [c.id for c in customers]
    data = _load(session, ids, now, horizon_end)
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    escalations: list[tuple[str, str]] = []  # (customer, reason): one set-based call below
    current_cycle: dict[str, str | None] = {}
    paused: dict[str, str] = {}

    def portfolio_on(day: date) -> Decimal:
        if day not in portfolio:
            portfolio[day] = portfolio_outstanding(session, day)
        return portfolio[day]

    for customer in customers:
        cid = customer.id
        report.customers += 1
        stored = data.promises.get(cid, [])
        st = standing_of(
            customer, data.items.get(cid, []), now, policy, ctx.calendar,
            promises=[_promise_fact(p) for p in stored], portfolio=portfolio_on,
            reminders=EarlierReminders(data.drafted.get(cid, {}), data.taken.get(cid, {})),
        )  # fmt: skip
        stage, cycle = st.stage, st.cycle
        current_cycle[cid] = cycle
        if stage.reminder_stage is None or cycle is None:
            report.skipped["nothing due" if stage.stage == "current" else "settled"] += 1
            continue
        events += _settle_promises(stored, st.promises.settled, now, cid)
        if st.escalation.due is not None:
            escalations.append((cid, st.escalation.due))
        if st.paused_by is not None:
            paused[cid] = st.paused_by
            report.skipped["promised"] += 1
            continue
        due = st.due
        if due is None:
            report.skipped["step already drafted or not yet due"] += 1
            continue
        channel = st.channel
        if channel is None:
            report.skipped["no usable channel"] += 1
            continue
        try:
            slot = st.slot(channel, horizon_end, slots)
        except CalendarNotPublished as exc:
            report.skipped["calendar not published"] += 1
            if str(exc) not in report.problems:
                report.problems.append(str(exc))
            continue
        if slot is None:
            report.skipped["no slot within the horizon"] += 1
            continue
        tone = st.tone
        tier = st.tier
        assert tone is not None
        pos = st.position
        message = message_context(
            customer, pos, step=due.step.template_name, tone=tone, today=st.today, policy=policy,
            calendar=ctx.calendar, url=payment_url(customer, pos, policy),
        )  # fmt: skip
        composed = compose(message, channel, ctx.renderer, policy)
        rows.append(
            {
                "customer_id": cid,
                "step": due.step.name,
                "cycle": cycle,
                "channel": channel,
                "address": customer.phone if channel == "sms" else customer.email,
                "stage": stage.reminder_stage,
                "tier": tier.tier,
                "tone": tone,
                "locale": message.locale,
                "window": slot.window,
                "slot_start": slot.start,
                "slot_end": slot.end,
                "subject": composed.subject,
                "body": composed.body,
                "html": composed.html,
                "segments": composed.segments,
                "facts": {
                    **composed.facts,
                    "total": str(pos.total_outstanding),
                    "firmer_by": due.firmer_by,
                    **_standing_facts(st),
                },  # fmt: skip
                "lint": [str(p) for p in composed.lint],
                "created_at": now,
                "updated_at": now,
            }
        )

    if events:  # promises settled, escalations: before the drafts' own events
        session.execute(insert(Event.__table__), events)  # type: ignore[attr-defined]
    # Reminders change only through store/reminders.py, which writes their events.
    cancelling = _stale(data.live, current_cycle, paused)
    report.cancelled += reminders.cancel_many(session, cancelling, now, "planner")
    inserted = reminders.insert_drafts(session, rows, now, "planner")
    report.drafted += len(inserted)
    report.by_channel.update(row["channel"] for row in inserted)
    superseded = _superseded(data.live, inserted, cancelling)
    report.cancelled += reminders.cancel_many(session, superseded, now, "planner")
    # D4: to the manager, through the one escalation path (its own events, set-based).
    report.escalated += len(escalate_many(session, escalations, policy.escalation, "planner", now))


def _event(at: datetime, kind: str, customer_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """An events row, inserted with the batch's others in one executemany."""
    return {"at": at, "kind": kind, "customer_id": customer_id, "actor": "planner", "data": data}


def _superseded(
    live: list[Row[Any]], inserted: list[dict[str, Any]], cancelling: dict[int, str]
) -> dict[int, str]:
    """A newer step replaces an older one not yet sent: the customer hears the message
    that fits today, not two in a row (and never the milder one after the firmer)."""
    newest = {row["customer_id"]: row["step"] for row in inserted}
    result: dict[int, str] = {}
    for r in live:
        step = newest.get(r.customer_id)
        if step is None or r.step == step or r.fallback_of is not None or r.id in cancelling:
            continue
        result[r.id] = f"superseded by the {step} step"
    return result


def _promise_fact(p: PaymentPromise) -> PromiseFact:
    amount = None if p.amount_cents is None else cents_to_money(p.amount_cents)
    return PromiseFact(p.id, p.promised_on, p.status, p.recorded_at, amount)


def _settle_promises(
    stored: list[PaymentPromise],
    settled: tuple[tuple[PromiseFact, str], ...],
    now: datetime,
    customer_id: str,
) -> list[dict[str, Any]]:
    """Record what the standing found of the open promises whose date has passed (D21):
    kept or broken, each with its event."""
    if not settled:
        return []
    by_id = {p.id: p for p in stored}
    events = []
    for fact, status in settled:
        by_id[fact.id].status = status
        events.append(_event(now, f"promise_{status}", customer_id, {
            "promise_id": fact.id, "promised_on": fact.promised_on.isoformat()}))  # fmt: skip
    return events


def _standing_facts(st: Standing) -> dict[str, Any]:
    """What the draft was written from, beside the lint facts: the standing's stage,
    days overdue, penalty and totals per currency (explain and the pages show the same)."""
    return {
        "days_overdue": st.days_overdue,
        "penalty": str(st.penalty),
        "totals": {cur: str(t.outstanding) for cur, t in st.totals.items()},
    }


def _stale(
    live: list[Row[Any]], current_cycle: dict[str, str | None], paused: dict[str, str]
) -> dict[int, str]:
    """A draft whose items were paid, disputed or promised before it went out is cancelled
    with the reason; the text it carries is no longer true. Returns id -> reason."""
    result: dict[int, str] = {}
    for r in live:
        if r.fallback_of is not None:
            continue  # the fallback sweep owns those
        cycle = current_cycle.get(r.customer_id, r.cycle)
        reason = None
        if r.customer_id in paused:
            reason = paused[r.customer_id]
        elif cycle is None:
            reason = "nothing is owed any more (paid or disputed)"
        elif cycle != r.cycle:
            reason = "the items it was about were paid"
        if reason is not None:
            result[r.id] = reason
    return result
