"""The bytes of an ordinary reminder e-mail, written directly.

The standard library's :class:`email.message.EmailMessage` parses every header through
its header registry and folds it again when the message is written: about 2 ms of CPU for
a reminder (text + HTML, seven headers), more than the SMTP exchange itself on a local
server. A reminder is always the same shape, so :class:`FastMime` writes that shape
directly: the same headers, ``multipart/alternative`` (or a single ``text/plain``),
UTF-8 parts in 7-bit transfer encodings (``7bit`` for short-lined ASCII, else base64).

It only takes messages it can write exactly right: an ASCII address without a display
name, printable ASCII header values that fit a line (or fold after the colon), a subject
on one line. For anything else :meth:`FastMime.compose` returns None and the channel
composes the message with the standard library as before (SMTPUTF8 addresses, odd
headers, errors that must be reported).
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Mapping
from email import policy
from email.message import EmailMessage

MAX_LINE = 78  # RFC 5322's "SHOULD" limit, as the standard library folds
WORD_BYTES = 39  # of text per encoded word: 52 base64 characters, 64 with the markers
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII but the colon (RFC 5322 2.2)
_PRINTABLE = re.compile(r"[ -~]*")  # printable ASCII: no line breaks, no control characters
_boundaries = random.Random()


def header_line(name: str, value: str) -> bytes:
    """``Name: value`` as the standard library's SMTP policy writes it, for any value."""
    probe = EmailMessage(policy=policy.SMTP)
    probe[name] = value
    return probe.as_bytes(policy=policy.SMTP).split(b"\r\n\r\n", 1)[0] + b"\r\n"


class FastMime:
    def __init__(self, from_header: str) -> None:
        self._from = header_line("From", from_header)  # the same for every message

    def compose(
        self, *, to: str, subject: str, date: str, message_id: str,
        headers: Mapping[str, str], text: str, html: str | None,
    ) -> bytes | None:  # fmt: skip
        """The message as bytes, CRLF line ends, or None when it is not an ordinary one."""
        if not _ADDRESS.fullmatch(to) or "\r" in subject or "\n" in subject:
            return None
        lines = [self._from, b"To: " + to.encode() + b"\r\n", _subject(subject),
                 b"Date: " + date.encode() + b"\r\n",
                 b"Message-ID: " + message_id.encode() + b"\r\n"]  # fmt: skip
        for name, value in headers.items():
            line = _header(name, value)
            if line is None:
                return None
            lines.append(line)
        try:
            plain = _part(text)
            rich = _part(html) if html is not None else None
        except UnicodeEncodeError:  # lone surrogates: the standard library reports them
            return None
        if rich is None:
            lines += [b'Content-Type: text/plain; charset="utf-8"\r\n', plain[0],
                      b"MIME-Version: 1.0\r\n\r\n", plain[1]]  # fmt: skip
            return b"".join(lines)
        boundary = _boundary(plain[1] + rich[1])
        lines += [b"MIME-Version: 1.0\r\n",
                  b'Content-Type: multipart/alternative;\r\n boundary="' + boundary + b'"\r\n',
                  b"\r\n--" + boundary + b"\r\n",
                  b'Content-Type: text/plain; charset="utf-8"\r\n', plain[0], b"\r\n", plain[1],
                  b"\r\n--" + boundary + b"\r\n",
                  b'Content-Type: text/html; charset="utf-8"\r\n', rich[0], b"\r\n", rich[1],
                  b"\r\n--" + boundary + b"--\r\n"]  # fmt: skip
        return b"".join(lines)


def _subject(subject: str) -> bytes:
    line = "Subject: " + subject
    plain = subject.isascii() and _PRINTABLE.fullmatch(subject) and subject == subject.strip()
    # "=?" would read as an encoded word; runs of spaces would be folded away
    if plain and len(line) <= MAX_LINE and "=?" not in subject and "  " not in subject:
        return line.encode() + b"\r\n"
    return b"Subject: " + b"\r\n ".join(_encoded_words(subject)) + b"\r\n"


def _encoded_words(text: str) -> list[bytes]:
    """RFC 2047 ``=?utf-8?b?...?=`` words of at most ``WORD_BYTES`` of text each (a line
    each, "Subject: " included), never splitting a character; readers join them again."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in text:
        n = len(char.encode("utf-8"))
        if size + n > WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += n
    words.append("".join(chunk))
    return [b"=?utf-8?b?" + base64.b64encode(w.encode("utf-8")) + b"?=" for w in words]


def _header(name: str, value: str) -> bytes | None:
    if not _HEADER_NAME.fullmatch(name) or not _PRINTABLE.fullmatch(value) or not value.strip():
        return None
    if value != value.strip() or "  " in value or "=?" in value:
        return None  # the standard library would normalise or re-encode these
    if len(name) + 2 + len(value) <= MAX_LINE:
        return f"{name}: {value}\r\n".encode()
    if " " not in value and len(value) + 1 <= MAX_LINE:
        return f"{name}:\r\n {value}\r\n".encode()  # folded after the colon, as it does
    return None


def _part(body: str) -> tuple[bytes, bytes]:
    """(Content-Transfer-Encoding line, encoded body) of a UTF-8 text part."""
    lines = body.encode("utf-8").splitlines()
    data = b"\r\n".join(lines) + b"\r\n"
    if data.isascii() and max((len(x) for x in lines), default=0) <= MAX_LINE:
        return b"Content-Transfer-Encoding: 7bit\r\n", data
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")  # lines of 76 characters
    return b"Content-Transfer-Encoding: base64\r\n", encoded


def _boundary(bodies: bytes) -> bytes:
    while True:
        boundary = b"===============%019d==" % _boundaries.randrange(10**19)
        if boundary not in bodies:
            return boundary
