"""Click-to-call through Twilio Voice, with the official SDK (issue 14).

The collector's own phone rings first (``client.calls.create``, caller id
``NOTIFIER_TWILIO__VOICE_FROM``); when it is answered, Twilio fetches the bridge's TwiML
from us (``/webhooks/twilio/voice/connect/{token}``), which ``<Dial>``s the customer's
number with the same caller id. When the call is recorded (``[voice]`` policy and the
customer's country, decided by ``services/voice.py``), the customer hears an announcement
in their own language before the conversation starts (``<Number url=...>``: Twilio plays
it to the called party on answer) and ``<Dial record=...>`` sends the recording's callback
to ``/webhooks/twilio/voice``, like the call's status callbacks.

TwiML is written with the SDK's ``VoiceResponse``; nothing here reads the database: the
service says whom to dial and whether to record. ``NOTIFIER_TWILIO__API_BASE`` replaces
``https://api.twilio.com`` as for SMS, so tests talk to Prism or the local fake through
the very same code path. Errors map onto :mod:`notifier.channels.errors` like SMS: 4xx
permanent (the request is wrong), 401/429/5xx and no answer transient.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from requests.exceptions import RequestException
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from notifier.channels.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifier.channels.masking import mask_address, scrub
from notifier.channels.twilio_sms import DEFAULT_TIMEOUT, _HttpClient, _is_http_url
from notifier.settings import TwilioSettings

log = logging.getLogger(__name__)

# Twilio's <Say> languages for our locales (its basic voice speaks both).
SAY_LANGUAGE = {"zh-CN": "zh-CN", "en": "en-US"}
SAY_VOICE = "alice"


def voice_problems(settings: TwilioSettings) -> list[str]:
    """What keeps click-to-call from working in this deployment (empty: it works)."""
    if not settings.voice_enabled:
        return ["NOTIFIER_TWILIO__VOICE_ENABLED is off"]
    problems = []
    if not settings.account_sid:
        problems.append("NOTIFIER_TWILIO__ACCOUNT_SID is missing")
    if not settings.auth_token.get_secret_value():
        problems.append("NOTIFIER_TWILIO__AUTH_TOKEN is missing")
    if not settings.voice_from:
        problems.append("NOTIFIER_TWILIO__VOICE_FROM (the caller id, E.164) is missing")
    if not _is_http_url(settings.api_base):
        problems.append(f"NOTIFIER_TWILIO__API_BASE is not an http(s) URL: {settings.api_base!r}")
    return problems


@dataclass(frozen=True)
class PlacedCall:
    sid: str  # CA + 32 hex
    status: str  # Twilio's: queued, initiated ...


@dataclass(frozen=True)
class Bridge:
    """What the TwiML says once the collector answered."""

    customer_number: str  # E.164, from the call task's customer, never from a request
    caller_id: str
    ring_seconds: int
    callback: str  # /webhooks/twilio/voice?task=ID (Dial action, recording callback)
    record: bool
    announce_url: str | None  # played to the customer on answer (the recording notice)
    collector_line: str  # said to the collector before the customer's phone rings
    collector_language: str


def bridge_twiml(bridge: Bridge) -> str:
    response = VoiceResponse()
    response.say(bridge.collector_line, voice=SAY_VOICE,
                 language=SAY_LANGUAGE.get(bridge.collector_language, "en-US"))  # fmt: skip
    recording: dict[str, str] = {}
    if bridge.record:
        recording = {
            "record": "record-from-answer-dual",
            "recording_status_callback": bridge.callback,
            "recording_status_callback_event": "completed",
            "recording_status_callback_method": "POST",
        }
    dial = response.dial(caller_id=bridge.caller_id, timeout=bridge.ring_seconds,
                         action=bridge.callback, method="POST", **recording)  # fmt: skip
    number: dict[str, str] = {"url": bridge.announce_url} if bridge.announce_url else {}
    dial.number(bridge.customer_number, **number)
    return str(response.to_xml(xml_declaration=True))


def say_twiml(text: str, locale: str, *, hang_up: bool = False) -> str:
    """One sentence in ``locale`` (the recording notice, or why a call cannot go on)."""
    response = VoiceResponse()
    response.say(text, voice=SAY_VOICE, language=SAY_LANGUAGE.get(locale, "en-US"))
    if hang_up:
        response.hangup()
    return str(response.to_xml(xml_declaration=True))


def empty_twiml() -> str:
    return str(VoiceResponse().to_xml(xml_declaration=True))


class TwilioVoice:
    """Places the first leg of a click-to-call. ``client`` is for tests that bring their
    own SDK client; by default one is built with an HTTP timeout of ``timeout`` seconds."""

    def __init__(
        self, settings: TwilioSettings, client: Client | None = None, *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:  # fmt: skip
        if client is None:
            http = _HttpClient(timeout, settings.api_base)
            client = Client(settings.account_sid, settings.auth_token.get_secret_value(),
                            http_client=http)  # fmt: skip
            client.edge = None  # NOTIFIER_TWILIO__API_BASE alone decides where requests go
            client.region = None
        client.api.base_url = settings.api_base.rstrip("/")
        self._client = client
        self._from = settings.voice_from

    def place(
        self, collector_phone: str, connect_url: str, status_callback: str, ring_seconds: int
    ) -> PlacedCall:
        """Ring ``collector_phone``; on answer Twilio fetches ``connect_url`` (POST)."""
        who = mask_address(collector_phone)
        try:
            created = self._client.calls.create(
                to=collector_phone,
                from_=self._from,
                url=connect_url,
                method="POST",
                # No StatusCallbackEvent: Twilio then reports the call once, completed (or
                # busy, no-answer, failed) with its duration; how the customer's leg went
                # comes from the Dial's action.
                status_callback=status_callback,
                status_callback_method="POST",
                timeout=ring_seconds,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _refusal(exc, who) from None  # the SDK's message repeats the number
        except RequestException as exc:
            raise TransientDeliveryError(
                f"Twilio did not answer for the call to {who}: {type(exc).__name__}",
                may_have_sent=True,
            ) from exc
        except json.JSONDecodeError:
            raise TransientDeliveryError(
                f"Twilio took the call to {who} with an unreadable answer", may_have_sent=True
            ) from None
        log.info("call to %s placed with Twilio as %s (%s)", who, created.sid, created.status)
        return PlacedCall(sid=str(created.sid), status=str(created.status))


def _refusal(exc: TwilioRestException | TwilioServiceException, who: str) -> DeliveryError:
    status = int(exc.status)
    code = int(exc.code) if exc.code is not None else None
    said = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
    detail = f"HTTP {status}, code {code}: {scrub(str(said))}"
    code_text = str(code) if code is not None else None
    if status in (401, 429) or status >= 500:
        return TransientDeliveryError(
            f"Twilio did not place the call to {who} ({detail})", code=code_text
        )
    return PermanentDeliveryError(
        f"Twilio refused the call to {who} ({detail})", reason="rejected", code=code_text
    )
