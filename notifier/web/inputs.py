"""Bounded input for routes: ids, offsets and limits that the database can hold, dates
and instants inside the policy's window (``[limits]``), instants with a zone. A value
outside is 422 with a message naming the parameter, before any work is done."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import HTTPException, Path, Query

from notifier.domain.bounds import OutOfBounds, check_date, check_instant
from notifier.domain.ids import MAX_RECORD_ID
from notifier.domain.policy import LimitsPolicy

MAX_ID = MAX_RECORD_ID  # a signed 64-bit integer, the widest id either store keeps
MAX_OFFSET = 1_000_000  # far past any page a person reads; a bigger one is a typo or a probe
UNPROCESSABLE = 422

RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="a record id")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
# Ids and search words as a person types them: no control characters (PostgreSQL refuses
# a NUL in text outright), no longer than the columns they are compared with.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
CustomerKey = Annotated[str, Path(min_length=1, max_length=64, pattern=_PRINTABLE)]
SearchText = Annotated[str, Query(max_length=200, pattern=_PRINTABLE)]


def refuse(name: str, message: str) -> HTTPException:
    return HTTPException(UNPROCESSABLE, f"{name}: {message}")


def day_param(name: str, value: date | None, limits: LimitsPolicy) -> date | None:
    """``value`` if inside the policy's window; else 422 naming ``name``."""
    if value is None:
        return None
    try:
        return check_date(value, limits)
    except OutOfBounds as exc:
        raise refuse(name, str(exc)) from exc


def instant_param(name: str, value: datetime | None, limits: LimitsPolicy) -> datetime | None:
    """``value`` if it has a zone and lies inside the window; else 422 naming ``name``."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise refuse(name, f"{value.isoformat()} has no UTC offset (e.g. +08:00 or Z)")
    try:
        return check_instant(value, limits)
    except OutOfBounds as exc:
        raise refuse(name, str(exc)) from exc
