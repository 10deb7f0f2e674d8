"""`notifier explain CUSTOMER [--at TS]`: everything the rules decide about one customer at
one instant, and why: stage, open items, penalty, tier, tone, next contact slot, quiet
hours, caps and D25 flags."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from notifier.domain.calendar import CalendarNotPublished, WorkCalendar
from notifier.domain.flags import Flags, flags
from notifier.domain.items import local_date
from notifier.domain.penalty import describe_rate
from notifier.domain.policy import AllowedHours, CapPolicy, Policy, TierName, Tone
from notifier.domain.position import Position, position
from notifier.domain.slots import Slot, contact_allowed, next_slot
from notifier.domain.stages import StageResult, customer_stage
from notifier.domain.tiers import TierDecision, decide_tier, tier_facts
from notifier.domain.tone import tone_for
from notifier.store.models import Customer
from notifier.store.queries import items_for, portfolio_outstanding


class UnknownCustomer(LookupError):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer with id {customer_id!r}")


@dataclass(frozen=True)
class Explanation:
    customer: Customer
    at: datetime
    stage: StageResult
    position: Position
    tier: TierDecision
    tone: Tone | None
    next_slot: Slot | None
    slot_problem: str | None
    allowed_hours: AllowedHours
    contact_allowed_now: bool
    caps: CapPolicy
    flags: Flags
    default_rate: Decimal
    channels: dict[str, str]


def _channels(c: Customer) -> dict[str, str]:
    sms = "no phone" if not c.phone else "opted out" if c.sms_opt_out else (
        "invalid number" if c.phone_invalid else "available"
    )  # fmt: skip
    email = "no address" if not c.email else "opted out" if c.email_opt_out else "available"
    return {"sms": sms, "email": email}


def explain(
    session: Session, customer_id: str, at: datetime, policy: Policy, calendar: WorkCalendar
) -> Explanation:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise UnknownCustomer(customer_id)
    today = local_date(at, customer.timezone)
    items = items_for(session, [customer.id])[customer.id]
    stage = customer_stage(items, today, policy.stages)
    facts = tier_facts(items, today, policy.tiers, portfolio_outstanding(session, today))
    hand_set: TierName | None = customer.tier if customer.tier_hand_set else None  # type: ignore[assignment]
    tier = decide_tier(facts, policy.tiers, hand_set)
    slot: Slot | None = None
    problem: str | None = None
    try:
        slot = next_slot(
            at, kind=customer.kind, zone=customer.timezone, country=customer.country,
            policy=policy, calendar=calendar,
        )  # fmt: skip
    except CalendarNotPublished as exc:
        problem = str(exc)
    return Explanation(
        customer=customer,
        at=at,
        stage=stage,
        position=position(items, today, policy.penalty.default_daily_rate),
        tier=tier,
        tone=tone_for(stage.reminder_stage, tier.tier, policy.tone),
        next_slot=slot,
        slot_problem=problem,
        allowed_hours=policy.quiet_hours.for_country(customer.country),
        contact_allowed_now=contact_allowed(
            at, zone=customer.timezone, country=customer.country, quiet_hours=policy.quiet_hours
        ),
        caps=policy.caps,
        flags=flags(items, today, policy.flags),
        default_rate=policy.penalty.default_daily_rate,
        channels=_channels(customer),
    )


def _local(dt: datetime, zone: str) -> str:
    return dt.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z (%a)")


def as_dict(e: Explanation) -> dict[str, Any]:
    c = e.customer
    slot = e.next_slot
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
        "local_date": local_date(e.at, c.timezone).isoformat(),
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
                "penalty": str(o.penalty),
                "penalty_rate_daily": str(o.item.penalty_rate_daily or e.default_rate),
                "disputed": o.item.disputed,
            }
            for o in e.position.open_items
        ],
        "total_outstanding": str(e.position.total_outstanding),
        "total_overdue": str(e.position.total_overdue),
        "penalty_so_far": str(e.position.total_penalty),
        "tier": e.tier.tier,
        "tier_hand_set": e.tier.hand_set,
        "tier_computed": e.tier.computed,
        "tier_reasons": list(e.tier.reasons),
        "tone": e.tone,
        "next_slot": None
        if slot is None
        else {
            "window": slot.window,
            "start": slot.start.isoformat(),
            "end": slot.end.isoformat(),
            "local_start": slot.local_start.isoformat(),
        },
        "slot_problem": e.slot_problem,
        "allowed_hours": f"{e.allowed_hours.start:%H:%M}-{e.allowed_hours.end:%H:%M}",
        "contact_allowed_now": e.contact_allowed_now,
        "caps": e.caps.model_dump(),
        "channels": e.channels,
        "blacklisted": e.flags.blacklisted,
        "suspend_new_orders": e.flags.suspend_new_orders,
        "flag_reasons": list(e.flags.reasons),
    }


def to_json(e: Explanation) -> str:
    return json.dumps(as_dict(e), ensure_ascii=False, indent=2)


def print_explanation(console: Console, e: Explanation) -> None:
    c = e.customer
    zone = c.timezone
    console.print(f"[bold]{c.id} {c.name}[/bold]  {c.kind}, {c.country}, {zone}, {c.locale}")
    console.print(f"collector: {c.collector or '-'}   legal-authorised: {c.legal_authorised}")
    console.print(f"as of {_local(e.at, zone)} = {e.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    stage = e.stage
    if stage.stage == "settled":
        console.print("stage: [green]settled[/green] (nothing open)")
    else:
        console.print(
            f"stage: [bold]{stage.stage}[/bold], oldest open item {stage.oldest_item_id} "
            f"is {stage.days_overdue} days past due"
        )
    pos = e.position
    if pos.open_items:
        table = Table(header_style="bold")
        for name in ("Invoice", "Due", "Days overdue", "Outstanding", "Rate/day", "Penalty"):
            table.add_column(name, justify="left" if name in ("Invoice", "Due") else "right")
        for o in pos.open_items:
            rate = o.item.penalty_rate_daily or e.default_rate
            table.add_row(
                o.item.id + (" (disputed)" if o.item.disputed else ""), o.item.due_on.isoformat(),
                str(o.days_overdue), f"{o.outstanding:,.2f} {o.item.currency}",
                describe_rate(rate), f"{o.penalty:,.2f}",
                style="red" if o.days_overdue > 30 else None,
            )  # fmt: skip
        console.print(table)
        cur = pos.currency or "(mixed currencies)"
        console.print(
            f"{len(pos.open_items)} open items totalling {pos.total_outstanding:,.2f} {cur}, "
            f"{len(pos.overdue_items)} overdue ({pos.total_overdue:,.2f}), up to "
            f"{pos.max_days_overdue} days; penalty so far {pos.total_penalty:,.2f} "
            "(outstanding principal x daily rate x days overdue)"
        )
    how = "set by hand" if e.tier.hand_set else "computed"
    console.print(f"tier: [bold]{e.tier.tier}[/bold] ({how}): " + "; ".join(e.tier.reasons))
    console.print(f"tone: {e.tone or '- (no reminder due)'}")
    if e.next_slot is not None:
        s = e.next_slot
        console.print(
            f"next contact slot ({s.window}): {_local(s.start, zone)} to "
            f"{s.end.astimezone(ZoneInfo(zone)):%H:%M} local = "
            f"{s.start:%Y-%m-%d %H:%M}-{s.end:%H:%M} UTC"
        )
    else:
        console.print(f"[red]next contact slot: unknown: {e.slot_problem}[/red]")
    allowed = e.allowed_hours
    console.print(
        f"quiet hours ({c.country}): contact only {allowed.start:%H:%M}-{allowed.end:%H:%M} "
        f"local; allowed now: {e.contact_allowed_now}"
    )
    caps = e.caps
    console.print(
        f"caps: {caps.sms_per_day} SMS and {caps.email_per_day} email a day, "
        f"{caps.sms_per_7_days} SMS and {caps.email_per_7_days} emails in 7 days"
    )
    console.print("channels: " + ", ".join(f"{k} {v}" for k, v in e.channels.items()))
    flag_words = [
        w for w, on in (("BLACKLISTED", e.flags.blacklisted),
                        ("SUSPEND NEW ORDERS", e.flags.suspend_new_orders)) if on
    ]  # fmt: skip
    if flag_words:
        console.print(f"[red]flags: {', '.join(flag_words)}[/red]: " + "; ".join(e.flags.reasons))
    else:
        console.print("flags: none")
