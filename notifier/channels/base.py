"""What every channel is: one small interface with one method that matters.

The delivery sweep hands a channel an :class:`Outgoing` (the message exactly as it will be
sent) and gets back a :class:`Receipt` (what the provider said), or an exception from
:mod:`notifier.channels.errors`. A channel never returns ``False`` and never retries by
itself: whether and when to retry is the sweep's decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail to staff (the weekly report's workbook); reminders to
    debtors carry none."""

    filename: str
    content_type: str  # e.g. application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    reminder_id: int
    channel: str  # "sms" | "email"
    to: str  # E.164 phone or e-mail address
    body: str  # the text exactly as it will be sent
    subject: str | None = None  # email only
    html: str | None = None  # email only (already carries tracking pixel/links)
    # extra email headers, e.g. List-Unsubscribe, List-Unsubscribe-Post
    headers: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()  # email only


@dataclass(frozen=True)
class Receipt:
    provider_id: str  # Twilio message SID, or the e-mail Message-ID
    status: str  # what the provider said: "queued"/"accepted"/"sent"...


@dataclass(frozen=True)
class ChannelLimits:
    """What a channel can carry, as data (Apprise-style): planners and reviewers read it."""

    max_length: int | None = None  # characters of body; None: no limit worth stating
    rate_per_second: float | None = None  # sends per second per sender; None: unlimited


class Channel(Protocol):
    name: str  # "sms" | "email"
    limits: ChannelLimits

    def send(self, message: Outgoing) -> Receipt:
        """Send one message; raises a DeliveryError, never returns False."""
        ...

    def close(self) -> None:
        """End of a batch: release connections (SMTP: QUIT). Sending again re-opens."""
        ...
