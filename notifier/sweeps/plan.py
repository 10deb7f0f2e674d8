"""The planning sweep: for every customer with open items, draft the due cadence step for
the customer's earliest contact slot starting within the planning horizon, so that a
person can approve it before the slot (D5-D7, D12-D14, D20-D23, C2, C4).

Thin orchestration: the rules are in ``domain/``, the text in ``render/``. Work goes in
batches of customers, one transaction each, reading each table once per batch. Reminders
are inserted with ON CONFLICT DO NOTHING on (customer, step, cycle), and the sweep claims
its (sweep, tick) row first, so re-runs and concurrent runs create nothing twice.

Incremental (issue 12): a tick reads only the customers due by then in ``planner_due``
(``store/planning.py``); planning a customer writes when it next needs the planner
(``sweeps/next_due.py``). A full scan (``full=True``, a run as at an earlier instant than
one already planned) reads every customer; both give the same drafts and cancellations.
On PostgreSQL a tick is cut into ``PARTS`` partitions of customers (a hash of the id),
each a tick row of its own that any worker may claim: several workers plan one tick.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Row, insert, select
from sqlmodel import Session, col

from notifier.domain.calendar import CalendarNotPublished
from notifier.domain.calls import side_cycle
from notifier.domain.items import Item, cents_to_money
from notifier.domain.lifecycle import COUNTED, LIVE
from notifier.domain.slots import Slot
from notifier.domain.standing import (
    EarlierReminders,
    PromiseFact,
    SlotMemo,
    Standing,
    standing_of,
)
from notifier.drafting.compose import compose, message_context, payment_url
from notifier.drafting.rows import draft_row
from notifier.letters.text import letter_inputs
from notifier.services.escalation import escalate_many
from notifier.store import planning, reminders
from notifier.store.db import unit_of_work
from notifier.store.models import CallOutcome, Event, PaymentPromise, Reminder
from notifier.store.queries import (
    CustomerRow,
    customer_rows,
    customer_rows_by_id,
    items_for,
    portfolio_outstanding,
)
from notifier.sweeps.calls import beside, carry_calls, side_rows
from notifier.sweeps.context import SweepContext
from notifier.sweeps.next_due import TINY, Live, next_look, with_portfolio
from notifier.sweeps.ticks import claim_tick, finish_tick

PARTS = 6  # partitions of a tick on PostgreSQL (one elsewhere)


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
    calls: Counter[str] = field(default_factory=Counter)  # call tasks carried, expired
    mode: str = "incremental"  # or "full": every customer read
    partitions: list[str] = field(default_factory=list)  # those this run planned

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "tick": self.tick.isoformat(),
            "ran": self.ran,
            "customers": self.customers,
            "drafted": self.drafted,
            "by_channel": dict(self.by_channel),
            "calls": dict(self.calls),
            "cancelled": self.cancelled,
            "escalated": self.escalated,
            "skipped": dict(self.skipped),
            "problems": self.problems[:50],
            "mode": self.mode,
            "partitions": self.partitions,
        }


def tick_of(now: datetime, minutes: int) -> datetime:
    minute = (now.minute // minutes) * minutes
    return now.replace(minute=minute, second=0, microsecond=0)


def plan(
    engine: Engine,
    now: datetime,
    ctx: SweepContext,
    *,
    batch: int = 1000,
    force: bool = False,
    full: bool | None = None,
    parts: int | None = None,
) -> PlanReport:
    """Plan the tick of ``now``: the customers due by ``now``, or every customer when
    ``full`` (by default when ``force``d). ``force``: no tick row is claimed (the command
    line records its runs itself, and reads every customer)."""
    if full is None:
        full = force
    tick = tick_of(now, ctx.policy.planning.tick_minutes)
    report = PlanReport(at=now, tick=tick)
    if parts is None:
        parts = PARTS if engine.dialect.name == "postgresql" else 1
    with unit_of_work(engine) as session:
        planning.check_policy(session, ctx.policy)
        planning.mark_portfolio_bound(session)
        full = full or planning.needs_full_scan(session, now)
        planning.planned(session, now)
    if full:
        report.mode = "full"
        parts = 1
    memo = _Memo()
    if force:
        _plan_part(engine, now, ctx, batch, full, 1, 0, memo, report)
    elif parts <= 1:
        if not claim_tick(engine, "plan", tick, now, ctx.worker):
            report.ran = False
            return report
        _plan_part(engine, now, ctx, batch, full, 1, 0, memo, report)
        finish_tick(engine, "plan", tick, now, report.as_dict())
    else:
        # Any worker takes any partition not taken yet, starting at its own (fewer
        # collisions); the one that takes the tick's own row records the tick.
        coordinator = claim_tick(engine, "plan", tick, now, ctx.worker)
        start = zlib.crc32(ctx.worker.encode()) % parts
        for k in [(start + i) % parts for i in range(parts)]:
            name = f"plan:{k + 1}/{parts}"
            if not claim_tick(engine, name, tick, now, ctx.worker):
                continue
            mine = PlanReport(at=now, tick=tick)
            _plan_part(engine, now, ctx, batch, False, parts, k, memo, mine)
            finish_tick(engine, name, tick, now, mine.as_dict())
            _add(report, mine)
            report.partitions.append(name)
        if coordinator:
            finish_tick(engine, "plan", tick, now, report.as_dict())
        report.ran = coordinator or bool(report.partitions)
    return report


def _add(total: PlanReport, part: PlanReport) -> None:
    total.customers += part.customers
    total.drafted += part.drafted
    total.cancelled += part.cancelled
    total.escalated += part.escalated
    total.skipped.update(part.skipped)
    total.by_channel.update(part.by_channel)
    total.calls.update(part.calls)
    total.problems += [p for p in part.problems if p not in total.problems]


@dataclass
class _Memo:
    """Shared by a run's batches: the portfolio by day, the slots of the customers with
    no message near them."""

    portfolio: dict[date, Decimal] = field(default_factory=dict)
    slots: SlotMemo = field(default_factory=dict)


def _plan_part(
    engine: Engine,
    now: datetime,
    ctx: SweepContext,
    batch: int,
    full: bool,
    parts: int,
    part: int,
    memo: _Memo,
    report: PlanReport,
) -> None:
    last = ""
    while True:  # a batch of customers per transaction, read by keyset: memory stays flat
        with unit_of_work(engine) as session:
            planning.planner_writes(session)
            if full:
                customers = customer_rows(session, after=last, limit=batch)
                if not customers:
                    break
                mine = planning.lock_ids(session, [c.id for c in customers])
                last = customers[-1].id
            else:
                ids = planning.due_ids(session, now, after=last, limit=batch, parts=parts,
                                       part=part)  # fmt: skip
                if not ids:
                    break
                last = ids[-1]
                customers = customer_rows_by_id(session, ids)
                mine = set(ids)
            _plan_batch(session, customers, now, ctx, memo.portfolio, report, memo.slots, mine)


@dataclass
class _Batch:
    items: dict[str, list[Item]]
    promises: dict[str, list[PaymentPromise]]
    drafted: dict[str, dict[str, set[str]]]  # customer -> cycle -> steps
    taken: dict[str, dict[str, list[datetime]]]  # customer -> channel -> slot starts
    live: list[Row[Any]]
    window: tuple[datetime, datetime]  # the slot starts ``taken`` holds


@dataclass
class _Wrote:
    """What a batch wrote beyond its new drafts and settled promises, for the customers'
    next states: the live reminders it ended (drafts cancelled or superseded, call tasks
    expired), the call tasks it moved to a new slot, the customers it escalated (their
    rows as they are now); and ``again``, the customers whose result it cannot model
    (a row that moved on since the batch read it, a draft already there), looked at
    again next tick."""

    gone: set[int] = field(default_factory=set)
    moved: dict[int, Slot] = field(default_factory=dict)
    escalated: dict[str, CustomerRow] = field(default_factory=dict)
    again: set[str] = field(default_factory=set)


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
    col(Reminder.slot_end),
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
    # Calls made count under the call caps (C2) like calls planned (issue 14).
    for cid, at in session.execute(
        select(col(CallOutcome.customer_id), col(CallOutcome.at)).where(
            col(CallOutcome.customer_id).in_(ids), col(CallOutcome.at) >= window_start,
            col(CallOutcome.at) <= window_end)
    ):  # fmt: skip
        taken[cid]["call"].append(at)
    return _Batch(
        items_for(session, ids), promises, drafted, taken, live, (window_start, window_end)
    )


def _plan_batch(
    session: Session,
    customers: list[CustomerRow],
    now: datetime,
    ctx: SweepContext,
    portfolio: dict[date, Decimal],
    report: PlanReport,
    slots: SlotMemo,
    mine: set[str],
) -> None:
    """Plan these customers; write the next look of those in ``mine`` (locked by this
    run: see ``planning.lock_ids``)."""
    policy = ctx.policy
    horizon_end = now + timedelta(hours=policy.planning.horizon_hours)
    ids = [c.id for c in customers]
    data = _load(session, ids, now, horizon_end)
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    escalations: list[tuple[str, str]] = []  # (customer, reason): one set-based call below
    current_cycle: dict[str, str | None] = {}
    paused: dict[str, str] = {}
    standings: dict[str, Standing] = {}

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
        standings[cid] = st
        stage, cycle = st.stage, st.cycle
        current_cycle[cid] = cycle
        # Issue 14, D24: the call of the cadence, after-payment steps, greetings.
        rows += side_rows(st, customer, ctx, horizon_end, slots, report)
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
        assert tone is not None
        pos = st.position
        message = message_context(
            customer, pos, step=due.step.template_name, tone=tone, today=st.today, policy=policy,
            calendar=ctx.calendar, url=payment_url(customer, pos, policy),
        )  # fmt: skip
        composed = compose(
            message,
            channel,
            ctx.renderer,
            policy,
            **letter_inputs(channel, customer.country, pos, ctx.calendar),
        )
        rows.append(draft_row(
            st, step=due.step.name, cycle=cycle, channel=channel, tone=tone, slot=slot,
            composed=composed, locale=message.locale, facts={"firmer_by": due.firmer_by},
        ))  # fmt: skip

    if events:  # promises settled, escalations: before the drafts' own events
        session.execute(insert(Event.__table__), events)  # type: ignore[attr-defined]
    # Reminders change only through store/reminders.py, which writes their events.
    wrote = _Wrote()
    cancelling = _stale(data.live, current_cycle, paused)
    _cancel(session, cancelling, data.live, now, report, wrote)
    inserted = reminders.insert_drafts(session, rows, now, "planner")
    report.drafted += len(inserted)
    report.by_channel.update(row["channel"] for row in inserted)
    if len(inserted) < len(rows):  # one there already (a concurrent run's): as it was
        made = {(row["customer_id"], row["step"]) for row in inserted}
        wrote.again |= {r["customer_id"] for r in rows if (r["customer_id"], r["step"]) not in made}
    superseded = _superseded(data.live, inserted, cancelling, rows)
    _cancel(session, superseded, data.live, now, report, wrote)
    # A call nobody made in its window: the next window, or expired (issue 14).
    carried = carry_calls(session, data.live, set(cancelling) | set(superseded), standings,
                          now, ctx, report)  # fmt: skip
    wrote.gone |= carried.expired
    wrote.moved = carried.moved
    wrote.again |= carried.unknown
    # D4: to the manager, through the one escalation path (its own events, set-based).
    done = set(escalate_many(session, escalations, policy.escalation, "planner", now))
    report.escalated += len(done)
    by_id = {c.id: c for c in customers}
    for cid, reason in escalations:
        if cid in done:
            wrote.escalated[cid] = by_id[cid]._replace(escalated_at=now, escalation_reason=reason)
        else:  # escalated meanwhile by someone else: its row is not the one read
            wrote.again.add(cid)
    session.flush()  # the promises settled: their triggers fire before the states below
    standings = {cid: st for cid, st in standings.items() if cid in mine}
    planning.save(session, _next_states(standings, rows, data, wrote, ctx, slots))


def _cancel(
    session: Session, reasons: dict[int, str], live: list[Row[Any]], now: datetime,
    report: PlanReport, wrote: _Wrote,
) -> None:  # fmt: skip
    """Cancel these live reminders; ``cancel_many`` leaves alone a row that moved on since
    the batch read it: then which did is not known, and their customers are looked at
    again next tick."""
    done = reminders.cancel_many(session, reasons, now, "planner")
    report.cancelled += done
    if done == len(reasons):
        wrote.gone |= set(reasons)
    else:
        wrote.again |= {r.customer_id for r in live if r.id in reasons}


def overdue_live(r: Row[Any]) -> bool:
    """A live reminder the overdue cycle can make stale: not an e-mail's fallback, not a
    side task (after payment, a greeting: ``side_cycle``). The planner's next states and
    the daily reconciliation read live reminders through this one test."""
    return r.fallback_of is None and not side_cycle(r.cycle)


def _next_states(
    standings: dict[str, Standing],
    rows: list[dict[str, Any]],
    data: _Batch,
    wrote: _Wrote,
    ctx: SweepContext,
    slots: SlotMemo,
) -> list[tuple[str, datetime | None, str, bool]]:
    """When each customer of the batch next needs the planner, from its data as the batch
    left it: its new drafts, its promises settled, its reminders ended or moved, its
    escalation (what the next tick would read); those in ``wrote.again``: the next tick."""
    drafted: dict[str, dict[str, Any]] = {}
    side: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for one in rows:  # the overdue message, and beside it calls and D24's (issue 14)
        if one["channel"] == "call" or side_cycle(one["cycle"]):
            side[one["customer_id"]].append(one)
        else:
            drafted[one["customer_id"]] = one
    live: dict[str, list[Live]] = defaultdict(list)
    call_ends: dict[str, list[datetime]] = defaultdict(list)
    # Slot starts no longer counted under the caps (C2), and those counted now.
    freed: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    added: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    first, last = data.window
    for r in data.live:
        if (r.id in wrote.gone or r.id in wrote.moved) and first <= r.slot_start <= last:
            freed[r.customer_id].append((r.channel, r.slot_start))  # (counted: live)
        if r.id in wrote.gone:
            continue
        moved = wrote.moved.get(r.id)
        if moved is not None and first <= moved.start <= last:
            added[r.customer_id].append((r.channel, moved.start))
        if r.channel == "call":
            call_ends[r.customer_id].append(r.slot_end if moved is None else moved.end)
        if overdue_live(r):
            live[r.customer_id].append(Live(r.cycle))
    tick = timedelta(minutes=ctx.policy.planning.tick_minutes)
    soon = next(iter(standings.values())).now + TINY if standings else None
    states: list[tuple[str, datetime | None, str, bool]] = []
    for cid, st in standings.items():
        if cid in wrote.again:
            states.append((cid, soon, "wrote", False))
            continue
        facts = [_promise_fact(p) for p in data.promises.get(cid, [])]  # as settled
        earlier = EarlierReminders(data.drafted.get(cid, {}), data.taken.get(cid, {}))
        row: dict[str, Any] | None = drafted.get(cid)
        customer = wrote.escalated.get(cid)
        if (row is not None or st.promises.settled or side.get(cid) or customer is not None
                or cid in freed):  # fmt: skip
            steps = {k: set(v) for k, v in earlier.drafted.items()}
            taken = {k: list(v) for k, v in earlier.taken.items()}
            for channel, start in freed.get(cid, ()):
                taken[channel].remove(start)
            for channel, start in added.get(cid, ()):
                taken.setdefault(channel, []).append(start)
            for new in ([row] if row is not None else []) + side.get(cid, []):
                steps.setdefault(new["cycle"], set()).add(new["step"])
                taken.setdefault(new["channel"], []).append(new["slot_start"])
                if not side_cycle(new["cycle"]):  # the message, a call of the cadence
                    live[cid].append(Live(new["cycle"]))
            earlier = EarlierReminders(steps, taken)
            # The same items and instant: only what was just written differs.
            st = st.with_written(st.customer if customer is None else customer, facts, earlier)
        ends = call_ends.get(cid, []) + [r["slot_end"] for r in side.get(cid, [])
                                         if r["channel"] == "call"]  # fmt: skip
        at = next_look(st, live.get(cid, ()), promises=facts, reminders=earlier,
                       calendar=ctx.calendar, slots=slots, tick=tick,
                       beside=beside(st, ends, tick))  # fmt: skip
        at, bound = with_portfolio(st, at)
        states.append((cid, at, "planned", bound))
    return states


def _event(at: datetime, kind: str, customer_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """An events row, inserted with the batch's others in one executemany."""
    return {"at": at, "kind": kind, "customer_id": customer_id, "actor": "planner", "data": data}


