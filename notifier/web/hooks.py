"""What comes back from the world (D16-D18, C3, C6): Twilio's status and inbound webhooks,
the e-mail open pixel, the tracked click, and the unsubscribe link.

Webhooks verify ``X-Twilio-Signature`` against ``NOTIFIER_PUBLIC_URL`` (a bad or missing
signature is 403 and changes nothing); tracking tokens are signed (a forged one is 404 and
records nothing). Status updates are idempotent and never move a reminder backwards.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from notifier.domain.reads import callback_outcome, is_machine_open
from notifier.services.consent import record_opt_out
from notifier.services.inbound import receive, status_callback
from notifier.store.db import unit_of_work
from notifier.store.models import Event, Reminder, TrackingHit
from notifier.tracking import PIXEL_GIF
from notifier.web.state import AppState, State

router = APIRouter(tags=["webhooks and tracking"])
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


async def _signed_form(request: Request, state: AppState, signature: str | None) -> dict[str, str]:
    """The webhook's form fields, after checking Twilio's signature over the public URL.

    A request that cannot be genuine (no signature, or no token to check it with) is
    refused before its body is read; the body itself is capped by ``BodyLimit``."""
    token = state.settings.twilio.auth_token.get_secret_value()
    if not token or not signature:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "bad or missing X-Twilio-Signature")
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        # What Twilio sends; the standard library's parser is several times faster here
        # than the multipart-capable one. The last of repeated fields wins, as there.
        body = (await request.body()).decode("utf-8", "replace")
        form = dict(parse_qsl(body, keep_blank_values=True))
    else:
        form = {k: str(v) for k, v in (await request.form()).items()}
    url = state.settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not RequestValidator(token).validate(url, form, signature):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "bad or missing X-Twilio-Signature")
    return form


Signature = Annotated[str | None, Header(alias="X-Twilio-Signature")]


@router.post("/webhooks/twilio/status", status_code=204)
async def twilio_status(request: Request, state: State, signature: Signature = None) -> Response:
    form = await _signed_form(request, state, signature)
    reported = form.get("MessageStatus", "")
    outcome = callback_outcome(reported)
    if outcome is None:  # queued, accepted, sending ...: nothing we record
        return Response(status_code=204)
    reminder = request.query_params.get("reminder", "")
    with state.engine.begin() as connection:
        status_callback(connection, int(reminder) if reminder.isdigit() else None,
                        form.get("MessageSid", ""), outcome, reported,
                        form.get("ErrorCode") or None, state.clock())  # fmt: skip
    return Response(status_code=204)


def _twiml(message: str | None = None) -> Response:
    body = f"<Message>{escape(message)}</Message>" if message else ""
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'
    return Response(xml, media_type="application/xml")


# Twilio's message SIDs: two letters and 32 hex digits; anything of that shape fits.
_MESSAGE_SID = re.compile(r"[A-Za-z0-9]{2,64}")


@router.post("/webhooks/twilio/inbound")
async def twilio_inbound(request: Request, state: State, signature: Signature = None) -> Response:
    """An inbound SMS (services/inbound.py): acted on once per MessageSid; a repeat is 200
    with empty TwiML. Twilio always sends a MessageSid, so a signed request without one is not a
    message from Twilio: 400, nothing changes (it could not be told from a replay)."""
    form = await _signed_form(request, state, signature)
    sid = form.get("MessageSid", "")
    if not _MESSAGE_SID.fullmatch(sid):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "MessageSid is missing or malformed")
    with unit_of_work(state.engine) as session:
        result = receive(session, sid, form.get("From", ""), form.get("Body", ""),
                         state.clock(), state.policy.delivery)  # fmt: skip
    return _twiml(result.confirmation)


def _hit(session: Session, kind: str, token: str, reminder_id: int, now: datetime) -> int:
    """Count one hit of ``token``; how many there have been, this one included. One
    statement (an upsert), so two hits at once still count 1 and 2."""
    key = hashlib.sha256(f"{kind}:{token}".encode()).hexdigest()
    table = TrackingHit.__table__  # type: ignore[attr-defined]
    dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = (
        dialect.insert(table)
        .values(key=key, reminder_id=reminder_id, kind=kind, hits=1, first_at=now, last_at=now)
        .on_conflict_do_update(index_elements=["key"],
                               set_={"hits": table.c.hits + 1, "last_at": now})
        .returning(table.c.hits)
    )  # fmt: skip
    return int(session.execute(upsert).scalar_one())


@router.get("/t/o/{token}")
def open_pixel(token: str, request: Request, state: State) -> Response:
    """The first hit of a pixel writes the ``opened`` event (and so does the first open by
    a person, after a prefetch); later hits are only counted. An expired token records
    nothing but still gets the pixel: the old message shows no broken image, and a 404
    would tell nothing the signature check does not already."""
    found = state.tracker.verify("open", token)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    now = state.clock()
    gif = Response(PIXEL_GIF, media_type="image/gif", headers=NO_STORE)
    if not found.records_at(now):
        return gif
    agent = request.headers.get("user-agent", "")
    client = request.client.host if request.client else None
    with unit_of_work(state.engine) as session:
        r = session.get(Reminder, found.reminder_id)
        if r is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        machine = is_machine_open(r.sent_at, now, agent, client, state.policy.delivery)
        first = _hit(session, "open", token, found.reminder_id, now) == 1
        first_person = not machine and r.read_at is None
        if first_person:
            r.read_at = now
        if first or first_person:
            session.add(Event(at=now, kind="opened", customer_id=r.customer_id,
                              actor="recipient", data={"reminder_id": r.id, "machine": machine,
                                                       "user_agent": agent[:200]}))  # fmt: skip
    return gif


@router.get("/t/c/{token}")
def click(token: str, state: State) -> Response:
    """The first click of a link writes the ``clicked`` event, later ones are counted; an
    expired link records nothing but still redirects (an old payment link keeps working).
    The target leaves with no Referer: the token stays on this site."""
    found = state.tracker.verify("click", token)
    target = found.target if found else None
    if found is None or target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    now = state.clock()
    go = RedirectResponse(target, status_code=302, headers=NO_STORE | NO_REFERRER)
    if not found.records_at(now):
        return go
    with unit_of_work(state.engine) as session:
        r = session.get(Reminder, found.reminder_id)
        if r is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        r.clicked_at = r.clicked_at or now
        r.read_at = r.read_at or now  # following the link means a person read it
        if _hit(session, "click", token, found.reminder_id, now) == 1:
            data = {"reminder_id": r.id, "target": target}
            session.add(Event(at=now, kind="clicked", customer_id=r.customer_id,
                              actor="recipient", data=data))  # fmt: skip
    return go


# Styled from a static file: the Content-Security-Policy allows no inline style.
_UNSUBSCRIBE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/static/public.css"></head><body class="public">{body}</body>
</html>"""


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, state: State) -> HTMLResponse:
    if state.tracker.read("unsubscribe", token) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    form = (f'<p>退订邮件提醒 / Stop e-mail reminders?</p><form method="post" '
            f'action="/u/{escape(token)}"><button type="submit">退订 / Unsubscribe</button>'
            "</form>")  # fmt: skip
    return HTMLResponse(_UNSUBSCRIBE_PAGE.format(title="Unsubscribe", body=form))


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, state: State) -> HTMLResponse:
    """One-click (RFC 8058) and the page's button: the address is opted out at once."""
    found = state.tracker.read("unsubscribe", token)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    now = state.clock()
    with unit_of_work(state.engine) as session:
        r = session.get(Reminder, found[0])
        if r is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        record_opt_out(session, "email", r.address, "unsubscribe-link", now)
    body = "<p>您已退订邮件提醒。/ You will receive no more e-mail reminders.</p>"
    return HTMLResponse(_UNSUBSCRIBE_PAGE.format(title="Unsubscribed", body=body))
