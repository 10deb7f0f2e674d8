"""Customers: a searchable list, and one customer's page with its open items, everything
that happened to it (the timeline), and the forms to record a promise to pay (D21), open or
resolve a dispute (D22) and, for managers and admins only, set the legal-authorised flag
(D19) and escalate the customer to a manager or hand it back (D4). Times are shown in the
viewer's zone and the customer's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from notifier.domain.errors import Forbidden, NotifierError
from notifier.domain.items import cents_to_money, local_date
from notifier.domain.standing import standing_of
from notifier.reports.explain import UnknownCustomer, explain
from notifier.services import customers as service
from notifier.services import disputes, escalation, plans, promises
from notifier.services import legal as legal_service
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Dispute, PaymentPromise, Receivable, Reminder, User
from notifier.store.queries import items_for, portfolio_outstanding
from notifier.web.errors import said
from notifier.web.inputs import CustomerKey, Offset, RecordId, SearchText
from notifier.web.state import AppState, State
from notifier.web.ui.forms import NotAValue, parse_amount, parse_day
from notifier.web.ui.render import page, words_for
from notifier.web.ui.session import Csrf, PageUser, require_role

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
UNPROCESSABLE = 422
MAX_TEXT = service.MAX_TEXT


def _search(session: Session, q: str, offset: int) -> list[Customer]:
    query = select(Customer)
    text = q.strip()
    if text:
        lowered = text.lower()
        query = query.where(
            or_(
                func.lower(col(Customer.id)).contains(lowered, autoescape=True),
                func.lower(col(Customer.name)).contains(lowered, autoescape=True),
            )
        )
    return list(session.scalars(query.order_by(col(Customer.id)).limit(PAGE_SIZE).offset(offset)))


@router.get("/customers", response_class=HTMLResponse)
def customer_list(
    request: Request, state: State, user: PageUser, q: SearchText = "", offset: Offset = 0
) -> HTMLResponse:
    """One page of customers with what each owes and its tier: a handful of SELECTs for the
    whole page, whatever its length."""
    now = state.clock()
    policy = state.policy
    with unit_of_work(state.engine) as session:
        rows = _search(session, q, offset)
        ids = [c.id for c in rows]
        items = items_for(session, ids)
        pending = dict(
            session.execute(
                select(col(Reminder.customer_id), func.count())
                .where(col(Reminder.customer_id).in_(ids),
                       col(Reminder.status) == "pending_approval")
                .group_by(col(Reminder.customer_id))
            ).all()
        )  # fmt: skip
        days = {local_date(now, c.timezone) for c in rows}
        portfolio = {day: portfolio_outstanding(session, day) for day in days}
    listed: list[dict[str, Any]] = []
    for c in rows:
        st = standing_of(c, items.get(c.id, []), now, policy, portfolio=portfolio.__getitem__)
        listed.append(
            {
                "customer": c,
                "position": st.position,
                "tier": st.tier,
                "pending": int(pending.get(c.id, 0)),
            }
        )
    return page(request, user, "customers.html", rows=listed, q=q, offset=offset,
                page_size=PAGE_SIZE)  # fmt: skip


def _render(
    request: Request,
    state: AppState,
    user: User,
    customer_id: str,
    status_code: int = 200,
    *,
    error: str = "",
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    now = state.clock()
    with unit_of_work(state.engine) as session:
        try:
            e = explain(session, customer_id, now, state.policy, state.calendar)
        except UnknownCustomer as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        entries = service.timeline(session, customer_id)
        invoices = list(
            session.scalars(
                select(Receivable)
                .where(col(Receivable.customer_id) == customer_id)
                .order_by(col(Receivable.due_on), col(Receivable.id))
            )
        )
        disputes = list(
            session.scalars(
                select(Dispute)
                .join(Receivable, col(Receivable.id) == col(Dispute.invoice_id))
                .where(col(Receivable.customer_id) == customer_id,
                       col(Dispute.resolved_at).is_(None))
                .order_by(col(Dispute.opened_at))
            )
        )  # fmt: skip
        promises = list(
            session.scalars(
                select(PaymentPromise)
                .where(col(PaymentPromise.customer_id) == customer_id,
                       col(PaymentPromise.status) == "open")
                .order_by(col(PaymentPromise.promised_on))
            )
        )  # fmt: skip
        instalment_plans = plans.plans_of(session, customer_id, now)  # D20, newest first
    currency = e.position.currency or (invoices[0].currency if invoices else "CNY")
    disputed = {d.invoice_id for d in disputes}
    amounts: dict[tuple[str, object], Decimal] = {
        **{("invoice", i.id): cents_to_money(i.amount_cents) for i in invoices},
        **{("promise", p.id): cents_to_money(p.amount_cents or 0) for p in promises},
        **{("dispute", d.id): cents_to_money(d.amount_cents or 0) for d in disputes},
    }
    return page(
        request, user, "customer.html", status_code=status_code, e=e, c=e.customer,
        entries=entries, currency=currency, disputes=disputes, promises=promises, amounts=amounts,
        invoices=[i for i in invoices if i.id not in disputed],
        today=e.standing.today.isoformat(),
        can_legal=user.role in service.LEGAL_DECIDERS, error=error, form=form or {},
        can_escalate=user.role in escalation.ESCALATORS,
        message=request.query_params.get("message", ""), plans=instalment_plans,
    )  # fmt: skip


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(
    request: Request, state: State, user: PageUser, customer_id: CustomerKey
) -> HTMLResponse:
    return _render(request, state, user, customer_id)


class _Refused(Exception):
    """A form that cannot be done: the page is shown again with the message (422)."""


@contextmanager
def _action(state: AppState) -> Iterator[Session]:
    """A unit of work whose service errors re-render the page; nothing is written then."""
    try:
        with unit_of_work(state.engine) as session:
            yield session
    except Forbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except NotifierError as exc:
        raise _Refused(exc) from exc  # shown in the user's words (web/errors.py said)


def _back(customer_id: str, message: str) -> Response:
    return RedirectResponse(f"/customers/{customer_id}?message={message}", status_code=303)


def _submit(
    request: Request,
    state: AppState,
    user: User,
    customer_id: str,
    done: str,
    work: Callable[[Session], object],
    *,
    form: dict[str, str] | None = None,
) -> Response:
    """A form's one step: ``work`` reads what was typed and calls its service in one unit of
    work; back to the customer page with ``?message=done`` (303), or, when it is refused, the
    page again (422) with why in the user's words and what they typed (``form``). What was
    typed is read before the session is first used, so a value that is not one writes and
    reads nothing."""
    try:
        with _action(state) as session:
            work(session)
    except _Refused as exc:
        return _render(request, state, user, customer_id, UNPROCESSABLE, error=said(exc, user),
                       form=form)  # fmt: skip
    return _back(customer_id, done)


def _day(value: str, user: User) -> date:
    """Typed as text in any of the importer's forms (forms.py: no browser date picker)."""
    try:
        return parse_day(value, words_for(user))
    except NotAValue as exc:
        raise _Refused(str(exc)) from exc


