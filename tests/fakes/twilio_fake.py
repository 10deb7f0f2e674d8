"""A local Twilio: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` as Twilio
answers it, plus the status callbacks Twilio sends afterwards.

Requests are form-encoded (To, From or MessagingServiceSid, Body, StatusCallback) with
HTTP basic auth (account SID, auth token); anything else is 401 (code 20003). A new
message is answered 201 with Twilio's JSON (sid ``SM`` + 32 hex, status ``queued``, or
``accepted`` when only a Messaging Service was named) and recorded in
:attr:`TwilioFake.messages`.

Failures, by destination (Twilio's own magic test numbers):

=================  ======  =====  ==========================================
To                 HTTP    code   meaning
=================  ======  =====  ==========================================
+15005550001       400     21211  invalid 'To' phone number
+15005550002       400     21612  cannot route to this number
+15005550003       400     21408  no permission for the region
+15005550004       400     21610  the recipient replied STOP (opted out)
+15005550009       400     21614  not a mobile number
=================  ======  =====  ==========================================

and per test: :attr:`TwilioFake.delay` holds every Messages request that long before it
is answered (a slow provider: a batch takes a while, so a test can kill a worker while a
request is in flight; the message is still accepted and recorded after the delay, as a
provider that got the request would); ``fail_next(n, status=429 | 500 | 503)`` answers
the next ``n`` requests with that status (429 with ``Retry-After``);
``set_outcome(number, "undelivered", 30003)`` makes that number's final status callback
``undelivered``/``failed`` with ErrorCode.

Status callbacks: when StatusCallback was given and :attr:`callbacks_enabled` is true, a
background thread POSTs ``sent`` and then the final status (``delivered`` by default) to
that URL, form-encoded (MessageSid, SmsSid, MessageStatus, SmsStatus, AccountSid, To,
From, ApiVersion, MessagingServiceSid when used, ErrorCode when failed) and signed in
``X-Twilio-Signature`` exactly as Twilio signs, with the SDK's ``RequestValidator``.

Voice (click-to-call): ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` (To, From,
Url, StatusCallback ...; To and From required, as in Twilio's spec) is answered 201 with a
call resource (sid ``CA`` + 32 hex, status ``queued``) and recorded in
:attr:`TwilioFake.calls`. With :attr:`callbacks_enabled`, a thread then plays the call as
Twilio would, every request signed: status ``initiated``, ``ringing``, ``answered`` to
StatusCallback when StatusCallbackEvent asked for them; the first leg "answers" and the
fake POSTs to Url for the TwiML (kept in :attr:`TwilioFake.twiml`); a ``<Dial><Number>``
in it rings the customer: the ``<Number url>`` is fetched as the customer answers (the
announcement), then the Dial's action gets DialCallStatus (``completed``, or per
``set_call_outcome(number, "no-answer")``) and, when the Dial records, the recording
callback goes to its recordingStatusCallback (RecordingSid ``RE`` + 32 hex, RecordingUrl,
RecordingDuration); last the call's ``completed`` status with CallDuration. A TwiML fetch
the receiver refuses ends the call (``failed``).

Tests wait with :meth:`TwilioFake.wait_for` (bounded), never with sleeps.
"""

from __future__ import annotations

import base64
import json
import queue
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.etree import ElementTree

from twilio.request_validator import RequestValidator

from notifier.render.segments import sms_segments

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
API_VERSION = "2010-04-01"
SERVICE_SENDER = "+15005550006"  # the number a Messaging Service "picks" from its pool

MAGIC_NUMBERS: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number {to} is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number: {to}, is not currently reachable."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for {to}."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number {to} is not a valid mobile number"),
}
FAILURE_CODES = {429: 20429, 500: 20500, 503: 20503}
_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages\.json$")
_CALLS = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Calls\.json$")


@dataclass(frozen=True)
class RecordedMessage:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    form: dict[str, str]


@dataclass(frozen=True)
class RecordedCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    url: str | None
    status_callback: str | None
    form: dict[str, str]


@dataclass(frozen=True)
class TwimlFetch:
    """A TwiML document the fake asked the receiver for, and what it answered."""

    url: str
    params: dict[str, str]
    answered: int | None
    body: str


@dataclass(frozen=True)
class Callback:
    url: str
    params: dict[str, str]
    signature: str
    answered: int | None  # the receiver's HTTP status, None if it could not be reached


@dataclass
class _Failure:
    status: int
    retry_after: str | None = None


