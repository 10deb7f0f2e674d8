"""Why a rule decided as it did (a tier, a flag), as data: a key of the message catalogue
and the figures it names. ``notifier/words.py`` words it in either language
(``Words.why``), so the page, the command line and the API say the same reason; the
domain never writes the sentence itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Why:
    key: str  # the catalogue's ``why_<key>``
    values: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, key: str, **values: Any) -> Why:
        return cls(key, tuple(values.items()))
