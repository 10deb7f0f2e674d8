"""A customer's whole standing at one instant: the one place where stage, open items (the
disputed parts set aside), days overdue, penalty, totals per currency, tier and why, tone,
the due cadence step, the channel, flags, promises, escalation and the next contact slot
per channel are decided. The planner, the re-check at sending, ``explain``, the customer
and draft pages and the aging report all ask it; none of them works any of it out again.

"Today" is always the customer's own local date at ``now`` (D11): two customers seen at
the same instant may be on different days.

Pure: the caller reads the rows (items already carry their payments, open disputes and
instalment plans: ``store.queries.items_for``), passes ``now``, and writes whatever follows
(a promise settled, an escalation). The parts the planner may not need for a customer (the
tier, the flags, the slot) are worked out when first asked for, once, so the sweep pays
only for what it uses; the answers are the same whoever asks first.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from notifier.domain.cadence import (
    DueStep,
    channel_preferences,
    choose_channel,
    cycle_key,
    due_step,
)
from notifier.domain.calendar import CalendarNotPublished, WorkCalendar
from notifier.domain.calls import (
    HOLIDAY_PREFIX,
    SideTask,
    after_payment_due,
    call_due,
    call_slot,
    greeting_due,
    greeting_step,
    settled_cycle,
    settled_day,
    was_collected,
)
from notifier.domain.flags import Flags, flags
from notifier.domain.items import Item, local_date
from notifier.domain.once import once
from notifier.domain.policy import Channel, Kind, Policy, TierName, Tone
from notifier.domain.position import Position, Totals, position
from notifier.domain.slots import SEARCH_DAYS, Slot, slot_for
from notifier.domain.stages import StageResult, counting_with, customer_stage
from notifier.domain.tiers import TierDecision, TierFacts, decide_tier, tier_facts
from notifier.domain.tone import tone_for

CHANNELS: tuple[Channel, ...] = ("sms", "email")


class CustomerFacts(Protocol):
    """What the standing reads of a customer: a mapped ``Customer`` or a plain row
    (``store.queries.CustomerRow``)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def tier(self) -> str | None: ...
    @property
    def tier_hand_set(self) -> bool: ...
    @property
    def legal_authorised(self) -> bool: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def sms_opt_out(self) -> bool: ...
    @property
    def email_opt_out(self) -> bool: ...
    @property
    def phone_invalid(self) -> bool: ...
    @property
    def escalated_at(self) -> datetime | None: ...
    @property
    def escalation_reason(self) -> str | None: ...


@dataclass(frozen=True)
class PromiseFact:
    """D21: a promise to pay by a date, as recorded."""

    id: int | None
    promised_on: date
    status: str  # open | kept | broken | withdrawn
    recorded_at: datetime
    amount: Decimal | None = None


@dataclass(frozen=True)
class Promises:
    """The customer's promises at ``now``. ``settled``: open promises whose date has
    passed, with what they turned out to be (kept when nothing promised is still overdue,
    else broken): the caller records that."""

    active: PromiseFact | None  # the one pausing reminders today, if any
    broken: int  # broken promises in this cycle (each makes the next step firmer)
    open: tuple[PromiseFact, ...]  # still open, by date
    settled: tuple[tuple[PromiseFact, str], ...]


@dataclass(frozen=True)
class Escalation:
    """D4, D21: whether the customer was handed to a manager, and whether it is due now."""

    at: datetime | None
    reason: str | None
    due: str | None  # the reason to escalate now; None when not due or already escalated


@dataclass(frozen=True)
class EarlierReminders:
    """What the standing needs of the customer's earlier reminders: the steps already
    drafted in each cycle, and when the messages that count under the caps (C2) go out."""

    drafted: Mapping[str, Collection[str]] = field(default_factory=dict)  # cycle -> steps
    taken: Mapping[str, Sequence[datetime]] = field(default_factory=dict)  # channel -> starts


# The first free slot of a customer with no other message near it depends only on where
# the customer is, the channel and the search span: a caller may share a memo across
# customers (the planner does, for a whole sweep).
SlotMemo = dict[tuple[str, str, str, str, datetime, datetime], Slot | None]


