"""Request bodies are capped before anything reads them (``BodyLimit``, a pure ASGI
middleware, so that it sees the body as it arrives and never buffers it).

- a declared ``Content-Length`` over the limit is answered 413 at once, unread;
- a body of unknown length (chunked) is counted as it is received and answered 413 as
  soon as it passes the limit: the route never gets it, so nothing is recorded.

Limits come from the policy (``[limits]``): ``webhook_body_bytes`` for ``/webhooks/*``
(Twilio's posts are a few KiB), ``form_body_bytes`` for everything else.
"""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEBHOOKS = "/webhooks/"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its limit. An HTTPException, so that a
    route reading its body (FastAPI's own parsing included) answers 413, not 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, *, webhook_bytes: int, form_bytes: int) -> None:
        self.app = app
        self.webhook_bytes = webhook_bytes
        self.form_bytes = form_bytes

    def limit_for(self, path: str) -> int:
        return self.webhook_bytes if path.startswith(WEBHOOKS) else self.form_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and (declared < 0 or declared > limit):
            await _refuse(send, 413 if declared > limit else 400,
                          BodyTooLarge(limit).detail if declared > limit
                          else "a bad Content-Length")  # fmt: skip
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # read outside FastAPI's exception handling
            if not started:
                await _refuse(send, 413, str(exc.detail))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def _refuse(send: Send, code: int, message: str) -> None:
    """The answer, then the connection closed: the rest of the body is never read."""
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": code, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
