"""Login, logout and the language switch.

A login is throttled per account and per client address (logins.py): while throttled it
is answered 429 with Retry-After and no Argon2 work. Otherwise the password is verified
once whether or not the user exists (users.verify_password), and a failure is logged as
``auth_failed`` (logger ``notifier.auth``) with the name and the address, never the
password.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notifier.services import logins
from notifier.services.users import verify_password
from notifier.store.db import unit_of_work
from notifier.store.models import Event, User
from notifier.web.state import State, client_address
from notifier.web.ui.render import page
from notifier.web.ui.session import Csrf, PageUser, end_session, start_session
from notifier.words import LOCALES

router = APIRouter(include_in_schema=False)
# Argon2 is meant to be costly (a quarter of a second of a core here). Logins from many
# addresses at once would take every core from the reviewers' pages before any of them is
# throttled, so each process runs one verification at a time; a login that cannot start
# one within ARGON2_WAIT_SECONDS is told to come back (429), uncounted.
_ARGON2 = threading.BoundedSemaphore(1)
ARGON2_WAIT_SECONDS = 2.0
log = logging.getLogger("notifier.auth")
HOME = "/home"  # where a login lands unless it was sent to log in from another page


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else. Browsers read
    a backslash as a slash and drop tabs and line breaks, so ``/\\evil.example`` and
    ``/\t/evil.example`` mean ``//evil.example``: any of those, or any other control
    character, and the target is the home page."""
    if not target or not target.startswith("/") or len(target) > 2000:
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if target.startswith("//") or parts.scheme or parts.netloc:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = HOME) -> HTMLResponse:
    return page(request, None, "login.html", next=_landing(next), failed=False)


@router.post("/login", dependencies=[Csrf])
def login(
    request: Request,
    state: State,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = HOME,
) -> Response:
    now, address, rules = state.clock(), client_address(request), state.policy.security
    with unit_of_work(state.engine) as session:
        wait = logins.retry_after(session, name, address, now, rules)
    if wait:
        log.info("auth_throttled user=%r address=%s retry_after=%d", name[:64], address, wait)
        return _come_back(request, next, wait)
    with unit_of_work(state.engine) as session:
        user = session.get(User, name)
    if not _ARGON2.acquire(timeout=ARGON2_WAIT_SECONDS):
        log.info("auth_busy user=%r address=%s", name[:64], address)
        return _come_back(request, next, 1)
    try:  # outside any transaction: Argon2 takes a while and holds no lock meanwhile
        ok = verify_password(user, password)
    finally:
        _ARGON2.release()
    with unit_of_work(state.engine) as session:
        if ok:
            logins.clear_failures(session, name)
        else:
            logins.record_failure(session, name, address, now, rules)
        session.add(Event(at=now, kind="login" if ok else "login_failed",
                          actor=name[:64], data={}))  # fmt: skip
    if not ok or user is None:
        log.warning("auth_failed user=%r address=%s", name[:64], address)
        return page(request, None, "login.html", status_code=401, next=_landing(next),
                    failed=True)  # fmt: skip
    start_session(request, state, user)
    return RedirectResponse(_landing(next), status_code=303)


def _landing(target: str | None) -> str:
    """The page after a login: the one that sent the user here (the queue too), else the
    day's home page: when none was named, or the one named is not a path on this site."""
    safe = _safe_next(target)
    return HOME if safe == "/" and target != "/" else safe


def _come_back(request: Request, next_url: str, seconds: int) -> Response:
    answer = page(request, None, "login.html", status_code=429, next=_landing(next_url),
                  failed=False, throttled=seconds)  # fmt: skip
    answer.headers["Retry-After"] = str(seconds)
    return answer


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, state: State) -> Response:
    end_session(request, state)
    return RedirectResponse("/login", status_code=303)


@router.post("/language", dependencies=[Csrf])
def language(
    request: Request, state: State, user: PageUser, locale: Annotated[str, Form()]
) -> Response:
    if locale in LOCALES:
        with unit_of_work(state.engine) as session:
            stored = session.get(User, user.name)
            assert stored is not None
            stored.locale = locale
    back = request.headers.get("referer", "/")
    path = "/" + back.split("//", 1)[-1].split("/", 1)[-1] if "//" in back else back
    return RedirectResponse(_safe_next(path), status_code=303)
