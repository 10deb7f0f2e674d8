"""Ending access and naming deciders from the command line, as an operator does it: the
real `notifier` process on a real SQLite database, a web session and a token made through
the real app and login form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.services.users import add_user, create_token
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import Event, Reminder, User
from notifier.web import create_app
from tests.support import PORTFOLIO_PLANNED, run, two_customer_portfolio, web_login

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PASSWORD = "correct horse battery"
AT = PORTFOLIO_PLANNED.isoformat()


@pytest.fixture
def people(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        add_user(s, "wang", "reviewer", PASSWORD, T0, locale="en")
        s.add(User(name="li", role="collector", created_at=T0))
        s.add(User(name="gone", role="reviewer", active=False, created_at=T0))


def web_client(engine: Engine, policy: Policy) -> TestClient:
    client = TestClient(create_app(Settings(), policy, engine))
    web_login(client, "wang", PASSWORD)
    return client


def api_ok(client: TestClient, token: str) -> bool:
    answer = client.get("/api/drafts", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code == 200


def pages_ok(client: TestClient) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200


def events(engine: Engine, kind: str) -> list[Event]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(Event).where(col(Event.kind) == kind)))


def test_user_disable_ends_sessions_and_tokens_at_once_and_enable_lets_in_again(
    engine: Engine, db_url: str, policy: Policy, people: None
) -> None:
    browser = web_client(engine, policy)
    with unit_of_work(engine) as s:
        token = create_token(s, "wang", T0)
    assert pages_ok(browser) and api_ok(browser, token)
    done = run("user", "disable", "wang", db=db_url)
    assert done.returncode == 0, done.stderr
    assert "1 session(s) ended, 1 token(s) revoked" in done.stdout
    assert not pages_ok(browser) and not api_ok(browser, token)
    [event] = events(engine, "user_disabled")
    assert event.actor == "wang" and event.data == {"sessions_ended": 1, "tokens_revoked": 1}
    assert run("user", "enable", "wang", db=db_url).returncode == 0
    assert pages_ok(web_client(engine, policy))
    assert not api_ok(browser, token)  # revoked tokens stay revoked
    assert run("user", "disable", "nobody", db=db_url).returncode == 1


def test_user_password_and_role_commands_end_the_users_sessions(
    engine: Engine, db_url: str, policy: Policy, people: None
) -> None:
    browser = web_client(engine, policy)
    new_password = "another long password"
    changed = run("user", "password", "wang", "--password", new_password, db=db_url)
    assert changed.returncode == 0, changed.stderr
    assert not pages_ok(browser)
    browser = TestClient(create_app(Settings(), policy, engine))
    web_login(browser, "wang", new_password)
    assert run("user", "role", "wang", "manager", db=db_url).returncode == 0
    assert not pages_ok(browser)
    assert run("user", "role", "wang", "boss", db=db_url).returncode == 2
    assert run("user", "password", "wang", "--password", "short", db=db_url).returncode == 1
    with unit_of_work(engine) as s:
        user = s.get(User, "wang")
        assert user is not None and user.role == "manager"
    [role] = events(engine, "role_changed")
    assert role.data["from"] == "reviewer" and role.data["to"] == "manager"
    for event in events(engine, "password_changed"):
        assert new_password not in json.dumps(event.data)


def test_token_list_and_revoke_by_id_or_user_never_print_a_token(
    engine: Engine, db_url: str, policy: Policy, people: None
) -> None:
    with unit_of_work(engine) as s:
        tokens = [create_token(s, "wang", T0) for _ in range(3)]
    client = TestClient(create_app(Settings(), policy, engine))
    listed = run("token", "list", "--user", "wang", "--format", "json", db=db_url)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["user"] for r in rows] == ["wang"] * 3
    assert all(r["revoked_at"] is None and r["created_at"] for r in rows)
    plain = run("token", "list", db=db_url)
    assert plain.returncode == 0 and "last_used_at" in plain.stdout
    for token in tokens:
        assert token not in listed.stdout + plain.stdout
    assert run("token", "revoke", str(rows[0]["id"]), db=db_url).returncode == 0
    assert not api_ok(client, tokens[0]) and api_ok(client, tokens[1])
    by_user = run("token", "revoke", "--user", "wang", db=db_url)
    assert by_user.returncode == 0 and "2 token(s) of wang revoked" in by_user.stdout
    assert not any(api_ok(client, t) for t in tokens)
    after = json.loads(run("token", "list", "--format", "json", db=db_url).stdout)
    assert all(r["revoked_at"] for r in after)
    assert run("token", "revoke", "999", db=db_url).returncode == 1
    assert run("token", "revoke", db=db_url).returncode == 2


@pytest.mark.parametrize(
    ("who", "says"),
    [("wang", "no user 'wang'"), ("li", "is a collector"), ("gone", "is disabled")],
)
def test_approve_as_someone_who_may_not_decide_exits_1_and_writes_nothing(
    engine: Engine, db_url: str, policy: Policy, who: str, says: str
) -> None:
    two_customer_portfolio(engine, policy)
    with unit_of_work(engine) as s:
        s.add(User(name="li", role="collector", created_at=T0))
        s.add(User(name="gone", role="reviewer", active=False, created_at=T0))
    for args in (["approve", "--all"], ["reject", "1", "--reason", "paid"]):
        result = run(*args, "--as", who, "--at", AT, db=db_url)
        assert result.returncode == 1, result.stdout
        assert says in result.stderr and "Traceback" not in result.stderr
    with unit_of_work(engine) as s:
        statuses = set(s.scalars(select(Reminder.status)))
        decided = s.scalar(select(func.count()).select_from(Event).where(
            col(Event.kind).in_(("approved", "rejected"))))  # fmt: skip
    assert statuses == {"pending_approval"} and decided == 0


def test_approve_without_as_uses_the_login_name_only_when_it_is_a_decider(
    engine: Engine, db_url: str, policy: Policy
) -> None:
    two_customer_portfolio(engine, policy)
    as_os_user = {"LOGNAME": "wang", "USER": "wang"}
    refused = run("approve", "--all", "--at", AT, db=db_url, env=as_os_user)
    assert refused.returncode == 1 and "--as" in refused.stderr
    with unit_of_work(engine) as s:
        s.add(User(name="wang", role="reviewer", created_at=T0))
    done = run("approve", "--all", "--at", AT, db=db_url, env=as_os_user)
    assert done.returncode == 0, done.stderr
    assert "2 approved by wang" in done.stdout
    assert {e.actor for e in events(engine, "approved")} == {"wang"}
