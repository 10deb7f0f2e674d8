"""The JSON API of the approval queue (D12-D14): the same service as the CLI, with the
reviewer taken from the bearer token. Errors: 404 unknown draft, 409 a decision the draft's
state does not allow, 422 text that breaks the content rules (with the reasons), and 422
for input outside its bounds (web/errors.py maps the service's errors, in one place)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from notifier.services import calls, review
from notifier.store.db import unit_of_work
from notifier.store.models import Customer
from notifier.web.inputs import MAX_ID, Offset, RecordId, instant_param
from notifier.web.state import ApiUser, Decider, State

router = APIRouter(prefix="/api", tags=["drafts"])
UNPROCESSABLE = 422  # named HTTP_422_UNPROCESSABLE_ENTITY or _CONTENT by Starlette version


class RejectBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class EditBody(BaseModel):
    body: str = Field(min_length=1, max_length=review.BODY_MAX)
    subject: str | None = Field(default=None, max_length=300)
    version: int | None = None  # refuse the edit when the draft changed meanwhile


class LintBody(BaseModel):
    body: str = Field(max_length=review.BODY_MAX)
    subject: str | None = Field(default=None, max_length=300)  # as an edit's (EditBody)


class BulkApproveBody(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(default=None, max_length=1000)
    all: bool = False  # every clean pending draft matching the filters below
    channel: str | None = None
    stage: str | None = None
    tier: str | None = None
    collector: str | None = None


@router.get("/drafts")
def list_drafts(
    state: State,
    _user: ApiUser,
    status_: Annotated[str | None, Query(alias="status", max_length=20)] = None,
    channel: Annotated[str | None, Query(max_length=8)] = None,
    stage: Annotated[str | None, Query(max_length=10)] = None,
    tier: Annotated[str | None, Query(max_length=1)] = None,
    collector: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    slot_from: datetime | None = None,
    slot_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Unwritten bounds are refused, not guessed: an instant needs its UTC offset."""
    if status_ is not None and status_ not in review.STATUSES:
        raise HTTPException(UNPROCESSABLE, f"unknown status {status_!r}")
    slot_from = instant_param("slot_from", slot_from, state.policy.limits)
    slot_to = instant_param("slot_to", slot_to, state.policy.limits)
    query = review.DraftFilter(
        status=status_, channel=channel, stage=stage, tier=tier, collector=collector,
        customer_id=customer_id, slot_from=slot_from, slot_to=slot_to, limit=limit,
        offset=offset,
    )  # fmt: skip
    with unit_of_work(state.engine) as session:
        return [review.draft_json(r) for r in review.list_drafts(session, query)]


@router.get("/drafts/{draft_id}")
def get_draft(state: State, _user: ApiUser, draft_id: RecordId) -> dict[str, Any]:
    with unit_of_work(state.engine) as session:
        r = review.get_draft(session, draft_id)
        edits = [
            {"by": e.edited_by, "at": e.edited_at.isoformat(), "subject_before": e.subject_before,
             "subject_after": e.subject_after, "body_before": e.body_before,
             "body_after": e.body_after}
            for e in review.edits_of(session, draft_id)
        ]  # fmt: skip
        return {**review.draft_json(r), "html": r.html, "version": r.version, "edits": edits}


@router.post("/drafts/approve")
def bulk_approve(state: State, user: Decider, body: BulkApproveBody) -> dict[str, Any]:
    if bool(body.ids) == body.all:
        raise HTTPException(UNPROCESSABLE, "give ids or all=true")
    now = state.clock()
    with unit_of_work(state.engine) as session:
        if body.all:
            filters = review.DraftFilter(channel=body.channel, stage=body.stage, tier=body.tier,
                                         collector=body.collector)  # fmt: skip
            done, skipped = review.approve_all_pending(
                session, user.name, now, state.policy, state.calendar, filters
            )
        else:
            done = review.approve(session, body.ids or [], user.name, now, state.policy,
                                  state.calendar)  # fmt: skip
            skipped = []
        return {
            "approved": [review.draft_json(r) for r in done],
            "skipped": [{"id": i, "problems": why} for i, why in skipped],
        }


