"""The pages a customer sees: the unsubscribe page of an e-mail's link (C3), in the
customer's own language, styled from a static file (the Content-Security-Policy allows no
inline style). The address is shown masked: the link may have been forwarded."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Reminder
from notifier.web.state import AppState
from notifier.web.ui.render import templates
from notifier.words import words


def masked(address: str | None) -> str:
    """``li***@example.com``: enough for the reader to recognise their address."""
    if not address or "@" not in address:
        return ""
    name, _, domain = address.partition("@")
    return f"{name[:2]}***@{domain}"


def unsubscribe_page(
    request: Request, state: AppState, token: str, reminder_id: int, *, done: bool
) -> HTMLResponse:
    with unit_of_work(state.engine) as session:
        r = session.get(Reminder, reminder_id)
        customer = session.get(Customer, r.customer_id) if r is not None else None
        address = r.address if r is not None else None
        locale = customer.locale if customer is not None else None
    w = words(locale)
    values = {
        "w": w, "t": w, "locale": w.locale, "token": token, "done": done,
        "address": masked(address),
        "creditor": state.policy.creditor.name_for(w.locale),
    }  # fmt: skip
    return templates.TemplateResponse(request, "unsubscribe.html", values)
