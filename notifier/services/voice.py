"""Click-to-call (issue 14): a collector calls a call task's customer through Twilio Voice.

- :func:`start_call` checks that click-to-call is on, that the task is the user's (its
  customer's collector) or the user a manager or admin, that the user has a phone of their
  own and the customer a usable one, and that the customer may be called now (C1 quiet
  hours and the C2 call caps, asked of the customer's standing); then it rings the
  collector's phone (channels/twilio_voice.py) and records ``call_dialled``. Whether the
  call is recorded is decided here, once, from the ``[voice]`` policy and the customer's
  country, and carried in the signed link of the bridge.
- :func:`bridge` answers Twilio's request for the TwiML when the collector picked up: the
  link names the task (signed with NOTIFIER_SECRET_KEY, valid ``connect_minutes``), and
  the number dialled is the task's customer's, read here: nobody can make us dial
  another. C1 is checked again at that moment.
- :func:`record_callback` keeps what Twilio reports (status, duration, recording) as
  evidence events on the task's customer (D18), once each. A completed call sets no
  outcome: the collector records that (services/calls.py).

The callers own the transaction and pass ``now``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlmodel import Session, col

from notifier.channels.errors import DeliveryError
from notifier.channels.twilio_voice import (
    Bridge,
    PlacedCall,
    TwilioVoice,
    bridge_twiml,
    empty_twiml,
    say_twiml,
    voice_problems,
)
from notifier.domain.calls import within_call_caps
from notifier.domain.errors import Conflict, NotFound, Refused
from notifier.domain.lifecycle import FINAL
from notifier.domain.policy import Policy
from notifier.domain.slots import contact_allowed
from notifier.importer.parse import FieldError, parse_phone
from notifier.services.calls import call_task, call_times, may_call
from notifier.settings import Settings
from notifier.store.models import CallOutcome, Customer, Event, Reminder, User
from notifier.words import text

CALL = "call"
DIALLED, STATUS, RECORDING = "call_dialled", "call_status", "call_recording"
VOICE_EVENTS = (DIALLED, STATUS, RECORDING)
CALLBACK_PATH = "/webhooks/twilio/voice"
CONNECT_PATH = "/webhooks/twilio/voice/connect/"
ANNOUNCE_PATH = "/webhooks/twilio/voice/announce/"
# Twilio's call statuses (CallStatus, DialCallStatus) and recording statuses.
CALL_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress", "answered",
                           "completed", "busy", "no-answer", "failed", "canceled"})  # fmt: skip
RECORDING_STATUSES = frozenset({"in-progress", "completed", "absent", "failed"})
_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")


class VoiceOff(Refused):
    """Click-to-call is not set up in this deployment."""


class CallRefused(Refused):
    """The call cannot be placed now; the message says why."""


class Dialer(Protocol):
    def place(
        self, collector_phone: str, connect_url: str, status_callback: str, ring_seconds: int
    ) -> PlacedCall: ...


@dataclass(frozen=True)
class Dialled:
    task_id: int
    call_sid: str
    status: str
    record: bool


@dataclass(frozen=True)
class Connect:
    """What the bridge's signed link says."""

    task_id: int
    user: str
    record: bool
    until: datetime


# -- set-up --------------------------------------------------------------------------------
def voice_off_reason(settings: Settings) -> str | None:
    """Why click-to-call is refused in this deployment, or None when it is on."""
    problems = voice_problems(settings.twilio)
    if not problems:
        return None
    return "click-to-call is off in this deployment: " + "; ".join(problems)


def set_user_phone(session: Session, name: str, phone: str, now: datetime) -> User:
    """The user's own phone (E.164; a bare Chinese mobile gets +86), rung first."""
    user = session.get(User, name, with_for_update=True)
    if user is None:
        raise NotFound(f"no user {name!r}: add one with `notifier user add`")
    try:
        number = parse_phone(phone, "CN")
    except FieldError as exc:
        raise Refused(f"phone of {name}: {exc}") from None
    user.phone = number
    session.add(Event(at=now, kind="user_phone_set", actor=name, data={}))
    return user


