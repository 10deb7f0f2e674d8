"""Who is logged in, the CSRF token of the session, and role checks for pages.

The session cookie is Starlette's signed cookie (``NOTIFIER_SECRET_KEY``), HttpOnly and
SameSite=Lax, Secure when the public URL is https. It holds the random id of a session
kept in the database (logins.py: ending that row ends every copy of the cookie) and a
random CSRF token; every state-changing form posts the token back (``csrf`` field or the
``X-CSRF-Token`` header) and a request without the right one is refused (403).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status

from notifier.services import logins, users
from notifier.services.users import DECIDERS
from notifier.store.db import unit_of_work
from notifier.store.models import Event, User
from notifier.web.state import State


class LoginRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="/")


def start_session(request: Request, state: State, user: User) -> None:
    """A fresh session (never the one from before the login: no fixation)."""
    with unit_of_work(state.engine) as session:
        session_id = logins.open_session(
            session, user.name, state.clock(), state.policy.security.session_hours
        )
    request.session.clear()
    request.session["sid"] = session_id
    request.session["csrf"] = secrets.token_urlsafe(32)


def end_session(request: Request, state: State) -> None:
    """Logout: every session of this user ends, on every device and every copied cookie."""
    session_id = request.session.get("sid")
    request.session.clear()
    if not isinstance(session_id, str):
        return
    now = state.clock()
    with unit_of_work(state.engine) as session:
        name = logins.end_session(session, session_id, now)
        if name is not None:
            ended = 1 + users.end_sessions(session, name, now)
            session.add(Event(at=now, kind="logout", actor=name,
                              data={"sessions_ended": ended}))  # fmt: skip


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def page_user(request: Request, state: State) -> User:
    """The logged-in, active user of a page request; else a redirect to the login page."""
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        with unit_of_work(state.engine) as session:
            user = logins.session_user(session, session_id, state.clock())
        if user is not None:
            return user
    request.session.clear()
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise LoginRequired(target)


PageUser = Annotated[User, Depends(page_user)]


async def check_csrf(request: Request) -> None:
    """A POST must carry the session's CSRF token (form field ``csrf`` or header)."""
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


Csrf = Depends(check_csrf)


def require_role(user: User, roles: frozenset[str]) -> None:
    if user.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {user.role} may not do this")


def page_decider(user: PageUser) -> User:
    require_role(user, DECIDERS)
    return user


PageDecider = Annotated[User, Depends(page_decider)]
