"""Signed tracking links (D16) and unsubscribe links (C3).

Tokens are signed with ``NOTIFIER_SECRET_KEY`` (itsdangerous, one salt per purpose), so a
forged or altered token is refused and records nothing. A click token carries its target,
so the redirect goes only where the message really pointed.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeSerializer

Purpose = Literal["open", "click", "unsubscribe"]
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@dataclass(frozen=True)
class Tracker:
    secret: str
    public_url: str

    def _serializer(self, purpose: Purpose) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=f"notifier-{purpose}")

    def token(self, purpose: Purpose, reminder_id: int, target: str | None = None) -> str:
        payload: dict[str, Any] = {"r": reminder_id}
        if target is not None:
            payload["u"] = target
        return str(self._serializer(purpose).dumps(payload))

    def read(self, purpose: Purpose, token: str) -> tuple[int, str | None] | None:
        """(reminder id, target) of a genuine token; None for a forged or altered one."""
        try:
            payload = self._serializer(purpose).loads(token)
        except BadSignature:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("r"), int):
            return None
        target = payload.get("u")
        return payload["r"], target if isinstance(target, str) else None

    def _url(self, path: str) -> str:
        return self.public_url.rstrip("/") + path

    def open_url(self, reminder_id: int) -> str:
        return self._url(f"/t/o/{self.token('open', reminder_id)}")

    def click_url(self, reminder_id: int, target: str) -> str:
        return self._url(f"/t/c/{self.token('click', reminder_id, target)}")

    def unsubscribe_url(self, reminder_id: int) -> str:
        return self._url(f"/u/{self.token('unsubscribe', reminder_id)}")


@dataclass(frozen=True)
class TrackedEmail:
    text: str
    html: str | None
    headers: dict[str, str]


_TEXT_URL = re.compile(r"https?://[^\s<>\"')\]，。）]+")
_HREF = re.compile(r'href="(https?://[^"]+)"')


def track_email(tracker: Tracker, reminder_id: int, text: str, html: str | None) -> TrackedEmail:
    """The e-mail as sent: every link tracked (the payment link first of all) in both
    parts, an open pixel at the end of the HTML, and one-click List-Unsubscribe headers
    (RFC 8058)."""
    text = _TEXT_URL.sub(lambda m: tracker.click_url(reminder_id, m.group(0)), text)
    if html is not None:

        def tracked_href(match: re.Match[str]) -> str:
            target = html_lib.unescape(match.group(1))
            return f'href="{html_lib.escape(tracker.click_url(reminder_id, target))}"'

        html = _HREF.sub(tracked_href, html)
        pixel = f'<img src="{tracker.open_url(reminder_id)}" width="1" height="1" alt="">'
        html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
    unsubscribe = tracker.unsubscribe_url(reminder_id)
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return TrackedEmail(text, html, headers)
