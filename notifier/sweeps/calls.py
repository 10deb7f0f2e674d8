"""The planner's part for what runs beside the overdue messages (issue 14, D24): call tasks
of the cadence on the owning collector's list, the after-payment thanks and feedback call,
holiday greetings; and call tasks nobody made in their window, carried to the next one or
expired. ``sweeps/plan.py`` calls these for each batch; the rules are the standing's
(``Standing.side_tasks``, ``domain/calls.py``), the text ``drafting/compose.py``'s.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select
from sqlmodel import Session, col

from notifier.domain.calendar import CalendarNotPublished
from notifier.domain.calls import SideTask, greeting_days, mid_term
from notifier.domain.lifecycle import Status
from notifier.domain.policy import TIERS, Policy
from notifier.domain.slots import SEARCH_DAYS, Slot, slot_for
from notifier.domain.standing import SlotMemo, Standing
from notifier.drafting.compose import compose, compose_call, message_context, payment_url
from notifier.drafting.rows import draft_row
from notifier.services.calls import call_times_of, window_after
from notifier.store import reminders
from notifier.store.models import Reminder
from notifier.store.queries import CustomerRow
from notifier.sweeps.context import SweepContext
from notifier.sweeps.next_due import TINY, Beside, coming

if TYPE_CHECKING:
    from notifier.sweeps.plan import PlanReport


def side_rows(
    st: Standing,
    customer: CustomerRow,
    ctx: SweepContext,
    horizon_end: datetime,
    memo: SlotMemo,
    report: PlanReport,
) -> list[dict[str, Any]]:
    """The reminder rows for the customer's side tasks whose slot starts within the
    horizon: a call task (``to_call`` on its collector's list) or a message drafted for
    approval like the others (D13)."""
    rows: list[dict[str, Any]] = []
    for task in st.side_tasks:
        channel = st.side_channel(task)
        if channel is None:
            report.skipped["no phone for the call" if task.kind == "call"
                           else "no usable channel"] += 1  # fmt: skip
            continue
        try:
            if channel == "call":
                slot = st.call_slot(horizon_end)
            else:
                taken = list(st.reminders.taken.get(channel, ()))
                taken += [r["slot_start"] for r in rows if r["channel"] == channel]
                slot = slot_for(customer, channel, st.now, horizon_end, policy=st.policy,
                                calendar=ctx.calendar, taken=taken)  # fmt: skip
        except CalendarNotPublished as exc:
            report.skipped["calendar not published"] += 1
            if str(exc) not in report.problems:
                report.problems.append(str(exc))
            continue
        if slot is None:
            report.skipped["no slot within the horizon"] += 1
            continue
        rows.append(_row(st, customer, task, channel, slot, ctx))
    return rows


def _row(
    st: Standing, customer: CustomerRow, task: SideTask, channel: str, slot: Slot,
    ctx: SweepContext,
) -> dict[str, Any]:  # fmt: skip
    policy, pos = st.policy, st.position
    tone = st.side_tone(task)
    message = message_context(
        customer, pos, step=task.template, tone=tone, today=st.today, policy=policy,
        calendar=ctx.calendar, url=payment_url(customer, pos, policy),
    )  # fmt: skip
    if task.kind == "greeting" and not policy.greetings.note_open:
        message = replace(message, items=())  # the greeting alone, no note of what is open
    if channel == "call":
        composed = compose_call(message, ctx.renderer, policy)
    else:
        composed = compose(message, channel, ctx.renderer, policy)  # type: ignore[arg-type]
    return draft_row(
        st, step=task.step, cycle=task.cycle, channel=channel, tone=tone, slot=slot,
        composed=composed, locale=message.locale,
        facts={"firmer_by": task.firmer_by, "kind": task.kind},
    )  # fmt: skip


@dataclass
class Carried:
    """What :func:`carry_calls` did, by reminder id: the call tasks moved to their next
    window (the new slot), those expired; and the customers of call tasks it found no
    longer open (moved on since the batch read them: what became of them is not known)."""

    moved: dict[int, Slot] = field(default_factory=dict)
    expired: set[int] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)


def carry_calls(
    session: Session,
    live: Sequence[Row[Any]],
    cancelled: Collection[int],
    standings: dict[str, Standing],
    now: datetime,
    ctx: SweepContext,
    report: PlanReport,
) -> Carried:
    """Call tasks whose window ended with no outcome: to the next window, or expired once
    offered in ``planning.call_windows_max`` windows."""
    due = {r.id: r.customer_id for r in live if r.channel == "call" and r.slot_end <= now
           and r.id not in cancelled and r.customer_id in standings}  # fmt: skip
    carried = Carried()
    if not due:
        return carried
    most = ctx.policy.planning.call_windows_max
    rows = session.execute(
        select(col(Reminder.id), col(Reminder.customer_id), col(Reminder.version),
               col(Reminder.attempts))
        .where(col(Reminder.id).in_(due), col(Reminder.status) == Status.TO_CALL)
        .order_by(col(Reminder.id))
        .with_for_update()
    ).all()  # fmt: skip
    found = {r.id for r in rows}
    carried.unknown = {cid for rid, cid in due.items() if rid not in found}
    # Every customer's call times read at once, then kept as each task moves or expires
    # (in id order: a later task of the same customer sees the earlier one where it went).
    times = call_times_of(session, {r.customer_id for r in rows})
    moves: list[reminders.CallMove] = []
    for r in rows:
        mine = times[r.customer_id]
        slot = None
        if r.attempts + 1 < most:
            try:
                slot = window_after(standings[r.customer_id].customer, now, mine.taken(r.id),
                                    ctx.policy, ctx.calendar)  # fmt: skip
            except CalendarNotPublished:
                slot = None
        if slot is None:
            why = f"nobody made the call in the {r.attempts + 1} window(s) offered"
            report.calls["expired"] += 1
            carried.expired.add(r.id)
            mine.planned.pop(r.id, None)  # expired: no longer under the caps
        else:
            why = "nobody made the call in its window"
            report.calls["carried"] += 1
            carried.moved[r.id] = slot
            mine.planned[r.id] = slot.start
        moves.append(reminders.CallMove(r.id, r.customer_id, r.version, r.attempts, slot, why))
    reminders.move_calls(session, moves, now, "planner")
    return carried


def _side_days(st: Standing) -> list[date]:
    """The coming days on which a side task may become due (issue 14, D24)."""
    today = st.today
    days: set[date] = set()
    if st.items:
        due, middle, paid = _side_offsets(st.policy)
        # The call of the cadence and the mid-term call follow the oldest item collected
        # (``Standing.counting``); the after-payment steps, the day it all was paid: one
        # of the days an item was settled.
        for item in st.counting:
            days.update(coming(item.due_on, due, today))
            if middle:
                days.update(coming(mid_term(item), middle, today))
        for item in st.items if paid else ():
            settled = item.settled_on()
            if settled is not None:
                days.update(coming(settled, paid, today))
    days.update(greeting_days(st.policy.greetings, today))
    return sorted(days)


_Offsets = tuple[timedelta, ...]
_SIDE_OFFSETS: dict[int, tuple[Policy, tuple[_Offsets, _Offsets, _Offsets]]] = {}


def _side_offsets(policy: Policy) -> tuple[_Offsets, _Offsets, _Offsets]:
    """The side-task days after an item's due date (call steps), after the middle of its
    credit term and after a payment, for every tier (the tier may change on a coming day),
    each set once (kept per policy object: policies are not hashable)."""
    known = _SIDE_OFFSETS.get(id(policy))
    if known is not None and known[0] is policy:
        return known[1]
    if len(_SIDE_OFFSETS) > 64:
        _SIDE_OFFSETS.clear()
    cadence = policy.cadence
    steps = cadence.steps if cadence is not None else ()

    def after(anchor: str) -> _Offsets:
        days = {
            s.day_for(tier)
            for s in steps
            if s.anchor == anchor and (anchor != "due" or s.is_call)
            for tier in TIERS
        }
        return tuple(timedelta(days=d) for d in sorted(days))

    result = (after("due"), after("mid_term"), after("settled"))
    _SIDE_OFFSETS[id(policy)] = (policy, result)
    return result


def beside(st: Standing, call_ends: Sequence[datetime], tick: timedelta) -> Beside:
    """What runs beside the overdue message, for ``next_look``: the soonest instant the
    planner has something to do for it (a live call's window ends: carry it; a side task
    due today: its slot enters the horizon), and the coming days that may make one due.
    Earlier than needed is safe; later never."""
    now = st.now
    horizon = timedelta(hours=st.policy.planning.horizon_hours)
    found = [max(end, now + TINY) for end in call_ends]
    for task in st.side_tasks:
        channel = st.side_channel(task)
        if channel is None:
            continue
        try:
            slot = st.call_slot() if channel == "call" else st.slot(channel)
        except CalendarNotPublished:
            found.append(now + tick)
            continue
        if slot is not None:
            found.append(max(slot.start - horizon + TINY, now + TINY))
        else:
            found.append(now + timedelta(days=SEARCH_DAYS))
    return Beside(min(found, default=None), _side_days(st))
