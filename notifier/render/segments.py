"""How many SMS segments a text takes, and in which encoding (GSM 03.38 / 3GPP TS 23.038).

- Every character in the GSM-7 default alphabet or its extension table: GSM-7. A single
  message holds 160 septets; a concatenated one 153 per part (the user data header takes
  the rest). Extension characters (form feed ^ { } \\ [ ~ ] | €) are sent as ESC + char
  and take two septets.
- Anything else: the whole message goes as UCS-2 (in practice UTF-16): 70 code units
  single, 67 per part. Characters outside the Basic Multilingual Plane (most emoji) take
  two code units.
- A part never splits an escape pair or a surrogate pair: such a character moves whole to
  the next part, as carriers and Twilio do.
- The empty text counts as one segment: an SMS is never less than one. Whether an empty
  body may be sent at all is not decided here (review refuses it; Twilio rejects it).
The text is counted as given: no "smart encoding" replaces curly quotes and the like.
"""

from __future__ import annotations

GSM7 = "GSM-7"
UCS2 = "UCS-2"

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def sms_segments(text: str) -> tuple[int, str]:
    """``(segments, encoding)`` for ``text``; encoding is ``"GSM-7"`` or ``"UCS-2"``."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        units = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return _count(units, GSM7_SINGLE, GSM7_PART), GSM7
    units = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return _count(units, UCS2_SINGLE, UCS2_PART), UCS2


def _count(units: list[int], single: int, per_part: int) -> int:
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts
