"""D16, C3: what a tracking hit, a status callback or an inbound SMS means.

- An open is a *machine open* (not counted as read) when it comes within a few seconds of
  sending, from a known image proxy's user agent, or from a prefetching network (Apple
  Mail Privacy Protection); otherwise a person opened the mail.
- Delivery statuses only move forward: a repeated or out-of-order callback never moves a
  reminder back (sent after delivered is ignored; the first final status stays).
- An inbound SMS whose whole text is an opt-out word (STOP, 退订, TD, ...) opts the
  sender out; a start word (START, ...) opts back in.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Literal

from notifier.domain.policy import DeliveryPolicy


def is_machine_open(
    sent_at: datetime | None,
    at: datetime,
    user_agent: str,
    client_ip: str | None,
    policy: DeliveryPolicy,
) -> bool:
    if sent_at is not None and at - sent_at < timedelta(seconds=policy.machine_open_seconds):
        return True
    agent = user_agent.lower()
    if any(marker.lower() in agent for marker in policy.prefetch_agents):
        return True
    if client_ip:
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(n) for n in policy.prefetch_networks)
    return False


# Twilio's message statuses, by how far along they are; ours follow the same order.
_RANK = {
    "accepted": 0, "queued": 0, "scheduled": 0, "sending": 1, "sent": 2,
    "delivered": 3, "read": 3, "undelivered": 3, "failed": 3,
}  # fmt: skip
Outcome = Literal["sent", "delivered", "failed"]


def callback_outcome(provider_status: str) -> Outcome | None:
    """Our status for a provider status; None for the ones we do not record."""
    status = provider_status.lower()
    if status == "sent":
        return "sent"
    if status in ("delivered", "read"):
        return "delivered"
    if status in ("undelivered", "failed"):
        return "failed"
    return None


def moves_forward(current: str, new: Outcome) -> bool:
    """May a reminder in status ``current`` take status ``new`` from a callback?"""
    if current in ("delivered", "failed"):
        return False  # final: the first final status stays
    if current in ("sending", "sent", "unknown"):
        return _RANK[new] > _RANK.get(current, 1) or current == "unknown"
    return False  # not sent by us (pending, cancelled, ...): a stray callback


Keyword = Literal["stop", "start"]


def keyword(text: str, policy: DeliveryPolicy) -> Keyword | None:
    word = text.strip().strip(".!。！").upper()
    if word in {w.upper() for w in policy.stop_words}:
        return "stop"
    if word in {w.upper() for w in policy.start_words}:
        return "start"
    return None
