"""``/calls``: a collector's call list (issue 14): each call still to make, its window in
the collector's time, the customer, the talking points and a form for the outcome. A
manager or an admin sees every list (``?collector=``). The outcome goes through the same
service as the CLI and the API (``services/calls.py``); its refusals are mapped once
(web/errors.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notifier.domain.calls import OUTCOMES
from notifier.services import calls
from notifier.store.db import unit_of_work
from notifier.web.state import State
from notifier.web.ui.forms import parse_amount, parse_day
from notifier.web.ui.render import page, words_for
from notifier.web.ui.session import Csrf, PageUser, require_role

router = APIRouter(include_in_schema=False)
MAX_TEXT = 2000


@router.get("/calls", response_class=HTMLResponse)
def call_list(
    request: Request,
    state: State,
    user: PageUser,
    collector: Annotated[str | None, Query(max_length=64)] = None,
    done: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    require_role(user, calls.CALLERS)
    if user.role not in calls.OVERSEERS:
        collector = user.name  # a collector's own list
    query = calls.CallFilter(collector=collector or None, at=state.clock())
    with unit_of_work(state.engine) as session:
        rows = calls.list_calls(session, query, state.policy)
    return page(request, user, "calls.html", rows=rows, outcomes=OUTCOMES,
                collector=collector or "", done=done)  # fmt: skip


@router.post("/calls/{call_id}/outcome", dependencies=[Csrf])
def call_outcome(
    state: State,
    user: PageUser,
    call_id: int,
    outcome: Annotated[str, Form(max_length=20)],
    promised_on: Annotated[str, Form(max_length=20)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    invoice_id: Annotated[str, Form(max_length=64)] = "",
    note: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    require_role(user, calls.CALLERS)
    w = words_for(user, state.policy.stages)
    day = parse_day(promised_on, w) if promised_on.strip() else None
    money = parse_amount(amount, w)
    inp = calls.OutcomeInput(outcome, day, money, note or None, invoice_id.strip() or None)
    with unit_of_work(state.engine) as session:
        calls.record_outcome(session, call_id, inp, user, state.clock(), state.policy,
                             state.calendar)  # fmt: skip
    return RedirectResponse(f"/calls?done={call_id}", status_code=303)
