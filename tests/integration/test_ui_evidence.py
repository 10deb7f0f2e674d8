"""The evidence file on the web: the customer page links to it, the page shows the chain's
verdict in the viewer's language, managers download the ZIP, other roles may not."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.services.users import add_user
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.web import create_app
from tests.support import two_customer_portfolio, web_login

PLANNED = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PASSWORD = "correct horse battery"


@pytest.fixture
def app(engine: Engine, policy: Policy) -> FastAPI:
    two_customer_portfolio(engine, policy)
    with unit_of_work(engine) as s:
        add_user(s, "zhao", "manager", PASSWORD, datetime(2026, 1, 1, tzinfo=UTC), locale="zh-CN")
        add_user(s, "li", "collector", PASSWORD, datetime(2026, 1, 1, tzinfo=UTC), locale="en")
    return create_app(Settings(), policy, engine, clock=lambda: PLANNED)


def _login(app: FastAPI, name: str) -> TestClient:
    client = TestClient(app)
    web_login(client, name, PASSWORD, "/customers")
    return client


def test_a_manager_sees_the_verdict_and_downloads_the_evidence_file(app: FastAPI) -> None:
    client = _login(app, "zhao")
    assert 'href="/customers/C1/evidence"' in client.get("/customers/C1").text
    page = client.get("/customers/C1/evidence")
    assert page.status_code == 200
    assert 'data-chain="intact"' in page.text and "证据档案" in page.text
    download = client.get("/customers/C1/evidence.zip")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    events = json.loads(archive.read("events.json"))
    assert events and all(e["customer_id"] == "C1" for e in events)
    assert json.loads(archive.read("manifest.json"))["chain"]["verified"] is True


def test_a_collector_sees_the_verdict_but_may_not_download(app: FastAPI) -> None:
    client = _login(app, "li")
    page = client.get("/customers/C1/evidence")
    assert page.status_code == 200 and "Only managers and admins" in page.text
    assert client.get("/customers/C1/evidence.zip").status_code == 403


def test_an_unknown_customer_is_404(app: FastAPI) -> None:
    client = _login(app, "zhao")
    assert client.get("/customers/NOPE/evidence").status_code == 404
    assert client.get("/customers/NOPE/evidence.zip").status_code == 404
