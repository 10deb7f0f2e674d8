"""One place where the service layer's errors become HTTP answers, for the API and the
pages alike, and the last resort for everything else.

- every refusal is a ``NotifierError`` (``domain/errors.py``): its kind gives the status
  (NotFound 404, Conflict 409, Refused 422, Forbidden 403) and its ``detail()`` the body;
- anything unexpected: a plain 500 ``{"detail": "internal error"}``, and one log line
  with the error's type and where it was raised. Never the traceback or the exception's
  text in the answer or the log: SQL errors carry their parameters (phones, e-mails).
"""

from __future__ import annotations

import logging
import traceback

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notifier.domain.errors import NotifierError, http_status
from notifier.web.logs import redact_path

log = logging.getLogger("notifier.web")
UNPROCESSABLE = 422


async def _refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotifierError)
    return JSONResponse({"detail": exc.detail()}, status_code=http_status(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(NotifierError, _refusal)


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame of ``exc`` inside this package, else the last."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/notifier/" in f.filename] or frames
    if not ours:
        return "?"
    frame = ours[-1]
    return f"{frame.filename.rsplit('/notifier/', 1)[-1]}:{frame.lineno}"


class LastResort:
    """A pure ASGI middleware: an exception nothing else answered becomes a plain 500
    (if no answer has started) and one log line without data; it is not raised further,
    so the server does not print its traceback either."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            log.error("internal error: %s at %s on %s %s", type(exc).__name__, _where(exc),
                      scope.get("method"), redact_path(str(scope.get("path"))))  # fmt: skip
            if not started:
                await JSONResponse({"detail": "internal error"}, status_code=500)(
                    scope, receive, send
                )
