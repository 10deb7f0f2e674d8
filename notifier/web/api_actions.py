"""The JSON API of the collector's actions, through the same services as the pages and
the CLI, the user taken from the bearer token:

- ``GET /api/customers/{id}``: the customer's standing as at ``at`` (default now): the
  same object as ``notifier explain --json``, from the same one computation;
- ``POST /api/customers/{id}/promises`` (D21), ``.../disputes`` and
  ``.../disputes/{dispute_id}/resolve`` (D22), ``GET|POST .../instalments`` and
  ``.../instalments/{plan_id}/cancel`` (D20): any user with a token, as on the pages;
- ``POST .../legal`` (D19), ``.../escalate`` and ``.../deescalate`` (D4): a manager or an
  admin (403 otherwise);
- ``POST /api/payments``: an ERP's or a payment provider's payment, once per
  ``Idempotency-Key`` (``services/payments.py``).

Bad input: 422 naming the field (``detail[].loc``); unknown records 404; a state that
does not allow it 409 (web/errors.py maps the services' errors, in one place).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from notifier.domain.bounds import OutOfBounds, check_date
from notifier.domain.items import cents_to_money
from notifier.importer.parse import FieldError, parse_amount, parse_date
from notifier.reports.explain import as_dict, explain
from notifier.services import customers as customer_service
from notifier.services import disputes, escalation, payments, plans, promises
from notifier.store.db import unit_of_work
from notifier.web.inputs import CustomerKey, RecordId, instant_param
from notifier.web.state import ApiUser, State

router = APIRouter(prefix="/api", tags=["collection"])
Text = Annotated[str | None, Field(default=None, max_length=2000)]
Money = Annotated[str | int | None, Field(default=None, description='e.g. "5000.00"')]


class PromiseBody(BaseModel):
    promised_on: str = Field(max_length=20, description="2026-03-20")
    amount: Money = None
    note: Text = None


class DisputeBody(BaseModel):
    invoice_id: str = Field(min_length=1, max_length=64)
    amount: Money = None
    reason: str = Field(min_length=1, max_length=2000)


class NoteBody(BaseModel):
    note: Text = None


class PlanBody(BaseModel):
    count: int = Field(ge=1, le=plans.MAX_INSTALMENTS)
    first_percent: Annotated[Decimal | None, Field(default=None, gt=0, lt=100)] = None
    day: int = Field(default=plans.DEFAULT_DUE_DAY, ge=1, le=plans.LAST_DUE_DAY)
    note: Text = None


class LegalBody(BaseModel):
    authorised: bool


class ReasonBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _field(name: str, parse: Callable[[str], Any], value: object) -> Any:
    try:
        return parse(str(value))
    except (FieldError, OutOfBounds) as exc:
        raise payments.PaymentRefused([(name, str(exc))]) from None


def _money(name: str, value: str | int | None) -> Decimal | None:
    return None if value is None else _field(name, parse_amount, value)


@router.get("/customers/{customer_id}")
def customer_standing(
    state: State, _user: ApiUser, customer_id: CustomerKey, at: datetime | None = None
) -> dict[str, Any]:
    """Stage, open items, penalty, tier, tone, next contact slots, caps and flags, with
    why, as at ``at`` (ISO 8601 with offset; default now): what ``notifier explain
    CUSTOMER --json`` prints and the customer's page shows (404 unknown customer)."""
    instant = instant_param("at", at, state.policy.limits) or state.clock()
    with unit_of_work(state.engine) as session:  # an unknown customer: 404 (web/errors.py)
        return as_dict(explain(session, customer_id, instant, state.policy, state.calendar))


@router.post("/customers/{customer_id}/promises", status_code=status.HTTP_201_CREATED)
def add_promise(
    state: State, user: ApiUser, customer_id: CustomerKey, body: PromiseBody
) -> dict[str, Any]:
    limits = state.policy.limits
    day: date = _field("promised_on", lambda t: check_date(parse_date(t), limits), body.promised_on)
    amount = _money("amount", body.amount)
    with unit_of_work(state.engine) as session:
        p = promises.record_promise(
            session, customer_id, day, amount, body.note, user.name, state.clock(),
            role=user.role, limits=limits,
        )  # fmt: skip
        return {
            "id": p.id, "customer_id": p.customer_id, "promised_on": p.promised_on.isoformat(),
            "amount": None if p.amount_cents is None else str(cents_to_money(p.amount_cents)),
            "status": p.status, "note": p.note, "recorded_by": p.recorded_by,
        }  # fmt: skip


def _dispute_json(d: Any) -> dict[str, Any]:
    return {
        "id": d.id, "invoice_id": d.invoice_id,
        "amount": None if d.amount_cents is None else str(cents_to_money(d.amount_cents)),
        "reason": d.reason, "opened_by": d.opened_by, "opened_at": d.opened_at.isoformat(),
        "resolved_at": None if d.resolved_at is None else d.resolved_at.isoformat(),
    }  # fmt: skip


