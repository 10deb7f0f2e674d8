"""One draft, exactly as it will be sent, with what the reviewer needs beside it (D13, D14).

- the SMS body with its segment count and encoding, or the e-mail subject, its HTML part in
  a sandboxed iframe (no scripts ever run) and its plain-text part;
- the customer's open items and latest events; the content problems;
- edit with live lint (``POST /drafts/{id}/lint``, the API's linter), approve, reject.

Anyone logged in may look; deciding (edit, approve, reject) is for reviewers, managers and
admins. A refused edit leaves the stored draft as it was and shows the reviewer's text
again with the reasons (422).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import col

from notifier.domain.errors import NotifierError, http_status
from notifier.domain.standing import standing_of
from notifier.render import sms_segments
from notifier.services import customers, letters, review
from notifier.services.users import DECIDERS
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Receivable, User
from notifier.store.queries import items_for
from notifier.web.errors import said
from notifier.web.headers import policy, style_hashes
from notifier.web.inputs import RecordId
from notifier.web.state import State
from notifier.web.ui.render import page, words_for
from notifier.web.ui.session import Csrf, PageDecider, PageUser

router = APIRouter(include_in_schema=False)
UNPROCESSABLE = 422
RECENT_EVENTS = 15
MAX_BODY = review.BODY_MAX
MAX_SUBJECT = 300


class LintBody(BaseModel):
    body: str = Field(max_length=MAX_BODY)
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT)


def _render(
    request: Request,
    state: State,
    user: User,
    draft_id: int,
    status_code: int = 200,
    *,
    body: str | None = None,
    subject: str | None = None,
    problems: list[str] | None = None,
    error: str = "",
    error_key: str = "",
    reason: str = "",
) -> HTMLResponse:
    """The draft page; ``body``/``subject`` are the reviewer's own text after a refused
    edit (else the stored one), ``problems`` the reasons it was refused."""
    now = state.clock()
    with unit_of_work(state.engine) as session:
        draft = review.get_draft(session, draft_id)  # unknown: 404 (web/errors.py)
        customer = session.get(Customer, draft.customer_id)
        assert customer is not None
        st = standing_of(customer, items_for(session, [customer.id])[customer.id], now,
                         state.policy)  # fmt: skip
        pos = st.position
        currency = pos.currency or session.scalar(
            select(col(Receivable.currency)).where(col(Receivable.customer_id) == customer.id)
        )
        edits = review.edits_of(session, draft_id)
        recent = customers.timeline(session, customer.id, limit=RECENT_EVENTS)
        post = letters.post_of(session, draft_id) if draft.channel == "letter" else None
    segments, encoding = sms_segments(draft.body) if draft.channel == "sms" else (None, None)
    answer = page(
        request, user, "draft.html", status_code=status_code, d=draft, customer=customer,
        position=pos, currency=currency or "CNY", segments=segments, encoding=encoding,
        edits=edits, recent=recent, can_decide=user.role in DECIDERS,
        form_body=draft.body if body is None else body,
        form_subject=draft.subject if subject is None else subject,
        problems=problems if problems is not None else draft.lint, edited=problems is not None,
        error=error, error_key=error_key, reason=reason,
        message=request.query_params.get("message", ""), post=post,
        carriers=state.policy.letters.carriers,
    )  # fmt: skip
    if draft.html:
        # The preview is a sandboxed srcdoc frame, which lives under this page's policy:
        # exactly the e-mail's own inline styles are allowed (by hash), never a script.
        answer.headers["Content-Security-Policy"] = policy(style_src=style_hashes(draft.html))
    return answer


@router.get("/drafts/{draft_id}", response_class=HTMLResponse)
def draft_page(request: Request, state: State, user: PageUser, draft_id: RecordId) -> HTMLResponse:
    return _render(request, state, user, draft_id)


@router.get("/drafts/{draft_id}/email", response_class=HTMLResponse)
def email_preview(state: State, _user: PageUser, draft_id: RecordId) -> HTMLResponse:
    """The e-mail's HTML part as a page of its own, full size (the framed preview on the
    draft page is only as tall as the frame). Under a sandbox policy: no script runs and
    the page has no origin, exactly as in the frame; only the e-mail's own inline styles
    (by hash) and its images apply."""
    with unit_of_work(state.engine) as session:
        draft = review.get_draft(session, draft_id)
        html = draft.html
    if not html:
        raise HTTPException(404, f"draft {draft_id} has no HTML part")
    answer = HTMLResponse(html)
    answer.headers["Content-Security-Policy"] = policy(style_src=style_hashes(html)) + "; sandbox"
    return answer


@router.post("/drafts/{draft_id}/lint", dependencies=[Csrf])
def live_lint(state: State, user: PageUser, draft_id: RecordId, text: LintBody) -> dict[str, Any]:
    """The content rules on the text being typed, nothing saved (the editor's live lint)."""
    with unit_of_work(state.engine) as session:
        draft = review.get_draft(session, draft_id)
        problems, segments = review.check_text(session, draft, text.body, text.subject,
                                               state.policy)  # fmt: skip
        channel = draft.channel
    encoding = sms_segments(text.body)[1] if channel == "sms" else None
    w = words_for(user, state.policy.stages)
    return {
        "problems": [str(p) for p in problems], "segments": segments, "encoding": encoding,
        # what the editor shows: the reasons and the encoding in the reviewer's words
        "labels": [w.lint(p) for p in problems],
        "encoding_label": w(f"enc_{encoding}") if encoding else None,
    }  # fmt: skip


@router.post("/drafts/{draft_id}/edit", dependencies=[Csrf])
def edit(
    request: Request,
    state: State,
    user: PageDecider,
    draft_id: RecordId,
    body: Annotated[str, Form(max_length=MAX_BODY)] = "",
    subject: Annotated[str | None, Form(max_length=MAX_SUBJECT)] = None,
    version: Annotated[int | None, Form()] = None,
) -> Response:
    # A browser sends a textarea's line breaks as CR LF: keep the draft's own LF.
    body = body.replace("\r\n", "\n")
    subject = subject.replace("\r\n", " ").strip() if subject is not None else None
    if not body.strip():
        return _render(request, state, user, draft_id, UNPROCESSABLE, body=body,
                       subject=subject, error_key="bad_body")  # fmt: skip
    try:
        with unit_of_work(state.engine) as session:
            review.edit(session, draft_id, user.name, body, subject, state.clock(),
                        state.policy, expected_version=version)  # fmt: skip
    except review.LintRefused as exc:
        return _render(request, state, user, draft_id, UNPROCESSABLE, body=body,
                       subject=subject, problems=exc.problems)  # fmt: skip
    except NotifierError as exc:
        return _render(request, state, user, draft_id, http_status(exc), body=body,
                       subject=subject, error=said(exc, user))  # fmt: skip
    return RedirectResponse(f"/drafts/{draft_id}?message=saved", status_code=303)


@router.post("/drafts/{draft_id}/approve", dependencies=[Csrf])
def approve(request: Request, state: State, user: PageDecider, draft_id: RecordId) -> Response:
    try:
        with unit_of_work(state.engine) as session:
            review.approve(session, [draft_id], user.name, state.clock(), state.policy,
                           state.calendar)  # fmt: skip
    except NotifierError as exc:
        return _render(request, state, user, draft_id, http_status(exc), error=said(exc, user))
    return RedirectResponse("/?message=approved:1:0", status_code=303)


@router.post("/drafts/{draft_id}/reject", dependencies=[Csrf])
def reject(
    request: Request,
    state: State,
    user: PageDecider,
    draft_id: RecordId,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if not reason.strip():
        return _render(
            request, state, user, draft_id, UNPROCESSABLE, error_key="dr_reason_required"
        )
    try:
        with unit_of_work(state.engine) as session:
            review.reject(session, draft_id, user.name, reason, state.clock())
    except NotifierError as exc:
        return _render(request, state, user, draft_id, http_status(exc), error=said(exc, user),
                       reason=reason)  # fmt: skip
    return RedirectResponse(f"/?message=rejected:{draft_id}", status_code=303)


# -- formal letters (issue 15) ------------------------------------------------------------


@router.get("/drafts/{draft_id}/letter.pdf")
def letter_pdf(state: State, _user: PageUser, draft_id: RecordId) -> Response:
    """The letter as a PDF, inline: a draft watermarked, for review; the approved one to
    print and post."""
    with unit_of_work(state.engine) as session:
        printed = letters.pdf(session, draft_id, state.policy)
    name = f"letter-{draft_id}{'-draft' if printed.draft else ''}.pdf"
    return Response(printed.pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})  # fmt: skip


@router.post("/drafts/{draft_id}/posted", dependencies=[Csrf])
def letter_posted(
    request: Request,
    state: State,
    user: PageDecider,
    draft_id: RecordId,
    tracking: Annotated[str, Form(max_length=100)] = "",
    carrier: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    try:
        with unit_of_work(state.engine) as session:
            letters.posted(session, draft_id, tracking, carrier or None, user.name,
                           state.clock(), state.policy)  # fmt: skip
    except NotifierError as exc:
        return _render(request, state, user, draft_id, http_status(exc), error=said(exc, user))
    return RedirectResponse(f"/drafts/{draft_id}?message=posted", status_code=303)


@router.post("/drafts/{draft_id}/received", dependencies=[Csrf])
def letter_received(
    request: Request,
    state: State,
    user: PageDecider,
    draft_id: RecordId,
    on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        day = date.fromisoformat(on)
    except ValueError:
        return _render(request, state, user, draft_id, UNPROCESSABLE, error_key="lt_bad_date")
    try:
        with unit_of_work(state.engine) as session:
            letters.received(session, draft_id, day, user.name, state.clock())
    except NotifierError as exc:
        return _render(request, state, user, draft_id, http_status(exc), error=said(exc, user))
    return RedirectResponse(f"/drafts/{draft_id}?message=received", status_code=303)
