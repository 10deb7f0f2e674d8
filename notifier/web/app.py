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
from notifier.web import api, hooks, ops
from notifier.web.state import AppState
from notifier.web.ui import auth, customers, drafts, queue, reports
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
        max_age=12 * 3600,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(LoginRequired, _to_login)
    app.include_router(ops.router)
    app.include_router(api.router)
    app.include_router(hooks.router)
    app.include_router(auth.router)
    app.include_router(queue.router)
    app.include_router(reports.router)
    app.include_router(drafts.router)
    app.include_router(customers.router)
    return app