@router.post("/drafts/{draft_id}/approve")
def approve(state: State, user: Decider, draft_id: RecordId) -> dict[str, Any]:
    with unit_of_work(state.engine) as session:
        [r] = review.approve(session, [draft_id], user.name, state.clock(), state.policy,
                             state.calendar)  # fmt: skip
        return review.draft_json(r)


@router.post("/drafts/{draft_id}/reject")
def reject(state: State, user: Decider, draft_id: RecordId, body: RejectBody) -> dict[str, Any]:
    with unit_of_work(state.engine) as session:
        return review.draft_json(
            review.reject(session, draft_id, user.name, body.reason, state.clock())
        )


@router.patch("/drafts/{draft_id}")
def edit(state: State, user: Decider, draft_id: RecordId, body: EditBody) -> dict[str, Any]:
    with unit_of_work(state.engine) as session:
        r = review.edit(session, draft_id, user.name, body.body, body.subject, state.clock(),
                        state.policy, expected_version=body.version)  # fmt: skip
        return {**review.draft_json(r), "version": r.version}


@router.post("/drafts/{draft_id}/lint")
def lint(state: State, _user: ApiUser, draft_id: RecordId, body: LintBody) -> dict[str, Any]:
    """The content rules on a proposed text, without saving it (the editor's live lint)."""
    with unit_of_work(state.engine) as session:
        r = review.get_draft(session, draft_id)
        problems, segments = review.check_text(session, r, body.body, body.subject, state.policy)
        return {"problems": [str(p) for p in problems], "segments": segments}


# The collector's actions and the payments API (issue 14): their routes, /api paths
# already, served with these (not a nested router: one level of routes under the app).
from notifier.web import api_actions  # noqa: E402

router.routes.extend(api_actions.router.routes)


# -- call tasks (issue 14): the collector's list and the outcomes -----------------------


class CallOutcomeBody(BaseModel):
    outcome: str = Field(min_length=1, max_length=20)
    promised_on: date | None = None
    amount: Decimal | None = Field(default=None, max_digits=15, decimal_places=2)
    invoice_id: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


@router.get("/calls", tags=["calls"])
def list_calls(
    state: State,
    user: ApiUser,
    collector: Annotated[str | None, Query(max_length=64)] = None,
    at: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> list[dict[str, Any]]:
    """The call list as at ``at`` (default now): calls still to make whose window starts
    within the planning horizon. A collector sees its own list; others any (``collector``)."""
    at = instant_param("at", at, state.policy.limits) or state.clock()
    if user.role == "collector":
        collector = user.name
    query = calls.CallFilter(collector=collector, at=at, limit=limit)
    with unit_of_work(state.engine) as session:
        return [calls.call_json(r, c) for r, c in calls.list_calls(session, query, state.policy)]


@router.post("/calls/{call_id}/outcome", tags=["calls"])
def call_outcome(
    state: State, user: ApiUser, call_id: RecordId, body: CallOutcomeBody
) -> dict[str, Any]:
    """Record a call's outcome (404 unknown task, 403 not the caller's customer, 409 the
    task is closed, 422 input the outcome does not take)."""
    check_date = body.promised_on
    if check_date is not None:
        instant_param("promised_on", datetime.combine(check_date, time(12), tzinfo=UTC),
                      state.policy.limits)  # fmt: skip
    inp = calls.OutcomeInput(body.outcome, body.promised_on, body.amount, body.note,
                             body.invoice_id)  # fmt: skip
    with unit_of_work(state.engine) as session:
        done = calls.record_outcome(session, call_id, inp, user, state.clock(), state.policy,
                                    state.calendar)  # fmt: skip
        task = calls.call_task(session, call_id)
        customer = session.get(Customer, task.customer_id)
        assert customer is not None
        return {**calls.call_json(task, customer, calls.outcomes_of(session, call_id)),
                "effects": list(done.effects)}  # fmt: skip
