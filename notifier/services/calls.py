"""Issue 14: the collector's call list and the outcome of each call.

A call task is a reminder on channel ``call`` (``to_call`` on the owning collector's list:
``customers.collector``, the manager's after an escalation), with its talking points as
the body and the call window as its slot. The outcome a collector records closes it
(``called``) or, with no answer, puts it at the next window within the call caps; and it
feeds the rules through their own services: a promise pauses (D21), a dispute sets the
part aside (D22), two vague answers escalate (D21), a wrong number stops that phone.
Each outcome is a ``call_outcomes`` row and a ``call_outcome`` event (D18).

No HTTP here. Callers own the transaction (nothing commits) and pass ``now``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from notifier.domain.calendar import WorkCalendar
from notifier.domain.calls import OUTCOMES, VAGUE, call_slot, rule_of, vague_escalates
from notifier.domain.errors import Conflict
from notifier.domain.items import cents_to_money
from notifier.domain.lifecycle import COUNTED, Status
from notifier.domain.policy import Policy
from notifier.domain.slots import Placed, Slot
from notifier.services.common import (
    CustomerError,
    NotAllowed,
    UnknownRecord,
    amount_cents,
    bounded_text,
    customer_of,
)
from notifier.services.consent import stop_phone
from notifier.services.disputes import open_dispute
from notifier.services.escalation import escalate_many
from notifier.services.promises import record_promise
from notifier.store import reminders
from notifier.store.models import CallOutcome, Customer, Reminder, User

CALL = "call"
CARRY_DAYS = 30  # how far ahead a call is put at its next window
# Who records outcomes: the collector who owns the customer, a manager or an admin.
CALLERS = frozenset({"collector", "manager", "admin"})
OVERSEERS = frozenset({"manager", "admin"})


class CallClosed(Conflict):
    """The call task is not on the list any more (called, cancelled, expired)."""


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def call_task(session: Session, reminder_id: int, *, lock: bool = False) -> Reminder:
    """The reminder row of call task ``reminder_id``; :class:`UnknownRecord` (404) when
    there is none or it is a message, not a call. (H6's click-to-call builds on it.)"""
    r = session.get(Reminder, reminder_id, with_for_update=lock, populate_existing=lock)
    if r is None or r.channel != CALL:
        raise UnknownRecord(f"no call task with id {reminder_id}")
    return r


@dataclass(frozen=True)
class CallFilter:
    collector: str | None = None  # the owner (customers.collector); None: everyone's
    at: datetime | None = None  # the list as at this instant: calls whose window starts
    # before at + the planning horizon (today's and the ones still open), still to_call
    statuses: tuple[str, ...] = (Status.TO_CALL.value,)
    customer_id: str | None = None
    limit: int = 500


def list_calls(session: Session, f: CallFilter, policy: Policy) -> list[tuple[Reminder, Customer]]:
    """The call list, by window: each task with its customer."""
    query = (
        select(Reminder, Customer)
        .join(Customer, col(Customer.id) == col(Reminder.customer_id))
        .where(col(Reminder.channel) == CALL, col(Reminder.status).in_(f.statuses))
    )
    if f.collector is not None:
        query = query.where(col(Customer.collector) == f.collector)
    if f.customer_id is not None:
        query = query.where(col(Reminder.customer_id) == f.customer_id)
    if f.at is not None:
        until = f.at + timedelta(hours=policy.planning.horizon_hours)
        query = query.where(col(Reminder.slot_start) < until)
    query = query.order_by(col(Reminder.slot_start), col(Reminder.id)).limit(f.limit)
    return [(r, c) for r, c in session.execute(query).all()]


def call_json(r: Reminder, customer: Customer, outcomes: list[CallOutcome] | None = None
              ) -> dict[str, Any]:  # fmt: skip
    """A call task as the API and ``notifier calls --json`` give it (codes, UTC)."""
    data: dict[str, Any] = {
        "id": r.id,
        "customer_id": r.customer_id,
        "customer_name": customer.name,
        "collector": customer.collector,
        "phone": customer.phone,
        "phone_invalid": customer.phone_invalid,
        "step": r.step,
        "cycle": r.cycle,
        "stage": r.stage,
        "tier": r.tier,
        "tone": r.tone,
        "locale": r.locale,
        "window": r.window,
        "slot_start": _utc(r.slot_start),
        "slot_end": _utc(r.slot_end),
        "talking_points": r.body,
        "status": r.status,
        "windows_offered": r.attempts + 1,
        "outcome": r.reason if r.status == Status.CALLED else None,
        "lint": r.lint,
    }
    if outcomes is not None:
        data["outcomes"] = [outcome_json(o) for o in outcomes]
    return data


def outcome_json(o: CallOutcome) -> dict[str, Any]:
    return {
        "id": o.id, "outcome": o.outcome, "at": _utc(o.at), "by": o.recorded_by,
        "note": o.note, "promised_on": o.promised_on.isoformat() if o.promised_on else None,
        "amount": None if o.amount_cents is None else str(cents_to_money(o.amount_cents)),
        "invoice_id": o.invoice_id,
    }  # fmt: skip


def outcomes_of(session: Session, reminder_id: int) -> list[CallOutcome]:
    return list(session.scalars(
        select(CallOutcome).where(col(CallOutcome.reminder_id) == reminder_id)
        .order_by(col(CallOutcome.at), col(CallOutcome.id))
    ))  # fmt: skip


@dataclass
class CallTimes:
    """A customer's calls under the call caps (C2): the tasks planned (``COUNTED``), by
    id, and the calls made."""

    planned: dict[int, datetime] = field(default_factory=dict)
    made: list[datetime] = field(default_factory=list)

    def taken(self, but: int | None = None) -> list[datetime]:
        """When the calls other than task ``but`` are planned or were made."""
        return [*(start for rid, start in self.planned.items() if rid != but), *self.made]


def call_times_of(session: Session, customer_ids: Collection[str]) -> dict[str, CallTimes]:
    """The call times of these customers, two queries for all of them (the planner
    carries a morning's call tasks at once)."""
    times = {cid: CallTimes() for cid in customer_ids}
    if not times:
        return times
    # The status is tested here, not in SQL: with it there, SQLite (no statistics) reads
    # the status index, nearly every reminder, instead of the customers' own rows.
    for rid, cid, start, status in session.execute(
        select(col(Reminder.id), col(Reminder.customer_id), col(Reminder.slot_start),
               col(Reminder.status))
        .where(col(Reminder.customer_id).in_(times), col(Reminder.channel) == CALL)
    ):  # fmt: skip
        if status in COUNTED:
            times[cid].planned[rid] = start
    for cid, at in session.execute(
        select(col(CallOutcome.customer_id), col(CallOutcome.at)).where(
            col(CallOutcome.customer_id).in_(times))
    ):  # fmt: skip
        times[cid].made.append(at)
    return times


def call_times(session: Session, customer_id: str, but: int | None = None) -> list[datetime]:
    """When the customer's other calls are planned or were made (the call caps, C2)."""
    return call_times_of(session, [customer_id])[customer_id].taken(but)


def window_after(
    customer: Placed, now: datetime, taken: Sequence[datetime], policy: Policy,
    calendar: WorkCalendar,
) -> Slot | None:  # fmt: skip
    """The customer's next call window after ``now`` (within ``CARRY_DAYS``) that the call
    caps allow, given its other calls at ``taken``."""
    return call_slot(customer, now, now + timedelta(days=CARRY_DAYS), policy=policy,
                     calendar=calendar, taken=taken)  # fmt: skip


def next_call_window(
    session: Session, r: Reminder, now: datetime, policy: Policy, calendar: WorkCalendar
) -> Slot | None:
    """The customer's next call window after ``now`` within the call caps, for ``r``."""
    customer = session.get(Customer, r.customer_id)
    assert customer is not None
    return window_after(customer, now, call_times(session, r.customer_id, but=r.id), policy,
                        calendar)  # fmt: skip


def may_call(user: User, customer: Customer) -> None:
    """A collector records outcomes of its own customers' calls; a manager or an admin of
    any; nobody else (NotAllowed, 403)."""
    if not user.active:
        raise NotAllowed(f"user {user.name!r} is disabled")
    if user.role not in CALLERS:
        raise NotAllowed(
            f"user {user.name!r} is a {user.role}; only a collector, a manager or an admin "
            "records a call's outcome"
        )
    if user.role not in OVERSEERS and customer.collector != user.name:
        raise NotAllowed(
            f"customer {customer.id!r} is {customer.collector or 'nobody'}'s, not "
            f"{user.name}'s: a collector records the calls of its own customers"
        )


@dataclass(frozen=True)
class OutcomeInput:
    outcome: str
    promised_on: date | None = None
    amount: Decimal | None = None
    note: str | None = None
    invoice_id: str | None = None  # disputed: the invoice (default: the oldest open one)


@dataclass(frozen=True)
class Recorded:
    task: Reminder
    outcome: CallOutcome
    effects: tuple[str, ...]  # what the rules made of it, in words for the record


def _check(inp: OutcomeInput) -> None:
    if inp.outcome not in OUTCOMES:
        raise CustomerError(
            f"{inp.outcome!r} is not a call outcome; expected one of {', '.join(OUTCOMES)}"
        )
    if inp.outcome == "promised" and inp.promised_on is None:
        raise CustomerError("the outcome promised needs the promised date (--promised-on DATE)")
    if inp.outcome != "promised" and inp.promised_on is not None:
        raise CustomerError(f"a promised date goes only with the outcome promised, not "
                            f"{inp.outcome}")  # fmt: skip
    if inp.outcome == "disputed" and not (inp.note or "").strip():
        raise CustomerError("the outcome disputed needs the reason the customer gave (--note)")
    if inp.amount is not None and inp.outcome not in ("promised", "disputed"):
        raise CustomerError(f"an amount goes only with promised or disputed, not {inp.outcome}")


def _disputed_invoice(r: Reminder, inp: OutcomeInput) -> str:
    if inp.invoice_id:
        return inp.invoice_id
    oldest, _, _ = r.cycle.partition("@")
    if not oldest or r.cycle.startswith(("settled@", "holiday@")):
        raise CustomerError("name the disputed invoice (--invoice ID)")
    return oldest


def record_outcome(
    session: Session,
    reminder_id: int,
    inp: OutcomeInput,
    by: User,
    now: datetime,
    policy: Policy,
    calendar: WorkCalendar,
) -> Recorded:
    """Record what came of call task ``reminder_id`` and feed the rules (module doc)."""
    _check(inp)
    note = bounded_text(inp.note, "note")
    cents = amount_cents(inp.amount, inp.outcome)
    r = call_task(session, reminder_id, lock=True)
    customer = customer_of(session, r.customer_id, lock=True)
    may_call(by, customer)
    if r.status != Status.TO_CALL:
        raise CallClosed(
            f"call task {reminder_id} is {r.status}, not on the list any more: its outcome "
            f"was recorded already or it was withdrawn ({r.reason or 'no reason'})"
        )
    rule = rule_of(inp.outcome)
    invoice = _disputed_invoice(r, inp) if inp.outcome == "disputed" else None
    row = CallOutcome(
        reminder_id=r.id or 0,
        customer_id=r.customer_id,
        cycle=r.cycle,
        outcome=inp.outcome,
        at=now,
        recorded_by=by.name,
        note=note,
        promised_on=inp.promised_on,
        amount_cents=cents,
        invoice_id=invoice,
    )
    session.add(row)
    evidence: dict[str, Any] = {"note": note, "step": r.step, "window": r.window}
    if inp.promised_on is not None:
        evidence["promised_on"] = inp.promised_on.isoformat()
    if cents is not None:
        evidence["amount"] = str(cents_to_money(cents))
    if invoice is not None:
        evidence["invoice_id"] = invoice
    effects: list[str] = []
    if rule.closes:
        reminders.close_call(session, r, inp.outcome, by.name, now, **evidence)
    else:  # no answer: the next window within the caps, or expired after the last
        reminders.note_call(session, r, inp.outcome, by.name, now, **evidence)
        session.flush()
        slot = None
        if r.attempts + 1 < policy.planning.call_windows_max:
            slot = next_call_window(session, r, now, policy, calendar)
        if slot is None:
            reminders.expire_call(session, r, f"no answer in the {r.attempts + 1} window(s) "
                                  "offered", now, by.name)  # fmt: skip
            effects.append("expired: no window left")
        else:
            reminders.reslot_call(session, r, slot, "no answer", now, by.name)
            effects.append(f"retried at {_utc(slot.start)}")
    session.flush()
    effects += _feed(session, r, customer, inp, rule.feeds, by, now, policy, note, cents, invoice)
    return Recorded(r, row, tuple(effects))


def _feed(
    session: Session, r: Reminder, customer: Customer, inp: OutcomeInput, feeds: str,
    by: User, now: datetime, policy: Policy, note: str | None, cents: int | None,
    invoice: str | None,
) -> list[str]:  # fmt: skip
    """The existing rules, through their own services."""
    amount = None if cents is None else cents_to_money(cents)
    if feeds == "promise":
        assert inp.promised_on is not None
        p = record_promise(session, customer.id, inp.promised_on, amount, note, by.name, now,
                           role=by.role, limits=policy.limits)  # fmt: skip
        return [f"promise #{p.id} recorded: reminders pause until "
                f"{inp.promised_on.isoformat()} (D21)"]  # fmt: skip
    if feeds == "dispute":
        assert invoice is not None and note is not None
        d = open_dispute(session, invoice, amount, note, by.name, now, customer_id=customer.id)
        return [f"dispute #{d.id} opened on {invoice}: that part is set aside (D22)"]
    if feeds == "stop_phone":
        stop_phone(session, customer, f"wrong number on call task {r.id}", by.name, now)
        return ["the phone number is stopped: no more calls or SMS to it"]
    if feeds == "vague":
        vague = session.scalar(
            select(func.count()).select_from(CallOutcome).where(
                col(CallOutcome.customer_id) == customer.id, col(CallOutcome.cycle) == r.cycle,
                col(CallOutcome.outcome) == VAGUE)
        ) or 0  # fmt: skip
        reason = vague_escalates(int(vague), policy)
        if reason is not None and customer.escalated_at is None:
            done = escalate_many(session, [(customer.id, reason)], policy.escalation, by.name,
                                 now)  # fmt: skip
            session.refresh(customer)
            if done:
                return [f"escalated to {customer.collector}: {reason}"]
        return [f"vague answer {vague} of {policy.planning.vague_answers_to_escalate}"]
    if feeds == "plan":
        return ["asked for an instalment plan: set one up with `notifier instalments create`"]
    return []
