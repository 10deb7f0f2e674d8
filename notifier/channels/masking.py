"""Addresses as they may appear in logs and error messages: enough to tell them apart,
never the whole address (PIPL / GDPR minimisation; DESIGN "Logs never carry ...")."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# E.164-looking runs of digits; not inside identifiers such as SM... message SIDs.
_PHONE = re.compile(r"(?<!\w)\+?\d{7,15}(?!\w)")


def mask_phone(number: str) -> str:
    """``+8613912345678`` -> ``+86139****5678``: country and prefix, four hidden, last four."""
    if len(number) <= 8:
        return "*" * max(len(number) - 2, 1) + number[-2:]
    return number[:-8] + "****" + number[-4:]


def mask_email(address: str) -> str:
    """``foo@x.example`` -> ``f***@x.example``."""
    local, at, domain = address.rpartition("@")
    if not at:
        return mask_phone(address)
    return f"{local[:1]}***@{domain}"


def mask_address(address: str) -> str:
    return mask_email(address) if "@" in address else mask_phone(address)


def scrub(text: str) -> str:
    """Mask every e-mail address and phone number inside a provider's message."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