@dataclass(frozen=True, eq=False)
class Standing:
    customer: CustomerFacts
    now: datetime
    today: date  # the customer's own local date at ``now``
    items: tuple[Item, ...]
    stage: StageResult
    cycle: str | None  # the overdue cycle, named by its oldest open item
    policy: Policy
    calendar: WorkCalendar | None  # needed for slots only
    promise_facts: tuple[PromiseFact, ...] = ()
    reminders: EarlierReminders = field(default_factory=EarlierReminders)
    portfolio: Callable[[date], Decimal] = field(default=lambda _day: Decimal(0))

    def with_written(
        self,
        customer: CustomerFacts,
        promises: Sequence[PromiseFact],
        reminders: EarlierReminders,
    ) -> Standing:
        """The standing at the same instant once the planner wrote for the customer (its
        escalation, promises settled, new drafts). What rests on the items, the date and
        the tier alone (the position, the flags, the tier when the customer's hand-set
        tier is the same) is carried over as worked out, not worked out again."""
        after = replace(self, customer=customer, promise_facts=tuple(promises),
                        reminders=reminders)  # fmt: skip
        known = self.__dict__
        same_tier = (customer.tier, customer.tier_hand_set) == (
            self.customer.tier, self.customer.tier_hand_set)  # fmt: skip
        carried = ("position", "flags", "tier_facts", "counting")
        for name in (*carried, "tier") if same_tier else carried:
            if name in known:
                after.__dict__[name] = known[name]
        return after

    # -- what is owed ------------------------------------------------------------------
    @once
    def position(self) -> Position:
        """The open items with their disputed parts set aside (D7, D22)."""
        return position(self.items, self.today, self.policy.penalty.default_daily_rate)

    @property
    def days_overdue(self) -> int:
        return self.stage.days_overdue

    @property
    def penalty(self) -> Decimal:
        return self.position.total_penalty

    @property
    def totals(self) -> dict[str, Totals]:
        """Outstanding, overdue, penalty and paused, per currency."""
        return self.position.totals

    @once
    def flags(self) -> Flags:
        return flags(self.items, self.today, self.policy.flags)

    # -- who the customer is -----------------------------------------------------------
    @once
    def tier_facts(self) -> TierFacts:
        """D1's facts from the customer's history; the portfolio's total is asked for only
        when the share rule can decide the tier (``share_of_receivables`` not None)."""
        today, portfolio = self.today, self.portfolio
        return tier_facts(self.items, today, self.policy.tiers, lambda: portfolio(today))

    @once
    def tier(self) -> TierDecision:
        hand_set: TierName | None = (
            self.customer.tier if self.customer.tier_hand_set else None  # type: ignore[assignment]
        )
        return decide_tier(self.tier_facts, self.policy.tiers, hand_set)

    @once
    def promises(self) -> Promises:
        if not self.promise_facts:  # most customers never promised anything
            return Promises(None, 0, (), ())
        oldest = self._oldest
        cycle_start = oldest.due_on if oldest is not None else None
        active: PromiseFact | None = None
        broken = 0
        still_open: list[PromiseFact] = []
        settled: list[tuple[PromiseFact, str]] = []
        for p in sorted(self.promise_facts, key=lambda p: p.recorded_at):
            status = p.status
            if status == "open" and p.promised_on < self.today:
                late = any(
                    i.is_collectable_on(p.promised_on) and i.due_on < p.promised_on
                    for i in self.items
                )
                status = "broken" if late else "kept"
                settled.append((p, status))
            if status == "open":
                still_open.append(p)
                active = p  # the latest recorded open promise is the one that holds
            if status == "broken" and cycle_start is not None and p.promised_on >= cycle_start:
                broken += 1
        still_open.sort(key=lambda p: p.promised_on)
        return Promises(active, broken, tuple(still_open), tuple(settled))

    @once
    def escalation(self) -> Escalation:
        c = self.customer
        due = None
        if c.escalated_at is None and self.stage.reminder_stage is not None:
            broken = self.promises.broken
            if broken >= self.policy.planning.broken_promises_to_escalate:
                due = f"{broken} broken promises to pay (D21)"
        return Escalation(c.escalated_at, c.escalation_reason, due)

    @property
    def paused_by(self) -> str | None:
        """Why reminders wait although something is due (D21), else None."""
        active = self.promises.active
        return None if active is None else f"promised to pay by {active.promised_on.isoformat()}"

    # -- what to send ------------------------------------------------------------------
    @once
    def due(self) -> DueStep | None:
        """The cadence step due now and not yet drafted in this cycle; None when nothing
        is due, the customer is paused by a promise, or the step was drafted already."""
        if self.stage.reminder_stage is None or self.cycle is None or self.paused_by:
            return None
        cadence = self.policy.cadence
        assert cadence is not None
        return due_step(
            cadence.steps, self.stage.days_overdue, self.tier.tier,
            self.customer.legal_authorised, self.reminders.drafted.get(self.cycle, ()),
            self.promises.broken,
        )  # fmt: skip

    @once
    def tone(self) -> Tone | None:
        due = self.due
        if due is not None and due.step.tone is not None:
            return due.step.tone
        return tone_for(self.stage.reminder_stage, self.tier.tier, self.policy.tone)

    @property
    def usable(self) -> dict[Channel, bool]:
        """Channels the customer can receive: address known, not opted out, valid."""
        c = self.customer
        return {
            "sms": bool(c.phone) and not c.sms_opt_out and not c.phone_invalid,
            "email": bool(c.email) and not c.email_opt_out,
            # a formal letter needs a postal address (issue 15); facts without the field
            # (a caller's own row type) have none
            "letter": bool(getattr(c, "address", None)),
            # a call (issue 14): a phone known and not stopped (wrong number, C6 21211)
            "call": bool(c.phone) and not c.phone_invalid,
        }

    # -- calls, after payment, greetings (issue 14, D24) ---------------------------------
    @once
    def side_tasks(self) -> tuple[SideTask, ...]:
        """What is due beside the overdue message, each in its own cycle and not drafted
        there yet: the call of the cadence (paused by a promise like the messages, D21),
        the after-payment steps a week after settling (D24), a holiday greeting (D24)."""
        cadence = self.policy.cadence
        steps = cadence.steps if cadence is not None else ()
        drafted = self.reminders.drafted
        kind: Kind = "business" if self.customer.kind == "business" else "individual"
        tasks: list[SideTask] = []
        if self.cycle is not None and not self.paused_by:
            call = call_due(
                steps, days_overdue=self.stage.days_overdue, oldest=self._oldest,
                today=self.today, tier=self.tier.tier,
                legal_authorised=self.customer.legal_authorised,
                drafted=drafted.get(self.cycle, ()),
                in_collection=self.stage.reminder_stage is not None,
            )  # fmt: skip
            if call is not None:
                tasks.append(SideTask(call.name, call.template_name, self.cycle, ("call",),
                                      call.tone, "call"))  # fmt: skip
        # Only a customer with nothing open has settled (the stage says so already).
        settled = settled_day(self.items, self.today) if self.stage.stage == "settled" else None
        if settled is not None and was_collected(self.items, drafted):
            cycle = settled_cycle(settled)
            for calls in (False, True):
                step = after_payment_due(steps, settled, self.today, self.tier.tier,
                                         drafted.get(cycle, ()), calls=calls)  # fmt: skip
                if step is not None:
                    tasks.append(SideTask(step.name, step.template_name, cycle,
                                          tuple(step.channels[kind]), step.tone,
                                          "call" if calls else "after_payment"))  # fmt: skip
        first = min((i.issued_on for i in self.items), default=None)
        greetings = self.policy.greetings
        holiday = greeting_due(self.today, first, greetings, ())
        if holiday is not None:
            cycle = f"{HOLIDAY_PREFIX}{holiday[1].isoformat()}"
            step_name = greeting_step(holiday[0])
            if step_name not in drafted.get(cycle, ()):
                tasks.append(SideTask(step_name, step_name, cycle,
                                      tuple(greetings.channels[kind]), "friendly",
                                      "greeting"))  # fmt: skip
        return tuple(tasks)

    def side_channel(self, task: SideTask) -> Channel | None:
        """The task's first channel the customer can receive."""
        usable = self.usable
        return next((c for c in task.channels if usable.get(c, False)), None)

    def side_tone(self, task: SideTask) -> Tone:
        if task.tone is not None:
            return task.tone  # type: ignore[return-value]
        return tone_for(self.stage.reminder_stage, self.tier.tier, self.policy.tone) or "friendly"

    def call_slot(self, until: datetime | None = None) -> Slot | None:
        """The first call window in [now, until) within quiet hours and the call caps, given
        the customer's other calls planned or made (``reminders.taken["call"]``)."""
        if self.calendar is None:
            raise ValueError("the next slot needs the work calendar: pass calendar=")
        end = until if until is not None else self.now + timedelta(days=SEARCH_DAYS)
        taken = self.reminders.taken.get("call", ())
        return call_slot(self.customer, self.now, end, policy=self.policy,
                         calendar=self.calendar, taken=taken)  # fmt: skip

    @once
    def channel(self) -> Channel | None:
        """The due step's first preferred channel the customer can receive."""
        due = self.due
        if due is None:
            return None
        kind: Kind = "business" if self.customer.kind == "business" else "individual"
        usable = self.usable
        return choose_channel(channel_preferences(due.step, kind), sms_ok=usable["sms"],
                              email_ok=usable["email"],
                              letter_ok=usable["letter"])  # fmt: skip

    def slot(
        self, channel: Channel, until: datetime | None = None, memo: SlotMemo | None = None
    ) -> Slot | None:
        """The first slot of ``channel`` starting in [now, until) that quiet hours and the
        caps allow, given the customer's other messages (default span: ``SEARCH_DAYS``).
        Raises ``CalendarNotPublished`` when the span runs past the published calendar."""
        if self.calendar is None:
            raise ValueError("the next slot needs the work calendar: pass calendar=")
        end = until if until is not None else self.now + timedelta(days=SEARCH_DAYS)
        taken = self.reminders.taken.get(channel, ())
        c = self.customer
        key = (c.kind, c.timezone, c.country, channel, self.now, end)
        if memo is not None and not taken and key in memo:
            return memo[key]
        found = slot_for(c, channel, self.now, end, policy=self.policy, calendar=self.calendar,
                         taken=taken)  # fmt: skip
        if memo is not None and not taken:
            memo[key] = found
        return found

    @once
    def next_slots(self) -> dict[Channel, Slot | None | CalendarNotPublished]:
        """The next slot of each channel the customer can receive, after the caps; the
        calendar's refusal where it is not published that far."""
        result: dict[Channel, Slot | None | CalendarNotPublished] = {}
        for channel in CHANNELS:
            if not self.usable[channel]:
                continue
            try:
                result[channel] = self.slot(channel)
            except CalendarNotPublished as exc:
                result[channel] = exc
        return result

    @once
    def next_call(self) -> Slot | None | CalendarNotPublished:
        """The next call window (issue 14) within quiet hours and the call caps, for a
        customer with a phone to call; the calendar's refusal where it is not published."""
        if not self.usable["call"]:
            return None
        try:
            return self.call_slot()
        except CalendarNotPublished as exc:
            return exc

    @once
    def counting(self) -> tuple[Item, ...]:
        """The items whose days overdue decide something from today on
        (``stages.overdue_counting``): what the coming change days follow."""
        return tuple(counting_with(self.items, self.today, self._oldest))

    @property
    def _oldest(self) -> Item | None:
        oldest_id = self.stage.oldest_item_id
        return next((i for i in self.items if i.id == oldest_id), None)


