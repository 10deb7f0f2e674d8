"""The legal route (D19, issue 15) as steps a manager decides.

After the lawyer's letter went out (posted, or sent by e-mail where there is no postal
address), the customer has ``[legal] lawsuit_after_days`` days (7) to pay; then a
"prepare lawsuit" task waits for a manager. The faster payment order (支付令) is offered
while the undisputed principal is below ``payment_order_max`` (50,000 CNY): disputed parts
are set aside (D22), as the standing does. A manager decides ``lawsuit``,
``payment_order`` or ``wait`` (the task comes back after the same number of days), with a
reason; each decision is a ``legal_decision`` event, so it stands in the customer's hash
chain (D18) with who decided and why. The flag that authorises legal steps at all is
``notifier legal CUSTOMER --authorise`` (services/customers.py); the route's lawsuit and
payment order need it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.errors import Forbidden, NotFound, Refused
from notifier.domain.lifecycle import Status
from notifier.domain.policy import Policy
from notifier.domain.standing import standing_of
from notifier.store.models import Customer, Event, LetterPost, Reminder, User
from notifier.store.queries import items_for
from notifier.words import words

EVENT = "legal_decision"
DECISIONS = ("lawsuit", "payment_order", "wait")
WENT_OUT = (Status.SENT.value, Status.DELIVERED.value)
MAY_DECIDE = frozenset({"manager", "admin"})


class UnknownCustomer(NotFound):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer {customer_id!r}")


class NotAManager(Forbidden):
    pass


class DecisionRefused(Refused):
    pass


@dataclass(frozen=True)
class Decision:
    at: datetime
    by: str
    decision: str  # lawsuit | payment_order | wait
    reason: str


@dataclass(frozen=True)
class Route:
    """Where a customer stands on the legal route at ``now``."""

    customer_id: str
    authorised: bool
    owes: bool
    principal: dict[str, Decimal]  # undisputed outstanding principal, per currency
    payment_order: bool  # offered: below the threshold in its currency
    threshold: Decimal
    threshold_currency: str
    letter_id: int | None  # the lawyer's letter (the latest that went out)
    letter_channel: str | None
    letter_sent_at: datetime | None
    tracking_no: str | None
    received_on: str | None
    decisions: tuple[Decision, ...]
    task_due_at: datetime | None  # when "prepare lawsuit" is (or was) due
    task_open: bool  # due now, nothing owed is settled, no lawsuit/payment order decided

    @property
    def state(self) -> str:
        """A code for the pages and --json: the words are in the catalogue."""
        decided = self.latest
        if decided is not None and decided.decision != "wait":
            return f"decided_{decided.decision}"
        if not self.owes:
            return "settled"
        if self.task_open:
            return "prepare_lawsuit"
        if self.letter_sent_at is not None:
            return "waiting_after_letter"
        return "authorised" if self.authorised else "not_authorised"

    @property
    def latest(self) -> Decision | None:
        return self.decisions[-1] if self.decisions else None

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "customer_id": self.customer_id, "state": self.state, "authorised": self.authorised,
            "owes": self.owes, "principal": {c: str(v) for c, v in self.principal.items()},
            "payment_order_offered": self.payment_order, "threshold": str(self.threshold),
            "threshold_currency": self.threshold_currency, "lawyer_letter_id": self.letter_id,
            "lawyer_letter_channel": self.letter_channel,
            "lawyer_letter_sent_at": iso(self.letter_sent_at), "tracking_no": self.tracking_no,
            "received_on": self.received_on, "task_due_at": iso(self.task_due_at),
            "task_open": self.task_open,
            "decisions": [{"at": d.at.isoformat(), "by": d.by, "decision": d.decision,
                           "reason": d.reason} for d in self.decisions],
        }  # fmt: skip


def _principal(session: Session, customer: Customer, now: datetime,
               policy: Policy) -> dict[str, Decimal]:  # fmt: skip
    st = standing_of(customer, items_for(session, [customer.id]).get(customer.id, []), now,
                     policy)  # fmt: skip
    return {c: t.outstanding for c, t in sorted(st.totals.items()) if t.outstanding > 0}


def _decisions(session: Session, customer_id: str, now: datetime) -> tuple[Decision, ...]:
    rows = session.scalars(
        select(Event)
        .where(col(Event.customer_id) == customer_id, col(Event.kind) == EVENT,
               col(Event.at) <= now)
        .order_by(col(Event.at), col(Event.id))
    )  # fmt: skip
    return tuple(Decision(_aware(e.at), e.actor or "", str(e.data.get("decision")),
                          str(e.data.get("reason") or "")) for e in rows)  # fmt: skip


def _aware(value: datetime) -> datetime:
    """Stored times are UTC (a driver may hand them back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def route_of(session: Session, customer: Customer, now: datetime, policy: Policy,
             principal: Mapping[str, Decimal] | None = None) -> Route:  # fmt: skip
    """The customer's legal route at ``now`` (``principal``: the undisputed outstanding per
    currency, when the caller holds the standing already)."""
    legal = policy.legal
    owed = dict(principal) if principal is not None else _principal(session, customer, now, policy)
    letter = session.scalars(
        select(Reminder)
        .where(col(Reminder.customer_id) == customer.id, col(Reminder.step) == legal.lawyer_step,
               col(Reminder.status).in_(WENT_OUT), col(Reminder.sent_at) <= now)
        .order_by(col(Reminder.sent_at).desc(), col(Reminder.id).desc())
        .limit(1)
    ).first()  # fmt: skip
    post = session.get(LetterPost, letter.id) if letter is not None else None
    decisions = _decisions(session, customer.id, now)
    sent_at = letter.sent_at if letter is not None else None
    due_at = None
    task_open = False
    if sent_at is not None:
        base = sent_at
        after = [d for d in decisions if d.at >= sent_at]
        if after and after[-1].decision == "wait":
            base = after[-1].at
        due_at = base + timedelta(days=legal.lawsuit_after_days)
        decided = bool(after) and after[-1].decision != "wait"
        task_open = bool(owed) and not decided and due_at <= now
    below = owed.get(legal.payment_order_currency)
    offered = below is not None and below < legal.payment_order_max and len(owed) == 1
    return Route(
        customer_id=customer.id, authorised=customer.legal_authorised, owes=bool(owed),
        principal=owed, payment_order=offered, threshold=legal.payment_order_max,
        threshold_currency=legal.payment_order_currency,
        letter_id=letter.id if letter is not None else None,
        letter_channel=letter.channel if letter is not None else None, letter_sent_at=sent_at,
        tracking_no=post.tracking_no if post is not None else None,
        received_on=post.received_on.isoformat() if post and post.received_on else None,
        decisions=decisions, task_due_at=due_at, task_open=task_open,
    )  # fmt: skip


def route(session: Session, customer_id: str, now: datetime, policy: Policy) -> Route:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise UnknownCustomer(customer_id)
    return route_of(session, customer, now, policy)


def decide(session: Session, customer_id: str, decision: str, reason: str, by: str,
           now: datetime, policy: Policy) -> Route:  # fmt: skip
    """A manager's decision on the route, with the reason; checked before anything is
    written, recorded as one ``legal_decision`` event."""
    user = session.get(User, by)
    if user is None or not user.active or user.role not in MAY_DECIDE:
        raise NotAManager(f"{by!r} is not an active manager or admin: legal steps are decided "
                          "by a manager (D19)")  # fmt: skip
    if decision not in DECISIONS:
        raise DecisionRefused(f"{decision!r} is not a decision: choose {', '.join(DECISIONS)}")
    why = reason.strip()
    if not why or len(why) > 2000:
        raise DecisionRefused("a legal decision needs a reason (1 to 2000 characters)")
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise UnknownCustomer(customer_id)
    before = route_of(session, customer, now, policy)
    if decision != "wait" and not customer.legal_authorised:
        raise DecisionRefused(
            f"customer {customer_id} is not authorised for legal steps: "
            f"`notifier legal {customer_id} --authorise --as MANAGER` first"
        )
    if decision != "wait" and not before.owes:
        raise DecisionRefused(f"customer {customer_id} owes nothing undisputed: there is "
                              "nothing to recover")  # fmt: skip
    if decision == "payment_order" and not before.payment_order:
        owed = "; ".join(f"{v:,.2f} {c}" for c, v in before.principal.items())
        raise DecisionRefused(
            f"a payment order (支付令) is offered only below {before.threshold:,.2f} "
            f"{before.threshold_currency} of undisputed principal; {customer_id} owes {owed}"
        )
    session.add(Event(at=now, kind=EVENT, customer_id=customer_id, actor=by, data={
        "decision": decision, "reason": why, "state_before": before.state,
        "principal": {c: str(v) for c, v in before.principal.items()},
        "payment_order_offered": before.payment_order,
        "lawyer_letter_id": before.letter_id,
    }))  # fmt: skip
    session.flush()
    return route_of(session, customer, now, policy)


def open_tasks(session: Session, now: datetime, policy: Policy,
               limit: int | None = None) -> list[Route]:  # fmt: skip
    """Every customer whose "prepare lawsuit" task is due and undecided, longest waiting
    first: only customers whose lawyer's letter went out long enough ago are read."""
    cutoff = now - timedelta(days=policy.legal.lawsuit_after_days)
    ids = sorted(set(session.scalars(
        select(col(Reminder.customer_id)).where(
            col(Reminder.step) == policy.legal.lawyer_step, col(Reminder.status).in_(WENT_OUT),
            col(Reminder.sent_at) <= cutoff))))  # fmt: skip
    found: list[Route] = []
    for customers in _batches(ids, 500):
        rows = session.scalars(select(Customer).where(col(Customer.id).in_(customers))).all()
        items = items_for(session, customers)
        for c in rows:
            st = standing_of(c, items.get(c.id, []), now, policy)
            owed = {k: t.outstanding for k, t in sorted(st.totals.items()) if t.outstanding > 0}
            r = route_of(session, c, now, policy, owed)
            if r.task_open:
                found.append(r)
    found.sort(key=lambda r: (r.task_due_at or now, r.customer_id))
    return found[:limit] if limit is not None else found


def _batches(ids: Sequence[str], n: int) -> list[list[str]]:
    return [list(ids[i : i + n]) for i in range(0, len(ids), n)]


def route_lines(route: Route, locale: str = "en") -> list[str]:
    """The route in plain lines of ``locale``, for `legal-route` and `explain` (the words
    are the customer page's, ``lr_*``; the codes are in --json)."""
    w = words(locale)
    owed = "; ".join(f"{v:,.2f} {c}" for c, v in route.principal.items()) or "0"
    lines = [f"{route.customer_id}: {w('lr_state_' + route.state)}",
             "  " + w("lr_authorised_line", yes=w("cu_yes") if route.authorised else w("cu_no")),
             "  " + w("lr_principal_line", owed=owed)]  # fmt: skip
    if route.letter_id is not None and route.letter_sent_at is not None:
        via = [w.channel(route.letter_channel) or "—"]
        if route.tracking_no:
            via.append(w("lr_tracking", number=route.tracking_no))
        if route.received_on:
            via.append(w("lt_received_on", day=route.received_on))
        sent = route.letter_sent_at.isoformat()
        lines.append("  " + w("lr_letter_line", id=route.letter_id, at=sent,
                              via=w("ex_list_sep").join(via)))  # fmt: skip
    if route.task_due_at is not None:
        waiting = w("lr_task_waiting") if route.task_open else ""
        lines.append("  " + w("lr_task_line_due", at=route.task_due_at.isoformat(),
                              waiting=waiting))  # fmt: skip
    threshold = f"{route.threshold:,.2f} {route.threshold_currency}"
    offered = "lr_payment_order_offered" if route.payment_order else "lr_payment_order_not"
    lines.append("  " + w(offered, threshold=threshold))
    lines += ["  " + w("lr_decided_line", decision=w("lr_decision_" + d.decision),
                       by=w.actor(d.by), at=d.at.isoformat(), reason=d.reason)
              for d in route.decisions]  # fmt: skip
    return lines
