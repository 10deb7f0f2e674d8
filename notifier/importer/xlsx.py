"""From an ``.xlsx`` workbook (用友/金蝶 exports) to the same rows as a CSV file.

Each cell is written as the text a CSV of it would hold, from Excel's own cell types, so
that one set of parsers and one validation serves both:

- a date cell (a date or a date and time): ``2026-03-02`` (the day; a time of day on a
  payment's date is dropped);
- a numeric cell: its exact decimal (``86000``, ``86000.5``, ``0.0005``); a float's noise
  below 1e-9 (``110.00000000000001`` from a formula) is rounded away, a real third
  decimal is kept and refused as a CSV one would be; a phone number typed as a number
  reads as its digits;
- a text cell as it is; an empty cell as empty; an error cell (``#N/A``) as its text,
  which no parser accepts.

Row numbers are the sheet's own (header = the row it is on), blank rows counted, so that
``row N, column NAME`` points at the row Excel shows.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from notifier.domain.errors import Refused
from notifier.importer.problems import WHOLE_FILE, ImportRejected, Problem

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an old .xls workbook
NOISE = Decimal("1e-9")


class NoSuchSheet(Refused):
    """``--sheet NAME`` names no sheet of the workbook; the message lists the sheets."""


def is_workbook(raw: bytes, suffix: str) -> bool:
    """A workbook (an .xlsx, or an old .xls that is then refused with what to do)."""
    return raw.startswith((ZIP_MAGIC, OLE_MAGIC)) or suffix.lower() in (".xlsx", ".xlsm", ".xls")


def read_workbook(
    raw: bytes, sheet: str | None, file: str
) -> tuple[list[tuple[int, list[str]]], str]:
    """(the non-blank rows of the sheet as (row number, cells), the sheet's name). The
    first sheet when ``sheet`` is None."""
    if raw.startswith(OLE_MAGIC):
        raise ImportRejected(
            [
                Problem(
                    1,
                    WHOLE_FILE,
                    "is an old .xls workbook; save it as .xlsx (Excel Workbook) or CSV UTF-8",
                )
            ]
        )
    try:
        from openpyxl import load_workbook  # only when a workbook is read (slow to import)

        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportRejected(
            [
                Problem(
                    1,
                    WHOLE_FILE,
                    f"is not a readable .xlsx workbook "
                    f"({type(exc).__name__}); save it again from Excel",
                )
            ]
        ) from None
    try:
        names = list(book.sheetnames)
        if not names:
            raise ImportRejected([Problem(1, WHOLE_FILE, "is a workbook without sheets")])
        name = names[0] if sheet is None else sheet
        if name not in names:
            raise NoSuchSheet(
                f"{file} has no sheet named {sheet!r}; its sheets are: "
                + ", ".join(repr(n) for n in names)
            )
        ws = book[name]
        # The stored dimensions may be wrong (some exports say A1:A1): read every cell.
        reset = getattr(ws, "reset_dimensions", None)
        if reset is not None:
            reset()
        rows: list[tuple[int, list[str]]] = []
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [cell_text(v) for v in values]
            while cells and not cells[-1]:
                cells.pop()
            if any(cells):
                rows.append((number, cells))
        return rows, name
    finally:
        book.close()


def cell_text(value: Any) -> str:
    """What a CSV export of the cell would hold (see the module's notes)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        number = Decimal(repr(value))
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -9:
            number = number.quantize(NOISE)
        text = format(number.normalize(), "f")
        return text
    return str(value).strip()
