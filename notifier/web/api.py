"""The JSON API of the approval queue (D12-D14): the same service as the CLI, with the
reviewer taken from the bearer token. Errors: 404 unknown draft, 409 a decision the draft's
state does not allow, 422 text that breaks the content rules (with the reasons)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlmodel import Session

from notifier import review
from notifier.store.db import unit_of_work
from notifier.web.state import ApiUser, AppState, Decider, State

router = APIRouter(prefix="/api", tags=["drafts"])
UNPROCESSABLE = 422  # named HTTP_422_UNPROCESSABLE_ENTITY or _CONTENT by Starlette version


class RejectBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class EditBody(BaseModel):
    body: str = Field(min_length=1, max_length=20_000)
    subject: str | None = Field(default=None, max_length=300)
    version: int | None = None  # refuse the edit when the draft changed meanwhile


class LintBody(BaseModel):
    body: str = Field(max_length=20_000)
    subject: str | None = None


class BulkApproveBody(BaseModel):
    ids: list[int] | None = None
    all: bool = False  # every clean pending draft matching the filters below
    channel: str | None = None
    stage: str | None = None
    tier: str | None = None
    collector: str | None = None


@contextmanager
def _service(state: AppState) -> Iterator[Session]:
    """A unit of work whose review errors become HTTP errors; nothing is written on error."""
    try:
        with unit_of_work(state.engine) as session:
            yield session
    except review.DraftNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except review.LintRefused as exc:
        raise HTTPException(UNPROCESSABLE, {"message": str(exc), "problems": exc.problems}) from exc
    except review.ReviewError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.get("/drafts")
def list_drafts(
    state: State,
    _user: ApiUser,
    status_: Annotated[str | None, Query(alias="status")] = None,
    channel: str | None = None,
    stage: str | None = None,
    tier: str | None = None,
    collector: str | None = None,
    customer_id: str | None = None,
    slot_from: datetime | None = None,
    slot_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    if status_ is not None and status_ not in review.STATUSES:
        raise HTTPException(UNPROCESSABLE, f"unknown status {status_!r}")
    query = review.DraftFilter(
        status=status_, channel=channel, stage=stage, tier=tier, collector=collector,
        customer_id=customer_id, slot_from=slot_from, slot_to=slot_to, limit=limit,
        offset=offset,
    )  # fmt: skip
    with _service(state) as session:
        return [review.draft_json(r) for r in review.list_drafts(session, query)]


@router.get("/drafts/{draft_id}")
def get_draft(state: State, _user: ApiUser, draft_id: int) -> dict[str, Any]:
    with _service(state) as session:
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
    with _service(state) as session:
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
def approve(state: State, user: Decider, draft_id: int) -> dict[str, Any]:
    with _service(state) as session:
        [r] = review.approve(session, [draft_id], user.name, state.clock(), state.policy,
                             state.calendar)  # fmt: skip
        return review.draft_json(r)


@router.post("/drafts/{draft_id}/reject")
def reject(state: State, user: Decider, draft_id: int, body: RejectBody) -> dict[str, Any]:
    with _service(state) as session:
        return review.draft_json(
            review.reject(session, draft_id, user.name, body.reason, state.clock())
        )


@router.patch("/drafts/{draft_id}")
def edit(state: State, user: Decider, draft_id: int, body: EditBody) -> dict[str, Any]:
    with _service(state) as session:
        r = review.edit(session, draft_id, user.name, body.body, body.subject, state.clock(),
                        state.policy, expected_version=body.version)  # fmt: skip
        return {**review.draft_json(r), "version": r.version}


@router.post("/drafts/{draft_id}/lint")
def lint(state: State, _user: ApiUser, draft_id: int, body: LintBody) -> dict[str, Any]:
    """The content rules on a proposed text, without saving it (the editor's live lint)."""
    with _service(state) as session:
        r = review.get_draft(session, draft_id)
        problems, segments = review.check_text(session, r, body.body, body.subject, state.policy)
        return {"problems": [str(p) for p in problems], "segments": segments}
