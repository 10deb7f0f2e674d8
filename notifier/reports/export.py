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

The same reports also go out as a file for a spreadsheet user's double click: CSV with a
UTF-8 BOM (:func:`csv_for_excel`) and Excel workbooks (:func:`write_xlsx`, openpyxl), where
amounts are numbers formatted with their currency and text is never a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

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


# -- for a spreadsheet user's double click ------------------------------------------------
# Excel on a Chinese Windows reads a CSV file without a byte order mark as GBK: the BOM
# tells it the file is UTF-8 (LibreOffice and Python's "utf-8-sig" read it either way).
BOM = "\ufeff"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_for_excel(text: str) -> bytes:
    """CSV text as the bytes of a file Excel opens right: UTF-8 with a BOM."""
    return (BOM + text).encode("utf-8")


@dataclass(frozen=True)
class Money:
    """An amount in its currency: a number in the workbook, shown with the currency."""

    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Percent:
    """A rate (0.4 is 40%): a number in the workbook, shown as a percentage."""

    rate: Decimal


XCell = str | int | Decimal | date | Money | Percent | None


@dataclass(frozen=True)
class Sheet:
    title: str  # at most 31 characters (Excel's limit)
    headers: Sequence[str]
    rows: Iterable[Sequence[XCell]]
    widths: Sequence[int] = ()  # characters per column; default from the header
    preface: Sequence[str] = ()  # lines above the header (a title), then a blank row
    notes: Sequence[str] = ()  # lines below the rows, after a blank row


def money_format(currency: str) -> str:
    """Excel's number format for an amount in ``currency``: ``#,##0.00 "CNY"``."""
    code = "".join(ch for ch in currency if ch.isalnum())[:3]
    return f'#,##0.00 "{code}"' if code else "#,##0.00"


def write_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """A workbook, one worksheet per sheet: a bold, frozen header with a filter, amounts
    and days as numbers (an amount formatted with its currency), dates as dates, and
    every text cell stored as text, so that a name like ``=HYPERLINK(..)`` is never a
    formula (openpyxl would otherwise take a leading ``=`` as one)."""
    from openpyxl import Workbook  # imported here: only the xlsx export needs it
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title[:31])
        for r, line in enumerate(sheet.preface, start=1):
            _put(ws.cell(row=r, column=1), line)
            ws.cell(row=r, column=1).font = Font(bold=True)
        head = len(sheet.preface) + 2 if sheet.preface else 1
        for c, header in enumerate(sheet.headers, start=1):
            _put(ws.cell(row=head, column=c), header)
            ws.cell(row=head, column=c).font = Font(bold=True)
        r = head
        for r, row in enumerate(sheet.rows, start=head + 1):
            for c, value in enumerate(row, start=1):
                _put(ws.cell(row=r, column=c), value)
        last_row = max(r, head)
        ws.freeze_panes = f"A{head + 1}"
        last = get_column_letter(max(len(sheet.headers), 1))
        ws.auto_filter.ref = f"A{head}:{last}{last_row}"
        for n, line in enumerate(sheet.notes, start=last_row + 2):
            _put(ws.cell(row=n, column=1), line)
        for c, header in enumerate(sheet.headers, start=1):
            wide = sheet.widths[c - 1] if c <= len(sheet.widths) else 0
            ws.column_dimensions[get_column_letter(c)].width = max(wide, len(header) * 2, 10)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _put(cell: Any, value: XCell) -> None:
    if isinstance(value, Money):
        cell.value = value.amount
        cell.number_format = money_format(value.currency)
    elif isinstance(value, Percent):
        cell.value = float(value.rate)
        cell.number_format = "0.00%"
    elif isinstance(value, bool):
        cell.value = str(value).lower()
        cell.data_type = "s"
    elif isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # text, never a formula
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = "yyyy-mm-dd"
    else:
        cell.value = value
