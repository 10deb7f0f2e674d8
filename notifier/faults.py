"""How a failure is written to a log without its data: the exception's type and where in
this package it was raised, never its text or traceback (a database error's text holds
the statement's parameters: phones, e-mails, message bodies). The web app's last resort
(``web/errors.py``) and the scheduler's jobs (``scheduler.py``) log failures this way."""

from __future__ import annotations

import traceback


def where_raised(exc: BaseException) -> str:
    """file:line of the innermost frame of ``exc`` inside this package, else the last."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/notifier/" in f.filename] or frames
    if not ours:
        return "?"
    frame = ours[-1]
    return f"{frame.filename.rsplit('/notifier/', 1)[-1]}:{frame.lineno}"


def fault(exc: BaseException) -> str:
    """``OperationalError at store/queries.py:88``: what a log line says of a failure."""
    return f"{type(exc).__name__} at {where_raised(exc)}"
