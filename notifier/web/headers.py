"""Security headers on every response (``SecurityHeaders``, a pure ASGI middleware) and the
Content-Security-Policy the pages live under.

The pages run no inline script and no inline style (their code is in ``/static``), so the
policy allows only this site's own files. Two kinds of page need a little more, and say so
in their own header, which the middleware then leaves alone:

- the draft page shows the e-mail's HTML part in a sandboxed ``<iframe srcdoc>``; a
  srcdoc document inherits its parent's policy, so the draft page allows exactly the
  inline styles of that e-mail, by hash (``style_hashes``), and still no script;
- ``/docs`` and ``/redoc`` load their viewer from its CDN and start it with one inline
  script, allowed by hash too (``inline_hashes``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Same-origin: the language switch goes back to the page it came from; nothing about
    # a page (a customer id in its path) leaves for another site.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def policy(**extra: str) -> str:
    """The page policy, each ``extra`` directive (``style_src=...``) added to its sources."""
    directives = dict(PAGE_POLICY)
    for name, sources in extra.items():
        key = name.replace("_", "-")
        directives[key] = f"{directives.get(key, PAGE_POLICY['default-src'])} {sources}".strip()
    return "; ".join(f"{k} {v}" for k, v in directives.items())


def _hash(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


class _Styles(HTMLParser):
    """The ``style`` attributes and ``<style>`` elements of an HTML document, decoded as
    the browser hashes them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attributes: set[str] = set()
        self.elements: set[str] = set()
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes.update(v for k, v in attrs if k == "style" and v is not None)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.elements.add(data)


def style_hashes(html: str) -> str:
    """The style sources that allow exactly the inline styles of ``html`` (a sandboxed
    preview): ``'unsafe-hashes'`` lets a hash match a style attribute, nothing more."""
    parser = _Styles()
    parser.feed(html)
    parser.close()
    hashes = sorted({_hash(s) for s in parser.attributes | parser.elements})
    if not hashes:
        return ""
    return " ".join((["'unsafe-hashes'"] if parser.attributes else []) + hashes)


_INLINE = {
    "script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I),
    "style": re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I),
}


def inline_hashes(html: str, tag: str) -> str:
    """Hash sources for the inline ``<script>`` or ``<style>`` elements of ``html``."""
    return " ".join(sorted({_hash(m) for m in _INLINE[tag].findall(html)}))


class SecurityHeaders:
    """Adds the policy and the other headers to every HTTP response that does not set
    its own (a route with a wider policy sets it; a tracking redirect sets no-referrer)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = {"Content-Security-Policy": policy(), **HEADERS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