# -- links -----------------------------------------------------------------------------------
def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key.get_secret_value(), salt="voice-connect")


def connect_token(settings: Settings, c: Connect) -> str:
    return str(_serializer(settings).dumps(
        {"t": c.task_id, "u": c.user, "r": c.record, "e": int(c.until.timestamp())}
    ))  # fmt: skip


def read_connect(settings: Settings, token: str, now: datetime | None) -> Connect | None:
    """The link's content; None when forged, altered, or expired at ``now`` (None: the
    expiry is not checked)."""
    try:
        data = _serializer(settings).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    until = datetime.fromtimestamp(int(data.get("e", 0)), tz=UTC)
    task = data.get("t")
    if not isinstance(task, int) or (now is not None and now > until):
        return None
    return Connect(task, str(data.get("u", "")), bool(data.get("r")), until)


def callback_url(settings: Settings, task_id: int) -> str:
    return f"{settings.public_url.rstrip('/')}{CALLBACK_PATH}?task={task_id}"


# -- placing a call ----------------------------------------------------------------------
def _calls_near(session: Session, customer_id: str, task_id: int) -> list[datetime]:
    """When the customer's other calls are planned or were made (services/calls.py: the
    call caps' own count), and the calls dialled here that no outcome recorded since
    stands for yet: a collector dialling again and again without recording counts too."""
    taken = call_times(session, customer_id, but=task_id)
    recorded = session.execute(
        select(col(CallOutcome.reminder_id), col(CallOutcome.at))
        .where(col(CallOutcome.customer_id) == customer_id)
    ).all()  # fmt: skip
    for e in session.scalars(select(Event).where(col(Event.customer_id) == customer_id,
                                                 col(Event.kind) == DIALLED)):  # fmt: skip
        task = e.data.get("reminder_id")
        if not any(rid == task and at >= e.at for rid, at in recorded):
            taken.append(e.at)
    return taken


def _not_callable(
    session: Session, task: Reminder, customer: Customer, now: datetime, policy: Policy
) -> str | None:
    """Why the customer may not be called at ``now`` (C1, C2), else None."""
    if not contact_allowed(now, zone=customer.timezone, country=customer.country,
                           quiet_hours=policy.quiet_hours):  # fmt: skip
        hours = policy.quiet_hours.for_country(customer.country)
        return (f"it is outside the hours customer {customer.id} may be called "
                f"({hours.start:%H:%M}-{hours.end:%H:%M} in {customer.timezone}, C1)")  # fmt: skip
    cap = policy.caps.calls_for(customer.country)
    if not within_call_caps(now, _calls_near(session, customer.id, task.id or 0), cap):
        limits = [
            f"{n} {per}"
            for n, per in ((cap.per_day, "a day"), (cap.per_7_days, "in 7 days"))
            if n is not None
        ]
        return (f"customer {customer.id} was called as often as the caps allow "
                f"({', '.join(limits)} in {customer.country}, C2)")  # fmt: skip
    return None


