"""One place where the service layer's errors become HTTP answers, for the API and the
pages alike, and the last resort for everything else.

- a draft, customer or dispute that does not exist: 404; a decision the draft's state does
  not allow: 409; text that breaks the content rules: 422 with the reasons; input outside
  the policy's window or refused by a service: 422 with its message; not allowed: 403;
- anything unexpected: a plain 500 ``{"detail": "internal error"}``, and one log line
  with the error's type and where it was raised. Never the traceback or the exception's
  text in the answer or the log: SQL errors carry their parameters (phones, e-mails).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notifier import customers, plans, review, users
from notifier.domain.bounds import OutOfBounds
from notifier.domain.lifecycle import IllegalTransition
from notifier.reports.explain import UnknownCustomer
from notifier.web.logs import redact_path

log = logging.getLogger("notifier.web")
UNPROCESSABLE = 422


def _answer(code: int, detail: Any) -> Callable[[Request, Exception], Any]:
    async def handler(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": detail(exc)}, status_code=code)

    return handler


def _lint(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, review.LintRefused)
    return {"message": str(exc), "problems": exc.problems}


# Most specific first: Starlette picks the handler of the nearest class in the MRO.
SERVICE_ERRORS: tuple[tuple[type[Exception], int, Callable[[Exception], Any]], ...] = (
    (review.DraftNotFound, 404, str),
    (review.LintRefused, UNPROCESSABLE, _lint),
    (review.InvalidText, UNPROCESSABLE, str),
    (review.NotADecider, 403, str),
    (review.ReviewError, 409, str),
    (IllegalTransition, 409, str),
    (UnknownCustomer, 404, str),
    (customers.NotAllowed, 403, str),
    (customers.CustomerError, UNPROCESSABLE, str),
    (plans.PlanError, UNPROCESSABLE, str),
    (users.UserError, UNPROCESSABLE, str),
    (OutOfBounds, UNPROCESSABLE, str),
)


def install(app: FastAPI) -> None:
    for kind, code, detail in SERVICE_ERRORS:
        app.add_exception_handler(kind, _answer(code, detail))


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
