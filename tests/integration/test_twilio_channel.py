"""The Twilio SMS channel against real local servers: Prism serving Twilio's own OpenAPI
spec (is every request one Twilio would take?) and the Twilio fake (what exactly was
sent, how refusals map onto the error tree, signed status callbacks)."""

from __future__ import annotations

import base64
import logging
import socket
import threading
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from notifier.channels import (
    DeliveryError,
    Outgoing,
    PermanentDeliveryError,
    TokenBucket,
    TransientDeliveryError,
    TwilioSms,
)
from notifier.settings import ConfigError, TwilioSettings
from tests.fakes.prism import Prism, shared_prism, stop_shared_prism
from tests.fakes.smtp_servers import unused_port
from tests.fakes.twilio_fake import TwilioFake

FROM = "+15005550006"
SERVICE = "MG" + "0123456789abcdef" * 2
CALLBACK = "https://notifier.example/webhooks/twilio/status"
CN_MOBILE = "+8613912345678"
BODY = "【示例公司】您好，发票 INV-001 应付 ¥86,000.00 已于 3月2日 到期。退订回TD"


def sms(to: str = CN_MOBILE, body: str = BODY) -> Outgoing:
    return Outgoing(reminder_id=1, channel="sms", to=to, body=body)


def settings_for(api_base: str, **overrides: Any) -> TwilioSettings:
    values: dict[str, Any] = {
        "account_sid": "AC" + "0" * 31 + "1",
        "auth_token": SecretStr("fake-auth-token-0123456789abcdef"),
        "from_number": FROM,
        "api_base": api_base,
        "rate_per_second": 0,
    }
    return TwilioSettings(**{**values, **overrides})


@pytest.fixture(scope="session")
def prism() -> Iterator[Prism]:
    yield shared_prism()
    stop_shared_prism()


@pytest.fixture(autouse=True)
def no_proxy_for_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK's HTTP client (requests) honours HTTP(S)_PROXY; these servers are local.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def fake() -> Iterator[TwilioFake]:
    with TwilioFake() as server:
        server.callbacks_enabled = False  # the callback tests turn them on, to their receiver
        yield server


def channel_for(fake: TwilioFake, callback: str = CALLBACK, **overrides: Any) -> TwilioSms:
    return TwilioSms(settings_for(fake.base_url, **overrides), status_callback=callback)


# -- Prism: Twilio's own schema judges every request --------------------------------------
def send_via_prism(prism: Prism, **overrides: Any) -> Any:
    channel = TwilioSms(settings_for(prism.base_url, **overrides), status_callback=CALLBACK)
    try:
        return channel.send(sms())
    except DeliveryError as exc:  # a 422 here means Twilio's schema refused our request
        pytest.fail(f"Prism refused the request: {exc}\n{prism.log()[-3000:]}")


def test_prism_accepts_a_send_from_a_number(prism: Prism) -> None:
    receipt = send_via_prism(prism)
    assert receipt.provider_id.startswith("SM") and len(receipt.provider_id) == 34
    assert receipt.status == "queued"


def test_prism_accepts_a_send_through_a_messaging_service(prism: Prism) -> None:
    receipt = send_via_prism(prism, from_number="", messaging_service_sid=SERVICE)
    assert receipt.provider_id.startswith("SM") and len(receipt.provider_id) == 34


def test_prism_does_validate_requests_against_twilio_schema(prism: Prism) -> None:
    # Without this, the two tests above would pass against a mock that accepts anything.
    account = "AC" + "0" * 31 + "1"
    request = urllib.request.Request(
        f"{prism.base_url}/2010-04-01/Accounts/{account}/Messages.json",
        data=b"Body=no+recipient",
        headers={"Authorization": "Basic " + base64.b64encode(f"{account}:t".encode()).decode()},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10)
    assert refused.value.code == 422


# -- what the channel sends ---------------------------------------------------------------
def test_sms_carries_to_from_body_and_status_callback(fake: TwilioFake) -> None:
    receipt = channel_for(fake).send(sms())

    [sent] = fake.messages
    assert (sent.to, sent.from_, sent.body) == (CN_MOBILE, FROM, BODY)
    assert sent.status_callback == CALLBACK + "?reminder=1"  # names the reminder (Outgoing)
    assert sent.messaging_service_sid is None
    assert receipt.provider_id == sent.sid
    assert receipt.status == "queued"


