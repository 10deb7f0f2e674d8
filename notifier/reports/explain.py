"""`notifier explain CUSTOMER [--at TS]`: everything the rules decide about one customer at
one instant, and why: stage, open items (disputed parts paused), penalty, totals per
currency, tier, tone, the due step, open promises, escalation, the next contact slot per
channel after the caps, quiet hours and D25 flags. All of it is the customer's
``Standing`` (domain/standing.py), as the planner sees it. Here the data and its --json;
the text a person reads is ``reports/explain_text.py``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.calendar import CalendarNotPublished, WorkCalendar
from notifier.domain.errors import NotFound
from notifier.domain.flags import Flags
from notifier.domain.items import cents_to_money
from notifier.domain.policy import AllowedHours, CapPolicy, Policy, Tone
from notifier.domain.position import Position
from notifier.domain.slots import SEARCH_DAYS, Slot, contact_allowed
from notifier.domain.stages import StageResult
from notifier.domain.standing import EarlierReminders, PromiseFact, Standing, standing_of
from notifier.domain.tiers import TierDecision
from notifier.drafting.slotting import COUNTED
from notifier.services.escalation import Escalated, escalation_of
from notifier.services.legal import Route, route_of
from notifier.store.models import Customer, PaymentPromise, Reminder
from notifier.store.queries import items_for, portfolio_outstanding
from notifier.words import words

# The command line's explanation and --json word the tier's and flags' reasons in English;
# the customer's page in the reader's language (notifier.words, one catalogue).
ENGLISH = words("en")


class UnknownCustomer(NotFound, LookupError):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer with id {customer_id!r}")


@dataclass(frozen=True)
class Explanation:
    customer: Customer
    at: datetime
    standing: Standing
    handover: Escalated | None = None  # D4: who had the customer, who has it, who decided
    legal_route: Route | None = None  # D19: the route after the lawyer's letter (issue 15)

    @property
    def stage(self) -> StageResult:
        return self.standing.stage

    @property
    def position(self) -> Position:
        return self.standing.position

    @property
    def tier(self) -> TierDecision:
        return self.standing.tier

    @property
    def tone(self) -> Tone | None:
        return self.standing.tone

    @property
    def flags(self) -> Flags:
        return self.standing.flags

    @property
    def next_slot(self) -> Slot | None:
        """The slot of the channel the next message would use (else the earliest of any
        channel the customer can receive)."""
        slots = {k: v for k, v in self.standing.next_slots.items() if isinstance(v, Slot)}
        channel = self.standing.channel
        if channel is not None and channel in slots:
            return slots[channel]
        return min(slots.values(), key=lambda s: s.start, default=None)

    @property
    def slot_problem(self) -> str | None:
        problems = [str(v) for v in self.standing.next_slots.values()
                    if isinstance(v, CalendarNotPublished)]  # fmt: skip
        if problems:
            return problems[0]
        return None if self.next_slot is not None else "no usable channel or no free slot"

    @property
    def allowed_hours(self) -> AllowedHours:
        return self.standing.policy.quiet_hours.for_country(self.customer.country)

    @property
    def contact_allowed_now(self) -> bool:
        c = self.customer
        return contact_allowed(self.at, zone=c.timezone, country=c.country,
                               quiet_hours=self.standing.policy.quiet_hours)  # fmt: skip

    @property
    def caps(self) -> CapPolicy:
        return self.standing.policy.caps

    @property
    def default_rate(self) -> Decimal:
        return self.standing.policy.penalty.default_daily_rate

    @property
    def channel_states(self) -> dict[str, str]:
        """Per channel, a code: available, no_phone, opted_out, invalid_number,
        no_address, no_postal_address (the words are in the catalogue, ``ex_ch_*``)."""
        c = self.customer
        sms = "no_phone" if not c.phone else "opted_out" if c.sms_opt_out else (
            "invalid_number" if c.phone_invalid else "available"
        )  # fmt: skip
        email = "no_address" if not c.email else "opted_out" if c.email_opt_out else "available"
        letter = "available" if c.address else "no_postal_address"  # issue 15
        return {"sms": sms, "email": email, "letter": letter}

    @property
    def skipped_letter(self) -> bool:
        """Issue 15: the due step would go by letter but the customer has no postal
        address (the channel taken instead is ``standing.channel``)."""
        st = self.standing
        due = st.due
        if due is None or st.usable.get("letter"):
            return False
        prefs = due.step.channels["business" if self.customer.kind == "business" else "individual"]
        if "letter" not in prefs:
            return False
        return st.channel is None or prefs.index(st.channel) >= prefs.index("letter")

    @property
    def letter_skipped(self) -> str | None:
        """``skipped_letter`` as --json says it (English)."""
        if not self.skipped_letter:
            return None
        channel = self.standing.channel
        instead = f"{channel} instead" if channel else "the step is skipped"
        return f"letter skipped: no postal address (地址); {instead}"


def promise_facts(session: Session, customer_id: str) -> list[PromiseFact]:
    return [
        PromiseFact(p.id, p.promised_on, p.status, p.recorded_at,
                    None if p.amount_cents is None else cents_to_money(p.amount_cents))
        for p in session.scalars(
            select(PaymentPromise).where(col(PaymentPromise.customer_id) == customer_id)
        )
    ]  # fmt: skip


def earlier_reminders(session: Session, customer_id: str, at: datetime) -> EarlierReminders:
    """The steps drafted per cycle, and the messages near the slot search that count
    under the caps (as the planner reads them)."""
    drafted: dict[str, set[str]] = {}
    taken: dict[str, list[datetime]] = {}
    since, until = at - timedelta(days=7), at + timedelta(days=SEARCH_DAYS + 7)
    for r in session.execute(
        select(col(Reminder.cycle), col(Reminder.step), col(Reminder.channel),
               col(Reminder.status), col(Reminder.slot_start))
        .where(col(Reminder.customer_id) == customer_id)
    ):  # fmt: skip
        drafted.setdefault(r.cycle, set()).add(r.step)
        if r.status in COUNTED and since <= r.slot_start <= until:
            taken.setdefault(r.channel, []).append(r.slot_start)
    return EarlierReminders(drafted, taken)


def standing_for(
    session: Session, customer: Customer, at: datetime, policy: Policy, calendar: WorkCalendar
) -> Standing:
    """One customer's standing read from the store, as the planner would see it."""
    memo: dict[date, Decimal] = {}

    def portfolio(day: date) -> Decimal:
        if day not in memo:
            memo[day] = portfolio_outstanding(session, day)
        return memo[day]

    return standing_of(
        customer, items_for(session, [customer.id])[customer.id], at, policy, calendar,
        promises=promise_facts(session, customer.id),
        reminders=earlier_reminders(session, customer.id, at), portfolio=portfolio,
    )  # fmt: skip


