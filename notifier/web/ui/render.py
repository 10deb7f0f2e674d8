"""The Jinja2 environment of the pages (autoescaped: a customer called ``<script>`` is shown
as text) and ``page()``, which gives every template the same frame: the user, their
language, the CSRF token, and the words (``t``/``w``: notifier.words, one catalogue)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from notifier.render.formatting import format_money
from notifier.store.models import User
from notifier.web.ui.session import csrf_token
from notifier.words import LOCALES, Words, words

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
WEEKDAYS = {"zh-CN": "一二三四五六日", "en": None}


def local_time(value: datetime | None, zone: str, locale: str = "en") -> str:
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone))
    days = WEEKDAYS.get(locale)
    day = f"周{days[local.weekday()]}" if days else local.strftime("%a")
    return local.strftime("%Y-%m-%d %H:%M ") + day


def money(value: Decimal | str | None, currency: str | None, locale: str) -> str:
    if value is None or value == "":
        return ""
    return format_money(Decimal(str(value)), currency or "CNY", locale)


templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters["local_time"] = local_time
templates.env.filters["money"] = money


def words_for(user: User | None, stages: Any = None) -> Words:
    """The viewer's words: their language, else zh-CN (the login page, before anyone is
    known)."""
    return words(user.locale if user is not None and user.locale in LOCALES else None, stages)


def page(
    request: Request, user: User | None, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    state = request.app.state.notifier
    w = words_for(user, state.policy.stages)
    locale = w.locale
    values = {
        "user": user,
        "locale": locale,
        "zone": user.timezone if user is not None else "Asia/Shanghai",
        "t": w,
        "w": w,
        "csrf": csrf_token(request),
        "capture": state.settings.delivery_mode == "capture",
        "path": request.url.path,
        **context,
    }
    return templates.TemplateResponse(request, name, values, status_code=status_code)
