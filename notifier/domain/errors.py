"""The one root of every refusal a person can act on, in four kinds.

    NotifierError
    ├── NotFound    the draft, customer, user or token does not exist       HTTP 404
    ├── Conflict    the thing's state does not allow it now (reload, retry)  HTTP 409
    ├── Refused     the input breaks a rule; the message says which          HTTP 422
    └── Forbidden   this user's role may not do it                           HTTP 403

Services raise subclasses with a message written for people; ``web/errors.py`` maps the
kinds to HTTP once and ``cli/__init__.py`` prints the message as one line once. A kind's
``detail()`` is what the JSON API answers (the message, or more for richer errors).
"""

from __future__ import annotations

from typing import Any


class NotifierError(Exception):
    """Something a person asked for that cannot be done; ``str()`` says why (in English:
    the CLI and the API's ``detail``). ``key`` and ``values``, when given, name the same
    sentence in the message catalogue (notifier/words.py), which the pages show in the
    reader's language (web/errors.py ``in_words``)."""

    key: str | None = None

    def __init__(self, *args: object, key: str | None = None, **values: object) -> None:
        super().__init__(*args)
        if key is not None:
            self.key = key
        self.values: dict[str, object] = values

    def detail(self) -> Any:
        return str(self)


class NotFound(NotifierError):
    pass


class Conflict(NotifierError):
    pass


class Refused(NotifierError):
    pass


class Forbidden(NotifierError):
    pass


def http_status(exc: NotifierError) -> int:
    """The HTTP status of ``exc``'s kind (the nearest kind in its class order)."""
    for kind in type(exc).__mro__:
        if kind in _STATUS:
            return _STATUS[kind]
    return 409


_STATUS: dict[type, int] = {NotFound: 404, Conflict: 409, Refused: 422, Forbidden: 403}
