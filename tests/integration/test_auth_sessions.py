"""Logins, sessions and tokens over the real app and a real SQLite database: sessions kept
in the database end at once (logout, a new password or role, a disabled user), failed
logins are throttled per account and per address without Argon2 work, and an unknown user
costs the same Argon2 verify as a known one."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.services import logins, users
from notifier.services.users import add_user, create_token
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.web import create_app
from notifier.web.ui import auth
from tests.support import web_login

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
WRONG = "Tr0ub4dor&3-guess"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class CountingHasher:
    """The real Argon2 hasher, counting which hashes it verifies."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        return str(self.inner.hash(password))

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return bool(self.inner.verify(password_hash, password))


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def app(engine: Engine, policy: Policy, clock: Clock) -> FastAPI:
    for name, role in (("wang", "reviewer"), ("zhao", "manager")):
        with unit_of_work(engine) as s:
            add_user(s, name, role, PASSWORD, T0, locale="en")
    return create_app(Settings(), policy, engine, clock=clock)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher(users._hasher)
    users._dummy_hash()  # made before counting starts
    monkeypatch.setattr(users, "_hasher", counting)
    return counting


def logged_in(app: FastAPI, name: str = "wang") -> tuple[TestClient, str]:
    client = TestClient(app)
    return client, web_login(client, name, PASSWORD)


def copy_of(app: FastAPI, client: TestClient) -> TestClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = TestClient(app)
    thief.cookies.set("notifier_session", client.cookies["notifier_session"])
    return thief


def can_see_queue(client: TestClient) -> bool:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code in (200, 303), answer.status_code
    return answer.status_code == 200


def try_login(client: TestClient, name: str, password: str) -> Any:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"csrf": token.group(1), "name": name, "password": password, "next": "/"}
    return client.post("/login", data=form, follow_redirects=False)


def test_logout_ends_every_copy_of_the_session(app: FastAPI) -> None:
    client, csrf = logged_in(app)
    thief = copy_of(app, client)
    assert can_see_queue(thief)
    done = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert not can_see_queue(thief)
    assert not can_see_queue(client)


def test_logout_ends_the_users_sessions_on_other_devices_too(app: FastAPI) -> None:
    laptop, csrf = logged_in(app)
    desktop, _ = logged_in(app)
    other_user, _ = logged_in(app, "zhao")
    laptop.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert not can_see_queue(desktop)
    assert can_see_queue(other_user)


@pytest.mark.parametrize(
    "change",
    [
        lambda s, now: users.set_password(s, "wang", "a brand new password", now),
        lambda s, now: users.set_role(s, "wang", "collector", now),
        lambda s, now: users.disable_user(s, "wang", now),
    ],
    ids=["password", "role", "disable"],
)
def test_a_password_or_role_change_or_disabling_ends_the_users_sessions(
    app: FastAPI, engine: Engine, clock: Clock, change: Any
) -> None:
    client, _ = logged_in(app)
    thief = copy_of(app, client)
    other_user, _ = logged_in(app, "zhao")
    with unit_of_work(engine) as s:
        change(s, clock())
    assert not can_see_queue(client) and not can_see_queue(thief)
    assert can_see_queue(other_user)


def test_a_session_ends_after_the_policys_session_hours(
    app: FastAPI, clock: Clock, policy: Policy
) -> None:
    client, _ = logged_in(app)
    clock.now = T0 + timedelta(hours=policy.security.session_hours) - timedelta(minutes=1)
    assert can_see_queue(client)
    clock.now = T0 + timedelta(hours=policy.security.session_hours)
    assert not can_see_queue(client)


def test_a_disabled_users_token_and_a_revoked_token_are_refused(
    app: FastAPI, engine: Engine, clock: Clock
) -> None:
    with unit_of_work(engine) as s:
        wang = create_token(s, "wang", T0)
        zhao = create_token(s, "zhao", T0)
    client = TestClient(app)

    def answer(token: str) -> int:
        return client.get("/api/drafts", headers={"Authorization": f"Bearer {token}"}).status_code

    assert answer(wang) == 200 and answer(zhao) == 200
    with unit_of_work(engine) as s:
        users.disable_user(s, "wang", T0)
        [zhao_token] = users.list_tokens(s, "zhao")
        assert zhao_token.last_used_at == T0  # noted when used
        users.revoke_token(s, zhao_token.id or 0, T0)
    assert answer(wang) == 401 and answer(zhao) == 401
    with unit_of_work(engine) as s:
        users.enable_user(s, "wang", T0)  # the user may log in again, the old token stays dead
    assert answer(wang) == 401


def test_200_wrong_passwords_get_429_after_five_with_retry_after_and_no_argon2(
    app: FastAPI, engine: Engine, hasher: CountingHasher, policy: Policy
) -> None:
    client = TestClient(app)
    codes = [try_login(client, "wang", WRONG).status_code for _ in range(200)]
    free = policy.security.login_free_failures
    assert codes[:free] == [401] * free
    assert set(codes[free:]) == {429}
    assert len(hasher.verified) == free  # the throttled tries ran no Argon2
    throttled = try_login(client, "wang", PASSWORD)  # even the right password waits
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    with unit_of_work(engine) as s:
        assert logins.failures(s, name="wang") == free  # throttled tries are not stored