@router.post("/customers/{customer_id}/disputes", status_code=status.HTTP_201_CREATED)
def add_dispute(
    state: State, user: ApiUser, customer_id: CustomerKey, body: DisputeBody
) -> dict[str, Any]:
    amount = _money("amount", body.amount)
    with unit_of_work(state.engine) as session:
        d = disputes.open_dispute(session, body.invoice_id, amount, body.reason, user.name,
                                  state.clock(), customer_id=customer_id)  # fmt: skip
        return {"customer_id": customer_id, **_dispute_json(d)}


@router.post("/customers/{customer_id}/disputes/{dispute_id}/resolve")
def resolve_dispute(
    state: State, user: ApiUser, customer_id: CustomerKey, dispute_id: RecordId,
    body: Annotated[NoteBody | None, Body()] = None,
) -> dict[str, Any]:  # fmt: skip
    note = body.note if body is not None else None
    with unit_of_work(state.engine) as session:
        d = disputes.resolve_dispute(session, dispute_id, note, user.name, state.clock(),
                                     customer_id=customer_id)  # fmt: skip
        return {"customer_id": customer_id, **_dispute_json(d)}


@router.get("/customers/{customer_id}/instalments")
def list_plans(state: State, _user: ApiUser, customer_id: CustomerKey) -> list[dict[str, Any]]:
    with unit_of_work(state.engine) as session:
        return [v.as_json() for v in plans.plans_of(session, customer_id, state.clock())]


@router.post("/customers/{customer_id}/instalments", status_code=status.HTTP_201_CREATED)
def create_plan(
    state: State, user: ApiUser, customer_id: CustomerKey, body: PlanBody
) -> dict[str, Any]:
    now = state.clock()
    with unit_of_work(state.engine) as session:
        plan = plans.plan_for_customer(session, customer_id, body.count, user.name, now,
                                       first_percent=body.first_percent, due_day=body.day,
                                       note=body.note)  # fmt: skip
        [view] = [v for v in plans.plans_of(session, customer_id, now) if v.id == plan.id]
        return view.as_json()


@router.post("/customers/{customer_id}/instalments/{plan_id}/cancel")
def cancel_plan(
    state: State, user: ApiUser, customer_id: CustomerKey, plan_id: RecordId,
    body: Annotated[NoteBody | None, Body()] = None,
) -> dict[str, Any]:  # fmt: skip
    now = state.clock()
    with unit_of_work(state.engine) as session:
        plans.cancel_plan(session, plan_id, user.name, now,
                          note=body.note if body is not None else None,
                          customer_id=customer_id)  # fmt: skip
        [view] = [v for v in plans.plans_of(session, customer_id, now) if v.id == plan_id]
        return view.as_json()


@router.post("/customers/{customer_id}/legal")
def legal(state: State, user: ApiUser, customer_id: CustomerKey, body: LegalBody) -> dict[str, Any]:
    """D19: a manager or an admin only (403 for anyone else, nothing changes)."""
    with unit_of_work(state.engine) as session:
        c = customer_service.set_legal_authorised(session, customer_id, body.authorised, user,
                                                  state.clock(), policy=state.policy)  # fmt: skip
        return {"customer_id": c.id, "legal_authorised": c.legal_authorised}


@router.post("/customers/{customer_id}/escalate")
def escalate(
    state: State, user: ApiUser, customer_id: CustomerKey, body: ReasonBody
) -> dict[str, Any]:
    """D4: a manager or an admin hands the customer to the manager the policy names."""
    with unit_of_work(state.engine) as session:
        c = escalation.escalate(session, customer_id, body.reason, user, state.clock(),
                                state.policy.escalation)  # fmt: skip
        return {"customer_id": c.id, "collector": c.collector, "escalated": True}


@router.post("/customers/{customer_id}/deescalate")
def deescalate(
    state: State, user: ApiUser, customer_id: CustomerKey,
    body: Annotated[NoteBody | None, Body()] = None,
) -> dict[str, Any]:  # fmt: skip
    with unit_of_work(state.engine) as session:
        c = escalation.deescalate(session, customer_id, body.note if body else None, user,
                                  state.clock())  # fmt: skip
        return {"customer_id": c.id, "collector": c.collector, "escalated": False}


@router.post("/payments", status_code=status.HTTP_201_CREATED)
def record_payment(
    state: State,
    user: ApiUser,
    body: Annotated[dict[str, Any], Body(description="payment_id, invoice_id, amount, paid_on")],
    idempotency_key: Annotated[str | None, Header(max_length=400)] = None,
) -> JSONResponse:
    """A payment received (an ERP, a payment provider). 201 the first time; a repeat with
    the same ``Idempotency-Key`` and body: the same answer (``Idempotent-Replayed: true``),
    nothing written; the same key with another body: 409."""
    key = payments.check_key(idempotency_key)
    now = state.clock()
    with unit_of_work(state.engine) as session:

        def work() -> tuple[int, dict[str, Any]]:
            payment = payments.read_payment(body, state.policy, now)
            answer = payments.record_payment(session, payment, user.name, now, state.policy)
            return (201 if answer["status"] == "recorded" else 200), answer

        code, answer, replayed = payments.once(session, key, "payments", user.name, body, now,
                                               work)  # fmt: skip
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(answer, status_code=code, headers=headers)