@dataclass
class _State:
    messages: list[RecordedMessage] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    attempts: int = 0
    failures: list[_Failure] = field(default_factory=list)
    outcomes: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    calls: list[RecordedCall] = field(default_factory=list)
    twiml: list[TwimlFetch] = field(default_factory=list)
    call_outcomes: dict[str, tuple[str, int]] = field(default_factory=dict)


class _Voice:
    """The Calls endpoint and the call played out afterwards (see the module doc)."""

    def _answer_call(
        self: Any, account: str, auth: str | None, form: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        with self._changed:
            self._state.attempts += 1
            self._changed.notify_all()
        if not self._authorised(auth) or account != self.account_sid:
            headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'}
            return 401, _error(20003, "Authenticate", 401), headers
        with self._changed:
            failure = self._state.failures.pop(0) if self._state.failures else None
        if failure is not None:
            code = FAILURE_CODES.get(failure.status, failure.status)
            return failure.status, _error(code, "Fake failure", failure.status), {}
        to, sender = form.get("To"), form.get("From")
        if not to:
            return 400, _error(21201, "No 'To' number is specified", 400), {}
        if not sender:
            return 400, _error(21213, "No 'From' number is specified", 400), {}
        if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
            return 400, _error(21205, "Url parameter is required.", 400), {}
        if to in MAGIC_NUMBERS:
            return 400, _error(21217, f"Phone number {to} is not a valid phone number", 400), {}
        call = RecordedCall(
            sid="CA" + secrets.token_hex(16), account_sid=self.account_sid, to=to,
            from_=sender, url=form.get("Url"), status_callback=form.get("StatusCallback"),
            form=dict(form),
        )  # fmt: skip
        with self._changed:
            self._state.calls.append(call)
            self._changed.notify_all()
        if self.callbacks_enabled:
            thread = threading.Thread(target=self._play, args=(call,), name="twilio-call",
                                      daemon=True)  # fmt: skip
            self._threads.append(thread)
            thread.start()
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        uri = f"/{API_VERSION}/Accounts/{call.account_sid}/Calls/{call.sid}"
        return 201, {
            "account_sid": call.account_sid, "annotation": None, "answered_by": None,
            "api_version": API_VERSION, "caller_name": None, "date_created": now,
            "date_updated": now, "direction": "outbound-api", "duration": None,
            "end_time": None, "forwarded_from": None, "from": call.from_,
            "from_formatted": call.from_, "group_sid": None, "parent_call_sid": None,
            "phone_number_sid": None, "price": None, "price_unit": "USD", "sid": call.sid,
            "start_time": None, "status": "queued", "subresource_uris": {}, "to": call.to,
            "to_formatted": call.to, "trunk_sid": None, "uri": f"{uri}.json", "queue_time": "0",
        }, {}  # fmt: skip

    def _play(self: Any, call: RecordedCall) -> None:
        base = {"AccountSid": call.account_sid, "ApiVersion": API_VERSION,
                "CallSid": call.sid, "Direction": "outbound-api", "From": call.from_,
                "To": call.to}  # fmt: skip
        if call.form.get("StatusCallbackEvent"):  # else Twilio reports `completed` only
            for status in ("initiated", "ringing", "answered"):
                self._status(call, {**base, "CallStatus": status})
        if self._stopping.is_set() or not call.url:
            return
        answered, body = self._post_signed(call.url, {**base, "CallStatus": "in-progress"})
        with self._changed:
            self._state.twiml.append(TwimlFetch(call.url, {**base}, answered, body))
            self._changed.notify_all()
        talked = 0
        if answered == 200:
            talked = self._follow(call, base, body)
        final = "completed" if answered == 200 else "failed"
        self._status(call, {**base, "CallStatus": final, "CallDuration": str(talked + 5)})

    def _follow(self: Any, call: RecordedCall, base: dict[str, str], body: str) -> int:
        """Do what the TwiML says: ring the <Dial>'s <Number>. The seconds talked."""
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return 0
        dial = root.find("Dial")
        number = dial.find("Number") if dial is not None else None
        if dial is None or number is None or not (number.text or "").strip():
            return 0
        to = (number.text or "").strip()
        child = "CA" + secrets.token_hex(16)
        with self._changed:
            status, duration = self._state.call_outcomes.get(to, ("completed", 42))
        leg = {**base, "CallSid": child, "ParentCallSid": call.sid, "To": to,
               "From": dial.get("callerId", call.from_)}  # fmt: skip
        if status == "completed" and number.get("url"):
            answered, said = self._post_signed(number.attrib["url"],
                                               {**leg, "CallStatus": "in-progress"})  # fmt: skip
            with self._changed:
                self._state.twiml.append(TwimlFetch(number.attrib["url"], leg, answered, said))
                self._changed.notify_all()
        talked = duration if status == "completed" else 0
        if dial.get("action"):
            self._post_signed(dial.attrib["action"], {
                **base, "CallStatus": "in-progress", "DialCallSid": child,
                "DialCallStatus": status, "DialCallDuration": str(talked),
            }, record=True)  # fmt: skip
        recording_url = dial.get("recordingStatusCallback")
        if status == "completed" and dial.get("record", "do-not-record") != "do-not-record" \
                and recording_url:  # fmt: skip
            sid = "RE" + secrets.token_hex(16)
            self._post_signed(recording_url, {
                "AccountSid": call.account_sid, "CallSid": call.sid, "RecordingSid": sid,
                "RecordingUrl": f"{self.base_url}/{API_VERSION}/Accounts/{call.account_sid}"
                                f"/Recordings/{sid}",
                "RecordingStatus": "completed", "RecordingDuration": str(talked),
                "RecordingChannels": "2", "RecordingSource": "DialVerb",
            }, record=True)  # fmt: skip
        return talked

    def _status(self: Any, call: RecordedCall, params: dict[str, str]) -> None:
        if call.status_callback and not self._stopping.is_set():
            self._post_signed(call.status_callback, params, record=True)

    def _post_signed(
        self: Any, url: str, params: dict[str, str], *, record: bool = False
    ) -> tuple[int | None, str]:
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        request = urllib.request.Request(
            url, data=urlencode(params).encode(), method="POST",
            headers={"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1",
                     "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        answered: int | None
        body = ""
        try:
            with self._opener.open(request, timeout=5) as response:
                answered, body = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            answered = exc.code
        except OSError:
            answered = None
        if record:
            with self._changed:
                self._state.callbacks.append(Callback(url, params, signature, answered))
                self._changed.notify_all()
        return answered, body


class TwilioFake(_Voice):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callbacks_enabled = True
        self.delay = 0.0  # seconds each Messages request waits before it is handled
        self._holding = 0  # requests waiting out the delay right now
        self._state = _State()
        self._changed = threading.Condition(threading.RLock())
        self._outbox: queue.Queue[tuple[str, dict[str, str]] | None] = queue.Queue()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        # Straight to the receiver: an HTTP(S)_PROXY in the environment must not apply.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> TwilioFake:
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._threads = [
            threading.Thread(
                target=server.serve_forever, args=(0.05,), name="twilio-fake", daemon=True
            ),
            threading.Thread(target=self._send_callbacks, name="twilio-callbacks", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # callbacks still queued are dropped, not sent
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    def __enter__(self) -> TwilioFake:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the fake is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- what tests configure and read ---------------------------------------------------
    def fail_next(self, n: int = 1, *, status: int = 500, retry_after: str | None = "7") -> None:
        """Answer the next ``n`` requests with ``status`` (429 carries ``Retry-After``)."""
        with self._changed:
            failure = _Failure(status, retry_after if status == 429 else None)
            self._state.failures.extend([failure] * n)

    def set_outcome(self, to: str, status: str, error_code: int | None = None) -> None:
        """The final status callback for ``to``: delivered, undelivered or failed."""
        with self._changed:
            self._state.outcomes[to] = (status, error_code)

    @property
    def messages(self) -> list[RecordedMessage]:
        with self._changed:
            return list(self._state.messages)

    @property
    def callbacks(self) -> list[Callback]:
        with self._changed:
            return list(self._state.callbacks)

    @property
    def calls(self) -> list[RecordedCall]:
        with self._changed:
            return list(self._state.calls)

    @property
    def twiml(self) -> list[TwimlFetch]:
        with self._changed:
            return list(self._state.twiml)

    def set_call_outcome(self, to: str, status: str, duration: int = 0) -> None:
        """How the customer's leg to ``to`` ends: completed (after ``duration`` seconds),
        no-answer, busy or failed."""
        with self._changed:
            self._state.call_outcomes[to] = (status, duration)

    @property
    def holding(self) -> int:
        """Requests received and not answered yet (waiting out :attr:`delay`): a client
        sending one of them is blocked on the provider's answer right now."""
        with self._changed:
            return self._holding

    @property
    def attempts(self) -> int:
        """Every Messages request received, accepted or not."""
        with self._changed:
            return self._state.attempts

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """True as soon as ``predicate()`` holds, False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                # Woken on every change here; the short slice also notices state kept
                # elsewhere (a test's own callback receiver).
                self._changed.wait(min(remaining, 0.05))
            return True

    # -- the API -------------------------------------------------------------------------
    def _answer(
        self, path: str, auth: str | None, form: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        calls = _CALLS.match(path)
        if calls is not None:
            return self._answer_call(calls["account"], auth, form)
        match = _PATH.match(path)
        if match is None:
            return 404, _error(20404, "The requested resource was not found", 404), {}
        if self.delay > 0:
            with self._changed:
                self._holding += 1
                self._changed.notify_all()
            time.sleep(self.delay)
            with self._changed:
                self._holding -= 1
        with self._changed:
            self._state.attempts += 1
            self._changed.notify_all()
        if not self._authorised(auth) or match["account"] != self.account_sid:
            headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'}
            return 401, _error(20003, "Authenticate", 401), headers
        with self._changed:
            failure = self._state.failures.pop(0) if self._state.failures else None
        if failure is not None:
            code = FAILURE_CODES.get(failure.status, failure.status)
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return failure.status, _error(code, "Fake failure", failure.status), headers
        to, sender, service = form.get("To"), form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return 400, _error(21604, "A 'To' phone number is required.", 400), {}
        if not (sender or service):
            return 400, _error(21603, "A 'From' phone number is required.", 400), {}
        if not form.get("Body"):
            return 400, _error(21602, "Message body is required.", 400), {}
        if to in MAGIC_NUMBERS:
            code, text = MAGIC_NUMBERS[to]
            return 400, _error(code, text.format(to=to), 400), {}
        message = RecordedMessage(
            sid="SM" + secrets.token_hex(16),
            account_sid=self.account_sid,
            to=to,
            from_=sender,
            messaging_service_sid=service,
            body=form["Body"],
            status_callback=form.get("StatusCallback"),
            form=dict(form),
        )
        with self._changed:
            self._state.messages.append(message)
            self._changed.notify_all()
        if message.status_callback and self.callbacks_enabled:
            self._queue_callbacks(message)
        return 201, self._resource(message), {}

    def _authorised(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def _resource(self, m: RecordedMessage) -> dict[str, Any]:
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        uri = f"/{API_VERSION}/Accounts/{m.account_sid}/Messages/{m.sid}"
        return {
            "account_sid": m.account_sid,
            "api_version": API_VERSION,
            "body": m.body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": m.from_,
            "messaging_service_sid": m.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(sms_segments(m.body)[0]),
            "price": None,
            "price_unit": "USD",
            "sid": m.sid,
            "status": "queued" if m.from_ else "accepted",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": m.to,
            "uri": f"{uri}.json",
        }

    # -- status callbacks ----------------------------------------------------------------
    def _queue_callbacks(self, m: RecordedMessage) -> None:
        assert m.status_callback is not None
        with self._changed:
            final, error_code = self._state.outcomes.get(m.to, ("delivered", None))
        base = {
            "AccountSid": m.account_sid,
            "ApiVersion": API_VERSION,
            "From": m.from_ or SERVICE_SENDER,
            "MessageSid": m.sid,
            "SmsSid": m.sid,
            "To": m.to,
        }
        if m.messaging_service_sid:
            base["MessagingServiceSid"] = m.messaging_service_sid
        steps = [("sent", None)] if final in ("delivered", "undelivered") else []
        for status, code in [*steps, (final, error_code)]:
            params = {**base, "MessageStatus": status, "SmsStatus": status}
            if code is not None:
                params["ErrorCode"] = str(code)
            self._outbox.put((m.status_callback, params))

    def _send_callbacks(self) -> None:
        validator = RequestValidator(self.auth_token)
        while (item := self._outbox.get()) is not None:
            if self._stopping.is_set():
                continue
            url, params = item
            signature = validator.compute_signature(url, params)
            request = urllib.request.Request(
                url,
                data=urlencode(params).encode(),
                headers={
                    "X-Twilio-Signature": signature,
                    "Content-Type": "application/x-www-form-urlencoded",
                    "User-Agent": "TwilioProxy/1.1",
                },
                method="POST",
            )
            answered: int | None
            try:
                with self._opener.open(request, timeout=5) as response:
                    answered = response.status
            except urllib.error.HTTPError as exc:
                answered = exc.code
            except OSError:
                answered = None
            with self._changed:
                self._state.callbacks.append(Callback(url, params, signature, answered))
                self._changed.notify_all()


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _handler_for(fake: TwilioFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # answer at once, not after a delayed ACK (~40 ms)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            form = dict(parse_qsl(raw, keep_blank_values=True))
            status, payload, headers = fake._answer(
                self.path, self.headers.get("Authorization"), form
            )
            body = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client is gone (killed): the message stays

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test output is for assertions

    return Handler
