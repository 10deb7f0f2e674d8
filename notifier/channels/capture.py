"""A channel that keeps messages instead of sending them: each one is written as a JSON
file under a folder (``NOTIFIER_DELIVERY_MODE=capture``, ``NOTIFIER_CAPTURE_DIR``). For
demos and staging: the whole pipeline runs and nothing reaches a real person."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from notifier.channels.base import ChannelLimits, Outgoing, Receipt
from notifier.channels.errors import TransientDeliveryError


class CaptureChannel:
    limits = ChannelLimits()

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder / name

    def send(self, message: Outgoing) -> Receipt:
        provider_id = f"capture-{uuid.uuid4().hex}"
        record = {
            "provider_id": provider_id, "reminder_id": message.reminder_id,
            "channel": message.channel, "to": message.to, "subject": message.subject,
            "body": message.body, "html": message.html, "headers": dict(message.headers),
            "attachments": [a.filename for a in message.attachments],
        }  # fmt: skip
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{message.reminder_id:08d}-{provider_id}.json"
            path.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        except OSError as exc:
            raise TransientDeliveryError(f"cannot write to {self.folder}: {exc}") from exc
        return Receipt(provider_id, "captured")

    def close(self) -> None:
        return None


class UnavailableChannel:
    """Stands in for a channel whose settings are missing: every send is refused as a
    transient error naming what to configure, so nothing is lost and nothing is sent."""

    limits = ChannelLimits()

    def __init__(self, name: str, why: str) -> None:
        self.name = name
        self.why = why

    def send(self, message: Outgoing) -> Receipt:
        raise TransientDeliveryError(f"{self.name} is not configured: {self.why}")

    def close(self) -> None:
        return None