def start_call(
    session: Session,
    task_id: int,
    user: User,
    now: datetime,
    *,
    settings: Settings,
    policy: Policy,
    dialer: Dialer | None = None,
) -> Dialled:
    off = voice_off_reason(settings)
    if off is not None:
        raise VoiceOff(off)
    task = call_task(session, task_id)
    customer = session.get(Customer, task.customer_id)
    assert customer is not None  # a foreign key
    may_call(user, customer)  # the task's collector, a manager or an admin (403)
    if task.status in FINAL:
        raise Conflict(f"call task {task_id} is {task.status}: nothing left to call")
    if not user.phone:
        raise CallRefused(f"{user.name} has no phone of their own to ring first: set it with "
                          f"`notifier user phone {user.name} +86...`")  # fmt: skip
    if not customer.phone or customer.phone_invalid:
        raise CallRefused(f"customer {customer.id} has no phone number that works")
    why = _not_callable(session, task, customer, now, policy)
    if why is not None:
        raise CallRefused(f"cannot call now: {why}")
    record = policy.voice.records(customer.country)
    until = now + timedelta(minutes=policy.voice.connect_minutes)
    token = connect_token(settings, Connect(task_id, user.name, record, until))
    base = settings.public_url.rstrip("/")
    placing = dialer if dialer is not None else TwilioVoice(settings.twilio)
    try:
        placed = placing.place(
            user.phone, base + CONNECT_PATH + token, callback_url(settings, task_id),
            policy.voice.ring_seconds,
        )  # fmt: skip
    except DeliveryError as exc:
        raise CallRefused(f"the call was not placed: {exc}") from None
    session.add(Event(at=now, kind=DIALLED, customer_id=customer.id, actor=user.name,
                      data={"reminder_id": task_id, "call_sid": placed.sid,
                            "status": placed.status, "record": record}))  # fmt: skip
    return Dialled(task_id, placed.sid, placed.status, record)


# -- Twilio asks what to do ------------------------------------------------------------------
def bridge(
    session: Session, token: str, now: datetime, *, settings: Settings, policy: Policy
) -> str | None:
    """The TwiML once the collector answered; None for a link that is forged or expired."""
    found = read_connect(settings, token, now)
    if found is None:
        return None
    task = session.get(Reminder, found.task_id)
    user = session.get(User, found.user)
    locale = user.locale if user is not None else "zh-CN"
    customer = session.get(Customer, task.customer_id) if task is not None else None
    if (task is None or task.channel != CALL or customer is None or user is None
            or not customer.phone or customer.phone_invalid
            or not contact_allowed(now, zone=customer.timezone, country=customer.country,
                                   quiet_hours=policy.quiet_hours)):  # fmt: skip
        return say_twiml(text(locale, "voice_cannot_connect"), locale, hang_up=True)
    announce = None
    if found.record:
        announce = settings.public_url.rstrip("/") + ANNOUNCE_PATH + token
    return bridge_twiml(Bridge(
        customer_number=customer.phone, caller_id=settings.twilio.voice_from,
        ring_seconds=policy.voice.ring_seconds, callback=callback_url(settings, task.id or 0),
        record=found.record, announce_url=announce,
        collector_line=text(locale, "voice_connecting"), collector_language=locale,
    ))  # fmt: skip


def announcement(session: Session, token: str, *, settings: Settings) -> str | None:
    """What the customer hears on answering a recorded call, in the customer's language.
    Twilio fetches it as the call connects, so the link's expiry does not apply here."""
    found = read_connect(settings, token, None)
    if found is None:
        return None
    task = session.get(Reminder, found.task_id)
    customer = session.get(Customer, task.customer_id) if task is not None else None
    if customer is None or not found.record:
        return empty_twiml()
    return say_twiml(text(customer.locale, "voice_recorded_notice"), customer.locale)


