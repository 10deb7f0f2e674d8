"""The reminder row a sweep hands to ``store/reminders.insert_drafts``: one shape for the
cadence's messages (``sweeps/plan.py``) and the side tasks beside them (``sweeps/calls.py``),
with the facts the draft was written from (explain and the pages show the same)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from notifier.domain.slots import Slot
from notifier.domain.standing import Standing
from notifier.drafting.compose import Composed


class Recipient(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def address(self) -> str | None: ...


def address_for(customer: Recipient, channel: str) -> str | None:
    """Where the channel reaches the customer: postal for a letter (issue 15), the phone
    for a text or a call, else the e-mail address."""
    if channel == "letter":
        return customer.address
    return customer.phone if channel in ("sms", "call") else customer.email


def standing_facts(st: Standing) -> dict[str, Any]:
    """The standing's days overdue, penalty and totals per currency."""
    return {
        "days_overdue": st.days_overdue,
        "penalty": str(st.penalty),
        "totals": {cur: str(t.outstanding) for cur, t in st.totals.items()},
    }


def draft_row(
    st: Standing,
    customer: Recipient,
    *,
    step: str,
    cycle: str | None,
    channel: str,
    stage: str,
    tone: str,
    slot: Slot,
    composed: Composed,
    locale: str,
    now: datetime,
    facts: Mapping[str, Any],
) -> dict[str, Any]:
    """The row of one draft; ``facts`` are the sweep's own beside the composed text's."""
    return {
        "customer_id": customer.id,
        "step": step,
        "cycle": cycle,
        "channel": channel,
        "address": address_for(customer, channel),
        "stage": stage,
        "tier": st.tier.tier,
        "tone": tone,
        "locale": locale,
        "window": slot.window,
        "slot_start": slot.start,
        "slot_end": slot.end,
        "subject": composed.subject,
        "body": composed.body,
        "html": composed.html,
        "segments": composed.segments,
        "facts": {
            **composed.facts,
            "total": str(st.position.total_outstanding),
            **facts,
            **standing_facts(st),
        },
        "lint": [str(p) for p in composed.lint],
        "created_at": now,
        "updated_at": now,
    }
