"""Security headers on every response, a policy the pages really live under (no inline
script or style in them; the e-mail preview allowed exactly its own styles), and what is
not public: /metrics and /docs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.services.users import add_user, create_token
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.web import create_app
from notifier.web.headers import style_hashes
from notifier.wiring import tracker_for
from tests.support import PORTFOLIO_PLANNED, two_customer_portfolio, web_login

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD = "correct horse battery"
SETTINGS = Settings(secret_key=SecretStr("h" * 40), metrics_token=SecretStr("m" * 40))


@pytest.fixture
def drafts(engine: Engine, policy: Policy) -> dict[str, int]:
    return two_customer_portfolio(engine, policy)


@pytest.fixture
def app(engine: Engine, policy: Policy, drafts: dict[str, int]) -> FastAPI:
    return create_app(SETTINGS, policy, engine, clock=lambda: PORTFOLIO_PLANNED)


def add(engine: Engine, name: str, role: str) -> dict[str, str]:
    with unit_of_work(engine) as s:
        add_user(s, name, role, PASSWORD, T0, locale="en")
    with unit_of_work(engine) as s:
        return {"Authorization": f"Bearer {create_token(s, name, T0)}"}


@pytest.fixture
def browser(engine: Engine, app: FastAPI) -> TestClient:
    add(engine, "zhao", "manager")
    client = TestClient(app)
    web_login(client, "zhao", PASSWORD, "/")
    return client


def assert_protected(answer_headers: object) -> None:
    headers = dict(answer_headers)  # type: ignore[call-overload]
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] in ("no-referrer", "same-origin")


PAGES = ("/", "/customers", "/customers/C1", "/reports/aging", "/reports/funnel",
         "/reports/collectors")  # fmt: skip


def test_every_page_and_answer_carries_the_security_headers(
    browser: TestClient, drafts: dict[str, int]
) -> None:
    paths = (*PAGES, f"/drafts/{drafts['C1']}", "/login", "/healthz", "/openapi.json",
             "/static/app.css", "/static/app.js", "/no-such-page", "/drafts/999999")  # fmt: skip
    for path in paths:
        assert_protected(browser.get(path, follow_redirects=False).headers)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    too_big = browser.post("/login", content=b"x" * (300 * 1024), headers=form)
    assert too_big.status_code == 413
    assert_protected(too_big.headers)


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
_STYLE = re.compile(r"<style\b|<[^>]+\sstyle\s*=", re.I)


def test_pages_have_no_inline_script_handler_or_style_the_policy_would_block(
    browser: TestClient, drafts: dict[str, int]
) -> None:
    for path in (*PAGES, f"/drafts/{drafts['C1']}", f"/drafts/{drafts['C2']}"):
        # the e-mail preview (srcdoc) has its own inline styles, allowed by hash (below)
        html = re.sub(r'srcdoc="[^"]*"', "", browser.get(path).text)
        assert not _INLINE_SCRIPT.search(html), path
        assert not _HANDLER.search(html), path
        assert not _STYLE.search(html), path
    assert not _STYLE.search(TestClient(browser.app).get("/login").text)


def test_the_email_preview_is_allowed_exactly_its_own_styles(
    browser: TestClient, engine: Engine, drafts: dict[str, int]
) -> None:
    from notifier.store.models import Reminder

    with unit_of_work(engine) as s:
        email = next(r for r in (s.get(Reminder, i) for i in drafts.values()) if r and r.html)
        html = email.html or ""
    answer = browser.get(f"/drafts/{email.id}")
    csp = answer.headers["content-security-policy"]
    style_src = next(d for d in csp.split("; ") if d.startswith("style-src "))
    assert style_src == f"style-src 'self' {style_hashes(html)}"
    assert "'unsafe-hashes'" in style_src and "'sha256-" in style_src
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src "))
    assert script_src == "script-src 'self'"
    assert re.search(r"<iframe class=\"preview\" sandbox srcdoc=", answer.text)


def test_a_tracked_click_leaves_without_a_referrer(app: FastAPI, drafts: dict[str, int]) -> None:
    url = tracker_for(SETTINGS).click_url(drafts["C1"], "https://pay.example.cn/c/C1")
    answer = TestClient(app).get(url.removeprefix(SETTINGS.public_url), follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["referrer-policy"] == "no-referrer"


def test_metrics_need_the_metrics_token_or_a_managers_api_token(
    app: FastAPI, engine: Engine
) -> None:
    client = TestClient(app)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers=add(engine, "li", "collector")).status_code == 403
    for allowed in ({"Authorization": f"Bearer {'m' * 40}"}, add(engine, "root", "admin")):
        answer = client.get("/metrics", headers=allowed)
        assert answer.status_code == 200 and "notifier_reminders" in answer.text


def test_docs_are_for_logged_in_users_unless_public(
    app: FastAPI, browser: TestClient, engine: Engine, policy: Policy
) -> None:
    anonymous = TestClient(app)
    for path in ("/docs", "/redoc"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        seen = browser.get(path)
        assert seen.status_code == 200 and "/openapi.json" in seen.text
        assert "'sha256-" in seen.headers["content-security-policy"] or path == "/redoc"
    assert anonymous.get("/openapi.json").status_code == 200  # the contract keeps it public
    assert anonymous.get("/healthz").status_code == 200
    public = create_app(Settings(public_docs=True), policy, engine)
    assert TestClient(public).get("/docs").status_code == 200
