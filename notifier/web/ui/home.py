"""``/home``: the day's work for the logged-in role (reports/home.py has the figures).

- reviewer: the next slot and its clock, the drafts to approve before it;
- collector: their own customers' promises due today, broken promises, disputes to
  follow and follow-ups;
- manager (and admin): escalations, ``unknown`` sends to check, legal decisions waiting,
  collected this week against last, DSO and its trend, overdue by bucket week by week as
  a chart; and the reviewer's figures, since a manager decides drafts too.

Every figure links to the list behind it: the queue filtered (``/?until=...``,
``/?status=unknown``), the collectors report, or the list further down the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from babel.numbers import format_compact_currency
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from notifier.domain.aging import bucket_order
from notifier.domain.dso import change
from notifier.domain.policy import Policy
from notifier.render.formatting import babel_locale
from notifier.reports.dso import WeekPoint
from notifier.reports.home import collector_home, manager_home, reviewer_home
from notifier.store.db import unit_of_work
from notifier.web.state import State
from notifier.web.ui.charts import grouped_bar_chart
from notifier.web.ui.render import page, words_for
from notifier.web.ui.reports import bucket_name, follow_up_text
from notifier.web.ui.session import PageUser
from notifier.words import Words

router = APIRouter(include_in_schema=False)
MANAGERS = frozenset({"manager", "admin"})
REVIEWERS = frozenset({"reviewer", "manager", "admin"})


def _css(bucket: str) -> str:
    """A class name for a bucket (``90+`` -> ``b-90``)."""
    return "b-" + "".join(ch if ch.isalnum() or ch == "-" else "" for ch in bucket)


def overdue_charts(points: list[WeekPoint], policy: Policy, w: Words) -> list[Markup]:
    """One chart per currency: the overdue buckets side by side at each week's end."""
    currencies = sorted({c for p in points for c in p.overdue})
    buckets = [b for b in bucket_order(policy.aging) if b not in ("not_due", "settled")]
    charts = []
    for currency in currencies:

        def fmt(value: Any, currency: str = currency) -> str:
            """Short over a bar (¥12.6万, CN¥125.8K): seven weeks of four bars side by side."""
            return str(
                format_compact_currency(
                    Decimal(str(value)), currency, locale=babel_locale(w.locale), fraction_digits=1
                )
            )

        groups = [
            (p.day.strftime("%m-%d"),
             [(bucket_name(b, w), p.overdue.get(currency, {}).get(b, Decimal(0)), _css(b))
              for b in buckets])
            for p in points
        ]  # fmt: skip
        charts.append(
            grouped_bar_chart(
                groups,
                title=w("h_overdue_chart", currency=currency),
                width=max(360, 90 * len(groups) + 40),
                fmt=fmt,
            )  # fmt: skip
        )
    return charts


def dso_rows(points: list[WeekPoint], w: Words) -> dict[str, Any]:
    currencies = sorted({c for p in points for c in p.dso})
    trend: dict[str, tuple[str, str]] = {}
    for c in currencies:
        delta = change([p.dso.get(c) for p in points])
        if delta is None:
            continue
        if delta > 0:
            trend[c] = ("up", w("h_trend_up", n=delta))
        elif delta < 0:
            trend[c] = ("down", w("h_trend_down", n=-delta))
        else:
            trend[c] = ("flat", w("h_trend_flat"))
    return {"currencies": currencies, "trend": trend}


@router.get("/home", response_class=HTMLResponse)
def home(request: Request, state: State, user: PageUser) -> HTMLResponse:
    now = state.clock()
    w = words_for(user, state.policy.stages)
    context: dict[str, Any] = {"role": user.role}
    with unit_of_work(state.engine) as session:
        if user.role in REVIEWERS:
            r = reviewer_home(session, now, state.policy)
            context["reviewer"] = r
            context["until"] = (
                quote(r.next_slot.astimezone(UTC).isoformat().replace("+00:00", "Z"))
                if r.next_slot
                else ""
            )
            context["minutes"] = (
                max(0, int((r.next_slot - now).total_seconds() // 60)) if r.next_slot else None
            )
        if user.role == "collector":
            context["collector"] = collector_home(session, user.name, now, user.timezone)
        if user.role in MANAGERS:
            m = manager_home(session, now, state.policy, user.timezone)
            context["manager"] = m
            context["charts"] = overdue_charts(m.points, state.policy, w)
            context["dso"] = dso_rows(m.points, w)
    describe: Callable[[Any], str] = lambda f: follow_up_text(f, w)  # noqa: E731
    return page(request, user, "home.html", describe=describe, **context)
