"""The errors a channel raises, and what the delivery sweep does about each.

::

    DeliveryError                      the message was not (knowingly) delivered
    ├── TransientDeliveryError         try again later; nothing is wrong with the message
    │       network down, connection refused or dropped, timeouts, HTTP 429 and 5xx,
    │       SMTP 4xx, rejected credentials (nothing was sent; an operator fixes them).
    │       .retry_after    seconds the provider asked us to wait, or None
    │       .may_have_sent  True when the request reached the provider and the answer was
    │                       lost (read timeout, connection dropped after the SMTP DATA):
    │                       at-most-once says such a reminder goes to a person, not resent
    └── PermanentDeliveryError         never retry this message to this address
            .reason "opted_out"        Twilio 21610: the recipient sent STOP
                    "invalid_address"  Twilio 21211, 21614; SMTP 550/551/553 at RCPT
                    "rejected"         other Twilio 4xx; SMTP 5xx; a message that cannot
                                       be composed (bad header)

Every error has ``.code``: the provider's code as a string (Twilio error code, SMTP reply
code), or None. Messages name the masked address (``+86139****5678``, ``f***@x.example``)
and never the message body, so they can go to logs as they are.
"""

from __future__ import annotations

from typing import Literal

PermanentReason = Literal["opted_out", "invalid_address", "rejected"]


class DeliveryError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientDeliveryError(DeliveryError):
    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        may_have_sent: bool = False,
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.may_have_sent = may_have_sent


class PermanentDeliveryError(DeliveryError):
    def __init__(self, message: str, *, reason: PermanentReason, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.reason: PermanentReason = reason
