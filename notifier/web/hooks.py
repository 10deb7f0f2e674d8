"""What comes back from the world (D16-D18, C3, C6): Twilio's status and inbound webhooks,
the e-mail open pixel, the tracked click, and the unsubscribe link.

Webhooks verify ``X-Twilio-Signature`` against ``NOTIFIER_PUBLIC_URL`` (a bad or missing
signature is 403 and changes nothing); tracking tokens are signed (a forged one is 404 and
records nothing). Status updates are idempotent and never move a reminder backwards.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlmodel import Session, col
from twilio.request_validator import RequestValidator

from notifier.consent import record_opt_out
from notifier.domain.reads import callback_outcome, is_machine_open, keyword, moves_forward
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, Reminder
from notifier.tracking import PIXEL_GIF
from notifier.web.state import AppState, State

router = APIRouter(tags=["webhooks and tracking"])
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}
OPT_OUT_CONFIRMATION = {
    "zh-CN": "您已退订短信提醒，我们不会再发送短信。如需恢复请回复START。",
    "en": "You have been unsubscribed and will receive no more messages. Reply START to resume.",
}


async def _signed_form(request: Request, state: AppState, signature: str | None) -> dict[str, str]:
    """The webhook's form fields, after checking Twilio's signature over the public URL."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    token = state.settings.twilio.auth_token.get_secret_value()
    url = state.settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not token or not signature or not RequestValidator(token).validate(url, form, signature):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "bad or missing X-Twilio-Signature")
    return form


Signature = Annotated[str | None, Header(alias="X-Twilio-Signature")]


@router.post("/webhooks/twilio/status", status_code=204)
async def twilio_status(request: Request, state: State, signature: Signature = None) -> Response:
    form = await _signed_form(request, state, signature)
    sid, reported = form.get("MessageSid", ""), form.get("MessageStatus", "")
    outcome = callback_outcome(reported)
    now = state.clock()
    with unit_of_work(state.engine) as session:
        r = _reminder_for(session, sid, request.query_params.get("reminder"))
        if r is None or outcome is None or not moves_forward(r.status, outcome):
            return Response(status_code=204)
        error = form.get("ErrorCode") or None
        r.status, r.updated_at = outcome, now
        r.provider_id = r.provider_id or sid
        r.version += 1
        if outcome == "delivered":
            r.delivered_at = now
        if outcome == "failed":
            r.reason = f"provider reported {reported}" + (f" (error {error})" if error else "")
            if error == "21610":
                record_opt_out(session, "sms", r.address, "provider-21610", now)
        session.add(Event(at=now, kind=outcome, customer_id=r.customer_id, actor="twilio",
                          data={"reminder_id": r.id, "provider_status": reported,
                                "error_code": error}))  # fmt: skip
    return Response(status_code=204)


def _reminder_for(session: Session, sid: str, reminder: str | None) -> Reminder | None:
    """By the reminder named in the (signed) callback URL, else by the message SID. The id
    matters when a callback overtakes the sweep, before it has stored the SID."""
    found = None
    if reminder and reminder.isdigit():
        found = session.get(Reminder, int(reminder), with_for_update=True)
        if found is not None and found.provider_id not in (None, sid):
            found = None  # a callback about another message of that reminder: ignore
    if found is None:
        found = session.scalar(
            select(Reminder).where(col(Reminder.provider_id) == sid).with_for_update()
        )
    return found


def _twiml(message: str | None = None) -> Response:
    body = f"<Message>{escape(message)}</Message>" if message else ""
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'
    return Response(xml, media_type="application/xml")


@router.post("/webhooks/twilio/inbound")
async def twilio_inbound(request: Request, state: State, signature: Signature = None) -> Response:
    form = await _signed_form(request, state, signature)
    sender, text = form.get("From", ""), form.get("Body", "")
    word = keyword(text, state.policy.delivery)
    now = state.clock()
    with unit_of_work(state.engine) as session:
        customers = session.scalars(select(Customer).where(col(Customer.phone) == sender)).all()
        if word is not None:
            record_opt_out(session, "sms", sender, f"inbound-{word}", now, active=word == "stop")
            # Twilio answers its own STOP words; a Chinese 退订/TD gets our one confirmation.
            is_twilio_word = text.strip().upper() in {"STOP", "STOPALL", "UNSUBSCRIBE",
                                                      "CANCEL", "END", "QUIT", "START"}  # fmt: skip
            if word == "stop" and not is_twilio_word:
                locale = customers[0].locale if customers else "zh-CN"
                return _twiml(OPT_OUT_CONFIRMATION.get(locale, OPT_OUT_CONFIRMATION["zh-CN"]))
            return _twiml()
        for customer in customers:
            _record_reply(session, customer, text, now)
    return _twiml()


def _record_reply(session: Session, customer: Customer, text: str, now: datetime) -> None:
    latest = session.scalar(
        select(Reminder)
        .where(col(Reminder.customer_id) == customer.id, col(Reminder.sent_at).is_not(None))
        .order_by(col(Reminder.sent_at).desc())
        .limit(1)
    )
    if latest is not None and latest.replied_at is None:
        latest.replied_at = now
    data = {"text": text, "reminder_id": latest.id if latest else None}
    session.add(Event(at=now, kind="replied", customer_id=customer.id, actor="customer", data=data))


@router.get("/t/o/{token}")
def open_pixel(token: str, request: Request, state: State) -> Response:
    found = state.tracker.read("open", token)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    now = state.clock()
    agent = request.headers.get("user-agent", "")
    client = request.client.host if request.client else None
    with unit_of_work(state.engine) as session:
        r = session.get(Reminder, found[0])
        if r is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        machine = is_machine_open(r.sent_at, now, agent, client, state.policy.delivery)
        if not machine and r.read_at is None:
            r.read_at = now
        session.add(Event(at=now, kind="opened", customer_id=r.customer_id, actor="recipient",
                          data={"reminder_id": r.id, "machine": machine,
                                "user_agent": agent[:200]}))  # fmt: skip
    return Response(PIXEL_GIF, media_type="image/gif", headers=NO_STORE)


@router.get("/t/c/{token}")
def click(token: str, state: State) -> Response:
    found = state.tracker.read("click", token)
    target = found[1] if found else None
    if found is None or target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    reminder_id = found[0]
    now = state.clock()
    with unit_of_work(state.engine) as session:
        r = session.get(Reminder, reminder_id)
        if r is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        r.clicked_at = r.clicked_at or now
        r.read_at = r.read_at or now  # following the link means a person read it
        session.add(Event(at=now, kind="clicked", customer_id=r.customer_id, actor="recipient",
                          data={"reminder_id": r.id, "target": target}))  # fmt: skip
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


_UNSUBSCRIBE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
</head><body style="font-family:sans-serif;max-width:32em;margin:3em auto">{body}</body></html>"""


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
