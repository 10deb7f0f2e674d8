"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.settings import Settings
from notifier.tracking import Tracker
from notifier.web import api, docs, errors, hooks, ops, voice
from notifier.web.errors import LastResort
from notifier.web.headers import SecurityHeaders
from notifier.web.limits import BodyLimit
from notifier.web.logs import install_access_log_filter
from notifier.web.state import AppState
from notifier.web.ui import auth, calls, customers, drafts, evidence, home, queue, reports, weekly
from notifier.web.ui.session import LoginRequired, login_url


def _utc_now() -> datetime:
    return datetime.now(UTC)


STATIC = Path(__file__).resolve().parent / "static"


async def _to_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_url(exc.next_url), status_code=303)


def create_app(
    settings: Settings,
    policy: Policy,
    engine: Engine,
    *,
    clock: Callable[[], datetime] = _utc_now,
) -> FastAPI:
    """``clock`` is the one place the web side reads the time; replays and tests pass
    their own instant source."""
    app = FastAPI(
        title="notifier",
        description="Debt-collection reminders: approval queue, delivery tracking, reports.",
        version="0.1.0",
        docs_url=None,  # served by web/docs.py, behind a login unless public_docs
        redoc_url=None,
    )
    tracker = Tracker(settings.secret_key.get_secret_value(), settings.public_url)
    calendar = WorkCalendar(policy.calendar)
    app.state.notifier = AppState(settings, policy, calendar, engine, clock, tracker)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="notifier_session",
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
        max_age=policy.security.session_hours * 3600,  # the server-side session ends then too
    )
    # Added innermost first: headers on every answer (the 413s and 500s below included),
    # then the last resort for errors, then the body limits, before any route reads a body.
    limits = policy.limits
    app.add_middleware(BodyLimit, webhook_bytes=limits.webhook_body_bytes,
                       form_bytes=limits.form_body_bytes)  # fmt: skip
    app.add_middleware(LastResort)
    app.add_middleware(SecurityHeaders)
    install_access_log_filter()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(LoginRequired, _to_login)
    errors.install(app)
    app.include_router(ops.router)
    app.include_router(docs.router)
    app.include_router(api.router)
    app.include_router(hooks.router)
    app.include_router(voice.api_router)  # click-to-call (issue 14)
    app.include_router(voice.page_router)
    app.include_router(auth.router)
    app.include_router(queue.router)
    app.include_router(home.router)
    app.include_router(calls.router)  # the call list (issue 14)
    app.include_router(reports.router)
    app.include_router(drafts.router)
    app.include_router(customers.router)
    app.include_router(evidence.router)
    app.include_router(weekly.router)
    return app
