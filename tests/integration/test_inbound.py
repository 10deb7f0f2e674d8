"""C3, D18: inbound SMS through the real signed Twilio webhook, on SQLite and PostgreSQL:
opt-out words as people write them, each MessageSid acted on once, START only when new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlmodel import col
from twilio.request_validator import RequestValidator

from notifier.domain.policy import Policy
from notifier.settings import Settings, TwilioSettings
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, InboundMessage, OptOut, Reminder
from notifier.web import create_app

PUBLIC = "https://notifier.example"
TOKEN = "twilio-auth-token-for-inbound-tests"
SENT = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
PHONE = "+8613912345678"
INBOUND = "/webhooks/twilio/inbound"
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_sids = count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


@pytest.fixture
def client(engine: Engine, policy: Policy) -> TestClient:
    settings = Settings(public_url=PUBLIC, secret_key=SecretStr("s" * 40),
                        twilio=TwilioSettings(auth_token=SecretStr(TOKEN)))  # fmt: skip
    with unit_of_work(engine) as s:
        s.add(Customer(id="C1", name="王芳", kind="individual", phone=PHONE,
                       created_at=SENT, updated_at=SENT))  # fmt: skip
        s.flush()
        s.add(Reminder(customer_id="C1", step="friendly-sms", cycle="R1@2026-02-27",
                       channel="sms", address=PHONE, status="sent", stage="m1", tier="B",
                       tone="friendly", locale="zh-CN", window="evening", slot_start=SENT,
                       slot_end=SENT + timedelta(hours=1), body="text", created_at=SENT,
                       updated_at=SENT, provider_id="SM" + "a" * 32, sent_at=SENT))  # fmt: skip
    clock = lambda: SENT + timedelta(hours=1)  # noqa: E731
    return TestClient(create_app(settings, policy, engine, clock=clock))


def sms(client: TestClient, body: str, sid: str | None = None) -> httpx.Response:
    """A signed inbound webhook as Twilio sends it; the same ``sid`` and body make the
    very same signed request again (a redelivery or a replay)."""
    params = {"From": PHONE, "To": "+15005550006", "Body": body,
              "AccountSid": "AC" + "0" * 32, "MessageSid": sid or new_sid()}  # fmt: skip
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + INBOUND, params)
    return client.post(INBOUND, data=params, headers={"X-Twilio-Signature": signature})


def opted_out(engine: Engine) -> bool:
    with unit_of_work(engine) as s:
        customer = s.get(Customer, "C1")
        row = s.scalar(select(OptOut).where(col(OptOut.address) == PHONE))
        assert customer is not None
        assert customer.sms_opt_out is bool(row and row.active)  # flag and list agree
        return customer.sms_opt_out


def events(engine: Engine, kind: str) -> list[Event]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(Event).where(col(Event.kind) == kind)))


@pytest.mark.parametrize("body", ["请退订", "退订，谢谢", "ＴＤ", "TD退订", "STOP please"])
def test_opt_out_written_with_polite_words_opts_out_and_confirms_once(
    client: TestClient, engine: Engine, body: str
) -> None:
    answer = sms(client, body)
    assert answer.status_code == 200
    # Not Twilio's exact keyword: Twilio neither blocked nor answered, so we confirm (C3).
    assert "<Message>您已退订短信提醒" in answer.text
    assert opted_out(engine)
    assert len(events(engine, "opted_out")) == 1 and events(engine, "replied") == []


def test_twilio_exact_stop_is_honoured_without_a_second_confirmation(
    client: TestClient, engine: Engine
) -> None:
    answer = sms(client, "STOP")
    assert answer.status_code == 200 and answer.text == EMPTY  # Twilio has answered
    assert opted_out(engine)


def test_a_second_opt_out_from_an_opted_out_number_is_not_confirmed_again(
    client: TestClient, engine: Engine
) -> None:
    assert "<Message>" in sms(client, "退订").text
    assert sms(client, "退订").text == EMPTY  # a new message, but C3: one confirmation
    assert sms(client, "请退订！").text == EMPTY
    assert opted_out(engine)
    assert len(events(engine, "opted_out")) == 3  # each request is still evidence


def test_opt_out_inside_a_promise_opts_out_and_keeps_the_promise_as_a_reply(
    client: TestClient, engine: Engine
) -> None:
    sms(client, "我下周三付款，请退订")
    assert opted_out(engine)
    [reply] = events(engine, "replied")
    assert reply.data["text"] == "我下周三付款，请退订"


def test_replayed_start_does_not_resubscribe(client: TestClient, engine: Engine) -> None:
    start = new_sid()
    assert sms(client, "START", start).status_code == 200
    sms(client, "退订")  # later, a genuine opt-out
    assert opted_out(engine)
    replay = sms(client, "START", start)  # the captured signed START, sent again
    assert replay.status_code == 200 and replay.text == EMPTY
    assert opted_out(engine)
    assert len(events(engine, "opted_in")) == 1


def test_five_replays_of_one_reply_make_one_replied_event(
    client: TestClient, engine: Engine
) -> None:
    sid = new_sid()
    answers = [sms(client, "下周三付款", sid) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert all(a.text == EMPTY for a in answers)
    [reply] = events(engine, "replied")
    assert reply.data["text"] == "下周三付款" and reply.customer_id == "C1"
    with unit_of_work(engine) as s:
        stored = s.scalar(select(func.count()).select_from(InboundMessage))
        assert stored == 1


def test_a_replayed_opt_out_changes_nothing_and_sends_nothing(
    client: TestClient, engine: Engine
) -> None:
    sid = new_sid()
    assert "<Message>" in sms(client, "退订", sid).text
    assert sms(client, "退订", sid).text == EMPTY
    assert len(events(engine, "opted_out")) == 1


def test_a_genuine_new_start_with_polite_words_resubscribes(
    client: TestClient, engine: Engine
) -> None:
    sms(client, "请退订")
    assert opted_out(engine)
    assert sms(client, "START please").text == EMPTY
    assert not opted_out(engine)
    sms(client, "请退订")
    assert sms(client, "重新订阅").status_code == 200
    assert not opted_out(engine)
    assert len(events(engine, "opted_in")) == 2 and events(engine, "replied") == []


def test_start_inside_a_sentence_does_not_resubscribe(client: TestClient, engine: Engine) -> None:
    sms(client, "退订")
    sms(client, "I will start paying next week")
    assert opted_out(engine)
    assert len(events(engine, "replied")) == 1


@pytest.mark.parametrize("sid", [None, "", "SM/../x", "SM" + "f" * 80])
def test_inbound_without_a_proper_message_sid_is_400_and_changes_nothing(
    client: TestClient, engine: Engine, sid: str | None
) -> None:
    params = {"From": PHONE, "Body": "退订"} | ({} if sid is None else {"MessageSid": sid})
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + INBOUND, params)
    answer = client.post(INBOUND, data=params, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 400 and "MessageSid" in answer.text
    assert not opted_out(engine) and events(engine, "opted_out") == []
