"""Request bodies are capped before anything reads them, on the real server (uvicorn on
loopback): a declared size over the limit is answered 413 while the body is still on its
way, a chunked body is answered 413 once it passes the limit, and the route never runs."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator

from notifier.domain.policy import Policy
from notifier.settings import Settings, TwilioSettings
from notifier.store.db import unit_of_work
from notifier.store.models import Event
from notifier.web import create_app
from tests.fakes.live_app import LiveApp
from tests.fakes.smtp_servers import free_port

TOKEN = "twilio-auth-token-for-tests"
DECLARED = 50 * 1024 * 1024  # what the client claims it will send
SENT = 4 * 1024  # what it really sends before waiting for an answer
ANSWER_WITHIN = 10.0  # a bound so that a server waiting for the rest fails, not hangs


@pytest.fixture
def live(engine: Engine, policy: Policy) -> Iterator[LiveApp]:
    port = free_port()
    settings = Settings(public_url=f"http://127.0.0.1:{port}", secret_key=SecretStr("s" * 40),
                        twilio=TwilioSettings(auth_token=SecretStr(TOKEN)))  # fmt: skip
    with LiveApp(create_app(settings, policy, engine), port) as app:
        yield app


def _exchange(app: LiveApp, head: str, parts: Iterator[bytes]) -> str:
    """Send ``head`` and then ``parts`` over one raw connection, stopping as soon as the
    server answers or closes; the status line of the answer."""
    address = urlsplit(app.url)
    with socket.create_connection((address.hostname, address.port), timeout=ANSWER_WITHIN) as c:
        c.sendall(head.encode())
        for part in parts:
            try:
                c.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed: read what it said
        answer = b""
        while b"\r\n" not in answer:
            chunk = c.recv(4096)  # a socket.timeout here: the server waited for the body
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


def _signed_head(app: LiveApp, path: str, fields: dict[str, str], length: str) -> str:
    signature = RequestValidator(TOKEN).compute_signature(app.url + path, fields)
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {signature}\r\n{length}\r\n")  # fmt: skip


def _events(engine: Engine) -> int:
    with unit_of_work(engine) as s:
        return int(s.scalar(select(func.count()).select_from(Event)) or 0)


def test_a_webhook_declaring_50_mb_gets_413_before_the_body_is_sent(
    live: LiveApp, engine: Engine
) -> None:
    fields = {"From": "+8613912345678", "Body": "x" * 100}
    head = _signed_head(live, "/webhooks/twilio/inbound", fields, f"Content-Length: {DECLARED}\r\n")
    body = urlencode(fields).encode().ljust(SENT, b"x")
    assert _exchange(live, head, iter([body])) == "HTTP/1.1 413 Request Entity Too Large"
    assert _events(engine) == 0


def test_a_chunked_webhook_over_the_limit_gets_413_and_records_nothing(
    live: LiveApp, engine: Engine, policy: Policy
) -> None:
    fields = {"From": "+8613912345678", "Body": "y" * 100}
    head = _signed_head(live, "/webhooks/twilio/inbound", fields, "Transfer-Encoding: chunked\r\n")
    piece = 8 * 1024
    count = policy.limits.webhook_body_bytes // piece + 4  # a little past the limit

    def chunks() -> Iterator[bytes]:
        first = urlencode(fields).encode() + b"&pad="
        yield f"{len(first):x}\r\n".encode() + first + b"\r\n"
        for _ in range(count):
            yield f"{piece:x}\r\n".encode() + b"z" * piece + b"\r\n"
        yield b"0\r\n\r\n"

    assert _exchange(live, head, chunks()) == "HTTP/1.1 413 Request Entity Too Large"
    assert _events(engine) == 0


def test_a_chunked_form_over_the_form_limit_gets_413_not_400(live: LiveApp, policy: Policy) -> None:
    """FastAPI's own form parsing sees the refusal too: 413, and the login never runs."""
    head = ("POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
    piece = 32 * 1024
    count = policy.limits.form_body_bytes // piece + 2

    def chunks() -> Iterator[bytes]:
        for _ in range(count):
            yield f"{piece:x}\r\n".encode() + b"a" * piece + b"\r\n"
        yield b"0\r\n\r\n"

    assert _exchange(live, head, chunks()) == "HTTP/1.1 413 Request Entity Too Large"


def test_a_page_form_declaring_more_than_the_form_limit_gets_413(
    live: LiveApp, policy: Policy
) -> None:
    declared = policy.limits.form_body_bytes + 1
    head = ("POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {declared}\r\n\r\n")  # fmt: skip
    assert _exchange(live, head, iter([b"name=a&password=b"])) == (
        "HTTP/1.1 413 Request Entity Too Large"
    )


def test_a_webhook_without_a_signature_is_refused_unread(live: LiveApp) -> None:
    head = ("POST /webhooks/twilio/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: 60000\r\n\r\n")  # fmt: skip
    assert _exchange(live, head, iter([b"MessageSid=SM1"])) == "HTTP/1.1 403 Forbidden"
