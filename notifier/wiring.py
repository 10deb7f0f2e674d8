"""Building the parts that talk to the world from the settings, in one place: the channels
(Twilio SMS and SMTP e-mail, or the local capture for demos) and the link tracker."""

from __future__ import annotations

from notifier.channels import Channel, SmtpEmail, TwilioSms
from notifier.channels.capture import CaptureChannel, UnavailableChannel
from notifier.settings import ConfigError, Settings
from notifier.tracking import Tracker

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"


def tracker_for(settings: Settings) -> Tracker:
    return Tracker(settings.secret_key.get_secret_value(), settings.public_url)


def channels_for(settings: Settings) -> dict[str, Channel]:
    if settings.delivery_mode == "capture":
        return {name: CaptureChannel(name, settings.capture_dir) for name in ("sms", "email")}
    callback = settings.public_url.rstrip("/") + STATUS_CALLBACK_PATH
    channels: dict[str, Channel] = {}
    try:
        channels["sms"] = TwilioSms(settings.twilio, status_callback=callback)
    except ConfigError as exc:
        channels["sms"] = UnavailableChannel("sms", str(exc))
    try:
        channels["email"] = SmtpEmail(settings.smtp)
    except ConfigError as exc:
        channels["email"] = UnavailableChannel("email", str(exc))
    return channels
