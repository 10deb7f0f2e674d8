"""The manager's week (seed 003) as a page, and as the same figures in CSV and Excel.
Managers and admins read it (it names each collector's incentive); texts follow the
viewer's language, the week the policy's ``[weekly] zone``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from notifier.domain.items import local_date
from notifier.reports import weekly_export
from notifier.reports.weekly import WeeklyReport, build_weekly
from notifier.reports.weekly_export import XLSX
from notifier.store.db import unit_of_work
from notifier.store.models import User
from notifier.web.inputs import day_param
from notifier.web.state import AppState, State
from notifier.web.ui.forms import typed_day
from notifier.web.ui.render import page, words_for
from notifier.web.ui.reports import SUBNAV
from notifier.web.ui.session import PageUser, require_role

router = APIRouter(include_in_schema=False)
READERS = frozenset({"manager", "admin"})
PATH = "/reports/weekly"
DayText = Annotated[str, Query(max_length=20)]


def _report(state: AppState, user: User, at: str) -> tuple[date, WeeklyReport]:
    require_role(user, READERS)
    policy = state.policy
    chosen = day_param("at", typed_day("at", at, words_for(user)), policy.limits)
    day = chosen if chosen is not None else local_date(state.clock(), policy.weekly.zone)
    with unit_of_work(state.engine) as session:
        return day, build_weekly(session, day, policy)


@router.get(PATH, response_class=HTMLResponse)
def weekly_page(request: Request, state: State, user: PageUser, at: DayText = "") -> HTMLResponse:
    day, report = _report(state, user, at)
    locale = words_for(user).locale
    return page(
        request, user, "weekly.html", subnav=(*SUBNAV, (PATH, "wk_nav")), day=day,
        report=report, lines=list(weekly_export.lines(report)),
        labels=weekly_export.labels(report, locale),
        columns=weekly_export.labels_order(),
        oldest_labels=weekly_export.oldest_labels(locale),
        title=weekly_export.title(report, locale),
        definitions=weekly_export.definitions(report, locale),
        rate_text=lambda rate: weekly_export.rate_text(rate, locale),
        who=lambda name: weekly_export.who(name, locale),
    )  # fmt: skip


def _download(report: WeeklyReport, suffix: str) -> str:
    return f'attachment; filename="weekly-{report.week.start.isoformat()}.{suffix}"'


@router.get(PATH + ".csv")
def weekly_csv(state: State, user: PageUser, at: DayText = "") -> Response:
    _, report = _report(state, user, at)
    body = "\ufeff" + weekly_export.to_csv(report)  # BOM: Excel opens it as UTF-8
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": _download(report, "csv")})  # fmt: skip


@router.get(PATH + ".xlsx")
def weekly_xlsx(state: State, user: PageUser, at: DayText = "") -> Response:
    _, report = _report(state, user, at)
    data = weekly_export.to_xlsx(report, words_for(user).locale)
    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": _download(report, "xlsx")})  # fmt: skip
