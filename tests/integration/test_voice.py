"""Click-to-call through Twilio Voice (issue 14), against real local servers: the Twilio
fake plays the call (rings the collector, fetches our TwiML, dials the customer, sends the
signed status and recording callbacks to the real app on a loopback port), and Prism
serving Twilio's own OpenAPI spec checks that our ``calls.create`` request is one Twilio
would take. The database is real (SQLite; the end-to-end test on PostgreSQL as well)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import col
from twilio.request_validator import RequestValidator

from notifier.channels import PermanentDeliveryError, TransientDeliveryError
from notifier.channels.twilio_voice import TwilioVoice
from notifier.domain.errors import NotFound, Refused
from notifier.domain.policy import Policy
from notifier.evidence.seal import verify
from notifier.services import voice
from notifier.services.users import add_user, create_token
from notifier.settings import Settings, TwilioSettings
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.store.models import Customer, Event, Reminder, User
from notifier.web import create_app
from tests.fakes.live_app import LiveApp
from tests.fakes.prism import Prism, shared_prism, stop_shared_prism
from tests.fakes.smtp_servers import free_port
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.support import run, web_login

CALLER_ID = "+15005550006"
CN_CUSTOMER, US_CUSTOMER = "+8613912345678", "+12125550123"
LI_PHONE, BOSS_PHONE = "+8613800000001", "+8613800000002"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
AFTERNOON = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 14:00 Shanghai, 01:00 New York
NY_MORNING = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 New York, 23:00 Shanghai
PASSWORD = "correct horse battery"
VOICE_KINDS = ("call_dialled", "call_status", "call_recording")


class Clock:
    def __init__(self, now: datetime = AFTERNOON) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def no_proxy_for_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def tasks(engine: Engine) -> dict[str, int]:
    return make_tasks(engine)


def make_tasks(engine: Engine) -> dict[str, int]:
    """Two customers of collector li, each with a call task on li's list; users li
    (collector, own phone), wang (collector, not theirs), nophone (li's colleague without
    a phone), boss (manager) and rev (reviewer)."""
    ids: dict[str, int] = {}
    with unit_of_work(engine) as s:
        add_user(s, "li", "collector", PASSWORD, T0)
        for name, role in (("wang", "collector"), ("boss", "manager"), ("rev", "reviewer")):
            s.add(User(name=name, role=role, created_at=T0))
        s.flush()
        s.get(User, "li").phone = LI_PHONE  # type: ignore[union-attr]
        s.get(User, "wang").phone = "+8613800000003"  # type: ignore[union-attr]
        s.get(User, "boss").phone = BOSS_PHONE  # type: ignore[union-attr]
        for cid, phone, zone, country, locale in (
            ("C1", CN_CUSTOMER, "Asia/Shanghai", "CN", "zh-CN"),
            ("C2", US_CUSTOMER, "America/New_York", "US", "en"),
        ):
            s.add(Customer(id=cid, name=f"customer {cid}", kind="business", phone=phone,
                           timezone=zone, country=country, locale=locale, collector="li",
                           created_at=T0, updated_at=T0))  # fmt: skip
            s.flush()
            r = Reminder(customer_id=cid, step="m1_call", cycle=f"{cid}-1@2026-02-01",
                         channel="call", address=phone, status="to_call", stage="m1",
                         tier="B", tone="neutral", locale=locale, window="afternoon",
                         slot_start=AFTERNOON, slot_end=AFTERNOON + timedelta(hours=2),
                         body="您好，关于发票 C1-1 ……", created_at=T0, updated_at=T0)  # fmt: skip
            s.add(r)
            s.flush()
            assert r.id is not None
            ids[cid] = r.id
    return ids


def settings_for(public_url: str, api_base: str, *, enabled: bool = True) -> Settings:
    twilio = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN),
                            voice_enabled=enabled, voice_from=CALLER_ID,
                            api_base=api_base)  # fmt: skip
    return Settings(public_url=public_url, secret_key=SecretStr("k" * 40), twilio=twilio)


def token_for(engine: Engine, name: str) -> dict[str, str]:
    with unit_of_work(engine) as s:
        return {"Authorization": f"Bearer {create_token(s, name, T0)}"}


def voice_events(engine: Engine) -> list[Event]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(Event).where(col(Event.kind).in_(VOICE_KINDS))
                              .order_by(col(Event.id))))  # fmt: skip


def status_of(engine: Engine, task_id: int) -> str:
    with unit_of_work(engine) as s:
        r = s.get(Reminder, task_id)
        assert r is not None
        return r.status


# -- end to end: task -> dial -> the call played by the fake -> evidence -------------------
@contextmanager
def playing(engine: Engine, policy: Policy) -> Iterator[tuple[TwilioFake, str, Clock]]:
    """The Twilio fake and the real app on a loopback port, public at that port."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    clock = Clock()
    with TwilioFake() as fake:
        app = create_app(settings_for(public, fake.base_url), policy, engine, clock=clock)
        with LiveApp(app, port=port):
            yield fake, public, clock


