"""Every route of the app refuses anonymous users, except the few that must be public
(health, metrics, login, signed tracking and unsubscribe links, signed Twilio webhooks,
static files and the API description)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.settings import Settings
from notifier.web import create_app

PUBLIC = re.compile(r"^/(healthz|metrics|login|t/|u/|webhooks/|openapi\.json|docs|redoc)")


def flat(items: list[Any]) -> list[APIRoute]:
    """The API routes, also inside included routers (newer FastAPI keeps those wrapped)."""
    found: list[APIRoute] = []
    for route in items:
        if isinstance(route, APIRoute):
            found.append(route)
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and hasattr(inner, "routes"):
            found += flat(list(inner.routes))
    return found


def routes(engine: Engine, policy: Policy) -> list[tuple[str, str]]:
    app = create_app(Settings(), policy, engine)
    found = []
    for route in flat(list(app.routes)):
        if not PUBLIC.match(route.path):
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            found += [(method, path) for method in sorted(route.methods)]
    return found


def test_the_app_has_pages_and_api_routes_to_protect(engine: Engine, policy: Policy) -> None:
    paths = {path for _, path in routes(engine, policy)}
    for expected in ("/", "/drafts/1", "/customers", "/customers/1", "/reports/aging",
                     "/api/drafts", "/api/drafts/1/approve"):  # fmt: skip
        assert expected in paths


def test_every_private_route_refuses_anonymous_users(engine: Engine, policy: Policy) -> None:
    client = TestClient(create_app(Settings(), policy, engine))
    for method, path in routes(engine, policy):
        answer = client.request(method, path, follow_redirects=False)
        if path.startswith("/api/"):
            assert answer.status_code == 401, (method, path, answer.status_code)
        elif method == "GET":
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login")
        else:  # a form post without a session: no CSRF token, no user
            assert answer.status_code in (303, 403), (method, path, answer.status_code)


@pytest.mark.parametrize("path", ["/healthz", "/login"])
def test_public_routes_answer_without_login(engine: Engine, policy: Policy, path: str) -> None:
    client = TestClient(create_app(Settings(), policy, engine))
    assert client.get(path).status_code == 200
