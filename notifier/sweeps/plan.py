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
from typing import Any

from sqlalchemy import Engine, Row, bindparam, insert, select, update
from sqlmodel import Session, col

from notifier.domain.cadence import channel_preferences, choose_channel, cycle_key, due_step
from notifier.domain.calendar import CalendarNotPublished
from notifier.domain.items import Item, local_date
from notifier.domain.policy import Channel, Kind, TierName
from notifier.domain.position import position
from notifier.domain.slots import Slot
from notifier.domain.stages import customer_stage
from notifier.domain.tiers import decide_tier, tier_facts
from notifier.domain.tone import tone_for
from notifier.store.bulk import insert_ignoring_conflicts
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, PaymentPromise, Reminder
from notifier.store.queries import CustomerRow, customer_rows, items_for, portfolio_outstanding
from notifier.store.reminders import cancel
from notifier.sweeps.compose import compose, message_context, payment_url
from notifier.sweeps.context import SweepContext
from notifier.sweeps.slotting import COUNTED, slot_for
from notifier.sweeps.ticks import claim_tick, finish_tick

LIVE = ("pending_approval", "approved")


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
    with unit_of_work(engine) as session:
        portfolio = portfolio_outstanding(session, now.date())
    slots: _SlotMemo = {}
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
    drafted: dict[tuple[str, str], set[str]]
    taken: dict[tuple[str, str], list[datetime]]
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
    drafted: dict[tuple[str, str], set[str]] = defaultdict(set)
    taken: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    live: list[Row[Any]] = []
    window_start = now - timedelta(days=7)
    window_end = horizon_end + timedelta(days=7)
    for r in session.execute(select(*_REMINDER_COLUMNS).where(col(Reminder.customer_id).in_(ids))):
        drafted[(r.customer_id, r.cycle)].add(r.step)
        if r.status in COUNTED and window_start <= r.slot_start <= window_end:
            taken[(r.customer_id, r.channel)].append(r.slot_start)
        if r.status in LIVE:
            live.append(r)
    return _Batch(items_for(session, ids), promises, drafted, taken, live)


def _plan_batch(
    session: Session,
    customers: list[CustomerRow],
    now: datetime,
    ctx: SweepContext,
    portfolio: Any,
    report: PlanReport,
    slots: _SlotMemo,
) -> None:
    policy = ctx.policy
    horizon_end = now + timedelta(hours=policy.planning.horizon_hours)
    ids = [c.id for c in customers]
    data = _load(session, ids, now, horizon_end)
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    escalations: list[dict[str, Any]] = []
    current_cycle: dict[str, str | None] = {}
    paused: dict[str, str] = {}

    for customer in customers:
        cid = customer.id
        report.customers += 1
        today = local_date(now, customer.timezone)
        items = data.items.get(cid, [])
        stage = customer_stage(items, today, policy.stages)
        oldest = next((i for i in items if i.id == stage.oldest_item_id), None)
        cycle = cycle_key(oldest.id, oldest.due_on) if oldest else None
        current_cycle[cid] = cycle
        if stage.reminder_stage is None or oldest is None or cycle is None:
            report.skipped["nothing due" if stage.stage == "current" else "settled"] += 1
            continue
        promise, broken = _promises(data.promises.get(cid, []), items, today, oldest.due_on, now,
                                    events, cid)  # fmt: skip
        if broken >= policy.planning.broken_promises_to_escalate and customer.escalated_at is None:
            reason = f"{broken} broken promises to pay (D21)"
            escalations.append({"cid": cid, "at": now, "reason": reason})
            events.append(_event(now, "escalated", cid, {"reason": reason}))
            report.escalated += 1
        if promise is not None:
            paused[cid] = f"promised to pay by {promise.promised_on.isoformat()}"
            report.skipped["promised"] += 1
            continue
        hand_set: TierName | None = customer.tier if customer.tier_hand_set else None  # type: ignore[assignment]
        tier = decide_tier(
            tier_facts(items, today, policy.tiers, portfolio), policy.tiers, hand_set
        )
        assert policy.cadence is not None
        due = due_step(
            policy.cadence.steps, stage.days_overdue, tier.tier, customer.legal_authorised,
            data.drafted.get((cid, cycle), set()), broken,
        )  # fmt: skip
        if due is None:
            report.skipped["step already drafted or not yet due"] += 1
            continue
        kind: Kind = "business" if customer.kind == "business" else "individual"
        channel = choose_channel(
            channel_preferences(due.step, kind),
            sms_ok=bool(customer.phone) and not customer.sms_opt_out and not customer.phone_invalid,
            email_ok=bool(customer.email) and not customer.email_opt_out,
        )
        if channel is None:
            report.skipped["no usable channel"] += 1
            continue
        try:
            slot = _slot(customer, channel, now, horizon_end, ctx, data.taken.get((cid, channel)),
                         slots)  # fmt: skip
        except CalendarNotPublished as exc:
            report.skipped["calendar not published"] += 1
            if str(exc) not in report.problems:
                report.problems.append(str(exc))
            continue
        if slot is None:
            report.skipped["no slot within the horizon"] += 1
            continue
        tone = due.step.tone or tone_for(stage.reminder_stage, tier.tier, policy.tone)
        assert tone is not None
        collectable = [i for i in items if not i.disputed]
        pos = position(collectable, today, policy.penalty.default_daily_rate)
        message = message_context(
            customer, pos, step=due.step.template_name, tone=tone, today=today, policy=policy,
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
                "status": "pending_approval",
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
                },  # fmt: skip
                "lint": [str(p) for p in composed.lint],
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )

    cancelling = _stale(data.live, current_cycle, paused)
    inserted = insert_ignoring_conflicts(
        session, Reminder.__table__, rows, ("customer_id", "step", "cycle"),  # type: ignore[attr-defined]
        returning=("id", "customer_id", "step", "channel", "slot_start"),
    )  # fmt: skip
    drafted_events = []
    for row in inserted:
        report.drafted += 1
        report.by_channel[row["channel"]] += 1
        drafted_events.append(
            _event(now, "drafted", row["customer_id"], {
                "reminder_id": row["id"], "step": row["step"], "channel": row["channel"],
                "slot_start": row["slot_start"].isoformat()})
        )  # fmt: skip
    superseded = _superseded(data.live, inserted, cancelling)
    events += _cancel(session, cancelling, now, report)
    events += drafted_events
    events += _cancel(session, superseded, now, report)
    if escalations:
        session.execute(
            update(Customer.__table__)  # type: ignore[attr-defined]
            .where(Customer.__table__.c.id == bindparam("cid"))  # type: ignore[attr-defined]
            .values(escalated_at=bindparam("at"), escalation_reason=bindparam("reason")),
            escalations,
        )
    if events:
        session.execute(insert(Event.__table__), events)  # type: ignore[attr-defined]