def standing_of(
    customer: CustomerFacts,
    items: Sequence[Item],
    now: datetime,
    policy: Policy,
    calendar: WorkCalendar | None = None,
    *,
    promises: Sequence[PromiseFact] = (),
    reminders: EarlierReminders | None = None,
    portfolio: Decimal | Callable[[date], Decimal] = Decimal(0),
) -> Standing:
    """The customer's standing at instant ``now``. ``items``: its receivables and plan
    instalments with their payments and open disputes; ``portfolio``: what all customers
    owe (the tier's share of receivables), as an amount or by day."""
    today = local_date(now, customer.timezone)
    stage = customer_stage(items, today, policy.stages)
    oldest_id = stage.oldest_item_id
    oldest = next((i for i in items if i.id == oldest_id), None) if oldest_id else None
    by_day = portfolio if callable(portfolio) else _constant(portfolio)
    return Standing(
        customer=customer,
        now=now,
        today=today,
        items=tuple(items),
        stage=stage,
        cycle=cycle_key(oldest.id, oldest.due_on) if oldest is not None else None,
        policy=policy,
        calendar=calendar,
        promise_facts=tuple(promises),
        reminders=reminders if reminders is not None else EarlierReminders(),
        portfolio=by_day,
    )


def _constant(amount: Decimal) -> Callable[[date], Decimal]:
    return lambda _day: amount