# -- what Twilio reports -------------------------------------------------------------------
def _seconds(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 7 else None


def _sid(value: str | None) -> str | None:
    return value if value and _SID.fullmatch(value) else None


def _recording_url(value: str | None) -> str | None:
    if not value or len(value) > 500:
        return None
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def _report(form: dict[str, str]) -> tuple[str, dict[str, Any]] | None:
    """The event kind and data of one callback; None when it carries nothing to keep."""
    parent = _sid(form.get("CallSid"))
    if form.get("RecordingSid"):
        recording, status = _sid(form.get("RecordingSid")), form.get("RecordingStatus", "")
        if recording is None or status not in RECORDING_STATUSES:
            return None
        return RECORDING, {"call_sid": parent, "recording_sid": recording, "status": status,
                           "url": _recording_url(form.get("RecordingUrl")),
                           "duration": _seconds(form.get("RecordingDuration"))}  # fmt: skip
    if form.get("DialCallStatus"):  # the Dial's action: how the customer's leg ended
        status = form["DialCallStatus"]
        if status not in CALL_STATUSES:
            return None
        return STATUS, {"leg": "customer", "call_sid": _sid(form.get("DialCallSid")) or parent,
                        "parent_sid": parent, "status": status,
                        "duration": _seconds(form.get("DialCallDuration"))}  # fmt: skip
    status = form.get("CallStatus", "")
    if parent is None or status not in CALL_STATUSES:
        return None
    return STATUS, {"leg": "collector", "call_sid": parent, "status": status,
                    "duration": _seconds(form.get("CallDuration")),
                    "error_code": form.get("ErrorCode") or None}  # fmt: skip


def _key(kind: str, data: dict[str, Any]) -> tuple[Any, ...]:
    if kind == RECORDING:
        return (kind, data.get("recording_sid"), data.get("status"))
    return (kind, data.get("leg"), data.get("call_sid"), data.get("status"))


def voice_events(session: Session, task: Reminder) -> list[Event]:
    """The task's voice events, oldest first."""
    rows = session.scalars(
        select(Event)
        .where(col(Event.customer_id) == task.customer_id, col(Event.kind).in_(VOICE_EVENTS))
        .order_by(col(Event.id))
    )
    return [e for e in rows if e.data.get("reminder_id") == task.id]


def record_callback(
    session: Session, task_id: int | None, form: dict[str, str], now: datetime, account_sid: str
) -> bool:
    """Keep one signed callback as evidence; True when it was new. A callback naming no
    call task of ours, another account, or nothing we keep changes nothing; a repeat
    (Twilio retries) is kept once."""
    if task_id is None or (account_sid and form.get("AccountSid") not in (None, account_sid)):
        return False
    task = session.get(Reminder, task_id)
    found = _report(form)
    if task is None or task.channel != CALL or found is None:
        return False
    kind, data = found
    data = {"reminder_id": task_id, **data}
    if any(_key(e.kind, e.data) == _key(kind, data) for e in voice_events(session, task)):
        return False
    session.add(Event(at=now, kind=kind, customer_id=task.customer_id, actor="twilio", data=data))
    return True


# -- what the call page shows -------------------------------------------------------------------
@dataclass(frozen=True)
class PlacedSummary:
    call_sid: str
    by: str | None
    at: datetime
    record: bool
    status: str  # the latest reported: the customer's leg when it was dialled
    duration: int | None  # seconds the customer was on the line (else the collector's)
    recording_url: str | None
    recording_duration: int | None

    def as_json(self) -> dict[str, Any]:
        return {"call_sid": self.call_sid, "by": self.by, "at": self.at.isoformat(),
                "record": self.record, "status": self.status, "duration": self.duration,
                "recording_url": self.recording_url,
                "recording_duration": self.recording_duration}  # fmt: skip


def calls_placed(session: Session, task_id: int) -> list[PlacedSummary]:
    """Each call placed for the task, with what Twilio reported of it, oldest first."""
    task = call_task(session, task_id)
    events = voice_events(session, task)
    found = []
    for dialled in (e for e in events if e.kind == DIALLED):
        sid = dialled.data.get("call_sid")
        status, duration, url, seconds = str(dialled.data.get("status", "")), None, None, None
        customer_leg = False
        for e in events:
            d = e.data
            if e.kind == STATUS and sid in (d.get("call_sid"), d.get("parent_sid")):
                if d.get("leg") == "customer":
                    customer_leg = True
                    status, duration = str(d["status"]), d.get("duration")
                elif not customer_leg:
                    status, duration = str(d["status"]), d.get("duration")
            elif e.kind == RECORDING and d.get("call_sid") == sid and d.get("url"):
                url, seconds = d.get("url"), d.get("duration")
        found.append(PlacedSummary(str(sid), dialled.actor, dialled.at,
                                   bool(dialled.data.get("record")), status, duration, url,
                                   seconds))  # fmt: skip
    return found
