"""The SMTP e-mail channel against real aiosmtpd servers on 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from notifier.channels import (
    Outgoing,
    PermanentDeliveryError,
    SmtpEmail,
    TransientDeliveryError,
)
from notifier.settings import ConfigError, SmtpSettings
from tests.fakes.smtp_servers import (
    SENDER,
    RecordingHandler,
    SmtpServer,
    deferring_smtp_server,
    password_authenticator,
    recording_smtp_server,
    rejecting_smtp_server,
    self_signed_tls,
    unused_port,
)

TO = "zhang.san@customer.example"
SUBJECT = "账单提醒：发票 INV-001 已到期"
BODY = "张三您好：\n发票 INV-001 应付 ¥86,000.00，已于 2026年3月2日 到期。\n付款：https://pay.example/i/1\n"
HTML = '<p>张三您好：</p><p>应付 <b>¥86,000.00</b></p><img src="https://n.example/t/o/abc">'
UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://n.example/u/abc>, <mailto:unsubscribe@n.example?subject=abc>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def email(to: str = TO, **fields: Any) -> Outgoing:
    values: dict[str, Any] = {"subject": SUBJECT, "html": HTML, "headers": UNSUBSCRIBE}
    return Outgoing(reminder_id=7, channel="email", to=to, body=BODY, **{**values, **fields})


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with recording_smtp_server() as running:
        yield running


@pytest.fixture
def channel(server: SmtpServer) -> Iterator[SmtpEmail]:
    sender = SmtpEmail(server.settings(), timeout=5)
    yield sender
    sender.close()


# -- what arrives ----------------------------------------------------------------------------
def test_chinese_text_and_html_arrive_intact_as_multipart_alternative(
    server: SmtpServer, channel: SmtpEmail
) -> None:
    channel.send(email())

    [mail] = server.mails
    message = mail.message
    assert (mail.mail_from, mail.rcpt_tos) == (SENDER, [TO])
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == SUBJECT
    assert (message["From"], message["To"]) == (SENDER, TO)
    assert message["Date"] is not None
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain" and text.get_content_charset() == "utf-8"
    assert text.get_content().replace("\r\n", "\n") == BODY  # SMTP lines end CRLF
    assert html.get_content_type() == "text/html"
    assert html.get_content().rstrip("\r\n") == HTML
    assert mail.data.isascii()  # 7-bit transport: no server needs 8BITMIME


def test_text_only_mail_is_a_single_part(server: SmtpServer, channel: SmtpEmail) -> None:
    channel.send(email(html=None))
    [mail] = server.mails
    assert mail.message.get_content_type() == "text/plain"
    assert mail.message.get_content().replace("\r\n", "\n") == BODY


def test_receipt_carries_the_message_id_header(server: SmtpServer, channel: SmtpEmail) -> None:
    receipt = channel.send(email())
    [mail] = server.mails
    assert receipt.provider_id == mail.message["Message-ID"]
    assert receipt.provider_id.endswith("@notifier.example>")
    assert receipt.status == "accepted"


def test_list_unsubscribe_headers_pass_through(server: SmtpServer, channel: SmtpEmail) -> None:
    channel.send(email())
    [mail] = server.mails
    for name, value in UNSUBSCRIBE.items():
        assert mail.message[name].strip() == value  # the parser keeps folding's space


def test_never_a_copy_to_anyone_else(server: SmtpServer, channel: SmtpEmail) -> None:
    with pytest.raises(PermanentDeliveryError) as refused:
        channel.send(email(headers={"Cc": "guarantor@family.example"}))
    assert refused.value.reason == "rejected"
    channel.send(email())
    [mail] = server.mails
    assert mail.rcpt_tos == [TO]
    assert mail.message["Cc"] is None and mail.message["Bcc"] is None


# -- one connection per batch --------------------------------------------------------------
def test_one_connection_serves_a_batch(server: SmtpServer, channel: SmtpEmail) -> None:
    for n in range(3):
        channel.send(email(to=f"customer{n}@customer.example"))
    assert len(server.mails) == 3
    assert len(server.sessions) == 1
    assert len({mail.peer for mail in server.mails}) == 1


def test_close_ends_the_connection_and_the_next_send_reopens(
    server: SmtpServer, channel: SmtpEmail
) -> None:
    channel.send(email())
    channel.close()
    channel.close()  # twice is harmless
    channel.send(email())
    assert len(server.mails) == 2
    assert len(server.sessions) == 2


def test_connection_dropped_between_messages_is_reopened_once(
    server: SmtpServer, channel: SmtpEmail
) -> None:
    channel.send(email())
    server.stop()  # the server restarts between two messages of a batch
    server.start()
    channel.send(email())
    assert len(server.mails) == 2
    assert len(server.sessions) == 2


def test_idle_connection_ended_with_421_is_reopened_once(
    server: SmtpServer, channel: SmtpEmail
) -> None:
    channel.send(email())
    server.handler.mail_replies.append("421 4.4.2 Error: timeout exceeded")
    channel.send(email())
    assert len(server.mails) == 2
    assert len(server.sessions) == 2


def test_refused_recipient_leaves_the_connection_usable() -> None:
    handler = RecordingHandler(rcpt_replies={"gone@customer.example": "550 5.1.1 No such user"})
    with SmtpServer(handler) as server:
        channel = SmtpEmail(server.settings(), timeout=5)
        with pytest.raises(PermanentDeliveryError):
            channel.send(email(to="gone@customer.example"))
        channel.send(email())
        channel.close()
        assert [mail.rcpt_tos for mail in server.mails] == [[TO]]
        assert len(server.sessions) == 1


# -- refusals and failures -----------------------------------------------------------------
@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_temporary_failure_is_transient(stage: Any) -> None:
    with deferring_smtp_server(at=stage) as server:
        channel = SmtpEmail(server.settings(), timeout=5)
        with pytest.raises(TransientDeliveryError) as deferred:
            channel.send(email())
        channel.close()
    assert deferred.value.code == "451"
    assert deferred.value.may_have_sent is False
    assert server.mails == []


def test_unknown_mailbox_is_permanent_invalid_address() -> None:
    with rejecting_smtp_server(at="rcpt") as server:
        channel = SmtpEmail(server.settings(), timeout=5)
        with pytest.raises(PermanentDeliveryError) as refused:
            channel.send(email())
        channel.close()
    assert (refused.value.reason, refused.value.code) == ("invalid_address", "550")


def test_content_refused_at_data_is_permanent_rejected() -> None:
    with rejecting_smtp_server(at="data") as server:
        channel = SmtpEmail(server.settings(), timeout=5)
        with pytest.raises(PermanentDeliveryError) as refused:
            channel.send(email())
        channel.close()
    assert (refused.value.reason, refused.value.code) == ("rejected", "554")


def test_server_down_is_transient_and_surely_not_sent() -> None:
    with unused_port() as port:
        channel = SmtpEmail(SmtpSettings(host="127.0.0.1", port=port, from_=SENDER), timeout=5)
        with pytest.raises(TransientDeliveryError) as down:
            channel.send(email())
    assert down.value.may_have_sent is False
    assert f"127.0.0.1:{port}" in str(down.value)


def test_server_gone_mid_batch_is_transient_until_it_returns(
    server: SmtpServer, channel: SmtpEmail
) -> None:
    channel.send(email())
    server.stop()
    with pytest.raises(TransientDeliveryError):
        channel.send(email())
    server.start()
    channel.send(email())
    assert len(server.mails) == 2


def test_error_messages_mask_the_address() -> None:
    reply = f"550 5.1.1 <{TO}>: Recipient address rejected"
    with SmtpServer(RecordingHandler(rcpt_replies={"*": reply})) as server:
        channel = SmtpEmail(server.settings(), timeout=5)
        with pytest.raises(PermanentDeliveryError) as refused:
            channel.send(email())
        channel.close()
    assert TO not in str(refused.value)
    assert "z***@customer.example" in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_ssl_and_starttls_together_are_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="NOTIFIER_SMTP__STARTTLS"):
        SmtpEmail(SmtpSettings(from_=SENDER, ssl=True, starttls=True))


# -- TLS and login -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    directory: Path = tmp_path_factory.mktemp("tls")
    return self_signed_tls(directory)


only_mailer = password_authenticator("mailer", "s3cret")


def test_starttls_with_login_delivers(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls
    server = SmtpServer(tls_context=server_context, authenticator=only_mailer)
    with server:
        settings = server.settings(starttls=True, username="mailer", password=SecretStr("s3cret"))
        channel = SmtpEmail(settings, timeout=5, ssl_context=client_context)
        channel.send(email())
        channel.send(email())
        channel.close()
    assert len(server.mails) == 2
    assert len(server.sessions) == 1


def test_implicit_tls_delivers(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls
    server = SmtpServer(
        ssl_context=server_context, authenticator=only_mailer, auth_require_tls=False
    )
    with server:
        settings = server.settings(ssl=True, username="mailer", password=SecretStr("s3cret"))
        channel = SmtpEmail(settings, timeout=5, ssl_context=client_context)
        channel.send(email())
        channel.close()
    assert len(server.mails) == 1


def test_wrong_password_is_transient_and_names_the_settings(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, client_context = tls
    with SmtpServer(tls_context=server_context, authenticator=only_mailer) as server:
        settings = server.settings(starttls=True, username="mailer", password=SecretStr("nope"))
        channel = SmtpEmail(settings, timeout=5, ssl_context=client_context)
        with pytest.raises(TransientDeliveryError, match="NOTIFIER_SMTP__PASSWORD") as refused:
            channel.send(email())
    assert "nope" not in str(refused.value)
    assert server.mails == []


def test_untrusted_certificate_is_refused(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, _ = tls
    with SmtpServer(tls_context=server_context) as server:
        channel = SmtpEmail(server.settings(starttls=True), timeout=5)  # system trust store
        with pytest.raises(TransientDeliveryError, match="SSLCertVerificationError"):
            channel.send(email())
    assert server.mails == []
