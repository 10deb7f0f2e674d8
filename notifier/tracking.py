"""Signed tracking links (D16) and unsubscribe links (C3).

Tokens are signed with ``NOTIFIER_SECRET_KEY`` (itsdangerous, one salt per purpose), so a
forged or altered token is refused and records nothing. A click token carries its target,
so the redirect goes only where the message really pointed.

Open and click tokens carry the last day they record on (``x``: days since 1970-01-01,
UTC), the send day plus ``[security] tracking_token_days``: after it a pixel hit or a click
records nothing (the click still redirects, so an old payment link keeps working).
Tokens sent before expiry existed have no ``x`` and are still read. Unsubscribe tokens
never expire: an opt-out must work however old the message.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeSerializer

Purpose = Literal["open", "click", "unsubscribe"]
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_EPOCH = date(1970, 1, 1)


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

    def verify(self, purpose: Purpose, token: str) -> Tracked | None:
        """What a genuine token says; None for a forged or altered one."""
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


def track_email(
    tracker: Tracker, reminder_id: int, text: str, html: str | None,
    expires_on: date | None = None,
) -> TrackedEmail:  # fmt: skip
    """The e-mail as sent: every link tracked (the payment link first of all) in both
    parts, an open pixel at the end of the HTML, and one-click List-Unsubscribe headers
    (RFC 8058). Open and click links stop recording after ``expires_on``."""

    def tracked_text(match: re.Match[str]) -> str:
        link, rest = _link_and_rest(match.group(0))
        if not link.partition("://")[2]:
            return match.group(0)
        return tracker.click_url(reminder_id, link, expires_on) + rest

    text = _TEXT_URL.sub(tracked_text, text)
    if html is not None:

        def tracked_href(match: re.Match[str]) -> str:
            target = html_lib.unescape(match.group(1))
            url = tracker.click_url(reminder_id, target, expires_on)
            return f'href="{html_lib.escape(url)}"'

        html = _HREF.sub(tracked_href, html)
        pixel = (f'<img src="{tracker.open_url(reminder_id, expires_on)}" width="1" '
                 'height="1" alt="">')  # fmt: skip
        html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
    unsubscribe = tracker.unsubscribe_url(reminder_id)
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return TrackedEmail(text, html, headers)
