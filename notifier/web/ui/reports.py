"""The report pages: the aging report (D26), the delivery funnel and per-collector progress,
each with its numbers in a table and, for the first two, a server-drawn SVG chart. Any
logged-in user may read them; texts follow the viewer's language, days the viewer's zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from notifier.domain.aging import NOT_DUE, SETTLED, AgingRow, bucket_totals, late_buckets
from notifier.domain.items import local_date
from notifier.domain.policy import Policy
from notifier.reports.aging import as_of_text, build_aging, end_of_day
from notifier.reports.collectors import FollowUp, Reason, collectors
from notifier.reports.funnel import CHANNELS, STEPS, FunnelRow, by_channel, funnel
from notifier.store.db import unit_of_work
from notifier.store.models import User
from notifier.web.inputs import day_param
from notifier.web.state import State
from notifier.web.ui.charts import Bar, Number, bar_chart, grouped_bar_chart
from notifier.web.ui.forms import typed_day
from notifier.web.ui.render import money, page, words_for
from notifier.web.ui.session import PageUser
from notifier.words import Words

router = APIRouter(include_in_schema=False)
SUBNAV = (("/reports/aging", "aging"), ("/reports/funnel", "funnel"),
          ("/reports/collectors", "collectors"))  # fmt: skip
MAX_DAYS = 366


def _texts(user: User, policy: Policy | None = None) -> tuple[str, Words]:
    w = words_for(user, policy.stages if policy is not None else None)
    return w.locale, w


def _days(days: int) -> int:
    return min(max(days, 1), MAX_DAYS)


def bucket_name(bucket: str, t: Callable[..., str]) -> str:
    if bucket == NOT_DUE:
        return t("bucket_not_due")
    if bucket == SETTLED:
        return t("bucket_settled")
    return t("bucket_days", range=bucket)


def bucket_class(bucket: str, late: set[str]) -> str:
    """D26: green for settled, red for the buckets beyond ``red_after_days``."""
    if bucket == SETTLED:
        return "green"
    return "red" if bucket in late else ""


def _money_fmt(currency: str, locale: str) -> Callable[[Number], str]:
    return lambda value: money(Decimal(str(value)), currency, locale)


def aging_sections(
    rows: list[AgingRow], day: date, policy: Policy, locale: str, t: Callable[..., str]
) -> list[dict[str, Any]]:
    """Per currency (amounts are never added across currencies): the bucket totals and
    their chart. Open buckets show what is outstanding; the settled bucket shows what was
    settled in the last 30 days (its outstanding is zero by definition)."""
    late = late_buckets(policy.aging)
    sections = []
    for currency in sorted({r.currency for r in rows}) or ["CNY"]:
        mine = [r for r in rows if r.currency == currency]
        sums = bucket_totals(mine, policy.aging, (currency,))
        settled = sum((r.amount for r in mine if r.bucket == SETTLED), Decimal("0.00"))
        series: list[Bar] = [
            (bucket_name(s.bucket, t), settled if s.bucket == SETTLED else s.outstanding,
             bucket_class(s.bucket, late))
            for s in sums
        ]  # fmt: skip
        buckets = [
            {"bucket": s.bucket, "name": name, "count": s.items, "outstanding": s.outstanding,
             "penalty": s.penalty, "paused": s.paused, "css": css}
            for s, (name, _, css) in zip(sums, series, strict=True)
        ]  # fmt: skip
        chart = bar_chart(
            series,
            title=t("aging_chart", currency=currency, day=day.isoformat()),
            width=720,
            fmt=_money_fmt(currency, locale),
        )
        sections.append({"currency": currency, "buckets": buckets, "chart": chart,
                         "settled": settled})  # fmt: skip
    return sections


@router.get("/reports/aging", response_class=HTMLResponse)
def aging_report(
    request: Request, state: State, user: PageUser, at: Annotated[str, Query(max_length=20)] = ""
) -> HTMLResponse:
    """Taken at one instant (now, or the end of the chosen day in the viewer's zone, the
    report's reference zone); each customer aged on its own local date then. The day is
    typed as text (2026-03-02, 2026/3/2, 2026年3月2日): no browser date picker in a
    language the viewer does not read."""
    locale, t = _texts(user, state.policy)
    zone = user.timezone
    chosen = day_param("at", typed_day("at", at, t), state.policy.limits)
    instant = end_of_day(chosen, zone) if chosen is not None else state.clock()
    day = local_date(instant, zone)
    with unit_of_work(state.engine) as session:
        rows = build_aging(session, instant, state.policy, zone=zone)
    return page(request, user, "reports_aging.html", subnav=SUBNAV, day=day, rows=rows,
                reference=as_of_text(instant, zone),
                sections=aging_sections(rows, day, state.policy, locale, t),
                bucket_names={r.bucket: bucket_name(r.bucket, t) for r in rows},
                red_after=state.policy.aging.red_after_days)  # fmt: skip


def _funnel_chart(rows: list[FunnelRow], channel: str, t: Words) -> Markup:
    """The stages of one channel side by side, each with its six steps."""
    groups = [
        (t.stage(row.stage), [(t(f"step_{step}"), n, f"step-{step}") for step, n in row.steps()])
        for row in rows
        if row.channel == channel
    ]
    return grouped_bar_chart(groups, title=t("funnel_chart", channel=t(f"channel_{channel}")),
                             width=max(560, 150 * len(groups) + 40))  # fmt: skip


@router.get("/reports/funnel", response_class=HTMLResponse)
def funnel_report(request: Request, state: State, user: PageUser, days: int = 30) -> HTMLResponse:
    locale, t = _texts(user, state.policy)
    days = _days(days)
    until = state.clock()
    since = until - timedelta(days=days)
    with unit_of_work(state.engine) as session:
        rows = funnel(session, since, until)
    channels = [c for c in CHANNELS if any(r.channel == c for r in rows)]
    channels += sorted({r.channel for r in rows} - set(CHANNELS))
    charts = [
        (t("funnel_chart", channel=t(f"channel_{c}")), _funnel_chart(rows, c, t)) for c in channels
    ]
    return page(request, user, "reports_funnel.html", subnav=SUBNAV, days=days, since=since,
                until=until, rows=rows, totals=by_channel(rows), steps=STEPS,
                charts=charts)  # fmt: skip


def follow_up_text(follow_up: FollowUp, t: Callable[..., str]) -> str:
    """The reasons to follow a customer up, in the viewer's language, as plain text (the
    template escapes it once)."""
    return "; ".join(reason_text(r, t) for r in follow_up.reasons)


def reason_text(reason: Reason, t: Callable[..., str]) -> str:
    detail = reason.on.isoformat() if reason.on else reason.detail
    if reason.kind in ("failed", "unknown") and reason.detail:
        detail = t(f"channel_{reason.detail}")
    elif reason.kind == "escalated" and reason.detail and isinstance(t, Words):
        detail = t.reason(reason.detail)
    name = t(f"reason_{reason.kind}")
    return t("reason_detail", reason=name, detail=detail) if detail else name


@router.get("/reports/collectors", response_class=HTMLResponse)
def collectors_report(
    request: Request, state: State, user: PageUser, days: int = 30
) -> HTMLResponse:
    days = _days(days)
    until = state.clock()
    day = local_date(until, user.timezone)
    with unit_of_work(state.engine) as session:
        # the last ``days`` days: instants for what was sent, calendar days for payments
        rows = collectors(session, day, until - timedelta(days=days), until,
                          day - timedelta(days=days - 1))  # fmt: skip
    _, t = _texts(user)
    currencies = {r.collector: sorted({*r.outstanding, *r.overdue, *r.collected}) for r in rows}
    return page(request, user, "reports_collectors.html", subnav=SUBNAV, days=days, day=day,
                rows=rows, currencies=currencies,
                describe=lambda f: follow_up_text(f, t))  # fmt: skip
