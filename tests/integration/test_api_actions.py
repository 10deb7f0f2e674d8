"""The JSON API of the collector's actions and of payments (issue 14, items 4 and 6) over a
real app and a real SQLite database, with bearer tokens of each role."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.services.users import add_user, create_token
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import (
    Customer,
    Dispute,
    IdempotencyKey,
    Payment,
    PaymentPromise,
    Reminder,
)
from notifier.web import create_app
from tests.integration.collect_support import planned_portfolio
from tests.support import run

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAYMENT = {
    "payment_id": "ERP-1",
    "invoice_id": "C1-1",
    "amount": "2000.00",
    "paid_on": "2026-03-02",
}


@pytest.fixture
def drafted(engine: Engine, policy: Policy) -> dict[str, int]:
    return planned_portfolio(engine, policy)


@pytest.fixture
def client(engine: Engine, policy: Policy, drafted: dict[str, int]) -> TestClient:
    return TestClient(create_app(Settings(), policy, engine, clock=lambda: NOW))


def token(engine: Engine, name: str, role: str) -> dict[str, str]:
    with unit_of_work(engine) as s:
        add_user(s, name, role, "correct horse battery", T0)
    with unit_of_work(engine) as s:
        return {"Authorization": f"Bearer {create_token(s, name, T0)}"}


@pytest.fixture
def collector(engine: Engine) -> dict[str, str]:
    return token(engine, "li", "collector")


@pytest.fixture
def manager(engine: Engine) -> dict[str, str]:
    return token(engine, "zhao", "manager")


def status_of(engine: Engine, reminder_id: int) -> str:
    with unit_of_work(engine) as s:
        r = s.get(Reminder, reminder_id)
        assert r is not None
        return r.status


def test_a_collector_records_a_promise_and_the_drafts_pause(
    client: TestClient, engine: Engine, collector: dict[str, str], drafted: dict[str, int]
) -> None:
    body = {"promised_on": "2026-03-20", "amount": "5,000", "note": "财务说20号前付"}
    answer = client.post("/api/customers/C1/promises", json=body, headers=collector)
    assert answer.status_code == 201, answer.text
    assert answer.json() | {"id": 0} == {
        "id": 0,
        "customer_id": "C1",
        "promised_on": "2026-03-20",
        "amount": "5000.00",
        "status": "open",
        "note": "财务说20号前付",
        "recorded_by": "li",
    }
    assert status_of(engine, drafted["C1"]) == "cancelled"
    bad = client.post("/api/customers/C1/promises", json={"promised_on": "20号"}, headers=collector)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "promised_on"]
    past = client.post(
        "/api/customers/C1/promises", json={"promised_on": "2026-03-01"}, headers=collector
    )
    assert past.status_code == 422 and "in the past" in past.json()["detail"]
    unknown = client.post("/api/customers/NOPE/promises", json=body, headers=collector)
    assert unknown.status_code == 404
    assert client.post("/api/customers/C1/promises", json=body).status_code == 401
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(PaymentPromise)) == 1


def test_a_dispute_is_opened_and_resolved_through_the_api(
    client: TestClient, engine: Engine, collector: dict[str, str]
) -> None:
    opened = client.post(
        "/api/customers/C1/disputes",
        headers=collector,
        json={"invoice_id": "C1-1", "amount": "1000", "reason": "货物破损"},
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert (dispute["invoice_id"], dispute["amount"], dispute["resolved_at"]) == (
        "C1-1",
        "1000.00",
        None,
    )
    twice = client.post(
        "/api/customers/C1/disputes",
        headers=collector,
        json={"invoice_id": "C1-1", "reason": "again"},
    )
    assert twice.status_code == 422 and "already has an open dispute" in twice.json()["detail"]
    other = client.post(
        "/api/customers/C2/disputes", headers=collector, json={"invoice_id": "C1-1", "reason": "x"}
    )
    assert other.status_code == 422 and "not an invoice of customer 'C2'" in other.json()["detail"]
    done = client.post(
        f"/api/customers/C1/disputes/{dispute['id']}/resolve",
        headers=collector,
        json={"note": "已换货"},
    )
    assert done.status_code == 200 and done.json()["resolved_at"] is not None
    with unit_of_work(engine) as s:
        stored = s.get(Dispute, dispute["id"])
        assert stored is not None and stored.resolved_at is not None


def test_instalment_plans_are_created_listed_and_cancelled(
    client: TestClient, engine: Engine, collector: dict[str, str], drafted: dict[str, int]
) -> None:
    made = client.post(
        "/api/customers/C1/instalments",
        headers=collector,
        json={"count": 3, "first_percent": 30, "day": 10},
    )
    assert made.status_code == 201, made.text
    plan = made.json()
    assert [(i["amount"], i["due_on"]) for i in plan["instalments"]] == [
        ("4200.00", "2026-03-10"),
        ("4900.00", "2026-04-10"),
        ("4900.00", "2026-05-10"),
    ]
    assert plan["total"] == "14000.00" and plan["status"] == "active"
    assert status_of(engine, drafted["C1"]) == "cancelled"
    listed = client.get("/api/customers/C1/instalments", headers=collector).json()
    assert [p["id"] for p in listed] == [plan["id"]]
    again = client.post("/api/customers/C1/instalments", headers=collector, json={"count": 2})
    assert again.status_code == 422 and "owes nothing outside a plan" in again.json()["detail"]
    bad = client.post("/api/customers/C1/instalments", headers=collector, json={"count": 0})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "count"]
    cancelled = client.post(f"/api/customers/C1/instalments/{plan['id']}/cancel", headers=collector)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    twice = client.post(f"/api/customers/C1/instalments/{plan['id']}/cancel", headers=collector)
    assert twice.status_code == 422
    assert (
        client.post("/api/customers/C1/instalments/999/cancel", headers=collector).status_code
        == 404
    )


def test_only_a_manager_sets_the_legal_flag_or_escalates(
    client: TestClient, engine: Engine, collector: dict[str, str], manager: dict[str, str]
) -> None:
    refused = client.post("/api/customers/C1/legal", json={"authorised": True}, headers=collector)
    assert refused.status_code == 403
    done = client.post("/api/customers/C1/legal", json={"authorised": True}, headers=manager)
    assert done.json() == {"customer_id": "C1", "legal_authorised": True}
    with unit_of_work(engine) as s:
        c1 = s.get(Customer, "C1")
        assert c1 is not None and c1.legal_authorised
    assert (
        client.post(
            "/api/customers/C1/escalate", json={"reason": "两次失约"}, headers=collector
        ).status_code
        == 403
    )
    up = client.post("/api/customers/C1/escalate", json={"reason": "两次失约"}, headers=manager)
    assert up.status_code == 200 and up.json()["escalated"] is True
    back = client.post("/api/customers/C1/deescalate", headers=manager)
    assert back.json() == {"customer_id": "C1", "collector": "li", "escalated": False}


def test_a_payment_is_recorded_once_per_idempotency_key(
    client: TestClient, engine: Engine, collector: dict[str, str], drafted: dict[str, int]
) -> None:
    headers = {**collector, "Idempotency-Key": "erp-2026-03-02-0001"}
    first = client.post("/api/payments", json=PAYMENT, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "recorded" and first.json()["outstanding"] == {
        "CNY": "12000.00"
    }
    assert drafted["C1"] in first.json()["cancelled"]
    assert status_of(engine, drafted["C1"]) == "cancelled"
    # A retry (the ERP did not see the answer): the same answer, nothing written again.
    reordered = dict(reversed(list(PAYMENT.items())))
    repeat = client.post("/api/payments", json=reordered, headers=headers)
    assert (repeat.status_code, repeat.json()) == (201, first.json())
    assert repeat.headers["Idempotent-Replayed"] == "true"
    changed = client.post("/api/payments", json={**PAYMENT, "amount": "2500"}, headers=headers)
    assert changed.status_code == 409 and "another request" in changed.json()["detail"]
    with unit_of_work(engine) as s:
        assert list(
            s.scalars(select(col(Payment.amount_cents)).where(col(Payment.id) == "ERP-1"))
        ) == [200_000]
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
    # The same payment under a new key: recorded already, nothing changes (200).
    other_key = client.post(
        "/api/payments", json=PAYMENT, headers={**collector, "Idempotency-Key": "k2"}
    )
    assert other_key.status_code == 200 and other_key.json()["status"] == "unchanged"


def test_a_bad_payment_is_refused_naming_the_field_and_nothing_is_kept(
    client: TestClient, engine: Engine, collector: dict[str, str]
) -> None:
    key = {**collector, "Idempotency-Key": "k-bad"}
    missing = client.post("/api/payments", json=PAYMENT, headers=collector)
    assert (
        missing.status_code == 422
        and "Idempotency-Key header is required" in missing.json()["detail"]
    )
    bad = client.post(
        "/api/payments", json={**PAYMENT, "amount": "-5", "paid_on": "2099-01-01"}, headers=key
    )
    assert bad.status_code == 422
    assert [d["loc"] for d in bad.json()["detail"]] == [["body", "amount"], ["body", "paid_on"]]
    unknown = client.post("/api/payments", json={**PAYMENT, "invoice_id": "NOPE"}, headers=key)
    assert unknown.status_code == 404 and "no invoice with id 'NOPE'" in unknown.json()["detail"]
    assert client.post("/api/payments", json=PAYMENT).status_code == 401
    with unit_of_work(engine) as s:  # refusals keep no key: the same key may be used again
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
    ok = client.post("/api/payments", json=PAYMENT, headers=key)
    assert ok.status_code == 201


def test_the_api_reads_a_customers_standing_as_explain_does_and_after_a_promise(
    client: TestClient, engine: Engine, collector: dict[str, str]
) -> None:
    """GET /api/customers/{id} is the object `notifier explain --json` prints, from the
    same computation; a promise recorded through the API shows in it at once."""
    at = NOW.isoformat()
    read = client.get("/api/customers/C1", params={"at": at}, headers=collector)
    assert read.status_code == 200, read.text
    cli = run("explain", "C1", "--at", at, "--json",
              db=engine.url.render_as_string(hide_password=False))  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert read.json() == json.loads(cli.stdout)
    assert read.json()["paused_by"] is None and read.json()["promises"] == []
    body = {"promised_on": "2026-03-20", "amount": "5,000"}
    assert (
        client.post("/api/customers/C1/promises", json=body, headers=collector).status_code == 201
    )
    after = client.get("/api/customers/C1", params={"at": at}, headers=collector).json()
    assert [p["promised_on"] for p in after["promises"]] == ["2026-03-20"]
    assert after["paused_by"] is not None


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [("/api/customers/NOPE", {}, 404), ("/api/customers/C1", {"at": "2026-03-02T10:00"}, 422),
     ("/api/customers/C1", {"at": "soon"}, 422),
     ("/api/customers/C1", {"at": "9999-01-01T00:00:00Z"}, 422)],
)  # fmt: skip
def test_the_customer_read_refuses_bad_input_with_4xx(
    client: TestClient, collector: dict[str, str], path: str, params: dict[str, str], code: int
) -> None:
    assert client.get(path, params=params, headers=collector).status_code == code
    assert client.get(path, params=params).status_code == 401  # no token, no standing
