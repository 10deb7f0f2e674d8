"""Real SMTP servers on 127.0.0.1 for tests and the benchmark, built on aiosmtpd.

- :class:`SmtpServer` runs an aiosmtpd ``Controller`` in a thread on a fixed port (picked
  free at first start): ``stop()`` then ``start()`` brings it back on the same port, so a
  test can take the server away in the middle of a batch. STARTTLS, implicit TLS and AUTH
  are options.
- :class:`RecordingHandler` keeps every accepted mail (envelope, raw bytes, parsed
  message) and every SMTP session (client address of each EHLO), and refuses when told:
  ``rcpt_replies`` / ``data_replies`` map a recipient (or ``"*"``) to a reply line;
  ``mail_replies`` answer the next MAIL commands, one each (a 421 also hangs up, as
  Postfix does when it ends an idle connection).
- :class:`CrashingHandler` accepts ``crash_after`` mails, then on the next one records it
  (the server has it), cuts the connection before answering (the client cannot know) and
  takes the whole server down for ``down_for`` seconds: :func:`crashing_smtp_server`.
- :func:`recording_smtp_server`, :func:`deferring_smtp_server` (451),
  :func:`rejecting_smtp_server` (550 at RCPT or 554 at DATA), :func:`unused_port` (nothing
  listens: connections are refused), :func:`self_signed_tls` (contexts for TLS tests) and
  :func:`password_authenticator` (AUTH with one login).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from notifier.settings import SmtpSettings

HOST = "127.0.0.1"
SENDER = "billing@notifier.example"
START_TIMEOUT = 10.0  # seconds for the server thread to answer


@dataclass(frozen=True)
class ReceivedMail:
    peer: tuple[str, int]  # the client's address: one per SMTP connection
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # exactly as received, after the dot-unstuffing
    message: EmailMessage


class RecordingHandler:
    def __init__(
        self,
        *,
        rcpt_replies: Mapping[str, str] | None = None,
        data_replies: Mapping[str, str] | None = None,
        mail_replies: Sequence[str] = (),
    ) -> None:
        self.mail_replies = list(mail_replies)
        self.rcpt_replies = dict(rcpt_replies or {})
        self.data_replies = dict(data_replies or {})
        self._lock = threading.Lock()
        self._mails: list[ReceivedMail] = []
        self._sessions: list[tuple[str, int]] = []

    @property
    def mails(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._mails)

    @property
    def sessions(self) -> list[tuple[str, int]]:
        """One entry per SMTP connection that said EHLO (STARTTLS's second EHLO is the
        same connection and is not counted again)."""
        with self._lock:
            return list(self._sessions)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self._lock:
            if session.peer not in self._sessions:
                self._sessions.append(session.peer)
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self._lock:
            reply = self.mail_replies.pop(0) if self.mail_replies else None
        if reply is not None:
            if reply.startswith("421"):
                asyncio.get_running_loop().call_soon(server.transport.close)
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = _reply_for(self.rcpt_replies, [address])
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = _reply_for(self.data_replies, envelope.rcpt_tos)
        if reply:
            return reply
        data: bytes = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(
            session.peer, envelope.mail_from, list(envelope.rcpt_tos), data, message
        )
        with self._lock:
            self._mails.append(mail)
        return "250 2.0.0 OK: queued"


class CrashingHandler(RecordingHandler):
    """Records normally until ``crash_after`` mails were accepted; the next mail is kept
    but never answered: the connection is cut after its DATA and ``on_crash`` runs (in a
    thread of its own). :attr:`crashed` is set then; :attr:`uncertain` is that mail;
    ``on_crash`` sets :attr:`back` when the server listens again."""

    def __init__(self, crash_after: int, on_crash: Callable[[], None]) -> None:
        super().__init__()
        self.crash_after = crash_after
        self.crashed = threading.Event()
        self.back = threading.Event()
        self.uncertain: ReceivedMail | None = None
        self._on_crash = on_crash

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        with self._lock:
            crash = not self.crashed.is_set() and len(self._mails) == self.crash_after + 1
            if crash:
                self.uncertain = self._mails[-1]
                self.crashed.set()
        if crash:
            server.transport.abort()  # the client sent it all and hears nothing back
            threading.Thread(target=self._on_crash, name="smtp-crash", daemon=True).start()
        return reply


def _reply_for(replies: Mapping[str, str], addresses: list[str]) -> str | None:
    for address in addresses:
        if address in replies:
            return replies[address]
    return replies.get("*")


class SmtpServer:
    def __init__(
        self,
        handler: RecordingHandler | None = None,
        *,
        port: int = 0,
        tls_context: ssl.SSLContext | None = None,  # offers STARTTLS
        ssl_context: ssl.SSLContext | None = None,  # implicit TLS from the first byte
        authenticator: Any = None,
        auth_require_tls: bool = True,
    ) -> None:
        self.handler = handler or RecordingHandler()
        self.host = HOST
        self.port = port
        self._tls_context = tls_context
        self._ssl_context = ssl_context
        self._smtp_kwargs: dict[str, Any] = {}
        if authenticator is not None:
            self._smtp_kwargs.update(authenticator=authenticator, auth_require_tls=auth_require_tls)
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        assert self._controller is None, "already running"
        if self.port == 0:
            self.port = free_port()
        # A fresh Controller each time: a stopped one has closed its event loop.
        controller = Controller(
            self.handler,
            hostname=self.host,
            port=self.port,
            ready_timeout=START_TIMEOUT,
            ssl_context=self._ssl_context,
            tls_context=self._tls_context,
            **self._smtp_kwargs,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection (a crash, as clients see it)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def mails(self) -> list[ReceivedMail]:
        return self.handler.mails

    @property
    def sessions(self) -> list[tuple[str, int]]:
        return self.handler.sessions

    def settings(self, **overrides: Any) -> SmtpSettings:
        """Settings that point the channel at this server."""
        values: dict[str, Any] = {"host": self.host, "port": self.port, "from_": SENDER}
        return SmtpSettings(**{**values, **overrides})


def recording_smtp_server(**kwargs: Any) -> SmtpServer:
    return SmtpServer(RecordingHandler(), **kwargs)


def crashing_smtp_server(crash_after: int, down_for: float) -> SmtpServer:
    """A recording server that dies while answering mail number ``crash_after + 1`` (which
    it keeps) and comes back on the same port ``down_for`` seconds later (then its handler's
    ``back`` is set)."""

    def crash() -> None:
        server.stop()
        time.sleep(down_for)
        server.start()
        handler.back.set()

    handler = CrashingHandler(crash_after, crash)
    server = SmtpServer(handler, port=free_port())
    return server


def deferring_smtp_server(
    at: Literal["rcpt", "data"] = "rcpt", reply: str = "451 4.3.0 Try again later"
) -> SmtpServer:
    """Answers every message with a temporary failure (4xx) at RCPT or at DATA."""
    replies = {"*": reply}
    if at == "rcpt":
        return SmtpServer(RecordingHandler(rcpt_replies=replies))
    return SmtpServer(RecordingHandler(data_replies=replies))


def rejecting_smtp_server(at: Literal["rcpt", "data"] = "rcpt") -> SmtpServer:
    """Refuses for good: 550 (no such mailbox) at RCPT, or 554 (content refused) at DATA."""
    if at == "rcpt":
        return SmtpServer(RecordingHandler(rcpt_replies={"*": "550 5.1.1 No such user here"}))
    return SmtpServer(RecordingHandler(data_replies={"*": "554 5.6.0 Message refused"}))


def password_authenticator(login: str, password: str) -> Callable[..., AuthResult]:
    """An aiosmtpd ``authenticator`` that accepts exactly this login and password."""
    expected = LoginPassword(login.encode(), password.encode())

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        # handled=False: aiosmtpd itself answers 535 (with True it answers nothing at all).
        return AuthResult(success=data == expected, handled=False)

    return authenticate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def unused_port() -> Iterator[int]:
    """A port where nothing listens: bound (so no one else takes it) but not listening,
    so connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """``(server_context, client_context)`` for a certificate made for 127.0.0.1 by the
    ``openssl`` command; the client trusts exactly that certificate."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client
