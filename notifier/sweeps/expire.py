"""The expiry sweep: a draft nobody approved within ``planning.expire_after_hours`` after
its slot ended is expired with the reason recorded; its text is stale by then. Approved
reminders are never expired here: they wait for their next slot (D12)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.store import reminders
from notifier.store.db import unit_of_work


@dataclass(frozen=True)
class ExpireReport:
    at: datetime
    expired: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "expired": self.expired}


def expire(engine: Engine, now: datetime, policy: Policy) -> int:
    """Expire stale pending drafts; returns how many."""
    cutoff = now - timedelta(hours=policy.planning.expire_after_hours)
    reason = f"not approved within {policy.planning.expire_after_hours} h after its slot"
    with unit_of_work(engine) as session:
        return reminders.expire_stale(session, cutoff, reason, now)


@dataclass(frozen=True)
class Expire:
    """The expiry sweep with its policy bound."""

    policy: Policy
    name: ClassVar[str] = "expire"

    def run(self, engine: Engine, now: datetime) -> ExpireReport:
        return ExpireReport(at=now, expired=expire(engine, now, self.policy))
