"""What comes back from the world (D16-D18, C3, C6): Twilio's status and inbound webhooks,
the e-mail open pixel, the tracked click, and the unsubscribe link.

Webhooks verify ``X-Twilio-Signature`` against ``NOTIFIER_PUBLIC_URL`` (a bad or missing
signature is 403 and changes nothing); tracking tokens are signed (a forged one is 404 and
records nothing). Status updates are idempotent and never move a reminder backwards.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Any, get_args
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Connection, Update, bindparam, func, insert, select, update
from sqlmodel import Session, col
from twilio.request_validator import RequestValidator

from notifier.consent import record_opt_out
from notifier.domain.reads import (
    Outcome,
    callback_outcome,
    is_machine_open,
    keyword,
    moves_forward,
)
from notifier.review import STATUSES
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
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        # What Twilio sends; the standard library's parser is several times faster here
        # than the multipart-capable one. The last of repeated fields wins, as there.
        body = (await request.body()).decode("utf-8", "replace")
        form = dict(parse_qsl(body, keep_blank_values=True))
    else:
        form = {k: str(v) for k, v in (await request.form()).items()}
    token = state.settings.twilio.auth_token.get_secret_value()
    url = state.settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not token or not signature or not RequestValidator(token).validate(url, form, signature):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "bad or missing X-Twilio-Signature")
    return form


Signature = Annotated[str | None, Header(alias="X-Twilio-Signature")]
_R = Reminder.__table__  # type: ignore[attr-defined]  # Core statements on the same table
_AT = _R.c.updated_at.type
_EVENT = insert(Event.__table__)  # type: ignore[attr-defined]


def _forward(outcome: Outcome) -> Update:
    """Move a reminder to ``outcome`` if that is forward from where it is (domain.reads:
    statuses only move forward), keeping a message SID it has; built once per outcome."""
    values: dict[str, Any] = {"status": outcome, "updated_at": bindparam("now", type_=_AT),
                              "provider_id": func.coalesce(_R.c.provider_id, bindparam("sid")),
                              "version": _R.c.version + 1}  # fmt: skip
    if outcome == "delivered":
        values["delivered_at"] = bindparam("now", type_=_AT)
    if outcome == "failed":
        values["reason"] = bindparam("reason")
    before = tuple(s for s in STATUSES if moves_forward(s, outcome))
    return (
        update(_R)
        .where(_R.c.status.in_(before))
        .values(values)
        .returning(_R.c.id, _R.c.customer_id, _R.c.address)
    )


# The reminder named in the (signed) callback URL, unless it carries another message's
# SID; else the one with this SID.
_BY_ID = {
    o: _forward(o).where(
        _R.c.id == bindparam("rid"),
        _R.c.provider_id.is_(None) | (_R.c.provider_id == bindparam("sid")),
    )
    for o in get_args(Outcome)
}
_BY_SID = {o: _forward(o).where(_R.c.provider_id == bindparam("sid")) for o in get_args(Outcome)}


@router.post("/webhooks/twilio/status", status_code=204)
async def twilio_status(request: Request, state: State, signature: Signature = None) -> Response:
    form = await _signed_form(request, state, signature)
    sid, reported = form.get("MessageSid", ""), form.get("MessageStatus", "")
    outcome = callback_outcome(reported)
    if outcome is None:  # queued, accepted, sending ...: nothing we record
        return Response(status_code=204)
    error = form.get("ErrorCode") or None
    reminder = request.query_params.get("reminder")
    with state.engine.begin() as connection:
        _apply_status(connection, reminder, sid, outcome, reported, error, state.clock())
    return Response(status_code=204)


def _apply_status(
    connection: Connection, reminder: str | None, sid: str, outcome: Outcome, reported: str,
    error: str | None, now: datetime,
) -> None:  # fmt: skip
    """One UPDATE that moves the reminder forward or matches nothing (a repeated or late
    callback), then the event. By id first: a callback may overtake the sweep, before it
    has stored the SID."""
    why = f"provider reported {reported}" + (f" (error {error})" if error else "")
    params = {"sid": sid, "now": now, "reason": why}
    row = None
    if reminder and reminder.isdigit():
        row = connection.execute(_BY_ID[outcome], params | {"rid": int(reminder)}).first()
    if row is None:
        row = connection.execute(_BY_SID[outcome], params).first()
    if row is None:
        return  # unknown, not ours, or it would move backwards: nothing changes
    reminder_id, customer_id, address = row
    data = {"reminder_id": reminder_id, "provider_status": reported, "error_code": error}
    # Twilio's "sent" (handed to the carrier) is not our "sent" (the sweep's evidence of
    # what went out): its own kind, so a reminder never has two "sent" events.
    kind = "carrier_sent" if outcome == "sent" else outcome
    connection.execute(_EVENT, {"at": now, "kind": kind, "customer_id": customer_id,
                                "actor": "twilio", "data": data})  # fmt: skip
    if outcome == "failed" and error == "21610":
        with Session(bind=connection) as session:  # joins this transaction
            record_opt_out(session, "sms", address, "provider-21610", now)
            session.flush()


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
        customers = session.scalars(
            select(Customer).where(col(Customer.phone) == sender).order_by(col(Customer.id))
        ).all()
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
