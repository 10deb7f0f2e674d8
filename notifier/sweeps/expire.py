"""The expiry sweep: a draft nobody approved within ``planning.expire_after_hours`` after
its slot ended is expired with the reason recorded; its text is stale by then. Approved
reminders are never expired here: they wait for their next slot (D12)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.store import reminders
from notifier.store.db import unit_of_work


def expire(engine: Engine, now: datetime, policy: Policy) -> int:
    """Expire stale pending drafts; returns how many."""
    cutoff = now - timedelta(hours=policy.planning.expire_after_hours)
    reason = f"not approved within {policy.planning.expire_after_hours} h after its slot"
    with unit_of_work(engine) as session:
        return reminders.expire_stale(session, cutoff, reason, now)
