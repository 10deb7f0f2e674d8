"""What a person types into the pages' forms, read on the server: days as text
(``2026-03-02``, ``2026/3/2``, ``2026年3月2日``, the importer's forms), never a browser's
date picker, which shows mm/dd/yyyy in a language the viewer may not read; amounts with
or without thousands separators. A value that is not one is refused in the viewer's words
(422)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from fastapi import HTTPException

from notifier.domain.errors import Refused
from notifier.importer.parse import FieldError, parse_date

UNPROCESSABLE = 422


class NotAValue(Refused, ValueError):
    """A typed value that is not what the field asks for; the text is for the viewer."""


def parse_day(value: str, t: Callable[..., str]) -> date:
    try:
        return parse_date(value)
    except FieldError as exc:
        raise NotAValue(t("bad_date", value=value.strip())) from exc


def parse_amount(value: str, t: Callable[..., str]) -> Decimal | None:
    """``12,500.00``, ``12500``, ``12，500``; empty is no amount."""
    text = value.strip().replace(",", "").replace("，", "").replace(" ", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise NotAValue(t("bad_amount", value=value.strip())) from exc
    if not amount.is_finite():
        raise NotAValue(t("bad_amount", value=value.strip()))
    return amount


def typed_day(name: str, value: str, t: Callable[..., str]) -> date | None:
    """A query parameter typed as a day; empty is none; else 422 naming the parameter."""
    if not value.strip():
        return None
    try:
        return parse_day(value, t)
    except NotAValue as exc:
        raise HTTPException(UNPROCESSABLE, f"{name}: {exc}") from exc
