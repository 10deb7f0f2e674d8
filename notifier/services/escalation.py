"""D4, D21: escalation hands a customer from its collector to a manager.

One function does it for every caller: a manager or an admin (the customer page,
`notifier escalate`) and the planner after broken promises, which passes the escalations
of a whole batch of customers at once (set-based: one locked SELECT, one UPDATE and one
event INSERT, each an executemany). The policy's ``[escalation]`` names who takes over;
when it names nobody, the customer stays with its collector and the event says so. The
event (D18) keeps the collector before, who took over, the reason, who decided and when;
a manager or an admin may hand the customer back to that collector (de-escalation).

No HTTP here. Callers own the transaction (nothing commits) and pass ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session, col

from notifier.domain.policy import EscalationPolicy
from notifier.services.common import CustomerError, NotAllowed, customer_of
from notifier.store.models import Customer, Event, User

# Who may escalate a customer by hand or hand it back (D4: a manager's call).
ESCALATORS = frozenset({"manager", "admin"})
NO_MANAGER = "no manager is named in the policy's [escalation]: it stays with its collector"
MAX_REASON = 2000

_C = Customer.__table__  # type: ignore[attr-defined]  # Core statements on the same table
_ESCALATE = (
    update(_C)
    .where(_C.c.id == bindparam("cid"), _C.c.escalated_at.is_(None))
    .values(collector=bindparam("owner"), escalated_at=bindparam("now", type_=_C.c.updated_at.type),
            escalation_reason=bindparam("why"),
            updated_at=bindparam("now", type_=_C.c.updated_at.type))
)  # fmt: skip


@dataclass(frozen=True)
class Escalated:
    """A customer's escalation in force, as its event recorded it."""

    at: datetime
    reason: str | None
    by: str | None
    from_collector: str | None  # the collector before
    to: str | None  # who has the customer now
    note: str | None  # e.g. that no manager was named
    # False for an escalation from before escalations moved customers (nothing handed over)
    recorded: bool = True


def escalate_many(
    session: Session,
    requests: Sequence[tuple[str, str]],
    policy: EscalationPolicy,
    by: str,
    now: datetime,
    *,
    role: str | None = None,
) -> list[str]:
    """Escalate each (customer id, reason) not escalated yet: the customer goes to its
    collector's manager. The ids escalated; those already escalated are left alone (a
    concurrent run that escalated one first wins: the rows are locked, then re-read)."""
    reasons = dict(requests)
    if not reasons:
        return []
    rows = session.execute(
        select(col(Customer.id), col(Customer.collector))
        .where(col(Customer.id).in_(reasons), col(Customer.escalated_at).is_(None))
        .order_by(col(Customer.id))
        .with_for_update()
    ).all()
    if not rows:
        return []
    changes: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for cid, collector in rows:
        manager = policy.manager_for(collector)
        owner = manager or collector
        changes.append({"cid": cid, "owner": owner, "now": now, "why": reasons[cid]})
        data: dict[str, Any] = {"reason": reasons[cid], "from": collector, "to": owner}
        if role is not None:
            data["role"] = role
        if manager is None:
            data["note"] = NO_MANAGER
        events.append({"at": now, "kind": "escalated", "customer_id": cid, "actor": by,
                       "data": data})  # fmt: skip
    session.execute(_ESCALATE, changes)
    session.execute(insert(Event.__table__), events)  # type: ignore[attr-defined]
    return [change["cid"] for change in changes]


def _customer(session: Session, customer_id: str) -> Customer:
    return customer_of(session, customer_id, lock=True)


def escalator_problem(user: User | None, name: str) -> str | None:
    """Why ``name`` may not escalate a customer or hand it back, or None."""
    if user is None:
        return (
            f"no user {name!r}: an escalation names a notifier user (a manager or admin); "
            f"add one with `notifier user add {name} --role manager`"
        )
    if not user.active:
        return f"user {name!r} is disabled and may not escalate customers"
    if user.role not in ESCALATORS:
        return (
            f"user {name!r} is a {user.role}; only a manager or an admin may escalate a "
            "customer or hand it back"
        )
    return None


def _may_escalate(user: User) -> None:
    problem = escalator_problem(user, user.name)
    if problem is not None:
        raise NotAllowed(problem)


def escalate(
    session: Session, customer_id: str, reason: str, by: User, now: datetime,
    policy: EscalationPolicy,
) -> Customer:  # fmt: skip
    """D4: a manager or an admin escalates the customer by hand, with the reason."""
    _may_escalate(by)
    text = " ".join(reason.split())
    if not text:
        raise CustomerError("an escalation needs a reason")
    if len(text) > MAX_REASON:
        raise CustomerError(f"the reason is longer than {MAX_REASON} characters")
    customer = _customer(session, customer_id)
    if customer.escalated_at is not None:
        raise CustomerError(
            f"customer {customer_id!r} is escalated already (since "
            f"{customer.escalated_at.isoformat()}: {customer.escalation_reason or 'no reason'})"
        )
    escalate_many(session, [(customer_id, text)], policy, by.name, now, role=by.role)
    session.refresh(customer)
    return customer


def deescalate(
    session: Session, customer_id: str, note: str | None, by: User, now: datetime
) -> Customer:
    """A manager or an admin hands an escalated customer back to the collector it had
    before (as its escalation event names)."""
    _may_escalate(by)
    customer = _customer(session, customer_id)
    if customer.escalated_at is None:
        raise CustomerError(f"customer {customer_id!r} is not escalated")
    current = escalation_of(session, customer)
    assert current is not None
    back = current.from_collector
    text = " ".join((note or "").split())[:MAX_REASON] or None
    session.add(Event(at=now, kind="deescalated", customer_id=customer.id, actor=by.name,
                      data={"from": customer.collector, "to": back, "note": text,
                            "role": by.role}))  # fmt: skip
    customer.collector, customer.escalated_at, customer.escalation_reason = back, None, None
    customer.updated_at = now
    return customer


def escalation_of(session: Session, customer: Customer) -> Escalated | None:
    """The escalation in force on ``customer`` with its facts, or None."""
    if customer.escalated_at is None:
        return None
    event = session.scalars(
        select(Event)
        .where(col(Event.customer_id) == customer.id, col(Event.kind) == "escalated")
        .order_by(col(Event.at).desc(), col(Event.id).desc())
        .limit(1)
    ).first()
    data = event.data if event is not None else {}
    # An escalation from before escalations moved customers names nobody: it stayed.
    return Escalated(
        at=customer.escalated_at,
        reason=customer.escalation_reason,
        by=event.actor if event is not None else None,
        from_collector=data.get("from", customer.collector),
        to=data.get("to", customer.collector),
        note=data.get("note"),
        recorded="to" in data,
    )
