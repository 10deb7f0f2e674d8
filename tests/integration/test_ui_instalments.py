"""Instalment plans on the customer page (D20): the form makes one from a count, the page
lists each instalment with its amount and due date, and a plan is cancelled from there;
posted as a logged-in browser posts them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from notifier.domain.policy import Policy
from notifier.services.users import add_user
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import InstalmentPlan, Reminder
from notifier.web import create_app
from tests.integration.collect_support import planned_portfolio
from tests.support import web_login

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PASSWORD = "correct horse battery"


@pytest.fixture
def drafted(engine: Engine, policy: Policy) -> dict[str, int]:
    return planned_portfolio(engine, policy)


@pytest.fixture
def app(engine: Engine, policy: Policy, drafted: dict[str, int]) -> FastAPI:
    return create_app(Settings(), policy, engine, clock=lambda: NOW)


def browser(
    engine: Engine, app: FastAPI, name: str, role: str, locale: str
) -> tuple[TestClient, str]:
    with unit_of_work(engine) as s:
        add_user(s, name, role, PASSWORD, datetime(2026, 1, 1, tzinfo=UTC), locale=locale)
    client = TestClient(app)
    return client, web_login(client, name, PASSWORD, "/customers")


def instalments(html: str) -> list[tuple[str, str, str]]:
    """(seq, due date, amount) of each instalment row on the page."""
    return re.findall(
        r'<tr data-seq="(\d+)" data-status="[a-z]+" class="[a-z]*"><td>\d+</td><td>([0-9-]+)</td>'
        r'<td class="num" data-amount="([0-9.]+)">',
        html,
    )


def test_a_collector_makes_a_plan_of_three_with_30_percent_first_and_cancels_it(
    engine: Engine, app: FastAPI, drafted: dict[str, int]
) -> None:
    client, csrf = browser(engine, app, "li", "collector", "zh-CN")
    page = client.get("/customers/C1")
    assert "分期付款计划" in page.text and "暂无分期付款计划" in page.text
    made = client.post(
        "/customers/C1/instalments",
        follow_redirects=False,
        data={"csrf": csrf, "count": "3", "first_percent": "30", "day": "10"},
    )
    assert made.status_code == 303 and made.headers["location"].endswith("message=plan")
    page = client.get(made.headers["location"])
    assert "分期付款计划已创建" in page.text
    assert instalments(page.text) == [
        ("1", "2026-03-10", "4200.00"),
        ("2", "2026-04-10", "4900.00"),
        ("3", "2026-05-10", "4900.00"),
    ]
    with unit_of_work(engine) as s:
        [plan] = s.scalars(select(InstalmentPlan)).all()
        draft = s.get(Reminder, drafted["C1"])
        assert draft is not None and draft.status == "cancelled"
    cancelled = client.post(
        f"/customers/C1/instalments/{plan.id}/cancel", data={"csrf": csrf}, follow_redirects=False
    )
    assert cancelled.status_code == 303
    page = client.get(cancelled.headers["location"])
    assert (
        "分期付款计划已取消" in page.text
        and f'data-plan="{plan.id}" data-status="cancelled"' in page.text
    )


def test_a_bad_plan_shows_the_page_again_with_the_reason_and_nothing_is_made(
    engine: Engine, app: FastAPI
) -> None:
    client, csrf = browser(engine, app, "wang", "reviewer", "en")
    for data, says in (
        ({"count": "x"}, "422"),
        ({"count": "40"}, "must be 1 to 36"),
        ({"count": "3", "day": "31"}, "due day must be 1 to 28"),
    ):
        answer = client.post("/customers/C1/instalments", data={"csrf": csrf, **data})
        assert answer.status_code == 422
        assert says == "422" or says in answer.text
    assert client.post("/customers/C1/instalments", data={"count": "3"}).status_code == 403
    with unit_of_work(engine) as s:
        assert s.scalars(select(InstalmentPlan)).all() == []
