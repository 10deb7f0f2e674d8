"""Status changes of a reminder that several places make, in one place each, so that every
one of them bumps the version, releases a delivery claim and leaves its evidence (D18)."""

from __future__ import annotations

from datetime import datetime

from notifier.store.models import Event, Reminder


def cancel(r: Reminder, reason: str, now: datetime, actor: str) -> Event:
    """Cancel ``r`` (its message is no longer right) and return the event to record."""
    r.status, r.reason, r.updated_at = "cancelled", reason, now
    r.claimed_by = r.claimed_until = None
    r.version += 1
    return Event(at=now, kind="cancelled", customer_id=r.customer_id, actor=actor,
                 data={"reminder_id": r.id, "reason": reason, "channel": r.channel})  # fmt: skip