@pytest.fixture
def live(engine: Engine, policy: Policy) -> Iterator[tuple[TwilioFake, str, Clock]]:
    with playing(engine, policy) as found:
        yield found


@pytest.fixture(params=["sqlite", "postgresql"])
def either_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The end-to-end test on both stores (DESIGN.md)."""
    url = (str(request.getfixturevalue("pg_url")) if request.param == "postgresql"
           else f"sqlite:///{tmp_path / 'e2e.db'}")  # fmt: skip
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_end_to_end_click_to_call_rings_the_collector_then_the_customer_and_keeps_the_evidence(
    either_engine: Engine, policy: Policy
) -> None:
    engine = either_engine
    task = make_tasks(engine)["C1"]
    with playing(engine, policy) as (fake, public, _clock):
        end_to_end(engine, task, fake, public)


def end_to_end(engine: Engine, task: int, fake: TwilioFake, public: str) -> None:
    answer = urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
        urllib.request.Request(
            f"{public}/api/calls/{task}/dial",
            data=b"",
            method="POST",
            headers=token_for(engine, "li"),
        ),  # fmt: skip
        timeout=10,
    )
    placed = json.loads(answer.read())
    assert placed["record"] is True and placed["call_sid"].startswith("CA")
    # The last thing the fake sends is the call's final status.
    assert fake.wait_for(lambda: any(c.params.get("CallStatus") == "completed"
                                     for c in fake.callbacks), timeout=15)  # fmt: skip
    [call] = fake.calls
    assert (call.to, call.from_) == (LI_PHONE, CALLER_ID)  # the collector's phone first
    assert call.url and call.url.startswith(f"{public}/webhooks/twilio/voice/connect/")
    assert call.status_callback == f"{public}/webhooks/twilio/voice?task={task}"
    bridge, notice = fake.twiml
    assert bridge.answered == 200
    assert re.search(rf'<Dial [^>]*callerId="\{CALLER_ID}"', bridge.body)
    assert 'record="record-from-answer-dual"' in bridge.body
    assert f">{CN_CUSTOMER}</Number>" in bridge.body  # the task's customer, from our data
    assert "正在为您接通客户" in bridge.body  # said to the collector in their language
    assert notice.answered == 200 and "本次通话将被录音" in notice.body
    assert 'language="zh-CN"' in notice.body  # the customer's language
    assert all(c.answered == 200 for c in fake.callbacks), fake.callbacks

    events = voice_events(engine)
    kinds = [e.kind for e in events]
    assert kinds.count("call_dialled") == 1 and kinds.count("call_recording") == 1
    statuses = [(e.data["leg"], e.data["status"]) for e in events if e.kind == "call_status"]
    # Twilio reports the call once it ended (no StatusCallbackEvent is asked for), and the
    # Dial's action how the customer's leg ended.
    assert statuses == [("customer", "completed"), ("collector", "completed")]
    assert {e.customer_id for e in events} == {"C1"}
    assert all(e.data["reminder_id"] == task for e in events)
    [dialled] = [e for e in events if e.kind == "call_dialled"]
    assert dialled.actor == "li" and dialled.data["call_sid"] == call.sid
    # No outcome is set by the call: the collector still records it.
    assert status_of(engine, task) == "to_call"
    with unit_of_work(engine) as s:
        [summary] = voice.calls_placed(s, task)
    assert summary.call_sid == call.sid and summary.status == "completed"
    assert summary.duration == 42 and summary.recording_duration == 42
    assert summary.recording_url and "/Recordings/RE" in summary.recording_url
    # The events are sealed into the customer's hash chain like every other.
    verdict = verify(engine, AFTERNOON + timedelta(hours=1), "C1")
    assert verdict.ok and verdict.events >= len(events)


def test_a_us_customer_is_called_without_recording_or_announcement(
    engine: Engine, tasks: dict[str, int], live: tuple[TwilioFake, str, Clock]
) -> None:
    fake, public, clock = live
    clock.now = NY_MORNING
    client_headers = token_for(engine, "li")
    request = urllib.request.Request(f"{public}/api/calls/{tasks['C2']}/dial", data=b"",
                                     method="POST", headers=client_headers)  # fmt: skip
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    assert json.loads(opener.open(request, timeout=10).read())["record"] is False
    assert fake.wait_for(lambda: any(c.params.get("CallStatus") == "completed"
                                     for c in fake.callbacks), timeout=15)  # fmt: skip
    [bridge] = fake.twiml  # no announcement fetched
    assert "record=" not in bridge.body and "<Number>" + US_CUSTOMER in bridge.body
    assert "Connecting you" not in bridge.body  # li reads Chinese
    assert not [e for e in voice_events(engine) if e.kind == "call_recording"]


def test_a_customer_who_does_not_answer_is_kept_as_no_answer(
    engine: Engine, tasks: dict[str, int], live: tuple[TwilioFake, str, Clock], policy: Policy
) -> None:
    fake, public, _clock = live
    fake.set_call_outcome(CN_CUSTOMER, "no-answer")
    settings = settings_for(public, fake.base_url)
    with unit_of_work(engine) as s:
        li = s.get(User, "li")
        assert li is not None
        voice.start_call(s, tasks["C1"], li, AFTERNOON, settings=settings, policy=policy)
    assert fake.wait_for(lambda: any(c.params.get("CallStatus") == "completed"
                                     for c in fake.callbacks), timeout=15)  # fmt: skip
    with unit_of_work(engine) as s:
        [summary] = voice.calls_placed(s, tasks["C1"])
    assert summary.status == "no-answer" and summary.duration == 0
    assert summary.recording_url is None
    assert status_of(engine, tasks["C1"]) == "to_call"


# -- refusals ------------------------------------------------------------------------------
@pytest.fixture
def fake() -> Iterator[TwilioFake]:
    with TwilioFake() as server:
        server.callbacks_enabled = False
        yield server


PUBLIC = "http://notifier.example"  # http: the test client keeps the login cookie


def api_client(engine: Engine, policy: Policy, fake: TwilioFake, *, enabled: bool = True,
               now: datetime = AFTERNOON) -> TestClient:  # fmt: skip
    settings = settings_for(PUBLIC, fake.base_url, enabled=enabled)
    return TestClient(create_app(settings, policy, engine, clock=Clock(now)))


def test_voice_disabled_refuses_click_to_call_with_a_clear_message(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    client = api_client(engine, policy, fake, enabled=False)
    answer = client.post(f"/api/calls/{tasks['C1']}/dial", headers=token_for(engine, "li"))
    assert answer.status_code == 422
    assert "click-to-call is off" in answer.json()["detail"]
    assert "NOTIFIER_TWILIO__VOICE_ENABLED" in answer.json()["detail"]
    assert fake.calls == [] and voice_events(engine) == []


@pytest.mark.parametrize(
    ("who", "code", "said"),
    [("wang", 403, "is li's, not wang's"), ("rev", 403, "is a reviewer"), ("boss", 200, "")],
)
def test_only_the_tasks_collector_or_a_manager_may_call(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake, who: str,
    code: int, said: str,
) -> None:  # fmt: skip
    client = api_client(engine, policy, fake)
    answer = client.post(f"/api/calls/{tasks['C1']}/dial", headers=token_for(engine, who))
    assert answer.status_code == code, answer.text
    if code == 403:
        assert said in answer.json()["detail"]
        assert fake.calls == [] and voice_events(engine) == []
    else:
        assert [c.to for c in fake.calls] == [BOSS_PHONE]  # the manager's own phone rings
        assert [e.actor for e in voice_events(engine)] == ["boss"]


def test_a_customer_called_as_often_as_the_caps_allow_is_not_dialled_again(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    cap = policy.caps.calls_for("CN").per_day
    assert cap is not None
    client = api_client(engine, policy, fake)
    headers = token_for(engine, "li")
    for _ in range(cap):
        assert client.post(f"/api/calls/{tasks['C1']}/dial", headers=headers).status_code == 200
    refused = client.post(f"/api/calls/{tasks['C1']}/dial", headers=headers)
    assert refused.status_code == 422, refused.text
    assert f"{cap} a day in CN, C2" in refused.json()["detail"]
    assert len(fake.calls) == cap


def test_outside_the_customers_allowed_hours_the_call_is_refused(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    client = api_client(engine, policy, fake)  # 01:00 in New York
    answer = client.post(f"/api/calls/{tasks['C2']}/dial", headers=token_for(engine, "li"))
    assert answer.status_code == 422
    assert "outside the hours" in answer.json()["detail"]
    assert fake.calls == []


def test_a_collector_without_an_own_phone_is_told_how_to_set_one(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    with unit_of_work(engine) as s:
        s.get(User, "li").phone = None  # type: ignore[union-attr]
    client = api_client(engine, policy, fake)
    answer = client.post(f"/api/calls/{tasks['C1']}/dial", headers=token_for(engine, "li"))
    assert answer.status_code == 422
    assert "notifier user phone li" in answer.json()["detail"]
    assert fake.calls == []


def test_a_task_that_is_no_call_or_is_closed_cannot_be_dialled(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    client = api_client(engine, policy, fake)
    headers = token_for(engine, "li")
    assert client.post("/api/calls/999999/dial", headers=headers).status_code == 404
    with unit_of_work(engine) as s:
        s.get(Reminder, tasks["C1"]).status = "cancelled"  # type: ignore[union-attr]
    assert client.post(f"/api/calls/{tasks['C1']}/dial", headers=headers).status_code == 409
    assert fake.calls == []


def test_twilio_refusing_the_call_is_a_clear_refusal_and_records_nothing(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    fake.fail_next(1, status=500)
    client = api_client(engine, policy, fake)
    answer = client.post(f"/api/calls/{tasks['C1']}/dial", headers=token_for(engine, "li"))
    assert answer.status_code == 422 and "the call was not placed" in answer.json()["detail"]
    assert voice_events(engine) == []


# -- the webhooks ----------------------------------------------------------------------------
def signed_post(client: TestClient, path: str, params: dict[str, str], token: str = AUTH_TOKEN):  # type: ignore[no-untyped-def]
    signature = RequestValidator(token).compute_signature(PUBLIC + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def test_a_users_phone_is_kept_in_e164_and_a_bad_one_refused(
    engine: Engine, tasks: dict[str, int]
) -> None:
    with unit_of_work(engine) as s:
        assert voice.set_user_phone(s, "rev", " 139 0000 0008 ", T0).phone == "+8613900000008"
        with pytest.raises(Refused, match="phone of rev: '12345' is not a valid phone number"):
            voice.set_user_phone(s, "rev", "12345", T0)
        with pytest.raises(NotFound):
            voice.set_user_phone(s, "nobody", "+8613900000008", T0)


def test_a_forged_voice_callback_is_403_and_records_nothing(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    client = api_client(engine, policy, fake)
    path = f"/webhooks/twilio/voice?task={tasks['C1']}"
    params = {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + "a" * 32, "CallStatus": "completed",
              "CallDuration": "30"}  # fmt: skip
    assert signed_post(client, path, params, token="not-the-token").status_code == 403
    assert client.post(path, data=params).status_code == 403  # no signature at all
    # A signature over another task's URL does not carry over to this one.
    other = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC + f"/webhooks/twilio/voice?task={tasks['C2']}", params
    )
    assert client.post(path, data=params, headers={"X-Twilio-Signature": other}).status_code == 403
    assert voice_events(engine) == []
    # The genuine one is kept once, however often Twilio repeats it.
    for _ in range(2):
        assert signed_post(client, path, params).status_code == 200
    [kept] = voice_events(engine)
    assert kept.data["status"] == "completed" and kept.data["duration"] == 30


def test_a_voice_callback_over_the_body_limit_is_413_and_records_nothing(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    client = api_client(engine, policy, fake)
    params = {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + "a" * 32, "CallStatus": "completed",
              "Padding": "x" * (policy.limits.webhook_body_bytes + 1)}  # fmt: skip
    answer = signed_post(client, f"/webhooks/twilio/voice?task={tasks['C1']}", params)
    assert answer.status_code == 413
    assert voice_events(engine) == []


def test_the_bridge_dials_only_through_a_signed_unexpired_link(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    settings = settings_for(PUBLIC, fake.base_url)
    client = api_client(engine, policy, fake)
    link = voice.Connect(tasks["C1"], "li", True, AFTERNOON + timedelta(minutes=10))
    token = voice.connect_token(settings, link)
    form = {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + "b" * 32, "CallStatus": "in-progress"}
    ok = signed_post(client, f"/webhooks/twilio/voice/connect/{token}", form)
    assert ok.status_code == 200 and f">{CN_CUSTOMER}</Number>" in ok.text
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert signed_post(client, f"/webhooks/twilio/voice/connect/{altered}", form).status_code == 404
    old = voice.connect_token(settings, voice.Connect(tasks["C1"], "li", True, AFTERNOON))
    late = api_client(engine, policy, fake, now=AFTERNOON + timedelta(seconds=1))
    assert signed_post(late, f"/webhooks/twilio/voice/connect/{old}", form).status_code == 404
    # Not signed by Twilio: refused before the link is even read.
    assert client.post(f"/webhooks/twilio/voice/connect/{token}", data=form).status_code == 403
    # The customer's number stopped working meanwhile: the collector hears why, no Dial.
    with unit_of_work(engine) as s:
        s.get(Customer, "C1").phone_invalid = True  # type: ignore[union-attr]
    stopped = signed_post(client, f"/webhooks/twilio/voice/connect/{token}", form)
    assert stopped.status_code == 200 and "<Dial" not in stopped.text
    assert "<Hangup" in stopped.text


# -- Twilio's schema (Prism) ------------------------------------------------------------------
@pytest.fixture(scope="module")
def prism() -> Iterator[Prism]:
    yield shared_prism()
    stop_shared_prism()


def test_calls_create_is_a_request_twilios_schema_accepts(prism: Prism) -> None:
    settings = settings_for(PUBLIC, prism.base_url).twilio
    placed = TwilioVoice(settings).place(
        LI_PHONE,
        f"{PUBLIC}/webhooks/twilio/voice/connect/t0k3n",
        f"{PUBLIC}/webhooks/twilio/voice?task=1",
        30,
    )
    assert placed.sid.startswith("CA") and placed.status
    # The control: Prism does refuse what Twilio's schema forbids (no To), with 422 ...
    bad = urllib.request.Request(
        f"{prism.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
        data=urlencode({"From": CALLER_ID, "Url": PUBLIC}).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": "Basic QUM6dG9rZW4="},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(bad, timeout=10)
    assert refused.value.code == 422


def test_twilio_refusing_a_number_is_a_permanent_error_and_its_outage_a_transient_one(
    fake: TwilioFake,
) -> None:
    channel = TwilioVoice(settings_for(PUBLIC, fake.base_url).twilio)
    with pytest.raises(PermanentDeliveryError, match="code 21217"):
        channel.place("+15005550001", f"{PUBLIC}/c", f"{PUBLIC}/s", 30)  # not a valid number
    fake.fail_next(1, status=503)
    with pytest.raises(TransientDeliveryError, match="HTTP 503"):
        channel.place(LI_PHONE, f"{PUBLIC}/c", f"{PUBLIC}/s", 30)
    assert fake.calls == []


# -- the command line ----------------------------------------------------------------------
def test_user_phone_and_dial_from_the_command_line(
    engine: Engine, tasks: dict[str, int], fake: TwilioFake
) -> None:
    db = str(engine.url)
    done = run("user", "phone", "wang", "13900000009", db=db)
    assert done.returncode == 0 and "+8613900000009" in done.stdout
    at = AFTERNOON.isoformat()
    env = {"NOTIFIER_TWILIO__VOICE_ENABLED": "true", "NOTIFIER_TWILIO__VOICE_FROM": CALLER_ID,
           "NOTIFIER_TWILIO__ACCOUNT_SID": ACCOUNT_SID, "NOTIFIER_TWILIO__AUTH_TOKEN": AUTH_TOKEN,
           "NOTIFIER_TWILIO__API_BASE": fake.base_url, "NOTIFIER_PUBLIC_URL": PUBLIC,
           "NO_PROXY": "127.0.0.1"}  # fmt: skip
    placed = run("dial", str(tasks["C1"]), "--as", "li", "--at", at, "--json", db=db, env=env)
    assert placed.returncode == 0, placed.stderr
    assert json.loads(placed.stdout)["call_sid"] == fake.calls[0].sid
    assert [c.to for c in fake.calls] == [LI_PHONE]
    assert [(e.kind, e.actor) for e in voice_events(engine)] == [("call_dialled", "li")]
    with unit_of_work(engine) as s:
        assert s.get(User, "wang").phone == "+8613900000009"  # type: ignore[union-attr]


# -- the call page -----------------------------------------------------------------------------
def test_the_call_page_dials_and_shows_duration_and_recording_link(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    client = api_client(engine, policy, fake)
    csrf = web_login(client, "li", PASSWORD, next_url="/calls")
    task = tasks["C1"]
    listed = client.get("/calls").text  # the call list: a button and a link per task
    assert f'action="/calls/{task}/dial"' in listed and f'href="/calls/{task}/voice"' in listed
    shown = client.get(f"/calls/{task}/voice")
    assert shown.status_code == 200 and "立即拨打" in shown.text
    dialled = client.post(f"/calls/{task}/dial", data={"csrf": csrf}, follow_redirects=False)
    assert dialled.status_code == 303
    assert dialled.headers["location"] == f"/calls/{task}/voice?dialled=1"
    assert client.post(f"/calls/{task}/dial", data={}).status_code == 403  # no CSRF token
    [call] = fake.calls
    path = f"/webhooks/twilio/voice?task={task}"
    dial_end = {"AccountSid": ACCOUNT_SID, "CallSid": call.sid, "DialCallSid": "CA" + "c" * 32,
                "DialCallStatus": "completed", "DialCallDuration": "65"}  # fmt: skip
    recording = {"AccountSid": ACCOUNT_SID, "CallSid": call.sid, "RecordingSid": "RE" + "d" * 32,
                 "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
                 "RecordingStatus": "completed", "RecordingDuration": "64"}  # fmt: skip
    assert signed_post(client, path, dial_end).status_code == 200
    assert signed_post(client, path, recording).status_code == 200
    page = client.get(dialled.headers["location"]).text
    assert "正在呼叫您的电话" in page
    assert re.search(rf'data-call-sid="{call.sid}"', page)
    assert (
        "65 秒" in page
        and 'href="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"' in page
    )
    assert "收听（64 秒）" in page
    assert status_of(engine, task) == "to_call"  # the outcome is still the collector's to record


def test_with_voice_off_the_call_page_hides_the_button_and_says_why(
    engine: Engine, policy: Policy, tasks: dict[str, int], fake: TwilioFake
) -> None:
    client = api_client(engine, policy, fake, enabled=False)
    csrf = web_login(client, "li", PASSWORD, next_url="/calls")
    shown = client.get(f"/calls/{tasks['C1']}/voice").text
    assert "本系统未开通点击拨号" in shown and "立即拨打" not in shown
    assert f'action="/calls/{tasks["C1"]}/dial"' not in client.get("/calls").text
    refused = client.post(f"/calls/{tasks['C1']}/dial", data={"csrf": csrf})
    assert refused.status_code == 422 and "click-to-call is off" in refused.json()["detail"]
    assert fake.calls == []
