"""Login, logout and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notifier.store.db import unit_of_work
from notifier.store.models import Event, User
from notifier.users import verify_password
from notifier.web.state import State
from notifier.web.ui.i18n import LOCALES
from notifier.web.ui.render import page
from notifier.web.ui.session import Csrf, PageUser, start_session

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return page(request, None, "login.html", next=_safe_next(next), failed=False)


@router.post("/login", dependencies=[Csrf])
def login(
    request: Request,
    state: State,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    with unit_of_work(state.engine) as session:
        user = session.get(User, name)
        ok = user is not None and verify_password(user, password)
        session.add(Event(at=state.clock(), kind="login" if ok else "login_failed",
                          actor=name[:64], data={}))  # fmt: skip
    if not ok or user is None:
        return page(request, None, "login.html", status_code=401, next=_safe_next(next),
                    failed=True)  # fmt: skip
    start_session(request, user)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request) -> Response:
    request.session.clear()
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
