"""Click-to-call from the API and the pages (services/voice.py does the work):

- ``POST /api/calls/{id}/dial``: ring the token's user's own phone, then the customer's;
  ``GET /api/calls/{id}/dials``: the calls placed for the task, with status, duration
  and recording link as Twilio reported them.
- ``GET /calls/{id}/voice``: the task's calls placed (status, duration, recording link)
  and the "Call now" button (hidden, with a note, when click-to-call is off);
  ``POST /calls/{id}/dial``: that button (CSRF-checked), back to the page.

Twilio's own requests (TwiML, callbacks) are in hooks.py with the other webhooks.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from notifier.services import calls, voice
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Reminder, User
from notifier.web.inputs import RecordId
from notifier.web.state import ApiUser, State
from notifier.web.ui.render import page
from notifier.web.ui.session import Csrf, PageUser

api_router = APIRouter(prefix="/api", tags=["calls"])
page_router = APIRouter(include_in_schema=False)


def _task_of(session: Session, task_id: int, user: User) -> tuple[Reminder, Customer]:
    """The call task and its customer, for one who may call it (else 404 / 403)."""
    task = calls.call_task(session, task_id)
    customer = session.get(Customer, task.customer_id)
    assert customer is not None  # a foreign key
    calls.may_call(user, customer)
    return task, customer


def _dial(state: State, task_id: int, user_name: str) -> voice.Dialled:
    with unit_of_work(state.engine) as session:
        user = session.get(User, user_name)
        assert user is not None  # the login or the token named it
        return voice.start_call(session, task_id, user, state.clock(), settings=state.settings,
                                policy=state.policy)  # fmt: skip


@api_router.post("/calls/{task_id}/dial")
def dial(state: State, user: ApiUser, task_id: RecordId) -> dict[str, Any]:
    """Ring your own phone; answer it to be connected to the task's customer. 422 when
    click-to-call is off, you have no phone, or the customer may not be called now; 403
    when the task is not yours (a manager may call any)."""
    placed = _dial(state, task_id, user.name)
    return {"task_id": placed.task_id, "call_sid": placed.call_sid, "status": placed.status,
            "record": placed.record}  # fmt: skip


@api_router.get("/calls/{task_id}/dials")
def dials(state: State, user: ApiUser, task_id: RecordId) -> list[dict[str, Any]]:
    with unit_of_work(state.engine) as session:
        _task_of(session, task_id, user)
        return [c.as_json() for c in voice.calls_placed(session, task_id)]


@page_router.get("/calls/{task_id}/voice", response_class=HTMLResponse)
def voice_page(
    request: Request,
    state: State,
    user: PageUser,
    task_id: RecordId,
    dialled: Annotated[int | None, Query(ge=0, le=1)] = None,
) -> HTMLResponse:
    with unit_of_work(state.engine) as session:
        task, customer = _task_of(session, task_id, user)
        placed = voice.calls_placed(session, task_id)
    return page(request, user, "voice.html", task=task, customer=customer, placed=placed,
                dialled=bool(dialled),
                voice_on=voice.voice_off_reason(state.settings) is None)  # fmt: skip


@page_router.post("/calls/{task_id}/dial", dependencies=[Csrf])
def dial_page(state: State, user: PageUser, task_id: RecordId) -> RedirectResponse:
    placed = _dial(state, task_id, user.name)
    return RedirectResponse(f"/calls/{placed.task_id}/voice?dialled=1", status_code=303)
