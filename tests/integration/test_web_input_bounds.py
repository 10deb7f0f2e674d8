"""Bad input is a 4xx with a message, never a 500: ids, offsets, dates and zones out of
bounds, an unknown id in a bulk approval; and an unexpected error is a plain 500 with no
traceback or data. One test walks every GET route of the app with hostile values."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.services import review
from notifier.services.users import add_user, create_token
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import Reminder
from notifier.web import create_app
from tests.support import PORTFOLIO_PLANNED, two_customer_portfolio, web_login

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD = "correct horse battery"
HOSTILE = (
    "99999999999999999999", "1e20", "-1", "0", "9999-12-31", "0001-01-01", "../", "..%2F..",
    "x" * 5000, "2026-03-02T09:00:00", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+14:00",
    "\x00", "nan", "", "[]", "%",
)  # fmt: skip


@pytest.fixture
def drafts(engine: Engine, policy: Policy) -> dict[str, int]:
    return two_customer_portfolio(engine, policy)


@pytest.fixture
def app(engine: Engine, policy: Policy, drafts: dict[str, int]) -> FastAPI:
    return create_app(Settings(), policy, engine, clock=lambda: PORTFOLIO_PLANNED)


@pytest.fixture
def manager(engine: Engine, app: FastAPI) -> tuple[TestClient, str, dict[str, str]]:
    """A browser logged in as a manager (CSRF token) that also carries a manager's API
    token, so that pages and API routes alike see a user allowed everything."""
    with unit_of_work(engine) as s:
        add_user(s, "zhao", "manager", PASSWORD, T0, locale="en")
    with unit_of_work(engine) as s:
        bearer = {"Authorization": f"Bearer {create_token(s, 'zhao', T0)}"}
    client = TestClient(app, raise_server_exceptions=False)
    return client, web_login(client, "zhao", PASSWORD, "/"), bearer


def status_of(engine: Engine, draft_id: int) -> str:
    with unit_of_work(engine) as s:
        r = s.get(Reminder, draft_id)
        assert r is not None
        return r.status


def _get_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(path format, route) of every GET route of the app, included routers' too."""
    return [
        (str(c.path_format), c.original_route)
        for c in iter_route_contexts(app.routes)
        if isinstance(c.original_route, APIRoute) and "GET" in (c.methods or ())
    ]


def test_no_get_route_answers_5xx_to_hostile_parameters(
    app: FastAPI, manager: tuple[TestClient, str, dict[str, str]]
) -> None:
    client, _, bearer = manager
    routes = _get_routes(app)
    assert len(routes) >= 10  # the walk reaches the pages, the API and the tracking links
    tried = 0
    for path_format, route in routes:
        flat = route.dependant
        path_names = [p.alias for p in _all(flat, "path_params")]
        query_names = [p.alias for p in _all(flat, "query_params")]
        base = dict.fromkeys(path_names, "1")
        for name in path_names + query_names:
            for value in HOSTILE:
                params = dict(base)
                query = {}
                if name in path_names:
                    params[name] = quote(value, safe="") or "1"
                else:
                    query[name] = value
                url = path_format.format(**params)
                answer = client.get(url, params=query, headers=bearer, follow_redirects=False)
                tried += 1
                assert answer.status_code < 500, (url, name, value[:40], answer.text[:200])
                assert "Traceback" not in answer.text
    assert tried > 100


def _all(dependant: object, kind: str) -> list:  # type: ignore[type-arg]
    """The parameters of ``kind`` of a route and of all its dependencies."""
    found = list(getattr(dependant, kind))
    for sub in dependant.dependencies:
        found += _all(sub, kind)
    return found


@pytest.mark.parametrize(
    "path", ["/api/drafts/99999999999999999999", "/drafts/99999999999999999999", "/api/drafts/0"]
)
def test_an_id_no_store_can_hold_is_422(
    manager: tuple[TestClient, str, dict[str, str]], path: str
) -> None:
    client, _, bearer = manager
    assert client.get(path, headers=bearer).status_code == 422


@pytest.mark.parametrize("path", ["/", "/customers", "/api/drafts"])
@pytest.mark.parametrize("offset", ["1e20", "100000000000000000000", "-1"])
def test_an_offset_out_of_bounds_is_422(
    manager: tuple[TestClient, str, dict[str, str]], path: str, offset: str
) -> None:
    client, _, bearer = manager
    answer = client.get(path, params={"offset": offset}, headers=bearer)
    assert answer.status_code == 422
    assert "offset" in answer.text


def test_an_aging_day_outside_the_policy_window_is_422_with_the_window(
    manager: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, _, _ = manager
    for day in ("9999-12-31", "0001-01-01"):
        answer = client.get("/reports/aging", params={"at": day})
        assert answer.status_code == 422
        assert "at: " in answer.json()["detail"] and "2000-01-01..2100-12-31" in answer.text


@pytest.mark.parametrize("name", ["slot_from", "slot_to"])
def test_a_slot_bound_without_a_utc_offset_is_422_naming_it(
    manager: tuple[TestClient, str, dict[str, str]], name: str
) -> None:
    client, _, bearer = manager
    answer = client.get("/api/drafts", params={name: "2026-03-02T09:00:00"}, headers=bearer)
    assert answer.status_code == 422 and answer.json()["detail"].startswith(f"{name}: ")
    zoned = client.get("/api/drafts", params={name: "2026-03-02T09:00:00+08:00"}, headers=bearer)
    assert zoned.status_code == 200


def test_bulk_approve_on_the_page_with_an_unknown_id_approves_nothing(
    manager: tuple[TestClient, str, dict[str, str]], engine: Engine, drafts: dict[str, int]
) -> None:
    client, csrf, _ = manager
    answer = client.post("/drafts/approve", data={"csrf": csrf, "ids": [drafts["C1"], 987654]},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 404 and "987654" in answer.text
    assert status_of(engine, drafts["C1"]) == "pending_approval"


def test_bulk_approve_in_the_api_with_an_unknown_id_approves_nothing(
    manager: tuple[TestClient, str, dict[str, str]], engine: Engine, drafts: dict[str, int]
) -> None:
    client, _, bearer = manager
    for ids, code in (([drafts["C1"], 987654], 404), ([drafts["C1"], 2**70], 422)):
        answer = client.post("/api/drafts/approve", json={"ids": ids}, headers=bearer)
        assert answer.status_code == code
        assert status_of(engine, drafts["C1"]) == "pending_approval"
    assert "987654" in client.post("/api/drafts/approve", json={"ids": [987654]},
                                   headers=bearer).json()["detail"]  # fmt: skip


def test_an_unexpected_error_is_a_plain_500_without_data(
    manager: tuple[TestClient, str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _, bearer = manager
    secret = "+8613912345678 wang@x.example"

    def broken(*_: object) -> list[Reminder]:
        raise RuntimeError(f"(sqlite3.OperationalError) [parameters: ({secret!r},)]")

    monkeypatch.setattr(review, "list_drafts", broken)
    with caplog.at_level(logging.DEBUG):
        answer = client.get("/api/drafts", headers=bearer)
    assert answer.status_code == 500 and answer.json() == {"detail": "internal error"}
    assert "+8613912345678" not in caplog.text and "RuntimeError" in caplog.text
    assert "X-Content-Type-Options" in answer.headers  # the last resort is still under them
