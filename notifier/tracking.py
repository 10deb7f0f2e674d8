"""Signed tracking links (D16) and unsubscribe links (C3).

Tokens are signed with ``NOTIFIER_SECRET_KEY`` (itsdangerous, one salt per purpose), so a
forged or altered token is refused and records nothing. A click token carries its target,
so the redirect goes only where the message really pointed.

Open and click tokens carry the last day they record on (``x``: days since 1970-01-01,
UTC), the send day plus ``[security] tracking_token_days``: after it a pixel hit or a click
records nothing (the click still redirects, so an old payment link keeps working).
Tokens sent before expiry existed have no ``x`` and are still read. Unsubscribe tokens
never expire: an opt-out must work however old the message.

An SMS has no room for a token that carries its target: its payment link is tracked with
a short signed token (``{reminder}.{last day}{signature}``: base 36, and 8 characters of
HMAC-SHA256, about 16 in all) under the same ``/t/c/`` path; the redirect goes to the link
the stored SMS itself holds (``first_link``), so it too goes only where the message
pointed. A forged one records nothing and leads nowhere else (48 bits: guessing takes
some 10^14 requests). The tracked link never costs the SMS an extra part: when it would,
the SMS goes out with its plain link, as approved (a log line says so).

No tracking without a public URL: when ``NOTIFIER_PUBLIC_URL`` is not set, the default
(``http://127.0.0.1:8000``) would put links to this machine in the messages, which reach
nobody and look like phishing; so the messages go out with their plain links (untracked,
no open pixel; a warning says so once). In production a tracker whose public URL is a
loopback address cannot be built at all (``LoopbackPublicUrl``): nothing is sent.
An e-mail's visible opt-out line carries ``UNSUBSCRIBE_MARK`` until it is sent; then the
mark becomes the message's own unsubscribe link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html as html_lib
import ipaddress
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

from notifier.domain.lint import UNSUBSCRIBE_MARK
from notifier.render.segments import sms_segments

Purpose = Literal["open", "click", "unsubscribe"]
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_EPOCH = date(1970, 1, 1)
# {reminder, base 36}.{last day, 3 base-36 digits, optional}{8 characters of HMAC-SHA256}
_SHORT = re.compile(r"^(?P<r>[0-9a-z]{1,13})\.(?P<x>[0-9a-z]{3})?(?P<sig>[A-Za-z0-9_-]{8})$")
log = logging.getLogger("notifier.tracking")
_warned: set[str] = set()


class LoopbackPublicUrl(ValueError):
    """Production messages would carry links to this machine: refused."""


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (localhost, 127.0.0.0/8, ::1, 0.0.0.0) or
    has no host at all: nobody who receives a message could follow a link to it."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, rest = divmod(n, 36)
        out = digits[rest] + out
        if n == 0:
            return out


def expiry(now: datetime, days: int) -> date:
    """The last day a token issued at ``now`` records hits on (UTC days)."""
    return now.astimezone(UTC).date() + timedelta(days=days)


@dataclass(frozen=True)
class Tracked:
    """What a genuine token says."""

    reminder_id: int
    target: str | None
    expires_on: date | None  # None: issued before tokens carried an expiry

    def records_at(self, now: datetime) -> bool:
        """Whether a hit at ``now`` (the app's clock) is still recorded."""
        return self.expires_on is None or now.astimezone(UTC).date() <= self.expires_on


@dataclass(frozen=True)
class Tracker:
    secret: str
    public_url: str
    # False when NOTIFIER_PUBLIC_URL was not set (wiring.tracker_for): links stay plain.
    track_links: bool = field(default=True, kw_only=True)
    production: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.production and is_loopback(self.public_url):
            raise LoopbackPublicUrl(
                f"NOTIFIER_PUBLIC_URL is {self.public_url!r}, an address of this machine: "
                "messages would carry links nobody can open. Set it to the address "
                "customers reach this service at (https://...)."
            )

    @property
    def local(self) -> bool:
        """Links are not tracked: no public URL was set (see the module)."""
        return not self.track_links

    def _serializer(self, purpose: Purpose) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=f"notifier-{purpose}")

    def token(
        self, purpose: Purpose, reminder_id: int, target: str | None = None,
        expires_on: date | None = None,
    ) -> str:  # fmt: skip
        payload: dict[str, Any] = {"r": reminder_id}
        if target is not None:
            payload["u"] = target
        if expires_on is not None:
            payload["x"] = (expires_on - _EPOCH).days
        return str(self._serializer(purpose).dumps(payload))

    def _short_signature(self, reminder: str, days: str) -> str:
        mac = hmac.new(self.secret.encode(), f"notifier-sms-click|{reminder}|{days}".encode(),
                       hashlib.sha256).digest()  # fmt: skip
        return base64.urlsafe_b64encode(mac).decode()[:8]

    def short_token(self, reminder_id: int, expires_on: date | None = None) -> str:
        """A click token without its target, short enough for an SMS (about 16 characters)."""
        r = _base36(reminder_id)
        x = _base36((expires_on - _EPOCH).days).rjust(3, "0") if expires_on is not None else ""
        return f"{r}.{x}{self._short_signature(r, x)}"

    def short_click_url(self, reminder_id: int, expires_on: date | None = None) -> str:
        return self._url(f"/t/c/{self.short_token(reminder_id, expires_on)}")

    def _verify_short(self, token: str) -> Tracked | None:
        match = _SHORT.match(token)
        if match is None:
            return None
        r, x = match["r"], match["x"] or ""
        if not hmac.compare_digest(match["sig"], self._short_signature(r, x)):
            return None
        try:
            expires = _EPOCH + timedelta(days=int(x, 36)) if x else None
        except OverflowError:
            return None
        return Tracked(int(r, 36), None, expires)

    def verify(self, purpose: Purpose, token: str) -> Tracked | None:
        """What a genuine token says; None for a forged or altered one. A short click
        token (an SMS's) says no target: the stored message's own link is it."""
        if purpose == "click" and _SHORT.match(token):
            return self._verify_short(token)
        try:
            payload = self._serializer(purpose).loads(token)
        except BadSignature:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("r"), int):
            return None
        target, days = payload.get("u"), payload.get("x")
        try:
            expires = _EPOCH + timedelta(days=days) if isinstance(days, int) else None
        except OverflowError:
            return None
        return Tracked(payload["r"], target if isinstance(target, str) else None, expires)

    def read(self, purpose: Purpose, token: str) -> tuple[int, str | None] | None:
        """(reminder id, target) of a genuine token; None for a forged or altered one."""
        found = self.verify(purpose, token)
        return None if found is None else (found.reminder_id, found.target)

    def _url(self, path: str) -> str:
        return self.public_url.rstrip("/") + path

    def open_url(self, reminder_id: int, expires_on: date | None = None) -> str:
        return self._url(f"/t/o/{self.token('open', reminder_id, expires_on=expires_on)}")

    def click_url(self, reminder_id: int, target: str, expires_on: date | None = None) -> str:
        return self._url(f"/t/c/{self.token('click', reminder_id, target, expires_on)}")

    def unsubscribe_url(self, reminder_id: int) -> str:
        return self._url(f"/u/{self.token('unsubscribe', reminder_id)}")


