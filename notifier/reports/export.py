"""CSV the product writes, safe to open in a spreadsheet.

Names, ids, collectors and notes come from imported files: a cell such as
``=HYPERLINK("http://evil.example","Pay")`` or ``+cmd|' /C calc'!A0`` would run as a formula
in Excel or LibreOffice. As OWASP recommends ("CSV Injection"), every text cell that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (also after leading blanks,
which spreadsheets skip) gets a leading single quote; the csv module quotes the rest.

Numbers the product computes itself (days overdue, which may be negative) are passed as
``int`` or ``Decimal`` and written as they are: ``-17`` is a number to a spreadsheet, not a
formula, and prefixing it would turn a column of numbers into text. Only ``str`` values
are neutralised, so a column that must stay numeric is written from numbers, never text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

Cell = str | int | Decimal | None

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Cell) -> str:
    """The text of one CSV cell: numbers as they are, text neutralised when a spreadsheet
    would read it as a formula, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | Decimal):
        return str(value)
    text = str(value)
    if text.startswith(_FORMULA_START) or text.lstrip(" \n").startswith(_FORMULA_START):
        return "'" + text
    return text


def write_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Cell]]) -> str:
    """A header and one line per row (``\\n``-terminated), every cell through
    :func:`safe_cell`. Every CSV the product writes goes through here."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(name) for name in columns])
    writer.writerows([safe_cell(row.get(name)) for name in columns] for row in rows)
    return out.getvalue()
