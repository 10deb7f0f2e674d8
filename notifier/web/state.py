"""What the routes share, kept on ``app.state`` and reached through typed dependencies."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy import Engine

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.services.users import DECIDERS, user_for_token
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import User
from notifier.tracking import Tracker

log = logging.getLogger("notifier.auth")


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


def client_address(request: Request) -> str:
    """The client's address as the server sees it (uvicorn applies X-Forwarded-For only
    from the proxies it trusts, FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client is not None else "unknown"


def api_user(
    request: Request, state: State, authorization: Annotated[str | None, Header()] = None
) -> User:
    """The user behind an ``Authorization: Bearer <token>`` header; 401 otherwise."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a bearer token is needed: create one with `notifier token create USER`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with unit_of_work(state.engine) as session:
        user = user_for_token(session, token.strip(), state.clock())
    if user is None:
        # No Argon2 on this path (a token is looked up by its SHA-256), so nothing to
        # throttle for speed; the line lets an operator see guessing. Never the token.
        log.warning("auth_failed kind=token address=%s", client_address(request))
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