@dataclass(frozen=True)
class TrackedEmail:
    text: str
    html: str | None
    headers: dict[str, str]


# A link in the text part runs to white space, a character never in a URL or CJK
# punctuation (the text around a link in a Chinese sentence); ' ( ) [ ] are legal inside a
# URL (RFC 3986) and kept, then trailing sentence punctuation and an unbalanced closing
# bracket are given back to the text: "(see https://x.example/a)." links .../a.
_TEXT_URL = re.compile(r"https?://[^\s<>\"`{}|\\^，。、；：！？）】」』》〉（【「『《〈]+")
_TRAILING = ".,;:!?'*"
_CLOSING = {")": "(", "]": "["}
_HREF = re.compile(r'href="(https?://[^"]+)"')


def _link_and_rest(found: str) -> tuple[str, str]:
    end = len(found)
    while end > 0:
        last = found[end - 1]
        opening = _CLOSING.get(last)
        if last in _TRAILING or (
            opening and found.count(opening, 0, end) < found.count(last, 0, end)
        ):
            end -= 1
            continue
        break
    return found[:end], found[end:]


def _warn_local(tracker: Tracker) -> None:
    if tracker.public_url not in _warned:
        _warned.add(tracker.public_url)
        log.warning(
            "links_untracked public_url=%s: NOTIFIER_PUBLIC_URL is not set, so messages "
            "carry the creditor's plain payment links (no click or open tracking); set it "
            "to the address customers reach this service at to track them",
            tracker.public_url,
        )


