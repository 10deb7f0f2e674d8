"""Tracking tokens expire (the policy's tracking_token_days after sending, on the app's
clock), old tokens without an expiry are still read, repeated hits are counted without an
event each, and the access log of the real server never holds a token whole."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, Reminder, TrackingHit
from notifier.tracking import PIXEL_GIF, Tracker, expiry
from notifier.web import create_app
from tests.fakes.live_app import LiveApp
from tests.fakes.smtp_servers import free_port

SECRET = "k" * 40
PUBLIC = "https://notifier.example"
SENT = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
TARGET = "https://pay.example.cn/c/C1"
HUMAN = {"User-Agent": "Mozilla/5.0 Thunderbird"}


class Clock:
    def __init__(self) -> None:
        self.now = SENT + timedelta(hours=3)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def email(engine: Engine) -> int:
    with unit_of_work(engine) as s:
        s.add(Customer(id="C1", name="王芳", kind="individual", phone="+8613912345678",
                       email="wang@x.example", created_at=SENT, updated_at=SENT))  # fmt: skip
        s.flush()
        r = Reminder(customer_id="C1", step="friendly-email", cycle="R1@2026-02-27",
                     channel="email", address="wang@x.example", status="sent", stage="m1",
                     tier="B", tone="friendly", locale="zh-CN", window="evening",
                     slot_start=SENT, slot_end=SENT + timedelta(hours=1), body="text",
                     created_at=SENT, updated_at=SENT, sent_at=SENT)  # fmt: skip
        s.add(r)
        s.flush()
        assert r.id is not None
        return r.id


@pytest.fixture
def client(engine: Engine, policy: Policy, clock: Clock) -> TestClient:
    settings = Settings(public_url=PUBLIC, secret_key=SecretStr(SECRET))
    return TestClient(create_app(settings, policy, engine, clock=clock))


TRACKER = Tracker(SECRET, PUBLIC)


def path(url: str) -> str:
    return url.removeprefix(PUBLIC)


def recorded(engine: Engine) -> tuple[list[str], list[int], Reminder]:
    """The kinds of the events, the hit counts, and the reminder."""
    with unit_of_work(engine) as s:
        kinds = list(s.scalars(select(col(Event.kind)).order_by(col(Event.id))))
        hits = list(s.scalars(select(col(TrackingHit.hits)).order_by(col(TrackingHit.kind))))
        r = s.scalars(select(Reminder)).one()
    return kinds, hits, r


def test_an_expired_pixel_still_answers_the_gif_but_records_nothing(
    client: TestClient, engine: Engine, clock: Clock, email: int
) -> None:
    last_day = date(2026, 5, 31)
    url = path(TRACKER.open_url(email, expires_on=last_day))
    clock.now = datetime(2026, 6, 1, 0, 0, 1, tzinfo=UTC)
    answer = client.get(url, headers=HUMAN)
    assert answer.status_code == 200 and answer.content == PIXEL_GIF
    kinds, hits, r = recorded(engine)
    assert kinds == [] and hits == [] and r.read_at is None


def test_an_expired_click_still_redirects_but_records_nothing(
    client: TestClient, engine: Engine, clock: Clock, email: int
) -> None:
    url = path(TRACKER.click_url(email, TARGET, expires_on=date(2026, 5, 31)))
    clock.now = datetime(2026, 6, 2, tzinfo=UTC)
    answer = client.get(url, follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"] == TARGET
    kinds, hits, r = recorded(engine)
    assert kinds == [] and hits == [] and r.clicked_at is None


def test_a_token_records_through_its_last_day(
    client: TestClient, engine: Engine, clock: Clock, email: int
) -> None:
    url = path(TRACKER.click_url(email, TARGET, expires_on=date(2026, 5, 31)))
    clock.now = datetime(2026, 5, 31, 23, 59, tzinfo=UTC)
    assert client.get(url, follow_redirects=False).status_code == 302
    assert recorded(engine)[0] == ["clicked"]


def test_the_expiry_is_the_send_day_plus_the_policy_days(policy: Policy) -> None:
    days = policy.security.tracking_token_days
    token = TRACKER.token("open", 5, expires_on=expiry(SENT, days))
    found = TRACKER.verify("open", token)
    assert found is not None and found.expires_on == date(2026, 3, 2) + timedelta(days=days)
    assert found.records_at(SENT + timedelta(days=days)) is True
    assert found.records_at(SENT + timedelta(days=days + 1)) is False


def test_a_token_sent_before_tokens_expired_is_still_read_and_recorded(
    client: TestClient, engine: Engine, email: int
) -> None:
    legacy = URLSafeSerializer(SECRET, salt="notifier-click").dumps({"r": email, "u": TARGET})
    answer = client.get(f"/t/c/{legacy}", follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"] == TARGET
    assert recorded(engine)[0] == ["clicked"]


def test_replayed_hits_write_one_event_per_link_and_are_counted(
    client: TestClient, engine: Engine, email: int
) -> None:
    until = date(2026, 5, 31)
    pixel = path(TRACKER.open_url(email, until))
    link = path(TRACKER.click_url(email, TARGET, until))
    for _ in range(6):
        assert client.get(pixel, headers=HUMAN).status_code == 200
    for _ in range(4):
        assert client.get(link, follow_redirects=False).status_code == 302
    kinds, hits, r = recorded(engine)
    assert kinds == ["opened", "clicked"]
    assert hits == [4, 6]  # click, open
    assert r.read_at is not None and r.clicked_at is not None


def test_the_access_log_of_the_server_holds_only_a_prefix_of_a_token(
    engine: Engine, policy: Policy, email: int
) -> None:
    port = free_port()
    settings = Settings(public_url=f"http://127.0.0.1:{port}", secret_key=SecretStr(SECRET))
    tracker = Tracker(SECRET, settings.public_url)
    pixel = tracker.open_url(email, date(2026, 5, 31))
    unsubscribe = tracker.unsubscribe_url(email)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    keep = Keep()
    app = create_app(settings, policy, engine, clock=lambda: SENT + timedelta(hours=3))
    with LiveApp(app, port, log_level="info") as live:  # uvicorn configures its logging here
        access = logging.getLogger("uvicorn.access")
        access.addHandler(keep)
        try:
            for url in (pixel + "?x=1", unsubscribe):
                assert httpx.get(url, timeout=10).status_code == 200
        finally:
            access.removeHandler(keep)
        assert live.url
    assert len(lines) == 2
    for line, url in zip(lines, (pixel, unsubscribe), strict=True):
        token = url.rsplit("/", 1)[1]
        assert token not in line and token[:6] in line


@pytest.fixture
def sms(engine: Engine, email: int) -> int:
    """An SMS to the same customer, its payment link in the text as it was drafted."""
    with unit_of_work(engine) as s:
        r = Reminder(customer_id="C1", step="friendly", cycle="R1@2026-02-27", channel="sms",
                     address="+8613912345678", status="sent", stage="m1", tier="B",
                     tone="friendly", locale="zh-CN", window="evening", slot_start=SENT,
                     slot_end=SENT + timedelta(hours=1),
                     body=f"【星辰】您好！您有1笔账单已过付款日3天。\n{TARGET}\n回复TD退订",
                     created_at=SENT, updated_at=SENT, sent_at=SENT)  # fmt: skip
        s.add(r)
        s.flush()
        assert r.id is not None
        return r.id


def test_an_sms_short_link_redirects_to_the_sms_own_link_and_records_the_click(
    client: TestClient, engine: Engine, clock: Clock, sms: int
) -> None:
    url = TRACKER.short_click_url(sms, expires_on=date(2026, 5, 31))
    token = url.rsplit("/", 1)[1]
    assert url.startswith(f"{PUBLIC}/t/c/") and len(token) <= 22
    answer = client.get(path(url), follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"] == TARGET
    with unit_of_work(engine) as s:
        clicked = s.get(Reminder, sms)
        assert clicked is not None and clicked.clicked_at is not None
        kinds = list(s.scalars(select(col(Event.kind))))
    assert kinds == ["clicked"]
    # Altered or forged, it goes nowhere and records nothing more.
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/t/c/{forged}", follow_redirects=False).status_code == 404
    other = Tracker("f" * 40, PUBLIC).short_click_url(sms)
    assert client.get(path(other), follow_redirects=False).status_code == 404
    # A short token naming an e-mail (which holds no SMS link) goes nowhere either.
    email_id = sms - 1
    assert client.get(path(TRACKER.short_click_url(email_id)), follow_redirects=False
                      ).status_code == 404  # fmt: skip
