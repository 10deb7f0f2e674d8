"""What comes back from the world (D16-D18, C3, C6): Twilio's status and inbound webhooks,
the e-mail open pixel, the tracked click, and the unsubscribe link.

Webhooks verify ``X-Twilio-Signature`` against ``NOTIFIER_PUBLIC_URL`` (a bad or missing
signature is 403 and changes nothing); tracking tokens are signed (a forged one is 404 and
records nothing). Status updates are idempotent and never move a reminder backwards.
"""

from __future__ import annotations

import re
from html import escape
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from twilio.request_validator import RequestValidator

from notifier.channels.twilio_voice import empty_twiml
from notifier.domain.reads import callback_outcome
from notifier.services import engagement, voice
from notifier.services.inbound import receive, status_callback
from notifier.store.db import unit_of_work
from notifier.tracking import PIXEL_GIF
from notifier.web.state import AppState, State
from notifier.web.ui import public

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


@router.post("/webhooks/twilio/voice")
async def twilio_voice(request: Request, state: State, signature: Signature = None) -> Response:
    """Click-to-call (services/voice.py): the call's status callbacks, the Dial's action
    (how the customer's leg ended) and the recording's callback, kept as evidence once
    each. The task named in the query string is covered by the signature. Answered with
    empty TwiML: after the Dial's action the call simply ends."""
    form = await _signed_form(request, state, signature)
    task = request.query_params.get("task", "")
    with unit_of_work(state.engine) as session:
        voice.record_callback(session, int(task) if task.isdigit() and len(task) < 12 else None,
                              form, state.clock(), state.settings.twilio.account_sid)  # fmt: skip
    return Response(empty_twiml(), media_type="application/xml")


@router.post("/webhooks/twilio/voice/connect/{token}")
async def twilio_voice_connect(
    token: str, request: Request, state: State, signature: Signature = None
) -> Response:
    """The bridge's TwiML, asked by Twilio when the collector answered: dial the task's
    customer (the signed link names the task; a forged or expired one is 404)."""
    await _signed_form(request, state, signature)
    with unit_of_work(state.engine) as session:
        twiml = voice.bridge(session, token, state.clock(), settings=state.settings,
                             policy=state.policy)  # fmt: skip
    if twiml is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return Response(twiml, media_type="application/xml")


@router.post("/webhooks/twilio/voice/announce/{token}")
async def twilio_voice_announce(
    token: str, request: Request, state: State, signature: Signature = None
) -> Response:
    """What the customer hears on answering a recorded call, in their language."""
    await _signed_form(request, state, signature)
    with unit_of_work(state.engine) as session:
        twiml = voice.announcement(session, token, settings=state.settings)
    if twiml is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return Response(twiml, media_type="application/xml")


@router.get("/t/o/{token}")
def open_pixel(token: str, request: Request, state: State) -> Response:
    """The pixel (services/engagement.py records the open). An expired token records
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
        engagement.record_open(session, found.reminder_id, token, now, agent, client,
                               state.policy.delivery)  # fmt: skip
    return gif


@router.get("/t/c/{token}")
def click(token: str, state: State) -> Response:
    """A tracked link (services/engagement.py records the click); an expired link records
    nothing but still redirects (an old payment link keeps working). The target leaves
    with no Referer: the token stays on this site."""
    found = state.tracker.verify("click", token)
    target = found.target if found else None
    if found is not None and target is None:  # an SMS's short link: the SMS's own link
        with unit_of_work(state.engine) as session:
            target = engagement.sms_link(session, found.reminder_id)
    if found is None or target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    now = state.clock()
    go = RedirectResponse(target, status_code=302, headers=NO_STORE | NO_REFERRER)
    if not found.records_at(now):
        return go
    with unit_of_work(state.engine) as session:
        engagement.record_click(session, found.reminder_id, token, target, now)
    return go


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, request: Request, state: State) -> HTMLResponse:
    """The page in the customer's language (web/ui/public.py); nothing changes until the
    button is pressed."""
    found = state.tracker.read("unsubscribe", token)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return public.unsubscribe_page(request, state, token, found[0], done=False)


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, request: Request, state: State) -> HTMLResponse:
    """One-click (RFC 8058) and the page's button: the address is opted out at once."""
    found = state.tracker.read("unsubscribe", token)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    with unit_of_work(state.engine) as session:
        engagement.unsubscribe(session, found[0], state.clock())
    return public.unsubscribe_page(request, state, token, found[0], done=True)