def test_the_delay_doubles_after_each_further_failure_and_then_lets_the_user_in(
    app: FastAPI, clock: Clock, policy: Policy
) -> None:
    client = TestClient(app)
    rules = policy.security
    for _ in range(rules.login_free_failures):
        assert try_login(client, "wang", WRONG).status_code == 401
    waited = try_login(client, "wang", WRONG)
    assert waited.status_code == 429
    assert waited.headers["Retry-After"] == str(rules.login_delay_base_seconds)
    clock.now += timedelta(seconds=rules.login_delay_base_seconds)
    assert try_login(client, "wang", WRONG).status_code == 401  # tried, failed once more
    doubled = try_login(client, "wang", WRONG)
    assert doubled.headers["Retry-After"] == str(2 * rules.login_delay_base_seconds)
    clock.now += timedelta(seconds=2 * rules.login_delay_base_seconds)
    assert try_login(client, "wang", PASSWORD).status_code == 303


def test_one_address_guessing_many_names_is_throttled_others_are_not(
    app: FastAPI, policy: Policy
) -> None:
    guesser = TestClient(app, client=("203.0.113.9", 40000))
    for i in range(policy.security.login_free_failures):
        assert try_login(guesser, f"user{i}", WRONG).status_code == 401
    assert try_login(guesser, "someone-else", WRONG).status_code == 429
    colleague = TestClient(app, client=("198.51.100.7", 40000))
    assert try_login(colleague, "zhao", PASSWORD).status_code == 303


def test_processes_share_the_failure_count_through_the_database(
    engine: Engine, policy: Policy, clock: Clock, app: FastAPI
) -> None:
    other_process = create_app(Settings(), policy, engine, clock=clock)
    first, second = TestClient(app), TestClient(other_process)
    for i in range(policy.security.login_free_failures):
        assert try_login(first if i % 2 else second, "wang", WRONG).status_code == 401
    assert try_login(second, "wang", WRONG).status_code == 429
    assert try_login(first, "wang", WRONG).status_code == 429


def test_an_unknown_or_disabled_user_costs_one_argon2_verify_like_a_known_one(
    app: FastAPI, engine: Engine, hasher: CountingHasher
) -> None:
    client = TestClient(app)
    assert try_login(client, "wang", WRONG).status_code == 401
    assert try_login(client, "nobody-here", WRONG).status_code == 401
    with unit_of_work(engine) as s:
        users.disable_user(s, "zhao", T0)
    assert try_login(client, "zhao", PASSWORD).status_code == 401
    dummy = users._dummy_hash()
    assert len(hasher.verified) == 3
    assert hasher.verified[0] != dummy and hasher.verified[1:] == [dummy, dummy]


def test_a_failed_login_logs_auth_failed_with_name_and_address_never_the_password(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(app, client=("192.0.2.44", 50000))
    with caplog.at_level(logging.INFO, logger="notifier.auth"):
        assert try_login(client, "wang", WRONG).status_code == 401
        TestClient(app).get("/api/drafts", headers={"Authorization": "Bearer ntf_guess"})
    lines = [r.getMessage() for r in caplog.records if r.name == "notifier.auth"]
    assert any("auth_failed" in m and "wang" in m and "192.0.2.44" in m for m in lines)
    assert all(WRONG not in m and "ntf_guess" not in m for m in lines)
    assert all(WRONG not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "/\\evil.example/", "/\\/evil.example/", "/\t/evil.example/",
     "/\n/evil.example", "https://evil.example/", "/%0a", "/ok\r\nSet-Cookie: x=1"],
)  # fmt: skip
def test_the_page_after_login_is_never_another_site(app: FastAPI, target: str) -> None:
    client = TestClient(app)
    page = client.get("/login", params={"next": target})
    assert "evil.example" not in page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    form = {"csrf": token.group(1), "name": "wang", "password": PASSWORD, "next": target}
    done = client.post("/login", data=form, follow_redirects=False)
    assert done.status_code == 303
    location = done.headers["location"]
    assert location == "/home" or (location == target and target == "/%0a")  # /home: the default


def test_a_login_flood_runs_one_argon2_at_a_time_and_tells_the_rest_to_come_back(
    app: FastAPI, hasher: CountingHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "ARGON2_WAIT_SECONDS", 0.0)
    client = TestClient(app)
    assert auth._ARGON2.acquire(timeout=5)  # another login is verifying right now
    try:
        busy = try_login(client, "wang", PASSWORD)
    finally:
        auth._ARGON2.release()
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    assert hasher.verified == []  # no Argon2 work, and no failure counted
    assert try_login(client, "wang", PASSWORD).status_code == 303


def test_a_login_lands_on_the_home_page_of_the_day_unless_another_page_sent_it(
    app: FastAPI,
) -> None:
    def log_in(next_url: str | None) -> str:
        client = TestClient(app)
        page = client.get("/login" if next_url is None else f"/login?next={next_url}")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        given = re.search(r'name="next" value="([^"]*)"', page.text)
        assert token is not None and given is not None
        form = {"csrf": token.group(1), "name": "wang", "password": PASSWORD,
                "next": given.group(1)}  # fmt: skip
        done = client.post("/login", data=form, follow_redirects=False)
        assert done.status_code == 303
        return str(done.headers["location"])

    assert log_in(None) == "/home"  # the login page itself: today's work
    assert log_in("/customers/C1") == "/customers/C1"  # back where the user was going
    assert log_in("/") == "/"  # the queue, when that is where the user was going
    assert log_in("//evil.example/") == "/home"
