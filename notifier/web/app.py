"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import Engine

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.settings import Settings
from notifier.tracking import Tracker
from notifier.web import api, hooks, ops
from notifier.web.state import AppState


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
    app.include_router(ops.router)
    app.include_router(api.router)
    app.include_router(hooks.router)
    return app