def _track(channel: str, cycle: str) -> str | None:
    """Which ladder a reminder is on: the overdue messages, the calls beside them (issue
    14), or None for a step of its own cycle (after payment, a greeting: D24)."""
    if side_cycle(cycle):
        return None
    return "call" if channel == "call" else "message"


def _superseded(
    live: list[Row[Any]], inserted: list[dict[str, Any]], cancelling: dict[int, str],
    rows: list[dict[str, Any]] | None = None,
) -> dict[int, str]:  # fmt: skip
    """A newer step replaces an older one not yet sent: the customer hears the message
    that fits today, not two in a row (and never the milder one after the firmer). A new
    call replaces an older call task, a message an older message (issue 14)."""
    cycles = {(row["customer_id"], row["step"]): row["cycle"] for row in rows or ()}
    newest: dict[tuple[str, str | None], str] = {}
    for row in inserted:
        cycle = cycles.get((row["customer_id"], row["step"]), "")
        newest[(row["customer_id"], _track(row["channel"], cycle))] = row["step"]
    result: dict[int, str] = {}
    for r in live:
        track = _track(r.channel, r.cycle)
        step = newest.get((r.customer_id, track)) if track is not None else None
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


def _stale(
    live: list[Row[Any]], current_cycle: dict[str, str | None], paused: dict[str, str]
) -> dict[int, str]:
    """A draft whose items were paid, disputed or promised before it went out is cancelled
    with the reason; the text it carries is no longer true. Returns id -> reason."""
    result: dict[int, str] = {}
    for r in live:
        if r.fallback_of is not None or side_cycle(r.cycle):
            continue  # the fallback sweep owns those; D24's have cycles of their own
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