# The first free slot of a customer with no other message near it depends only on where
# the customer is and the channel: found once per sweep for each.
_SlotMemo = dict[tuple[str, str, str, str], Slot | None]


def _slot(
    customer: CustomerRow,
    channel: Channel,
    now: datetime,
    horizon_end: datetime,
    ctx: SweepContext,
    taken: list[datetime] | None,
    memo: _SlotMemo,
) -> Slot | None:
    key = (customer.kind, customer.timezone, customer.country, channel)
    if not taken and key in memo:
        return memo[key]
    slot = slot_for(customer, channel, now, horizon_end, policy=ctx.policy, calendar=ctx.calendar,
                    taken=taken or ())  # fmt: skip
    if not taken:
        memo[key] = slot
    return slot


def _event(at: datetime, kind: str, customer_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """An events row, inserted with the batch's others in one executemany."""
    return {"at": at, "kind": kind, "customer_id": customer_id, "actor": "planner", "data": data}


def _cancel(
    session: Session, reasons: dict[int, str], now: datetime, report: PlanReport
) -> list[dict[str, Any]]:
    """Cancel these reminders (id -> reason) through the one cancel path; their events.
    Only the few reminders cancelled are loaded as objects."""
    if not reasons:
        return []
    loaded = {
        r.id: r for r in session.scalars(select(Reminder).where(col(Reminder.id).in_(reasons)))
    }
    events = []
    for reminder_id, reason in reasons.items():
        event = cancel(loaded[reminder_id], reason, now, "planner")
        report.cancelled += 1
        events.append(
            {name: getattr(event, name) for name in ("at", "kind", "customer_id", "actor", "data")}
        )
    return events


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


def _promises(
    promises: list[PaymentPromise],
    items: list[Item],
    today: date,
    cycle_start: date,
    now: datetime,
    events: list[dict[str, Any]],
    customer_id: str,
) -> tuple[PaymentPromise | None, int]:
    """D21: the promise pausing reminders today, if any, and the number of broken promises
    in this cycle. Open promises whose date has passed are settled here: kept when nothing
    promised is still overdue, broken otherwise."""
    active: PaymentPromise | None = None
    broken = 0
    for p in sorted(promises, key=lambda p: p.recorded_at):
        if p.status == "open" and p.promised_on < today:
            kept = not any(i.is_open(p.promised_on) and i.due_on < p.promised_on for i in items)
            p.status = "kept" if kept else "broken"
            events.append(_event(now, f"promise_{p.status}", customer_id, {
                "promise_id": p.id, "promised_on": p.promised_on.isoformat()}))  # fmt: skip
        if p.status == "open" and p.promised_on >= today:
            active = p
        if p.status == "broken" and p.promised_on >= cycle_start:
            broken += 1
    return active, broken


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