def test_messaging_service_sid_replaces_the_from_number(fake: TwilioFake) -> None:
    receipt = channel_for(fake, messaging_service_sid=SERVICE).send(sms())

    [sent] = fake.messages
    assert sent.messaging_service_sid == SERVICE
    assert sent.from_ is None
    assert receipt.status == "accepted"


def test_missing_sender_is_refused_at_construction_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="NOTIFIER_TWILIO__FROM_NUMBER"):
        TwilioSms(settings_for("http://127.0.0.1:1", from_number=""), status_callback=CALLBACK)


# -- refusals and failures ----------------------------------------------------------------
def test_opted_out_recipient_is_permanent_opted_out(fake: TwilioFake) -> None:
    with pytest.raises(PermanentDeliveryError) as refused:
        channel_for(fake).send(sms(to="+15005550004"))
    assert (refused.value.reason, refused.value.code) == ("opted_out", "21610")


@pytest.mark.parametrize(("number", "code"), [("+15005550001", "21211"), ("+15005550009", "21614")])
def test_invalid_number_is_permanent_invalid_address(
    fake: TwilioFake, number: str, code: str
) -> None:
    with pytest.raises(PermanentDeliveryError) as refused:
        channel_for(fake).send(sms(to=number))
    assert (refused.value.reason, refused.value.code) == ("invalid_address", code)


def test_other_client_errors_are_permanent_rejected(fake: TwilioFake) -> None:
    with pytest.raises(PermanentDeliveryError) as refused:
        channel_for(fake).send(sms(to="+15005550003"))  # 21408: region not enabled
    assert (refused.value.reason, refused.value.code) == ("rejected", "21408")


def test_too_many_requests_is_transient_with_retry_after(fake: TwilioFake) -> None:
    channel = channel_for(fake)
    fake.fail_next(1, status=429, retry_after="7")
    with pytest.raises(TransientDeliveryError) as busy:
        channel.send(sms())
    assert busy.value.retry_after == 7.0
    assert busy.value.may_have_sent is False
    assert fake.messages == []

    channel.send(sms())  # the next try goes through
    assert len(fake.messages) == 1


def test_server_error_is_transient(fake: TwilioFake) -> None:
    fake.fail_next(1, status=500)
    with pytest.raises(TransientDeliveryError) as failing:
        channel_for(fake).send(sms())
    assert failing.value.code == "20500"
    assert failing.value.retry_after is None


def test_wrong_credentials_are_transient_and_name_the_settings(fake: TwilioFake) -> None:
    channel = channel_for(fake, auth_token=SecretStr("not-the-token"))
    with pytest.raises(TransientDeliveryError, match="NOTIFIER_TWILIO__AUTH_TOKEN"):
        channel.send(sms())
    assert fake.attempts == 1 and fake.messages == []


def test_twilio_down_is_transient_and_surely_not_sent() -> None:
    with unused_port() as port:
        channel = TwilioSms(settings_for(f"http://127.0.0.1:{port}"), status_callback=CALLBACK)
        with pytest.raises(TransientDeliveryError) as down:
            channel.send(sms())
    assert down.value.may_have_sent is False


def test_no_answer_in_time_is_transient_and_may_have_sent() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        channel = TwilioSms(
            settings_for(f"http://127.0.0.1:{port}"), status_callback=CALLBACK, timeout=0.5
        )
        with pytest.raises(TransientDeliveryError) as lost:
            channel.send(sms())
    assert lost.value.may_have_sent is True


