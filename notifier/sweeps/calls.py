"""The planner's part for what runs beside the overdue messages (issue 14, D24): call tasks
of the cadence on the owning collector's list, the after-payment thanks and feedback call,
holiday greetings; and call tasks nobody made in their window, carried to the next one or
expired. ``sweeps/plan.py`` calls these for each batch; the rules are the standing's
(``Standing.side_tasks``, ``domain/calls.py``), the text ``drafting/compose.py``'s.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select
from sqlmodel import Session, col

from notifier.domain.calendar import CalendarNotPublished, WorkCalendar
from notifier.domain.calls import SideTask, greeting_days, mid_term
from notifier.domain.lifecycle import Status
from notifier.domain.slots import SEARCH_DAYS, Slot, slot_for
from notifier.domain.standing import EarlierReminders, PromiseFact, SlotMemo, Standing, standing_of
from notifier.drafting.compose import compose, compose_call, message_context, payment_url
from notifier.drafting.rows import draft_row
from notifier.services.calls import next_call_window
from notifier.store import reminders
from notifier.store.models import Reminder
from notifier.store.queries import CustomerRow
from notifier.sweeps.context import SweepContext
from notifier.sweeps.next_due import LOOK_AHEAD, TINY, local_midnight

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


def carry_calls(
    session: Session,
    live: Sequence[Row[Any]],
    cancelled: Collection[int],
    standings: dict[str, Standing],
    now: datetime,
    ctx: SweepContext,
    report: PlanReport,
) -> set[str]:
    """Call tasks whose window ended with no outcome: to the next window, or expired once
    offered in ``planning.call_windows_max`` windows. Returns the customers touched."""
    ids = [r.id for r in live if r.channel == "call" and r.slot_end <= now
           and r.id not in cancelled and r.customer_id in standings]  # fmt: skip
    if not ids:
        return set()
    most = ctx.policy.planning.call_windows_max
    touched: set[str] = set()
    rows = session.scalars(
        select(Reminder)
        .where(col(Reminder.id).in_(ids), col(Reminder.status) == Status.TO_CALL)
        .order_by(col(Reminder.id))
        .with_for_update()
    ).all()
    for r in rows:
        touched.add(r.customer_id)
        slot = None
        if r.attempts + 1 < most:
            try:
                slot = next_call_window(session, r, now, ctx.policy, ctx.calendar)
            except CalendarNotPublished:
                slot = None
        if slot is None:
            reminders.expire_call(
                session, r, f"nobody made the call in the {r.attempts + 1} window(s) offered",
                now,
            )  # fmt: skip
            report.calls["expired"] += 1
        else:
            reminders.reslot_call(session, r, slot, "nobody made the call in its window", now,
                                  "planner")  # fmt: skip
            report.calls["carried"] += 1
    session.flush()
    return touched


def _side_days(st: Standing) -> list[date]:
    """The coming days on which a side task may become due (issue 14, D24)."""
    cadence = st.policy.cadence
    steps = cadence.steps if cadence is not None else ()
    days: set[date] = set()
    for item in st.items:
        for step in steps:
            d = step.day_for(st.tier.tier)
            if step.is_call and step.anchor == "due":
                days.add(item.due_on + timedelta(days=d))
            elif step.anchor == "mid_term":
                days.add(mid_term(item) + timedelta(days=d))
            elif step.anchor == "settled":
                for payment in item.payments:
                    days.add(payment.paid_on + timedelta(days=d))
    days.update(greeting_days(st.policy.greetings, st.today))
    return sorted(d for d in days if d > st.today)


def side_look(
    st: Standing,
    call_ends: Sequence[datetime],
    *,
    promises: Sequence[PromiseFact],
    reminders: EarlierReminders,
    calendar: WorkCalendar,
    tick: timedelta,
) -> datetime | None:
    """When the planner next has something to do beside the overdue message: a live
    call's window ends (carry it), a side task's slot enters the horizon, or a coming day
    makes one due. Earlier than needed is safe; later never."""
    now, policy = st.now, st.policy
    horizon = timedelta(hours=policy.planning.horizon_hours)
    found: datetime | None = None

    def sooner(at: datetime | None) -> None:
        nonlocal found
        if at is not None and (found is None or at < found):
            found = at

    for end in call_ends:
        sooner(max(end, now + TINY))
    for task in st.side_tasks:
        channel = st.side_channel(task)
        if channel is None:
            continue
        try:
            slot = st.call_slot() if channel == "call" else st.slot(channel)
        except CalendarNotPublished:
            sooner(now + tick)
            continue
        if slot is not None:
            sooner(max(slot.start - horizon + TINY, now + TINY))
        else:
            sooner(now + timedelta(days=SEARCH_DAYS))
    for n, day in enumerate(_side_days(st)):
        at = local_midnight(day, st.customer.timezone)
        if found is not None and at >= found:
            break
        if n >= LOOK_AHEAD:
            sooner(at)
            break
        later = standing_of(st.customer, st.items, at, policy, calendar, promises=promises,
                            reminders=reminders)  # fmt: skip
        if later.side_tasks:
            sooner(at)
            break
    return found
