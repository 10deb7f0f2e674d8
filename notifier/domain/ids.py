"""What an id from outside (an ERP's customer, invoice or payment number) may look like.

Ids become path segments of the web app (``/customers/C001``) and of links in messages, so
a character with a meaning in a URL (``/ ? # %`` and ``\\``, which browsers read as ``/``),
whitespace or a control character would break the link or point it elsewhere; ``.`` and
``..`` are path steps. They are refused where ids come in, with the character named,
rather than encoded in every place that prints one.
"""

from __future__ import annotations

import unicodedata

from notifier.domain.errors import Refused

MAX_ID_LENGTH = 64  # the id columns of the store (models.py)
MAX_RECORD_ID = 2**63 - 1  # a record's own number: a signed 64-bit integer in either store
_RESERVED = {"/": "slash", "?": "question mark", "#": "hash", "%": "percent sign",
             "\\": "backslash"}  # fmt: skip


class BadId(Refused, ValueError):
    """An id that cannot be used; the message names the offending character."""


def check_id(value: str, max_length: int = MAX_ID_LENGTH) -> str:
    """``value`` itself when it may be an id; else :class:`BadId` saying why."""
    if not value:
        raise BadId("is empty")
    if len(value) > max_length:
        raise BadId(f"is {len(value)} characters long; at most {max_length} are allowed")
    for char in value:
        name = _RESERVED.get(char)
        if name is not None:
            raise BadId(f"{value!r} contains {char!r} ({name}), which links cannot carry")
        if char.isspace():
            raise BadId(f"{value!r} contains whitespace ({_code(char)}); ids are one word")
        # Controls, invisible formatting (bidi overrides, zero-width), lone surrogates.
        if unicodedata.category(char) in {"Cc", "Cf", "Cs"}:
            raise BadId(f"{value!r} contains the control character {_code(char)}")
    if value.strip(".") == "":
        raise BadId(f"{value!r} is not an id (dots only read as a path step)")
    return value


def _code(char: str) -> str:
    return f"U+{ord(char):04X}"