def test_errors_and_logs_never_carry_the_full_number(
    fake: TwilioFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = channel_for(fake)
    channel.send(sms())
    with pytest.raises(PermanentDeliveryError) as refused:
        channel.send(sms(to="+15005550001"))  # Twilio's message repeats the number

    assert "+15005550001" not in str(refused.value)
    assert "+150****0001" in str(refused.value)
    # The SDK's exception (its text has the full number) is not chained into tracebacks.
    assert "TwilioRestException" not in "".join(traceback.format_exception(refused.value))
    assert CN_MOBILE not in caplog.text and "+15005550001" not in caplog.text
    assert BODY not in caplog.text
    assert "+86139****5678" in caplog.text  # the log does say which address, masked


# -- status callbacks -----------------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    url: str
    form: dict[str, str]
    signature: str


class CallbackReceiver:
    """A tiny webhook endpoint: records what arrives and answers 204."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
                url = f"{receiver.url_root}{self.path}"
                form = dict(parse_qsl(raw, keep_blank_values=True))
                receiver.received.append(
                    Received(url, form, self.headers.get("X-Twilio-Signature", ""))
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url_root = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> CallbackReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def test_status_callbacks_arrive_signed_as_twilio_signs(fake: TwilioFake) -> None:
    fake.callbacks_enabled = True
    with CallbackReceiver() as receiver:
        url = receiver.url_root + "/webhooks/twilio/status"
        receipt = channel_for(fake, callback=url).send(sms())
        assert fake.wait_for(lambda: len(receiver.received) >= 2, timeout=10)

    assert [r.form["MessageStatus"] for r in receiver.received] == ["sent", "delivered"]
    signed_url = url + "?reminder=1"  # the query names the reminder and is signed too
    for callback in receiver.received:
        assert callback.url == signed_url
        assert callback.form["MessageSid"] == receipt.provider_id
        assert callback.form["To"] == CN_MOBILE
        validator = RequestValidator(fake.auth_token)
        assert validator.validate(signed_url, callback.form, callback.signature)
        assert not validator.validate(url + "?reminder=2", callback.form, callback.signature)
        assert not RequestValidator("another-token").validate(
            signed_url, callback.form, callback.signature
        )


def test_undelivered_message_reports_its_error_code(fake: TwilioFake) -> None:
    fake.callbacks_enabled = True
    fake.set_outcome(CN_MOBILE, "undelivered", error_code=30003)
    with CallbackReceiver() as receiver:
        channel_for(fake, callback=receiver.url_root + "/cb").send(sms())
        assert fake.wait_for(lambda: len(receiver.received) >= 2, timeout=10)
    final = receiver.received[-1].form
    assert (final["MessageStatus"], final["ErrorCode"]) == ("undelivered", "30003")


def test_no_callbacks_when_disabled(fake: TwilioFake) -> None:
    fake.callbacks_enabled = False
    with CallbackReceiver() as receiver:
        channel_for(fake, callback=receiver.url_root + "/cb").send(sms())
        assert len(fake.messages) == 1
        assert not fake.wait_for(lambda: bool(receiver.received), timeout=0.3)


# -- the rate limit ------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limit_spaces_sends_from_one_sender(fake: TwilioFake) -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, clock=clock, sleep=clock.sleep)
    channel = TwilioSms(settings_for(fake.base_url), status_callback=CALLBACK, limiter=bucket)
    for _ in range(3):
        channel.send(sms())
    assert clock.slept == [0.5, 0.5]
    assert len(fake.messages) == 3
    assert channel.limits.rate_per_second == 2.0

    clock.now += 60  # an idle minute: the next send goes at once, no burst beyond one
    channel.send(sms())
    channel.send(sms())
    assert clock.slept == [0.5, 0.5, 0.5]


def test_rate_limit_comes_from_settings() -> None:
    channel = TwilioSms(
        settings_for("http://127.0.0.1:1", rate_per_second=1.0), status_callback=CALLBACK
    )
    assert channel.limits.rate_per_second == 1.0
    assert channel.limits.max_length == 1600


def test_token_bucket_queues_concurrent_senders_one_interval_apart() -> None:
    clock = FakeClock()
    waits: list[float] = []
    lock = threading.Lock()
    bucket = TokenBucket(10.0, clock=clock, sleep=lambda s: None)  # time stands still

    def take() -> None:
        waited = bucket.acquire()
        with lock:
            waits.append(waited)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(waits) == pytest.approx([n / 10 for n in range(8)])