def _amount(value: str, user: User) -> Decimal | None:
    try:
        return parse_amount(value, words_for(user))
    except NotAValue as exc:
        raise _Refused(str(exc)) from exc


def _known(state: AppState, customer_id: str) -> None:
    with unit_of_work(state.engine) as session:
        if session.get(Customer, customer_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer with id {customer_id!r}")


@router.post("/customers/{customer_id}/promise", dependencies=[Csrf])
def promise(
    request: Request,
    state: State,
    user: PageUser,
    customer_id: CustomerKey,
    promised_on: Annotated[str, Form(max_length=20)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    _known(state, customer_id)

    def work(session: Session) -> None:
        day, money = _day(promised_on, user), _amount(amount, user)
        promises.record_promise(session, customer_id, day, money, note, user.name,
                               state.clock(), role=user.role,
                               limits=state.policy.limits)  # fmt: skip

    form = {"promised_on": promised_on, "promise_amount": amount, "note": note}
    return _submit(request, state, user, customer_id, "promise", work, form=form)


@router.post("/customers/{customer_id}/dispute", dependencies=[Csrf])
def dispute(
    request: Request,
    state: State,
    user: PageUser,
    customer_id: CustomerKey,
    invoice_id: Annotated[str, Form(max_length=64)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    _known(state, customer_id)

    def work(session: Session) -> None:
        money = _amount(amount, user)
        disputes.open_dispute(session, invoice_id, money, reason, user.name, state.clock(),
                             customer_id=customer_id)  # fmt: skip

    form = {"invoice_id": invoice_id, "dispute_amount": amount, "reason": reason}
    return _submit(request, state, user, customer_id, "dispute", work, form=form)


@router.post("/customers/{customer_id}/disputes/{dispute_id}/resolve", dependencies=[Csrf])
def resolve(
    request: Request,
    state: State,
    user: PageUser,
    customer_id: CustomerKey,
    dispute_id: RecordId,
    note: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    _known(state, customer_id)

    def work(session: Session) -> None:
        disputes.resolve_dispute(session, dispute_id, note, user.name, state.clock(),
                                customer_id=customer_id)  # fmt: skip

    return _submit(request, state, user, customer_id, "resolved", work)


@router.post("/customers/{customer_id}/legal", dependencies=[Csrf])
def legal(
    request: Request,
    state: State,
    user: PageUser,
    customer_id: CustomerKey,
    value: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """D19: managers and admins only; anyone else gets 403 and nothing changes."""
    require_role(user, service.LEGAL_DECIDERS)
    _known(state, customer_id)

    def work(session: Session) -> None:
        if value not in ("1", "0"):
            raise _Refused(words_for(user)("bad_value"))
        service.set_legal_authorised(session, customer_id, value == "1", user,
                                     state.clock(), policy=state.policy)  # fmt: skip

    return _submit(request, state, user, customer_id, "legal", work)


@router.post("/customers/{customer_id}/legal-route", dependencies=[Csrf])
def legal_route(
    request: Request,
    state: State,
    user: PageUser,
    customer_id: CustomerKey,
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """D19, issue 15: a manager's decision on the legal route, with its reason."""
    require_role(user, service.LEGAL_DECIDERS)
    _known(state, customer_id)

    def work(session: Session) -> None:
        legal_service.decide(session, customer_id, decision, reason, user.name,
                             state.clock(), state.policy)  # fmt: skip

    return _submit(request, state, user, customer_id, "legal_route", work)


@router.post("/customers/{customer_id}/escalate", dependencies=[Csrf])
def escalate(
    request: Request,
    state: State,
    user: PageUser,
    customer_id: CustomerKey,
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    """D4: managers and admins only; the customer goes to the manager the policy names."""
    require_role(user, escalation.ESCALATORS)
    _known(state, customer_id)

    def work(session: Session) -> None:
        escalation.escalate(session, customer_id, reason, user, state.clock(),
                            state.policy.escalation)  # fmt: skip

    return _submit(request, state, user, customer_id, "escalated", work,
                   form={"escalation_reason": reason})  # fmt: skip


@router.post("/customers/{customer_id}/deescalate", dependencies=[Csrf])
def deescalate(
    request: Request,
    state: State,
    user: PageUser,
    customer_id: CustomerKey,
    note: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    """Back to the collector it had before the escalation; managers and admins only."""
    require_role(user, escalation.ESCALATORS)
    _known(state, customer_id)

    def work(session: Session) -> None:
        escalation.deescalate(session, customer_id, note, user, state.clock())

    return _submit(request, state, user, customer_id, "deescalated", work)


@router.post("/customers/{customer_id}/instalments", dependencies=[Csrf])
def create_plan(
    request: Request,
    state: State,
    user: PageUser,
    customer_id: CustomerKey,
    count: Annotated[str, Form(max_length=4)] = "",
    first_percent: Annotated[str, Form(max_length=10)] = "",
    day: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """D20: what the customer owes in monthly instalments (services/plans.py decides)."""
    _known(state, customer_id)

    def work(session: Session) -> None:
        try:
            n = int(count.strip())
            due_day = int(day.strip() or plans.DEFAULT_DUE_DAY)
            share = Decimal(first_percent.strip()) if first_percent.strip() else None
        except (ValueError, ArithmeticError) as exc:
            raise _Refused(words_for(user)("bad_value")) from exc
        plans.plan_for_customer(session, customer_id, n, user.name, state.clock(),
                                first_percent=share, due_day=due_day)  # fmt: skip

    form = {"plan_count": count, "plan_first_percent": first_percent, "plan_day": day}
    return _submit(request, state, user, customer_id, "plan", work, form=form)


@router.post("/customers/{customer_id}/instalments/{plan_id}/cancel", dependencies=[Csrf])
def cancel_plan(
    request: Request, state: State, user: PageUser, customer_id: CustomerKey, plan_id: RecordId
) -> Response:
    _known(state, customer_id)

    def work(session: Session) -> None:
        plans.cancel_plan(session, plan_id, user.name, state.clock(), customer_id=customer_id)

    return _submit(request, state, user, customer_id, "plan_cancelled", work)
