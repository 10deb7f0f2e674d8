"""A channel that only keeps what it is handed: `notifier deliver --dry-run` runs the
delivery sweep with these instead of Twilio and SMTP (and inside a rolled-back
transaction), so its report says what would be sent and nothing leaves the machine."""

from __future__ import annotations

from notifier.channels.base import ChannelLimits, Outgoing, Receipt


class DryRunChannel:
    limits = ChannelLimits()

    def __init__(self, name: str) -> None:
        self.name = name
        self.kept: list[Outgoing] = []

    def send(self, message: Outgoing) -> Receipt:
        self.kept.append(message)
        return Receipt(f"dry-run-{message.reminder_id}", "dry-run")

    def close(self) -> None:
        return None


def dry_run_channels() -> dict[str, DryRunChannel]:
    return {name: DryRunChannel(name) for name in ("sms", "email")}