def first_link(text: str) -> str | None:
    """The first http(s) link of a text, without the sentence punctuation after it: the
    target of an SMS's short tracked link."""
    for match in _TEXT_URL.finditer(text):
        link, _ = _link_and_rest(match.group(0))
        if link.partition("://")[2]:
            return link
    return None


def track_sms(tracker: Tracker, reminder_id: int, body: str, expires_on: date | None = None) -> str:
    """The SMS as sent: its first link (the payment link) tracked with a short signed
    token; unchanged when no public URL was set, or when the tracked link would make the
    SMS take one part more than the text approved."""
    if tracker.local:
        if first_link(body) is not None:
            _warn_local(tracker)
        return body
    link = first_link(body)
    if link is None:
        return body
    tracked = body.replace(link, tracker.short_click_url(reminder_id, expires_on), 1)
    if sms_segments(tracked)[0] > sms_segments(body)[0]:
        log.info("sms_link_untracked reminder=%d: the tracked link would add an SMS part",
                 reminder_id)  # fmt: skip
        return body
    return tracked


def track_email(
    tracker: Tracker, reminder_id: int, text: str, html: str | None,
    expires_on: date | None = None,
) -> TrackedEmail:  # fmt: skip
    """The e-mail as sent: every link tracked (the payment link first of all) in both
    parts, an open pixel at the end of the HTML, the visible opt-out line's link and
    one-click List-Unsubscribe headers (RFC 8058). Open and click links stop recording
    after ``expires_on``. Without a public URL the links stay plain and there is no pixel
    (see the module)."""
    unsubscribe = tracker.unsubscribe_url(reminder_id)
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if tracker.local:
        _warn_local(tracker)
    else:

        def tracked_text(match: re.Match[str]) -> str:
            link, rest = _link_and_rest(match.group(0))
            if not link.partition("://")[2]:
                return match.group(0)
            return tracker.click_url(reminder_id, link, expires_on) + rest

        text = _TEXT_URL.sub(tracked_text, text)
    if html is not None and not tracker.local:

        def tracked_href(match: re.Match[str]) -> str:
            target = html_lib.unescape(match.group(1))
            url = tracker.click_url(reminder_id, target, expires_on)
            return f'href="{html_lib.escape(url)}"'

        html = _HREF.sub(tracked_href, html)
        pixel = (f'<img src="{tracker.open_url(reminder_id, expires_on)}" width="1" '
                 'height="1" alt="">')  # fmt: skip
        html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
    # The opt-out line's link last: it is not a click to track.
    text = text.replace(UNSUBSCRIBE_MARK, unsubscribe)
    if html is not None:
        html = html.replace(html_lib.escape(UNSUBSCRIBE_MARK), html_lib.escape(unsubscribe))
        html = html.replace(UNSUBSCRIBE_MARK, html_lib.escape(unsubscribe))
    return TrackedEmail(text, html, headers)
