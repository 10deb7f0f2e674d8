"""Twilio webhooks, the open pixel, tracked clicks and unsubscribe links, over the real
app and a real SQLite database (D16-D18, C3, C6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import col
from twilio.request_validator import RequestValidator

from notifier.domain.policy import Policy
from notifier.settings import Settings, TwilioSettings
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, OptOut, Reminder, TrackingHit
from notifier.tracking import Tracker
from notifier.web import create_app
from notifier.wiring import tracker_for

PUBLIC = "https://notifier.example"
TOKEN = "twilio-auth-token-for-tests"
SENT = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
PHONE = "+8613912345678"


class Clock:
    def __init__(self) -> None:
        self.now = SENT + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def settings() -> Settings:
    return Settings(public_url=PUBLIC, secret_key=SecretStr("s" * 40),
                    twilio=TwilioSettings(auth_token=SecretStr(TOKEN)))  # fmt: skip


@pytest.fixture
def sent(engine: Engine) -> dict[str, int]:
    """One SMS and one e-mail, both sent at SENT."""
    with unit_of_work(engine) as s:
        s.add(Customer(id="C1", name="王芳", kind="individual", phone=PHONE,
                       email="wang@x.example", created_at=SENT, updated_at=SENT))  # fmt: skip
        s.flush()
        ids = {}
        for channel, address, sid in (("sms", PHONE, "SM" + "a" * 32),
                                      ("email", "wang@x.example", "<m1@notifier>")):  # fmt: skip
            r = Reminder(customer_id="C1", step=f"friendly-{channel}", cycle="R1@2026-02-27",
                         channel=channel, address=address, status="sent", stage="m1", tier="B",
                         tone="friendly", locale="zh-CN", window="evening", slot_start=SENT,
                         slot_end=SENT + timedelta(hours=1), body="text", created_at=SENT,
                         updated_at=SENT, provider_id=sid, sent_at=SENT)  # fmt: skip
            s.add(r)
            s.flush()
            assert r.id is not None
            ids[channel] = r.id
    return ids


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(engine: Engine, policy: Policy, settings: Settings, clock: Clock) -> TestClient:
    return TestClient(create_app(settings, policy, engine, clock=clock))


def post_signed(client: TestClient, path: str, params: dict[str, str], token: str = TOKEN):  # type: ignore[no-untyped-def]
    signature = RequestValidator(token).compute_signature(PUBLIC + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def reminder(engine: Engine, reminder_id: int) -> Reminder:
    with unit_of_work(engine) as s:
        r = s.get(Reminder, reminder_id)
        assert r is not None
        return r


def events(engine: Engine, kind: str) -> list[Event]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(Event).where(col(Event.kind) == kind)))


def status_params(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, **extra}


def test_status_callback_with_a_bad_signature_is_403_and_changes_nothing(
    client: TestClient, engine: Engine, sent: dict[str, int]
) -> None:
    params = status_params("SM" + "a" * 32, "delivered")
    forged = post_signed(client, "/webhooks/twilio/status", params, token="not-the-token")
    assert forged.status_code == 403
    missing = client.post("/webhooks/twilio/status", data=params)
    assert missing.status_code == 403
    assert reminder(engine, sent["sms"]).status == "sent"


def test_status_callbacks_are_idempotent_and_never_move_backwards(
    client: TestClient, engine: Engine, sent: dict[str, int]
) -> None:
    sid = "SM" + "a" * 32
    for status in ("delivered", "delivered", "sent"):
        assert (
            post_signed(client, "/webhooks/twilio/status", status_params(sid, status)).status_code
            == 204
        )
    r = reminder(engine, sent["sms"])
    assert r.status == "delivered" and r.delivered_at is not None
    assert len(events(engine, "delivered")) == 1


def test_undelivered_with_21610_records_the_opt_out(
    client: TestClient, engine: Engine, sent: dict[str, int]
) -> None:
    params = status_params("SM" + "a" * 32, "undelivered", ErrorCode="21610")
    assert post_signed(client, "/webhooks/twilio/status", params).status_code == 204
    assert reminder(engine, sent["sms"]).status == "failed"
    with unit_of_work(engine) as s:
        customer = s.get(Customer, "C1")
        assert customer is not None and customer.sms_opt_out
        assert s.scalar(select(OptOut).where(col(OptOut.address) == PHONE)) is not None


@pytest.mark.parametrize("word", ["STOP", "退订", "TD"])
def test_inbound_stop_words_opt_out_at_once(
    client: TestClient, engine: Engine, sent: dict[str, int], word: str
) -> None:
    inbound = {"From": PHONE, "Body": word, "MessageSid": "SM" + "1" * 32}
    answer = post_signed(client, "/webhooks/twilio/inbound", inbound)
    assert answer.status_code == 200 and answer.text.startswith("<?xml")
    if word != "STOP":  # Twilio confirms its own keywords; ours get one confirmation
        assert "<Message>" in answer.text
    with unit_of_work(engine) as s:
        customer = s.get(Customer, "C1")
        assert customer is not None and customer.sms_opt_out
    start = {"From": PHONE, "Body": "START", "MessageSid": "SM" + "2" * 32}
    post_signed(client, "/webhooks/twilio/inbound", start)
    with unit_of_work(engine) as s:
        customer = s.get(Customer, "C1")
        assert customer is not None and not customer.sms_opt_out


def test_inbound_reply_is_recorded_on_the_latest_message(
    client: TestClient, engine: Engine, sent: dict[str, int]
) -> None:
    reply = {"From": PHONE, "Body": "下周三付款", "MessageSid": "SM" + "3" * 32}
    post_signed(client, "/webhooks/twilio/inbound", reply)
    [event] = events(engine, "replied")
    assert event.data["text"] == "下周三付款" and event.customer_id == "C1"
    replied = [reminder(engine, i).replied_at for i in sent.values()]
    assert sum(1 for r in replied if r is not None) == 1


def test_pixel_counts_a_human_open_but_not_a_prefetch(
    client: TestClient, engine: Engine, settings: Settings, clock: Clock, sent: dict[str, int]
) -> None:
    tracker = tracker_for(settings)
    path = tracker.open_url(sent["email"]).removeprefix(PUBLIC)
    clock.now = SENT + timedelta(seconds=2)
    prefetch = client.get(path, headers={"User-Agent": "Mozilla/5.0"})
    assert prefetch.status_code == 200 and prefetch.headers["content-type"] == "image/gif"
    assert reminder(engine, sent["email"]).read_at is None
    clock.now = SENT + timedelta(hours=3)
    client.get(path, headers={"User-Agent": "Mozilla/5.0 (GoogleImageProxy)"})
    assert reminder(engine, sent["email"]).read_at is None
    client.get(path, headers={"User-Agent": "Mozilla/5.0 Thunderbird"})
    assert reminder(engine, sent["email"]).read_at == clock.now
    # The first hit and the first human open are evidence; the repeat between is counted.
    assert [e.data["machine"] for e in events(engine, "opened")] == [True, False]
    with unit_of_work(engine) as s:
        assert s.scalars(select(col(TrackingHit.hits))).all() == [3]


def test_click_redirects_to_the_payment_link_and_counts_as_read(
    client: TestClient, engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    target = "https://pay.example.cn/c/C1"
    path = tracker_for(settings).click_url(sent["email"], target).removeprefix(PUBLIC)
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"] == target
    r = reminder(engine, sent["email"])
    assert r.clicked_at is not None and r.read_at is not None


def test_forged_tracking_tokens_are_404_and_record_nothing(
    client: TestClient, engine: Engine, sent: dict[str, int]
) -> None:
    forger = Tracker("f" * 40, PUBLIC)
    for url in (
        forger.open_url(sent["email"]),
        forger.click_url(sent["email"], "https://evil.example"),
    ):
        assert client.get(url.removeprefix(PUBLIC), follow_redirects=False).status_code == 404
    assert (
        client.post(forger.unsubscribe_url(sent["email"]).removeprefix(PUBLIC)).status_code == 404
    )
    assert events(engine, "opened") == [] and events(engine, "clicked") == []


def test_one_click_unsubscribe_opts_the_address_out(
    client: TestClient, engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    path = tracker_for(settings).unsubscribe_url(sent["email"]).removeprefix(PUBLIC)
    assert client.get(path).status_code == 200  # the confirmation page
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    with unit_of_work(engine) as s:
        customer = s.get(Customer, "C1")
        assert customer is not None and customer.email_opt_out


def test_a_callback_that_overtakes_the_sweep_finds_its_reminder_by_the_signed_url(
    client: TestClient, engine: Engine, sent: dict[str, int]
) -> None:
    with unit_of_work(engine) as s:  # the sweep has called Twilio but not yet stored the SID
        r = s.get(Reminder, sent["sms"])
        assert r is not None
        r.status, r.provider_id = "sending", None
    sid = "SM" + "b" * 32
    path = f"/webhooks/twilio/status?reminder={sent['sms']}"
    assert post_signed(client, path, status_params(sid, "delivered")).status_code == 204
    after = reminder(engine, sent["sms"])
    assert (after.status, after.provider_id) == ("delivered", sid)
    other = f"/webhooks/twilio/status?reminder={sent['email']}"  # names another message
    post_signed(client, other, status_params("SM" + "c" * 32, "failed"))
    assert reminder(engine, sent["email"]).status == "sent"
