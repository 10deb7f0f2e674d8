"""SMS through Twilio's Messages API, with the official SDK.

One :class:`TwilioSms` is one sender: the Messaging Service (``NOTIFIER_TWILIO__
MESSAGING_SERVICE_SID``) when set, else the From number. Every message asks Twilio for
status callbacks at ``status_callback``. ``NOTIFIER_TWILIO__API_BASE`` replaces the SDK's
``https://api.twilio.com`` (``client.api.base_url``), so tests and benchmarks talk to a
local server through the very same code path.

How answers map onto :mod:`notifier.channels.errors` (C6):
- 201: a :class:`Receipt` with the message SID and Twilio's status ("queued", "accepted").
- 21610 -> permanent ``opted_out``; 21211, 21614 -> permanent ``invalid_address``.
- HTTP 429 and 5xx -> transient, with ``Retry-After`` when Twilio sent one.
- HTTP 401 -> transient: the credentials are wrong, nothing about the message is.
- Any other 4xx -> permanent ``rejected``.
- No answer (refused, DNS, timeouts, dropped connection: the SDK's HTTP client is
  ``requests``) -> transient; ``may_have_sent`` unless the connection was never made.
The SDK sends each request once: no retries hide inside it (at-most-once).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from requests.exceptions import (
    ConnectTimeout,
    RequestException,
)
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from notifier.channels.base import ChannelLimits, Outgoing, Receipt
from notifier.channels.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifier.channels.masking import mask_address, scrub
from notifier.channels.ratelimit import TokenBucket
from notifier.settings import ConfigError, TwilioSettings

log = logging.getLogger(__name__)

MAX_BODY = 1600  # Twilio refuses longer bodies (error 21617)
OPTED_OUT = frozenset({21610})
INVALID_ADDRESS = frozenset({21211, 21614})
DEFAULT_TIMEOUT = 10.0  # seconds, per HTTP request (connect and read)


class _HttpClient(TwilioHttpClient):  # type: ignore[misc]  # the SDK ships no types
    """The SDK's own HTTP client, remembering ``Retry-After`` of the last answer per thread:
    TwilioRestException does not carry the response headers."""

    def __init__(self, timeout: float, base_url: str) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()
        # requests reads the environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE ...) on
        # every request, scanning all of os.environ: a fifth of an SMS send's CPU time.
        # Read it once, for the one host this client talks to, and pin the result.
        session = self.session
        found = session.merge_environment_settings(base_url, {}, None, None, None)
        session.proxies, session.verify = dict(found["proxies"] or {}), found["verify"]
        session.trust_env = False

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self._local.retry_after = None
        response = super().request(*args, **kwargs)
        headers = response.headers or {}
        self._local.retry_after = parse_retry_after(headers.get("Retry-After"))
        return response

    def last_retry_after(self) -> float | None:
        value: float | None = getattr(self._local, "retry_after", None)
        return value


class TwilioSms:
    """The SMS channel. ``client`` is for tests that bring their own SDK client; by default
    one is built with an HTTP timeout of ``timeout`` seconds. ``limiter`` replaces the
    per-sender token bucket built from ``settings.rate_per_second`` (<= 0: no limit)."""

    name: str = "sms"

    def __init__(
        self,
        settings: TwilioSettings,
        status_callback: str,
        client: Client | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        limiter: TokenBucket | None = None,
    ) -> None:
        _check(settings, status_callback)
        self._http: _HttpClient | None = None
        if client is None:
            self._http = _HttpClient(timeout, settings.api_base)
            client = Client(
                settings.account_sid,
                settings.auth_token.get_secret_value(),
                http_client=self._http,
            )
            # TWILIO_EDGE / TWILIO_REGION in the environment would rewrite the host name;
            # NOTIFIER_TWILIO__API_BASE alone decides where requests go.
            client.edge = None
            client.region = None
        client.api.base_url = settings.api_base.rstrip("/")
        self._client = client
        self._status_callback = status_callback
        if settings.messaging_service_sid:
            self._sender: dict[str, str] = {"messaging_service_sid": settings.messaging_service_sid}
        else:
            self._sender = {"from_": settings.from_number}
        rate = settings.rate_per_second if settings.rate_per_second > 0 else None
        if limiter is None and rate is not None:
            limiter = TokenBucket(rate)
        self._limiter = limiter
        self.limits = ChannelLimits(
            max_length=MAX_BODY, rate_per_second=limiter.rate if limiter else None
        )

    def send(self, message: Outgoing) -> Receipt:
        if message.channel != "sms":
            raise ValueError(f"TwilioSms cannot send a {message.channel!r} message")
        who = mask_address(message.to)
        if self._limiter is not None:
            self._limiter.acquire()
        try:
            created = self._client.messages.create(
                to=message.to,
                body=message.body,
                status_callback=callback_url(self._status_callback, message.reminder_id),
                **self._sender,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            # `from None`: the SDK's own message repeats the full phone number.
            raise self._refusal(exc, who) from None
        except RequestException as exc:
            raise TransientDeliveryError(
                f"Twilio did not answer for the SMS to {who}: {type(exc).__name__}",
                may_have_sent=_reached_twilio(exc),
            ) from exc
        except json.JSONDecodeError:
            raise TransientDeliveryError(
                f"Twilio accepted the SMS to {who} with an unreadable answer",
                may_have_sent=True,
            ) from None
        log.info("sms to %s accepted by Twilio as %s (%s)", who, created.sid, created.status)
        return Receipt(provider_id=str(created.sid), status=str(created.status))

    def close(self) -> None:
        """Nothing to end: HTTP connections are pooled by the SDK's session."""

    def _refusal(
        self, exc: TwilioRestException | TwilioServiceException, who: str
    ) -> DeliveryError:
        status = int(exc.status)
        code = int(exc.code) if exc.code is not None else None
        said = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
        detail = f"HTTP {status}, code {code}: {scrub(str(said))}"
        code_text = str(code) if code is not None else None
        if code in OPTED_OUT:
            return PermanentDeliveryError(
                f"{who} has opted out of SMS from this sender ({detail})",
                reason="opted_out",
                code=code_text,
            )
        if code in INVALID_ADDRESS:
            return PermanentDeliveryError(
                f"{who} cannot receive SMS ({detail})", reason="invalid_address", code=code_text
            )
        if status == 429 or status >= 500:
            retry_after = self._http.last_retry_after() if self._http else None
            return TransientDeliveryError(
                f"Twilio is busy or failing, SMS to {who} not sent ({detail})",
                code=code_text,
                retry_after=retry_after,
                may_have_sent=status not in (429, 503),
            )
        if status == 401:
            return TransientDeliveryError(
                f"Twilio refused the credentials ({detail}): check "
                "NOTIFIER_TWILIO__ACCOUNT_SID and NOTIFIER_TWILIO__AUTH_TOKEN",
                code=code_text,
            )
        return PermanentDeliveryError(
            f"Twilio rejected the SMS to {who} ({detail})", reason="rejected", code=code_text
        )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _reached_twilio(exc: Exception) -> bool:
    """False only when the request surely never left: no connection was made."""
    if isinstance(exc, ConnectTimeout):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return not isinstance(reason, NewConnectionError)


