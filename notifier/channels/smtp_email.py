"""E-mail over SMTP with the standard library.

One connection serves a whole batch: opened on the first send (plain, STARTTLS or
implicit TLS as the settings say; LOGIN when a username is set), re-opened once when the
server dropped it while idle (gone, or 421 at MAIL), ended with QUIT by
:meth:`SmtpEmail.close`. Messages are ``multipart/alternative`` (text, then HTML when
given), UTF-8 in 7-bit transfer encodings, with Date and a Message-ID that is returned as
the receipt's ``provider_id``. One recipient, no Cc, no Bcc (C4).

How answers map onto :mod:`notifier.channels.errors`:
- 4xx anywhere (421, 450, 451, 452 ...) -> transient.
- 550, 551, 553 refusing the recipient (RCPT) -> permanent ``invalid_address``.
- Any other 5xx (sender refused, content refused at DATA ...) -> permanent ``rejected``.
- Cannot connect, TLS or login fails, timeouts -> transient: nothing was sent.
- Connection lost after the message went out (DATA) -> transient with ``may_have_sent``.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from notifier.channels.base import ChannelLimits, Outgoing, Receipt
from notifier.channels.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifier.channels.masking import mask_address, scrub
from notifier.channels.mime import FastMime
from notifier.settings import ConfigError, SmtpSettings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds per socket operation
BAD_MAILBOX = frozenset({550, 551, 553})
# Headers the channel owns; a caller must not set them (C4: only the debtor, no copies).
RESERVED_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "date", "message-id", "sender", "reply-to"}
    | {"resent-to", "resent-cc", "resent-bcc", "mime-version", "content-type"}
)
# 7-bit bodies (base64 or quoted-printable, whichever is shorter): no 8BITMIME needed.
_COMPOSE = policy.SMTP.clone(cte_type="7bit")


class _Refused(Exception):
    """The server answered a command with an error; ``stage`` is MAIL, RCPT or DATA."""

    def __init__(self, stage: str, code: int, text: bytes | str) -> None:
        super().__init__(stage, code)
        self.stage, self.code = stage, code
        self.text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text


class _DroppedBeforeData(Exception):
    """The connection was gone before the message body was sent: safe to send again."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SmtpEmail:
    """The e-mail channel. ``ssl_context`` replaces the system's default trust store
    (tests use a self-signed certificate); ``now`` stamps the Date header."""

    name: str = "email"

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        if settings.ssl and settings.starttls:
            raise ConfigError(
                "NOTIFIER_SMTP__SSL and NOTIFIER_SMTP__STARTTLS are both set; choose one "
                "(SSL for port 465, STARTTLS for port 587)"
            )
        sender = parseaddr(settings.from_)[1]
        if "@" not in sender:
            raise ConfigError(f"NOTIFIER_SMTP__FROM is not an e-mail address: {settings.from_!r}")
        self.limits = ChannelLimits()
        self._settings = settings
        self._sender = sender
        self._domain = sender.rpartition("@")[2]
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._now = now
        self._lock = threading.Lock()  # one connection: one transaction at a time
        self._conn: smtplib.SMTP | None = None
        self._mime: FastMime | None = None  # built on the first send

    def send(self, message: Outgoing) -> Receipt:
        if message.channel != "email":
            raise ValueError(f"SmtpEmail cannot send a {message.channel!r} message")
        who = mask_address(message.to)
        self._check(message, who)
        utf8 = not (message.to + self._sender).isascii()
        message_id = make_msgid(domain=self._domain)
        data = None if utf8 or message.attachments else self._fast(message, message_id)
        if data is None:  # not an ordinary message: the standard library writes it
            email = self._compose(message, who, message_id)
            data = email.as_bytes(policy=policy.SMTPUTF8 if utf8 else policy.SMTP)
        options = ["SMTPUTF8", "BODY=8BITMIME"] if utf8 else []
        with self._lock:
            self._transact(message.to, data, options, who)
        log.info("email to %s accepted by the SMTP server as %s", who, message_id)
        return Receipt(provider_id=message_id, status="accepted")

    def close(self) -> None:
        with self._lock:
            self._discard(quit=True)

    # -- the message ---------------------------------------------------------------------
    def _check(self, message: Outgoing, who: str) -> None:
        if not message.subject:
            raise PermanentDeliveryError(f"the e-mail to {who} has no subject", reason="rejected")
        reserved = sorted(k for k in message.headers if k.strip().lower() in RESERVED_HEADERS)
        if reserved:
            raise PermanentDeliveryError(
                f"the e-mail to {who} tries to set {', '.join(reserved)}: the channel sets "
                "From/To/Subject itself and never copies anyone (C4)",
                reason="rejected",
            )

    def _fast(self, message: Outgoing, message_id: str) -> bytes | None:
        """The ordinary message written directly (:mod:`notifier.channels.mime`), or None."""
        if self._mime is None:
            self._mime = FastMime(self._settings.from_)
        return self._mime.compose(
            to=message.to, subject=message.subject or "", date=format_datetime(self._now()),
            message_id=message_id, headers=message.headers, text=message.body,
            html=message.html,
        )  # fmt: skip

    def _compose(self, message: Outgoing, who: str, message_id: str) -> EmailMessage:
        email = EmailMessage(policy=_COMPOSE)
        try:
            email["From"] = self._settings.from_
            email["To"] = message.to
            email["Subject"] = message.subject
            email["Date"] = format_datetime(self._now())
            email["Message-ID"] = message_id
            for name, value in message.headers.items():
                email[name] = value
            email.set_content(message.body, charset="utf-8")
            if message.html is not None:
                email.add_alternative(message.html, subtype="html", charset="utf-8")
            for a in message.attachments:  # multipart/mixed around the text
                maintype, _, subtype = a.content_type.partition("/")
                email.add_attachment(a.data, maintype=maintype, subtype=subtype,
                                     filename=a.filename)  # fmt: skip
        except ValueError as exc:  # header with a line break, bad address syntax ...
            raise PermanentDeliveryError(
                f"the e-mail to {who} cannot be composed: {scrub(str(exc))}", reason="rejected"
            ) from None
        return email

    # -- the connection ------------------------------------------------------------------
    def _transact(self, to: str, data: bytes, options: list[str], who: str) -> None:
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._conn or self._open()
            try:
                self._transmit(conn, to, data, options)
                return
            except _DroppedBeforeData:
                self._discard(quit=False)
                if reused and attempt == 1:
                    continue  # dropped while idle between messages: open a fresh one
                raise TransientDeliveryError(
                    f"the SMTP server closed the connection before the e-mail to {who} was sent"
                ) from None
            except _Refused as exc:
                raise self._refusal(conn, exc, who) from None
            except smtplib.SMTPNotSupportedError as exc:  # from MAIL: nothing was sent
                raise PermanentDeliveryError(
                    f"the e-mail to {who} needs SMTPUTF8, which the server lacks: {exc}",
                    reason="invalid_address",
                ) from None
            except (smtplib.SMTPException, OSError) as exc:
                self._discard(quit=False)
                raise TransientDeliveryError(
                    f"the connection was lost while sending the e-mail to {who} "
                    f"({type(exc).__name__}); the server may have accepted it",
                    may_have_sent=True,
                ) from None

    def _transmit(self, conn: smtplib.SMTP, to: str, data: bytes, options: list[str]) -> None:
        try:
            mail_options = list(options)
            if conn.does_esmtp and conn.has_extn("size"):
                mail_options.append(f"SIZE={len(data)}")
            code, text = conn.mail(self._sender, mail_options)
            if code == 421:  # how Postfix & co. end an idle connection: we hear it now
                raise smtplib.SMTPServerDisconnected("421 at MAIL")
            if code != 250:
                raise _Refused("MAIL", code, text)
            code, text = conn.rcpt(to)
            if code not in (250, 251):
                raise _Refused("RCPT", code, text)
            code, text = conn.docmd("DATA")
            if code != 354:
                raise _Refused("DATA", code, text)
        except smtplib.SMTPServerDisconnected as exc:
            raise _DroppedBeforeData from exc
        # From here on the server may take the message even if we never hear back.
        code, text = _send_body(conn, data)
        if code != 250:
            raise _Refused("DATA", code, text)

    def _open(self) -> smtplib.SMTP:
        s = self._settings
        where = f"{s.host}:{s.port}"
        # The system trust store costs ~16 ms to load: only for TLS, and only once.
        if (s.ssl or s.starttls) and self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        context = self._ssl_context
        try:
            conn: smtplib.SMTP
            if s.ssl:
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=self._timeout, context=context)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=self._timeout)
            try:
                conn.ehlo_or_helo_if_needed()
                if s.starttls:
                    conn.starttls(context=context)
                    conn.ehlo()
                if s.username:
                    conn.login(s.username, s.password.get_secret_value())
            except BaseException:
                conn.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise TransientDeliveryError(
                f"the SMTP server at {where} refused the login ({exc.smtp_code}): check "
                "NOTIFIER_SMTP__USERNAME and NOTIFIER_SMTP__PASSWORD",
                code=str(exc.smtp_code),
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise TransientDeliveryError(
                f"the SMTP server at {where} refused the session ({exc.smtp_code})",
                code=str(exc.smtp_code),
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientDeliveryError(
                f"cannot reach the SMTP server at {where}: {type(exc).__name__}: {exc}"
            ) from exc
        self._conn = conn
        return conn

    def _discard(self, *, quit: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if quit and conn.sock is not None:
                conn.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the server is gone already; nothing is left to end politely
        finally:
            conn.close()

    def _refusal(self, conn: smtplib.SMTP, exc: _Refused, who: str) -> DeliveryError:
        if exc.code == 421 or conn.sock is None:
            self._discard(quit=False)  # 421: the server is closing this connection
        else:
            try:
                conn.rset()  # leave the connection clean for the next message
            except (smtplib.SMTPException, OSError):
                self._discard(quit=False)
        said = f"{exc.code} {scrub(exc.text)}".strip()
        code = str(exc.code)
        if 400 <= exc.code < 500:
            return TransientDeliveryError(
                f"the SMTP server deferred the e-mail to {who} at {exc.stage}: {said}", code=code
            )
        if exc.stage == "RCPT" and exc.code in BAD_MAILBOX:
            return PermanentDeliveryError(
                f"the SMTP server refused the mailbox {who}: {said}",
                reason="invalid_address",
                code=code,
            )
        if 500 <= exc.code < 600:
            return PermanentDeliveryError(
                f"the SMTP server rejected the e-mail to {who} at {exc.stage}: {said}",
                reason="rejected",
                code=code,
            )
        return TransientDeliveryError(
            f"the SMTP server answered {exc.stage} for {who} oddly: {said}", code=code
        )


def _send_body(conn: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """The second half of ``SMTP.data()``: after the 354, the dot-stuffed body, then the
    reply. Split from the DATA command so that a connection lost *before* the body can be
    retried safely and one lost *after* it cannot."""
    body = re.sub(rb"(?m)^\.", b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    conn.send(body + b".\r\n")
    return conn.getreply()
