"""The approval queue page: pending drafts filtered by slot, stage, tier, channel and
collector, with bulk approval and keyboard shortcuts (D13). ``status`` shows reminders in
another status instead (the home page links to the ``unknown`` sends), ``until`` only the
slots starting by an instant (the home page's "before the next slot")."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field
from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.lifecycle import STATUSES
from notifier.services import review
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Receivable, Reminder
from notifier.web.inputs import MAX_ID, Offset, instant_param
from notifier.web.state import State
from notifier.web.ui.render import page
from notifier.web.ui.session import Csrf, PageDecider, PageUser

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def slot_range(which: str, now: datetime, zone: str) -> tuple[datetime | None, datetime | None]:
    """``today``: slots before the end of the viewer's day; ``next``: after it."""
    tz = ZoneInfo(zone)
    end_of_day = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(), tz)
    if which == "today":
        return None, end_of_day
    if which == "next":
        return end_of_day, None
    return None, None


def rows_for(session: Session, drafts: list[Reminder]) -> list[dict[str, Any]]:
    """Each draft with its customer and currency: two set-based reads for the whole page."""
    ids = {d.customer_id for d in drafts}
    customers = {
        c.id: c for c in session.scalars(select(Customer).where(col(Customer.id).in_(ids)))
    }
    currencies = dict(
        session.execute(
            select(col(Receivable.customer_id), col(Receivable.currency))
            .where(col(Receivable.customer_id).in_(ids))
            .distinct()
        ).all()
    )
    return [
        {"draft": d, "customer": customers[d.customer_id],
         "currency": currencies.get(d.customer_id, "CNY")}
        for d in drafts
    ]  # fmt: skip


@router.get("/", response_class=HTMLResponse)
def queue(
    request: Request,
    state: State,
    user: PageUser,
    slot: Annotated[str, Query(max_length=10)] = "all",
    stage: Annotated[str, Query(max_length=10)] = "",
    tier: Annotated[str, Query(max_length=1)] = "",
    channel: Annotated[str, Query(max_length=8)] = "",
    collector: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[str, Query(max_length=20)] = "pending_approval",
    until: Annotated[datetime | None, Query()] = None,
    offset: Offset = 0,
) -> HTMLResponse:
    if status not in STATUSES:
        raise HTTPException(422, f"status: one of {', '.join(STATUSES)}")
    until = instant_param("until", until, state.policy.limits)
    slot_from, slot_to = slot_range(slot, state.clock(), user.timezone)
    if until is not None:  # slots starting by ``until``, that one included
        by = until + timedelta(microseconds=1)
        slot_to = by if slot_to is None else min(slot_to, by)
    query = review.DraftFilter(
        status=status, stage=stage or None, tier=tier or None,
        channel=channel or None, collector=collector or None, slot_from=slot_from,
        slot_to=slot_to, limit=PAGE_SIZE, offset=offset,
    )  # fmt: skip
    with unit_of_work(state.engine) as session:
        rows = rows_for(session, review.list_drafts(session, query))
        collectors = sorted(
            c for c in session.scalars(select(col(Customer.collector)).distinct()) if c
        )
    filters = {"slot": slot, "stage": stage, "tier": tier, "channel": channel,
               "collector": collector, "status": status}  # fmt: skip
    return page(request, user, "queue.html", rows=rows, filters=filters, collectors=collectors,
                statuses=STATUSES, until=until,
                offset=offset, page_size=PAGE_SIZE,
                message=request.query_params.get("message", ""))  # fmt: skip


@router.post("/drafts/approve", dependencies=[Csrf])
def approve_selected(
    request: Request,
    state: State,
    user: PageDecider,
    ids: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None, Form(max_length=1000)
    ] = None,
) -> Response:
    """The selected drafts that lint clean are approved, those with problems are skipped
    and counted; an id that is no draft refuses the whole selection (404, nothing
    approved: review.DraftNotFound rolls the unit of work back)."""
    chosen = ids or []
    with unit_of_work(state.engine) as session:
        pending = [review.get_draft(session, i) for i in chosen]
        clean = [r.id for r in pending if not r.lint and r.id is not None]
        review.approve(session, clean, user.name, state.clock(), state.policy, state.calendar)
    message = f"approved:{len(clean)}:{len(chosen) - len(clean)}"
    return RedirectResponse(f"/?message={message}", status_code=303)
