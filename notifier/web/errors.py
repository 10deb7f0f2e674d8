"""One place where the service layer's errors become HTTP answers, for the API and the
pages alike, and the last resort for everything else.

- every refusal is a ``NotifierError`` (``domain/errors.py``): its kind gives the status
  (NotFound 404, Conflict 409, Refused 422, Forbidden 403) and its ``detail()`` the body;
- the pages show the same refusal in the reader's language (``in_words``);
- anything unexpected: a plain 500 ``{"detail": "internal error"}``, and one log line
  with the error's type and where it was raised. Never the traceback or the exception's
  text in the answer or the log: SQL errors carry their parameters (phones, e-mails).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notifier.domain import errors as kinds
from notifier.domain.errors import NotifierError, http_status
from notifier.faults import fault
from notifier.web.logs import redact_path
from notifier.words import Words, catalogue, words

log = logging.getLogger("notifier.web")
UNPROCESSABLE = 422


async def _refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotifierError)
    return JSONResponse({"detail": exc.detail()}, status_code=http_status(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(NotifierError, _refusal)


def in_words(exc: BaseException, w: Words) -> str:
    """A refusal as the pages show it, in the reader's language: the catalogue's sentence
    of the error's ``key`` (a status, a content-check reason or a thing named in it in
    words too); without a key, English readers get the message and others the kind's
    general sentence, never English. The API's ``detail`` and the CLI keep the English
    message (``str(exc)``). An error a page wrapped (its first argument) is unwrapped."""
    if not isinstance(exc, NotifierError) and exc.args and isinstance(exc.args[0], NotifierError):
        exc = exc.args[0]
    if not isinstance(exc, NotifierError):
        return str(exc)
    key = exc.key
    if key is not None and key in catalogue("en"):
        values = dict(getattr(exc, "values", {}))
        if "status" in values:
            values["status"] = w.status(str(values["status"]))
        if "what" in values:
            what = f"what_{values['what']}"
            values["what"] = w(what) if what in catalogue("en") else values["what"]
        problems = getattr(exc, "problems", None)
        if problems is not None:
            values["problems"] = ("；" if w.locale == "zh-CN" else "; ").join(
                w.lint(p) for p in problems
            )
        try:
            return w(key, **values)
        except (KeyError, IndexError, ValueError):  # a catalogue text naming another value
            pass
    if w.locale == "en":
        return str(exc)
    kind = next((k for k in ("not_found", "forbidden", "conflict", "refused")
                 if isinstance(exc, _KINDS[k])), "refused")  # fmt: skip
    return w(f"err_kind_{kind}")


def said(exc: BaseException, user: object) -> str:
    """``in_words`` in the language of the page's user (their ``locale``)."""
    return in_words(exc, words(getattr(user, "locale", None)))


_KINDS: dict[str, type] = {"not_found": kinds.NotFound, "forbidden": kinds.Forbidden,
                           "conflict": kinds.Conflict, "refused": kinds.Refused}  # fmt: skip


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
            log.error("internal error: %s on %s %s", fault(exc), scope.get("method"),
                      redact_path(str(scope.get("path"))))  # fmt: skip
            if not started:
                await JSONResponse({"detail": "internal error"}, status_code=500)(
                    scope, receive, send
                )
