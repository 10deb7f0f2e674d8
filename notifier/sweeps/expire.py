"""The expiry sweep: a draft nobody approved within ``planning.expire_after_hours`` after
its slot ended is expired with the reason recorded; its text is stale by then. Approved
reminders are never expired here: they wait for their next slot (D12)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.store.db import unit_of_work
from notifier.store.models import Event, Reminder


def expire(engine: Engine, now: datetime, policy: Policy) -> int:
    """Expire stale pending drafts; returns how many."""
    cutoff = now - timedelta(hours=policy.planning.expire_after_hours)
    reason = f"not approved within {policy.planning.expire_after_hours} h after its slot"
    with unit_of_work(engine) as session:
        stale = session.execute(
            select(col(Reminder.id), col(Reminder.customer_id)).where(
                col(Reminder.status) == "pending_approval", col(Reminder.slot_end) < cutoff
            )
        ).all()
        if not stale:
            return 0
        ids = [row[0] for row in stale]
        session.execute(
            update(Reminder)
            .where(col(Reminder.id).in_(ids), col(Reminder.status) == "pending_approval")
            .values(
                status="expired", reason=reason, updated_at=now, version=col(Reminder.version) + 1
            )  # fmt: skip
        )
        session.add_all(
            Event(at=now, kind="expired", customer_id=cid, actor="expiry",
                  data={"reminder_id": rid, "reason": reason})
            for rid, cid in stale
        )  # fmt: skip
    return len(stale)
