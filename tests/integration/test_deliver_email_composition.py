"""The delivery sweep's e-mails are written directly (notifier/channels/mime.py) when they
are ordinary, and by the standard library otherwise. Whatever way, a mail client must read
the same message: same headers, same parts, same text. And through the real SMTP channel
the direct way must still arrive intact."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from notifier.channels import Outgoing, SmtpEmail
from notifier.channels.mime import FastMime
from notifier.settings import SmtpSettings
from tests.fakes.smtp_servers import recording_smtp_server

NOW = datetime(2026, 3, 2, 1, 5, tzinfo=UTC)
UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://notifier.example/u/eyJyIjozMDB9.0tyvTUl7XhUAdL4JAnuAddO240c>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}
CHINESE = "深圳南方科技有限公司您好:\n\n目前贵司共有1笔账单尚未结清,合计¥276,300.00。\n" * 3
LONG_ASCII = "Dear customer, " + "your invoice INV-1 is overdue; please pay. " * 6 + "\n"
HTML = '<html><body><p>您好</p><a href="https://pay.example/x?a=1&amp;b=2">付款</a></body></html>'

CASES = {
    "chinese text and html": (
        "账单提醒及付款优惠 - 星辰供应链有限公司",
        CHINESE,
        HTML,
        UNSUBSCRIBE,
    ),
    "ascii text only": ("Invoice reminder", "Hello,\nplease pay.\n", None, {}),
    "ascii with long lines": ("Invoice reminder", LONG_ASCII, "<p>" + LONG_ASCII + "</p>", {}),
    "latin accents": ("Rappel de facture échue", "Bonjour, merci de régler.\r\n", None, {}),
    "long ascii subject": ("Reminder " * 12, "text\n", None, UNSUBSCRIBE),
    "dots and from lines": ("s", ".\n.leading dot\nFrom here\n--\n", "<p>.</p>", {}),
    "no final line break": ("s", "no newline at the end", "<b>x</b>", {}),
    "long subject with emoji": ("账单 bill 🙂 提醒" * 12, "text\n", None, UNSUBSCRIBE),
}


def both_ways(subject: str, text: str, html: str | None, headers: dict[str, str]) -> list[bytes]:
    channel = SmtpEmail(SmtpSettings(host="127.0.0.1", port=25, from_="账单 <billing@x.example>"),
                        now=lambda: NOW)  # fmt: skip
    message = Outgoing(reminder_id=1, channel="email", to="ar1@b1.example", body=text,
                       subject=subject, html=html, headers=headers)  # fmt: skip
    fast = channel._fast(message, "<1.2.3@x.example>")
    assert fast is not None, "an ordinary reminder is written directly"
    slow = channel._compose(message, "a***@b1.example", "<1.2.3@x.example>")
    return [fast, slow.as_bytes(policy=policy.SMTP)]


def read(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("case", list(CASES))
def test_an_ordinary_reminder_reads_the_same_written_directly_or_by_the_library(
    case: str,
) -> None:
    fast, slow = (read(data) for data in both_ways(*CASES[case]))
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", *CASES[case][3]):
        assert str(fast[name]).strip() == str(slow[name]).strip(), name
    assert fast.get_content_type() == slow.get_content_type()
    fast_parts = [(p.get_content_type(), p.get_content_charset(), p.get_content())
                  for p in fast.walk() if not p.is_multipart()]  # fmt: skip
    slow_parts = [(p.get_content_type(), p.get_content_charset(), p.get_content())
                  for p in slow.walk() if not p.is_multipart()]  # fmt: skip
    assert fast_parts == slow_parts
    assert fast["Subject"] == CASES[case][0]


@pytest.mark.parametrize("case", list(CASES))
def test_written_directly_every_line_is_seven_bit_and_short(case: str) -> None:
    fast, _ = both_ways(*CASES[case])
    assert fast.isascii()
    assert max(len(line) for line in fast.split(b"\r\n")) <= 78
    assert b"\n" not in fast.replace(b"\r\n", b"")  # CRLF line ends only


@pytest.mark.parametrize(
    ("to", "headers"),
    [
        ("wáng@x.example", {}),  # needs SMTPUTF8
        ("Wang <wang@x.example>", {}),  # a display name
        ("wang@x.example", {"X-Note": "两个字"}),  # a non-ASCII header value
        ("wang@x.example", {"X-Note": "a  b"}),  # white space the library would fold
    ],
)
def test_anything_unusual_is_left_to_the_standard_library(to: str, headers: dict[str, str]) -> None:
    mime = FastMime("billing@x.example")
    written = mime.compose(to=to, subject="s", date="Mon, 02 Mar 2026 01:05:00 +0000",
                           message_id="<1@x.example>", headers=headers, text="t",
                           html=None)  # fmt: skip
    assert written is None


def test_a_directly_written_reminder_arrives_intact_over_smtp() -> None:
    subject, text, html, headers = CASES["chinese text and html"]
    with recording_smtp_server() as server:
        channel = SmtpEmail(server.settings())
        receipt = channel.send(Outgoing(reminder_id=7, channel="email", to="ar7@b7.example",
                                        body=text, subject=subject, html=html,
                                        headers=headers))  # fmt: skip
        channel.close()
        [mail] = server.mails
    message = mail.message
    assert message["Message-ID"] == receipt.provider_id and message["Subject"] == subject
    body = message.get_body(("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == text
    page = message.get_body(("html",))
    assert page is not None and page.get_content().rstrip("\r\n") == html
    assert mail.rcpt_tos == ["ar7@b7.example"] and mail.data.isascii()
