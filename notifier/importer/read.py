"""From bytes to rows: detect the encoding, split the CSV, map the header to columns.

Excel in China saves CSV as GBK (a subset of GB18030); elsewhere UTF-8, often with a BOM.
Strict UTF-8 is tried first because GB18030 would also "decode" most UTF-8 bytes, into
the wrong characters.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from notifier.importer.problems import WHOLE_FILE, ImportRejected, Problem
from notifier.importer.schemas import Schema

UTF8_BOM = b"\xef\xbb\xbf"


def decode(raw: bytes) -> tuple[str, str]:
    """The text and the name of the encoding it was read with."""
    if b"\x00" in raw:
        raise ImportRejected(
            [Problem(1, WHOLE_FILE, "is not a text CSV (it holds NUL bytes: UTF-16 or a "
                     "spreadsheet file?); save it as CSV UTF-8 or CSV GBK")]
        )  # fmt: skip
    encoding = "utf-8-sig" if raw.startswith(UTF8_BOM) else "utf-8"
    try:
        return raw.decode(encoding), encoding
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ImportRejected(
            [Problem(1, WHOLE_FILE, f"cannot be read as UTF-8 or GBK/GB18030 (bad byte at "
                     f"offset {exc.start}); save it as CSV UTF-8")]
        ) from None  # fmt: skip


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, stripped cells) for every non-blank record.

    Row numbers count records, blank ones included, so they match the row a spreadsheet
    shows even when a quoted cell spans several lines.
    """
    number = 0
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            stripped = [cell.strip() for cell in cells]
            if any(stripped):
                yield number, stripped
    except csv.Error as exc:
        problem = Problem(number + 1, WHOLE_FILE, f"is not valid CSV: {exc}")
        raise ImportRejected([problem]) from None


@dataclass(frozen=True)
class Header:
    """Where each known column is, and how the file spells it."""

    positions: dict[str, int]  # canonical name -> cell index
    written: dict[str, str]  # canonical name -> the header as written in the file
    width: int

    def name_of(self, column: str) -> str:
        return self.written.get(column, column)


def map_header(row: int, cells: Sequence[str], schema: Schema) -> tuple[Header, list[Problem]]:
    """Map the header to the schema's columns; every unknown, doubled or missing column is
    a problem. The rows are still read with the columns that are known, so that one pass
    reports everything."""
    problems: list[Problem] = []
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    chinese = 0
    for index, cell in enumerate(cells):
        if not cell:
            continue  # an empty header cell: values under it are reported per row
        column = schema.lookup(cell)
        if column is None:
            problems.append(
                Problem(row, cell, f"unknown column; the columns are {schema.describe()}")
            )
        elif column.name in positions:
            problems.append(Problem(row, cell, f"appears twice (also as {written[column.name]!r})"))
        else:
            positions[column.name] = index
            written[column.name] = cell
            chinese += cell != column.name and cell.lower() != column.name
    zh = chinese * 2 > len(positions)
    problems.extend(
        Problem(row, column.display(zh), f"required column is missing ({column.spellings()})")
        for column in schema.columns
        if column.required and column.name not in positions
    )
    return Header(positions, written, len(cells)), problems
