"""The reminder row a sweep hands to ``store/reminders.insert_drafts``: one shape for the
cadence's messages (``sweeps/plan.py``) and the side tasks beside them (``sweeps/calls.py``),
with the facts the draft was written from (explain and the pages show the same)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notifier.domain.slots import Slot
from notifier.domain.standing import CustomerFacts, Standing
from notifier.drafting.compose import Composed


def address_for(customer: CustomerFacts, channel: str) -> str | None:
    """Where the channel reaches the customer: postal for a letter (issue 15; facts without
    the field have none), the phone for a text or a call, else the e-mail address."""
    if channel == "letter":
        return getattr(customer, "address", None)
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
    *,
    step: str,
    cycle: str | None,
    channel: str,
    tone: str,
    slot: Slot,
    composed: Composed,
    locale: str,
    facts: Mapping[str, Any],
) -> dict[str, Any]:
    """The row of one draft of the standing's customer at the standing's instant; ``facts``
    are the sweep's own beside the composed text's. A side task of a settled customer
    keeps the standing's own stage (current, settled)."""
    return {
        "customer_id": st.customer.id,
        "step": step,
        "cycle": cycle,
        "channel": channel,
        "address": address_for(st.customer, channel),
        "stage": st.stage.reminder_stage or st.stage.stage,
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
        "created_at": st.now,
        "updated_at": st.now,
    }