def callback_url(base: str, reminder_id: int) -> str:
    """The status callback for one message: it names the reminder, so a callback that
    arrives before the sweep has stored the message SID still finds its reminder (the
    query string is covered by Twilio's signature, so it cannot be forged)."""
    return f"{base}{'&' if '?' in base else '?'}reminder={reminder_id}"


def _check(settings: TwilioSettings, status_callback: str) -> None:
    problems = []
    if not settings.account_sid:
        problems.append("NOTIFIER_TWILIO__ACCOUNT_SID is missing")
    if not settings.auth_token.get_secret_value():
        problems.append("NOTIFIER_TWILIO__AUTH_TOKEN is missing")
    if not (settings.from_number or settings.messaging_service_sid):
        problems.append(
            "NOTIFIER_TWILIO__FROM_NUMBER or NOTIFIER_TWILIO__MESSAGING_SERVICE_SID is needed"
        )
    if not _is_http_url(settings.api_base):
        problems.append(f"NOTIFIER_TWILIO__API_BASE is not an http(s) URL: {settings.api_base!r}")
    if not _is_http_url(status_callback):
        problems.append(
            f"the status callback {status_callback!r} is not an http(s) URL "
            "(it is built from NOTIFIER_PUBLIC_URL)"
        )
    if problems:
        raise ConfigError("cannot send SMS: " + "; ".join(problems))


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
