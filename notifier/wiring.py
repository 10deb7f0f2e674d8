"""Building the parts that talk to the world from the settings, in one place: the channels
(Twilio SMS and SMTP e-mail, or the local capture for demos) and the link tracker."""

from __future__ import annotations

from notifier.channels import Channel, SmtpEmail, TwilioSms
from notifier.channels.capture import CaptureChannel, UnavailableChannel
from notifier.settings import ConfigError, Settings
from notifier.tracking import LoopbackPublicUrl, Tracker

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"


def tracker_for(settings: Settings) -> Tracker:
    """Links are tracked only behind a public URL that was set; in production a loopback
    one is refused (notifier.tracking)."""
    try:
        return Tracker(settings.secret_key.get_secret_value(), settings.public_url,
                       track_links="public_url" in settings.model_fields_set,
                       production=settings.environment == "production")  # fmt: skip
    except LoopbackPublicUrl as exc:
        raise ConfigError(str(exc)) from exc


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
