"""What the routes share, kept on ``app.state`` and reached through typed dependencies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy import Engine

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import User
from notifier.tracking import Tracker
from notifier.users import DECIDERS, user_for_token


@dataclass(frozen=True)
class AppState:
    settings: Settings
    policy: Policy
    calendar: WorkCalendar
    engine: Engine
    clock: Callable[[], datetime]
    tracker: Tracker


def app_state(request: Request) -> AppState:
    state = request.app.state.notifier
    assert isinstance(state, AppState)
    return state


State = Annotated[AppState, Depends(app_state)]


def api_user(state: State, authorization: Annotated[str | None, Header()] = None) -> User:
    """The user behind an ``Authorization: Bearer <token>`` header; 401 otherwise."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a bearer token is needed: create one with `notifier token create USER`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with unit_of_work(state.engine) as session:
        user = user_for_token(session, token.strip())
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
    return user


ApiUser = Annotated[User, Depends(api_user)]


def decider(user: ApiUser) -> User:
    """Approving, rejecting and editing drafts is for reviewers, managers and admins."""
    if user.role not in DECIDERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {user.role} cannot decide on drafts")
    return user


Decider = Annotated[User, Depends(decider)]
