"""Delivery channels: Twilio SMS and SMTP e-mail behind one small :class:`Channel`
interface, with one error tree (see :mod:`notifier.channels.errors`)."""

from notifier.channels.base import Channel, ChannelLimits, Outgoing, Receipt
from notifier.channels.errors import (
    DeliveryError,
    PermanentDeliveryError,
    PermanentReason,
    TransientDeliveryError,
)
from notifier.channels.masking import mask_address, mask_email, mask_phone, scrub
from notifier.channels.ratelimit import TokenBucket
from notifier.channels.smtp_email import SmtpEmail
from notifier.channels.twilio_sms import TwilioSms

__all__ = [
    "Channel",
    "ChannelLimits",
    "DeliveryError",
    "Outgoing",
    "PermanentDeliveryError",
    "PermanentReason",
    "Receipt",
    "SmtpEmail",
    "TokenBucket",
    "TransientDeliveryError",
    "TwilioSms",
    "mask_address",
    "mask_email",
    "mask_phone",
    "scrub",
]