def explain(
    session: Session, customer_id: str, at: datetime, policy: Policy, calendar: WorkCalendar
) -> Explanation:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise UnknownCustomer(customer_id)
    st = standing_for(session, customer, at, policy, calendar)
    st.tier, st.flags, st.next_slots, st.next_call  # noqa: B018  (worked out while the session is open)
    handover = escalation_of(session, customer)
    owed = {cur: t.outstanding for cur, t in sorted(st.totals.items()) if t.outstanding > 0}
    route = route_of(session, customer, at, policy, owed)
    return Explanation(customer=customer, at=at, standing=st, handover=handover,
                       legal_route=route)  # fmt: skip


def _handover(h: Escalated | None) -> dict[str, str | None]:
    if h is None or not h.recorded:
        return {}
    return {"by": h.by, "from_collector": h.from_collector, "to": h.to, "note": h.note}


def _slot_dict(slot: Slot) -> dict[str, str]:
    return {
        "window": slot.window,
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "local_start": slot.local_start.isoformat(),
    }


def as_dict(e: Explanation) -> dict[str, Any]:
    c = e.customer
    st = e.standing
    slot = e.next_slot
    due = st.due
    escalation = st.escalation
    return {
        "customer_id": c.id,
        "name": c.name,
        "kind": c.kind,
        "timezone": c.timezone,
        "country": c.country,
        "locale": c.locale,
        "collector": c.collector,
        "legal_authorised": c.legal_authorised,
        "at": e.at.astimezone(UTC).isoformat(),
        "local_date": st.today.isoformat(),
        "stage": e.stage.stage,
        "days_overdue": e.stage.days_overdue,
        "oldest_item": e.stage.oldest_item_id,
        "open_items": [
            {
                "invoice_id": o.item.id,
                "currency": o.item.currency,
                "due_on": o.item.due_on.isoformat(),
                "days_overdue": o.days_overdue,
                "outstanding": str(o.outstanding),
                "paused": str(o.paused),
                "penalty": str(o.penalty),
                "penalty_rate_daily": str(o.item.penalty_rate_daily or e.default_rate),
                "disputed": o.item.disputed,
            }
            for o in e.position.lines
        ],
        "total_outstanding": str(e.position.total_outstanding),
        "total_overdue": str(e.position.total_overdue),
        "penalty_so_far": str(e.position.total_penalty),
        "totals": {
            cur: {
                "outstanding": str(t.outstanding),
                "overdue": str(t.overdue),
                "penalty": str(t.penalty),
                "paused": str(t.paused),
            }
            for cur, t in st.totals.items()
        },  # fmt: skip
        "tier": e.tier.tier,
        "tier_hand_set": e.tier.hand_set,
        "tier_computed": e.tier.computed,
        "tier_reasons": [ENGLISH.why(r) for r in e.tier.reasons],
        "tone": e.tone,
        "due_step": None
        if due is None
        else {"step": due.step.name, "firmer_by": due.firmer_by, "channel": st.channel},
        "paused_by": st.paused_by,
        "promises": [
            {
                "id": p.id,
                "promised_on": p.promised_on.isoformat(),
                "amount": None if p.amount is None else str(p.amount),
            }
            for p in st.promises.open
        ],  # fmt: skip
        "broken_promises": st.promises.broken,
        "escalation": None
        if escalation.at is None
        else {
            "at": escalation.at.astimezone(UTC).isoformat(),
            "reason": escalation.reason,
            **_handover(e.handover),
        },
        "escalation_due": escalation.due,
        "next_slot": None if slot is None else _slot_dict(slot),
        "next_slots": {
            channel: _slot_dict(v) if isinstance(v, Slot) else None
            for channel, v in st.next_slots.items()
        },
        "next_call": _slot_dict(st.next_call) if isinstance(st.next_call, Slot) else None,
        "slot_problem": e.slot_problem,
        "allowed_hours": f"{e.allowed_hours.start:%H:%M}-{e.allowed_hours.end:%H:%M}",
        "contact_allowed_now": e.contact_allowed_now,
        "caps": e.caps.model_dump(),
        "channels": {k: v.replace("_", " ") for k, v in e.channel_states.items()},
        "blacklisted": e.flags.blacklisted,
        "suspend_new_orders": e.flags.suspend_new_orders,
        "flag_reasons": [ENGLISH.why(r) for r in e.flags.reasons],
        "letter_skipped": e.letter_skipped,
        "legal_route": e.legal_route.as_dict() if e.legal_route is not None else None,
    }


def to_json(e: Explanation) -> str:
    return json.dumps(as_dict(e), ensure_ascii=False, indent=2)
